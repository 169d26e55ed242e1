using System.Diagnostics;
using Kiel;
using Kiel.Cluster;
using Kiel.Network;
using Kiel.Protocol;
using Kiel.Protocol.Messages;
using Kiel.Testing;

namespace Kiel.IntegrationTests.Cluster;

internal static class TestWaits
{
    public static async Task<bool> UntilAsync(Func<bool> condition, TimeSpan timeout)
    {
        var sw = Stopwatch.StartNew();
        while (!condition())
        {
            if (sw.Elapsed > timeout) return false;
            await Task.Delay(20);
        }
        return true;
    }
}
