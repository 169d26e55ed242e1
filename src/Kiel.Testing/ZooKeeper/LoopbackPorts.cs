using System.Net;
using System.Net.Sockets;

namespace Kiel.Testing.ZooKeeper;

/// <summary>Free TCP ports on 127.0.0.1, chosen by the kernel.</summary>
internal static class LoopbackPorts
{
    /// <summary>Returns <paramref name="count"/> distinct free ports; all are held open together so none repeats.</summary>
    internal static int[] Reserve(int count)
    {
        var listeners = new List<TcpListener>(count);
        try
        {
            for (var i = 0; i < count; i++)
            {
                var l = new TcpListener(IPAddress.Loopback, 0);
                l.Start();
                listeners.Add(l);
            }
            return listeners.Select(l => ((IPEndPoint)l.LocalEndpoint).Port).ToArray();
        }
        finally
        {
            foreach (var l in listeners) l.Stop();
        }
    }
}
