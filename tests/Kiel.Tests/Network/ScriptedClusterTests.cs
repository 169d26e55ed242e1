using Kiel.Cluster;
using Kiel.Protocol;
using Kiel.Protocol.Messages;

namespace Kiel.Tests.Network;

/// <summary>Tests that listen to Kiel's ActivitySource process-wide: while one listens, every Kiel client in the process
/// starts activities, and producers add a <c>traceparent</c> header to their records, which other tests' exact header
/// checks would see. They run alone, after the others.</summary>
[CollectionDefinition(nameof(ProcessWideActivityListenerCollection), DisableParallelization = true)]
public sealed class ProcessWideActivityListenerCollection;

/// <summary>KafkaCluster against a scripted broker, for paths the mock cannot serve (FindCoordinator v4 batching).</summary>
[Collection(nameof(ProcessWideActivityListenerCollection))]
public sealed class ScriptedClusterTests
{
    private static byte[] Encode(IKafkaMessage message, short version) => MessageBytes.Encode(message, version);

    [Fact]
    public async Task FindCoordinator_v4_asks_for_several_keys_in_one_request()
    {
        var findRequests = new List<List<string>>();
        ScriptedBroker? self = null;
        await using var broker = self = new ScriptedBroker(async c =>
        {
            if (await c.HandshakeAsync([(3, 0, 12), (10, 0, 4), (18, 0, 3)]) is null) return;
            while (await c.ReadRequestAsync() is { } r)
            {
                var reader = new KafkaReader(r.Body.ToArray().AsMemory());
                if (r.ApiKey == 3)
                {
                    var response = new MetadataResponse
                    {
                        ClusterId = "scripted",
                        ControllerId = 1,
                        Brokers = [new MetadataResponse.MetadataResponseBroker { NodeId = 1, Host = "127.0.0.1", Port = self!.Port }],
                        Topics = [],
                    };
                    await c.RespondAsync(r.CorrelationId, Encode(response, r.Version), headerV1: r.Version >= 9);
                }
                else if (r.ApiKey == 10)
                {
                    Assert.Equal(4, r.Version);
                    var request = FindCoordinatorRequest.Read(ref reader, r.Version);
                    lock (findRequests) findRequests.Add(request.CoordinatorKeys);
                    var response = new FindCoordinatorResponse
                    {
                        Coordinators = [.. request.CoordinatorKeys.Select(k => new FindCoordinatorResponse.Coordinator { Key = k, NodeId = 1, Host = "127.0.0.1", Port = self!.Port })],
                    };
                    await c.RespondAsync(r.CorrelationId, Encode(response, r.Version), headerV1: true);
                }
            }
        });
        var activities = new System.Collections.Concurrent.ConcurrentBag<System.Diagnostics.Activity>();
        using var listener = new System.Diagnostics.ActivityListener
        {
            ShouldListenTo = source => source.Name == Kiel.Diagnostics.KielDiagnostics.Name,
            Sample = (ref System.Diagnostics.ActivityCreationOptions<System.Diagnostics.ActivityContext> _) => System.Diagnostics.ActivitySamplingResult.AllData,
            ActivityStopped = activities.Add,
        };
        System.Diagnostics.ActivitySource.AddActivityListener(listener);
        await using var cluster = new KafkaCluster(new ClusterOptions($"127.0.0.1:{broker.Port}"));
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await cluster.StartAsync(cts.Token);
        Assert.Contains(activities, a => a.OperationName == "kiel metadata refresh" && (int?)a.GetTagItem("kiel.metadata.brokers") == 1);
        Assert.Equal("scripted", cluster.Metadata.ClusterId);
        var found = await cluster.FindCoordinatorsAsync(CoordinatorType.Group, ["g1", "g2", "g3"], cts.Token);
        Assert.Equal(3, found.Count);
        Assert.All(found.Values, e => Assert.Equal(1, e.NodeId));
        Assert.Single(findRequests);
        Assert.Equal(["g1", "g2", "g3"], findRequests[0]);
        Assert.Contains(activities, a => a.OperationName == "kiel find coordinator" && (string?)a.GetTagItem("kiel.coordinator.keys") == "g1,g2,g3");
        // Cached: no second request.
        Assert.Equal(1, (await cluster.FindCoordinatorAsync(CoordinatorType.Group, "g2", cts.Token)).NodeId);
        Assert.Single(findRequests);
    }
}
