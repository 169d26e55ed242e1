using Kiel.Network;
using Kiel.Protocol;
using Microsoft.Extensions.Logging;

namespace Kiel.Tests.Network;

/// <summary>
/// Brokers that predate ApiVersions, with no BrokerVersionFallback set: a real 0.8/0.9 broker closes the connection on
/// an API key it does not know, and one Heartbeat v0 probe tells 0.9 (answers) from 0.8.x (closes).
/// </summary>
public sealed class OldBrokerDetectionTests
{
    private static ConnectionOptions Options(ILoggerFactory? logs = null, DetectedBrokerReleases? seen = null) => new()
    {
        ClientId = "test",
        ConnectTimeout = TimeSpan.FromSeconds(5),
        RequestTimeout = TimeSpan.FromSeconds(5),
        LoggerFactory = logs,
        DetectedReleases = seen,
    };

    private static CancellationToken Bounded(double seconds = 20) => new CancellationTokenSource(TimeSpan.FromSeconds(seconds)).Token;

    /// <summary>A broker of a release that knows <paramref name="knownKeys"/>: it closes the connection on any other key and echoes the rest.</summary>
    private static ScriptedBroker OldBroker(short[] knownKeys, List<(short Key, short Version)> seen) => new(async c =>
    {
        while (await c.ReadRequestAsync() is { } r)
        {
            lock (seen) seen.Add((r.ApiKey, r.Version));
            if (Array.IndexOf(knownKeys, r.ApiKey) < 0) { c.Close(); return; }
            await c.RespondAsync(r.CorrelationId, r.ApiKey == 12 ? [0, 16] : r.Body);
        }
    });

    // 0.8.2: Produce, Fetch, ListOffsets, Metadata, OffsetCommit, OffsetFetch, GroupCoordinator. 0.9 adds the group APIs.
    private static readonly short[] Keys082 = [0, 1, 2, 3, 8, 9, 10];
    private static readonly short[] Keys090 = [0, 1, 2, 3, 8, 9, 10, 11, 12, 13, 14, 15, 16];

    [Fact]
    public async Task A_broker_that_closes_on_ApiVersions_and_answers_Heartbeat_is_detected_as_0_9()
    {
        var seen = new List<(short, short)>();
        await using var broker = OldBroker(Keys090, seen);
        var logs = new ListLoggerFactory();
        await using var conn = await BrokerConnection.ConnectAsync(broker.Endpoint, Options(logs), "test", Bounded());
        Assert.Equal("detected 0.9.0", conn.Versions.Source);
        Assert.Equal(1, conn.Versions.Choose(ApiKey.Produce));
        Assert.Equal(0, conn.Versions.Choose(ApiKey.JoinGroup));
        // ApiVersions is asked twice (a modern broker's passing trouble is not taken for age); the probe ran on the third connection, which is kept.
        Assert.Equal([(18, 3), (18, 3), (12, 0)], seen);
        Assert.Equal(3, broker.Accepted);
        var reply = await conn.SendAsync(new TestRequest(ApiKey.Metadata, [7]), 0, Bounded());
        Assert.Equal([7], reply.Body);
        var detected = Assert.Single(logs.Entries, e => e.EventId == Kiel.Diagnostics.LogEvents.OldBrokerDetected);
        Assert.Contains("0.9.0", detected.Message);
    }

    [Fact]
    public async Task A_broker_that_closes_on_ApiVersions_and_on_Heartbeat_is_detected_as_0_8_2()
    {
        var seen = new List<(short, short)>();
        await using var broker = OldBroker(Keys082, seen);
        await using var conn = await BrokerConnection.ConnectAsync(broker.Endpoint, Options(), "test", Bounded());
        Assert.Equal("detected 0.8.2", conn.Versions.Source);
        Assert.Equal(0, conn.Versions.Choose(ApiKey.Produce));
        Assert.Equal(1, conn.Versions.Choose(ApiKey.OffsetCommit));
        Assert.False(conn.Versions.Supports(ApiKey.JoinGroup));
        var reply = await conn.SendAsync(new TestRequest(ApiKey.Metadata, [9]), 0, Bounded());
        Assert.Equal([9], reply.Body);
        Assert.Equal([(18, 3), (18, 3), (12, 0), (3, 0)], seen);
        Assert.Equal(4, broker.Accepted);
    }

    [Fact]
    public async Task A_broker_that_refuses_ApiVersions_v0_is_probed_on_the_same_connection()
    {
        var seen = new List<(short, short)>();
        await using var broker = new ScriptedBroker(async c =>
        {
            while (await c.ReadRequestAsync() is { } r)
            {
                seen.Add((r.ApiKey, r.Version));
                if (r.ApiKey == 18) await c.AnswerApiVersionsAsync(r, [], errorCode: 35, encodeAsV0: true);
                else await c.RespondAsync(r.CorrelationId, [0, 16]);
            }
        });
        await using var conn = await BrokerConnection.ConnectAsync(broker.Endpoint, Options(), "test", Bounded());
        Assert.Equal("detected 0.9.0", conn.Versions.Source);
        Assert.Equal([(18, 3), (18, 0), (12, 0)], seen);
        Assert.Equal(1, broker.Accepted);
    }

    [Fact]
    public async Task A_modern_broker_that_drops_one_ApiVersions_is_asked_again_and_not_taken_for_an_old_one()
    {
        var seen = new List<(short, short)>();
        var dropped = 0;
        await using var broker = new ScriptedBroker(async c =>
        {
            while (await c.ReadRequestAsync() is { } r)
            {
                lock (seen) seen.Add((r.ApiKey, r.Version));
                if (r.ApiKey == 18 && Interlocked.Increment(ref dropped) == 1) { c.Close(); return; }
                if (r.ApiKey == 18) await c.AnswerApiVersionsAsync(r);
                else await c.RespondAsync(r.CorrelationId, r.Body);
            }
        });
        await using var conn = await BrokerConnection.ConnectAsync(broker.Endpoint, Options(), "test", Bounded());
        Assert.Equal("ApiVersions v3", conn.Versions.Source);
        Assert.Equal([(18, 3), (18, 3)], seen);
    }

    [Fact]
    public async Task The_detected_release_is_logged_once_per_broker()
    {
        var seen = new List<(short, short)>();
        await using var broker = OldBroker(Keys082, seen);
        var logs = new ListLoggerFactory();
        var detections = new DetectedBrokerReleases();
        for (var i = 0; i < 3; i++)
        {
            await using var conn = await BrokerConnection.ConnectAsync(broker.Endpoint, Options(logs, detections), "test", Bounded());
            Assert.Equal("detected 0.8.2", conn.Versions.Source);
        }
        Assert.Single(logs.Entries, e => e.EventId == Kiel.Diagnostics.LogEvents.OldBrokerDetected);
        Assert.Equal("0.8.2", detections[broker.Endpoint.ToString()]);
    }

    [Fact]
    public async Task A_configured_fallback_is_used_without_a_probe()
    {
        var seen = new List<(short, short)>();
        await using var broker = OldBroker(Keys090, seen);
        await using var conn = await BrokerConnection.ConnectAsync(broker.Endpoint, Options() with { BrokerVersionFallback = "0.8.2" }, "test", Bounded());
        Assert.Equal("fallback 0.8.2", conn.Versions.Source);
        Assert.DoesNotContain(seen, s => s.Item1 == 12);
    }
}
