using Kiel.Consuming;
using Kiel.Protocol.Messages;

namespace Kiel.Tests.Consuming;

public class FetchRequestWireTests
{
    private static FetchRequestView View(int sessionId, int epoch, params (string Topic, int Partition, long Offset)[] partitions)
    {
        var view = new FetchRequestView { MaxWaitMs = 500, MinBytes = 1, MaxBytes = 1000, IsolationLevel = IsolationLevel.ReadCommitted, SessionId = sessionId, SessionEpoch = epoch };
        foreach (var (topic, partition, offset) in partitions)
            view.Partitions.Add(new FetchPartitionRequest(new TopicPartition(topic, partition), offset, 7, 100 + partition));
        return view;
    }

    private static List<(string Topic, int Partition, long Offset, int Epoch, int MaxBytes)> Flatten(FetchRequest request) =>
        [.. request.Topics.SelectMany(t => t.Partitions.Select(p => (t.Topic, p.Partition, p.FetchOffset, p.CurrentLeaderEpoch, p.PartitionMaxBytes)))];

    [Fact]
    public void A_refilled_request_holds_exactly_the_partitions_of_the_latest_view()
    {
        var wire = new FetchRequestWire();
        var first = wire.Fill(View(0, 0, ("a", 0, 10), ("b", 1, 20), ("a", 2, 30)), version: 12);
        Assert.Equal(["a", "b"], first.Topics.Select(t => t.Topic));
        Assert.Equal([("a", 0, 10L, 7, 100), ("a", 2, 30L, 7, 102), ("b", 1, 20L, 7, 101)], Flatten(first));
        Assert.Equal(0, first.SessionEpoch);
        Assert.Equal(1, first.IsolationLevel);

        // Fewer partitions, topics in another order, a session: nothing of the first request may remain.
        var second = wire.Fill(View(9, 3, ("b", 4, 40)), version: 12);
        Assert.Same(first, second);
        Assert.Equal([("b", 4, 40L, 7, 104)], Flatten(second));
        Assert.Equal((9, 3), (second.SessionId, second.SessionEpoch));

        var third = wire.Fill(View(9, 4, ("c", 0, 1), ("a", 5, 2), ("c", 1, 3)), version: 12);
        Assert.Equal(["c", "a"], third.Topics.Select(t => t.Topic));
        Assert.Equal([("c", 0, 1L, 7, 100), ("c", 1, 3L, 7, 101), ("a", 5, 2L, 7, 105)], Flatten(third));

        // Before v7 there are no sessions.
        var old = wire.Fill(View(9, 5), version: 6);
        Assert.Empty(old.Topics);
        Assert.Equal((0, -1), (old.SessionId, old.SessionEpoch));
        Assert.Empty(old.ForgottenTopicsData);
    }
}
