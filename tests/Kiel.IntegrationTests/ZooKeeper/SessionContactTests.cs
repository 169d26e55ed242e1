using System.Diagnostics;

namespace Kiel.IntegrationTests.ZooKeeper;

/// <summary>Issue 19: the session's last fresh contact with a server, which the GroupedConsumer's hand-out lease reads.</summary>
public sealed class SessionContactTests(StandaloneZooKeeperFixture zk) : IClassFixture<StandaloneZooKeeperFixture>
{
    [Fact]
    public async Task Last_contact_is_when_an_answered_request_was_sent_and_pings_keep_it_fresh()
    {
        var beforeConnect = Stopwatch.GetTimestamp();
        await using var client = await zk.ConnectAsync(sessionTimeout: TimeSpan.FromSeconds(3));
        var connected = Stopwatch.GetTimestamp();
        Assert.InRange(client.LastContactTimestamp, beforeConnect, connected);

        var sent = Stopwatch.GetTimestamp();
        await client.ExistsAsync("/");
        var answered = Stopwatch.GetTimestamp();
        Assert.InRange(client.LastContactTimestamp, sent, answered);

        // Idle: only the pings (every third of the timeout) answer, and they move the contact on.
        var idleFrom = client.LastContactTimestamp;
        var waited = Stopwatch.StartNew();
        while (client.LastContactTimestamp == idleFrom && waited.Elapsed < TimeSpan.FromSeconds(10)) await Task.Delay(20);
        Assert.True(client.LastContactTimestamp > idleFrom, $"no ping answered within {waited.Elapsed}");
        Assert.True(Stopwatch.GetElapsedTime(client.LastContactTimestamp) < client.NegotiatedSessionTimeout);
    }
}
