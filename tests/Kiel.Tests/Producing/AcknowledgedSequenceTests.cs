using Kiel.Producing.Internal;

namespace Kiel.Tests.Producing;

/// <summary>
/// Whether an OUT_OF_ORDER_SEQUENCE_NUMBER answer is the producer's own gap (a batch ahead of it is still unacknowledged:
/// send again, same sequence) or the broker's (bump the epoch). A batch ahead that was reported delivered where its
/// answer was read counts as acknowledged, although the sender may handle the later answer before that one's outcome.
/// </summary>
public class AcknowledgedSequenceTests
{
    private static readonly ProducerIdentity Identity = new(1000, 0);

    private static ProducerBatch InFlight(PartitionState p, int baseSequence, int count, bool reportedOnAnswer)
    {
        var b = new ProducerBatch(p, 64, 0) { StampedAs = Identity, BaseSequence = baseSequence, FinishedOnAnswer = reportedOnAnswer };
        for (var i = 0; i < count; i++) b.AddRecord(null, 0);
        p.InFlight.Add(b);
        return b;
    }

    [Fact]
    public void A_batch_behind_one_reported_on_its_answer_follows_nothing_unacknowledged()
    {
        // The CI failure at e882bde (busy run): "a" was reported delivered on its answer; before its outcome reached the
        // sender, "b" was sent and answered OUT_OF_ORDER, and the sender took that as its own gap instead of bumping.
        var p = new PartitionState("t", 0);
        InFlight(p, 0, 1, reportedOnAnswer: true);
        var b = InFlight(p, 1, 1, reportedOnAnswer: false);
        Assert.False(ProducerEngine.FollowsUnacknowledged(b));
    }

    [Fact]
    public void Several_reported_batches_ahead_are_followed_in_sequence()
    {
        var p = new PartitionState("t", 0) { NextSequence = 5 };
        InFlight(p, 5, 3, reportedOnAnswer: true);
        InFlight(p, 8, 2, reportedOnAnswer: true);
        var c = InFlight(p, 10, 4, reportedOnAnswer: false);
        Assert.False(ProducerEngine.FollowsUnacknowledged(c));
    }

    [Fact]
    public void A_batch_behind_one_still_unanswered_follows_an_unacknowledged_one()
    {
        var p = new PartitionState("t", 0);
        InFlight(p, 0, 2, reportedOnAnswer: false);
        InFlight(p, 2, 1, reportedOnAnswer: true);
        var c = InFlight(p, 3, 1, reportedOnAnswer: false);
        Assert.True(ProducerEngine.FollowsUnacknowledged(c));
    }

    [Fact]
    public void A_batch_under_another_identity_or_past_a_gap_is_not_counted()
    {
        var p = new PartitionState("t", 0);
        var old = InFlight(p, 0, 1, reportedOnAnswer: true);
        old.StampedAs = new ProducerIdentity(1000, -1);
        var b = InFlight(p, 1, 1, reportedOnAnswer: false);
        Assert.True(ProducerEngine.FollowsUnacknowledged(b));

        var q = new PartitionState("t", 1);
        InFlight(q, 0, 1, reportedOnAnswer: true);
        var gap = InFlight(q, 2, 1, reportedOnAnswer: false);
        Assert.True(ProducerEngine.FollowsUnacknowledged(gap));
    }

    [Fact]
    public void A_batch_without_a_sequence_follows_nothing()
    {
        var p = new PartitionState("t", 0);
        InFlight(p, 0, 1, reportedOnAnswer: false);
        var b = InFlight(p, -1, 1, reportedOnAnswer: false);
        Assert.False(ProducerEngine.FollowsUnacknowledged(b));
    }
}
