using System.Text;
using Kiel.Producing.Internal;
using Kiel.Protocol.Records;

namespace Kiel.Tests.Producing;

/// <summary>
/// The halves of a batch split after MESSAGE_TOO_LARGE go back among a partition's waiting batches in record order,
/// whatever order their refusals are handled in (two halves in flight can be answered, and split, in either order).
/// </summary>
public class SplitOrderTests
{
    private static ProducerBatch Sealed(PartitionState owner, long ordinal, int count)
    {
        var batch = new ProducerBatch(owner, 256, 0);
        for (var i = 0; i < count; i++)
        {
            var value = Encoding.UTF8.GetBytes($"{i:D2}");
            BatchEncoder.AppendRecord(batch.Arena, batch.Count, 1_700_000_000_000 + i, default, true, value, false, null);
            batch.AddRecord(null, 1_700_000_000_000 + i);
        }
        batch.Ordinal = ordinal;
        return batch;
    }

    private static string Values(ProducerBatch b)
    {
        var span = b.Arena.Span;
        var pos = BatchEncoder.FirstRecord;
        var values = new List<string>();
        for (var i = 0; i < b.Count; i++)
        {
            pos = BatchEncoder.ReadRecord(span, pos, out var e);
            values.Add(Encoding.UTF8.GetString(e.Value));
        }
        return string.Join(",", values);
    }

    [Fact]
    public void The_later_half_split_first_still_goes_after_the_earlier_halves()
    {
        var p = new PartitionState("t", 0);
        var whole = Sealed(p, ordinal: 1, count: 20);
        var (a, b) = whole.Split();
        // b's refusal is handled first: its halves wait; then a's halves come back and must go ahead of them.
        var (b1, b2) = b.Split();
        lock (p) { p.RequeueLocked(b1); p.RequeueLocked(b2); }
        var (a1, a2) = a.Split();
        lock (p) { p.RequeueLocked(a1); p.RequeueLocked(a2); }
        Assert.Equal([a1, a2, b1, b2], p.Ready);
        Assert.Equal(
            ["00,01,02,03,04", "05,06,07,08,09", "10,11,12,13,14", "15,16,17,18,19"],
            p.Ready.Select(Values));
        foreach (var x in new[] { whole, a, b, a1, a2, b1, b2 }) x.Dispose();
    }

    [Fact]
    public void Halves_keep_their_place_among_later_sealed_batches_and_each_other_in_any_requeue_order()
    {
        var p = new PartitionState("t", 0);
        var later = Sealed(p, ordinal: 2, count: 3);
        lock (p) p.Ready.Add(later);
        var whole = Sealed(p, ordinal: 1, count: 8);
        var (a, b) = whole.Split();
        var (a1, a2) = a.Split();
        var (b1, b2) = b.Split();
        var (b21, b22) = b2.Split();
        lock (p)
        {
            foreach (var x in new[] { b22, a2, b1, a1, b21 }) p.RequeueLocked(x);
        }
        Assert.Equal([a1, a2, b1, b21, b22, later], p.Ready);
        Assert.Equal(["00,01", "02,03", "04,05", "06", "07", "00,01,02"], p.Ready.Select(Values));
        Assert.True(b21.SendsAfter(b1) && !b1.SendsAfter(b21) && later.SendsAfter(b22) && !a1.SendsAfter(a1));
        foreach (var x in new[] { later, whole, a, b, a1, a2, b1, b2, b21, b22 }) x.Dispose();
    }
}
