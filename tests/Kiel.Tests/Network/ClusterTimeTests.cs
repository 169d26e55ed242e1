using Kiel.Cluster;
using Kiel.Protocol;
using Kiel.Protocol.Messages;
using Microsoft.Extensions.Time.Testing;

namespace Kiel.Tests.Network;

/// <summary>The cluster's background metadata refresh follows <see cref="ClusterOptions.TimeProvider"/>.</summary>
public sealed class ClusterTimeTests
{
    private static byte[] Encode(IKafkaMessage message, short version) => MessageBytes.Encode(message, version);

    [Fact]
    public async Task Metadata_is_refreshed_when_fake_time_reaches_MetadataMaxAge()
    {
        var metadataRequests = 0;
        ScriptedBroker? self = null;
        await using var broker = self = new ScriptedBroker(async c =>
        {
            if (await c.HandshakeAsync([(3, 0, 12)]) is null) return;
            while (await c.ReadRequestAsync() is { } r)
            {
                if (r.ApiKey != 3) continue;
                Interlocked.Increment(ref metadataRequests);
                var response = new MetadataResponse
                {
                    ClusterId = "scripted",
                    ControllerId = 1,
                    Brokers = [new MetadataResponse.MetadataResponseBroker { NodeId = 1, Host = "127.0.0.1", Port = self!.Port }],
                    Topics = [],
                };
                await c.RespondAsync(r.CorrelationId, Encode(response, r.Version), headerV1: r.Version >= 9);
            }
        });
        var time = new FakeTimeProvider();
        var maxAge = TimeSpan.FromMinutes(10); // on the system clock no refresh would come within the test
        await using var cluster = new KafkaCluster(new ClusterOptions($"127.0.0.1:{broker.Port}")
        {
            TimeProvider = time,
            MetadataMaxAge = maxAge,
            IdleTimeout = TimeSpan.FromHours(1),
        });
        using var cts = new CancellationTokenSource(Eventually.Deadline);
        await cluster.StartAsync(cts.Token);
        // The background loop arms its max-age timer on the fake clock at the time it reads; advancing the clock
        // before that would arm it a jump late. Every refresh it makes comes before the wait, so none is missed below.
        await Eventually.Until(() => cluster.MaxAgeWaits >= 1, "the background refresh waiting for the max age");
        var first = Volatile.Read(ref metadataRequests);
        Assert.True(first >= 1);

        time.Advance(maxAge - TimeSpan.FromMilliseconds(1));
        await Eventually.Holds(() => Volatile.Read(ref metadataRequests) == first, "no refresh before the max age", TimeSpan.FromMilliseconds(300));

        time.Advance(TimeSpan.FromMilliseconds(1));
        await Eventually.Until(() => Volatile.Read(ref metadataRequests) > first, "a refresh at the fake max age");
    }
}
