using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Kiel.Testing.ZooKeeper;

/// <summary>ZooKeeper's four-letter admin words (<c>ruok</c>, <c>srvr</c>, <c>stat</c>, <c>mntr</c>) sent over a plain socket.</summary>
public static class FourLetterWords
{
    /// <summary>Sends <paramref name="word"/> to 127.0.0.1:<paramref name="port"/> and returns the whole answer, or null when the server cannot be reached.</summary>
    /// <param name="port">The client port.</param>
    /// <param name="word">A four-letter word such as <c>ruok</c>.</param>
    /// <param name="timeout">Bound on connect plus read.</param>
    /// <param name="cancellationToken">Cancels the exchange.</param>
    public static async Task<string?> SendAsync(int port, string word, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(word);
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        cts.CancelAfter(timeout);
        try
        {
            using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port), cts.Token).ConfigureAwait(false);
            await socket.SendAsync(Encoding.ASCII.GetBytes(word), SocketFlags.None, cts.Token).ConfigureAwait(false);
            var buffer = new byte[4096];
            var text = new StringBuilder();
            // The server closes the socket after answering; cap the size so a confused peer cannot grow this forever.
            while (text.Length < 1 << 20)
            {
                var n = await socket.ReceiveAsync(buffer, SocketFlags.None, cts.Token).ConfigureAwait(false);
                if (n == 0) break;
                text.Append(Encoding.ASCII.GetString(buffer, 0, n));
            }
            return text.ToString();
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException or IOException && !cancellationToken.IsCancellationRequested)
        {
            return null;
        }
    }

    /// <summary>True when the server answers <c>ruok</c> with <c>imok</c> (it runs, though it may not serve yet).</summary>
    public static async Task<bool> IsOkAsync(int port, CancellationToken cancellationToken = default)
        => await SendAsync(port, "ruok", TimeSpan.FromSeconds(1), cancellationToken).ConfigureAwait(false) == "imok";

    /// <summary>The server's mode from <c>srvr</c> (<c>standalone</c>, <c>leader</c>, <c>follower</c>, <c>observer</c>), or null when it does not serve.</summary>
    public static async Task<string?> GetModeAsync(int port, CancellationToken cancellationToken = default)
    {
        var answer = await SendAsync(port, "srvr", TimeSpan.FromSeconds(1), cancellationToken).ConfigureAwait(false);
        if (answer is null) return null;
        foreach (var line in answer.Split('\n'))
            if (line.StartsWith("Mode: ", StringComparison.Ordinal)) return line[6..].Trim();
        return null;
    }
}
