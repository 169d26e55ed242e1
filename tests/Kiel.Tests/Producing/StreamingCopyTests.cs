using FsCheck.Xunit;
using Kiel.Producing;
using Kiel.Producing.Internal;
using Kiel.Protocol;
using Kiel.Tests.Records;
using static Kiel.Tests.Records.RecordTestKit;

namespace Kiel.Tests.Producing;

/// <summary>
/// Values copied into a batch with streaming stores (<see cref="StreamingCopy"/>) are the same bytes an ordinary copy
/// writes, at every length and alignment, and nothing beyond them; the producer streams only large values, and only
/// while it holds many megabytes.
/// </summary>
public sealed class StreamingCopyTests
{
    [Fact]
    public void Every_length_and_alignment_is_copied_exactly_and_nothing_past_it_is_written()
    {
        var random = new Random(20);
        var source = new byte[70_000];
        random.NextBytes(source);
        foreach (var length in new[] { 0, 1, 31, 32, 33, 127, 128, 1023, 1024, 1025, 1055, 4096, 4097, 10_240, 65_536, 69_999 })
            for (var sourceOffset = 0; sourceOffset < 3; sourceOffset++)
                for (var destinationOffset = 0; destinationOffset < 40; destinationOffset += 3)
                {
                    if (sourceOffset + length > source.Length) continue;
                    var destination = new byte[length + destinationOffset + 64];
                    destination.AsSpan().Fill(0xA5);
                    StreamingCopy.Copy(source.AsSpan(sourceOffset, length), destination.AsSpan(destinationOffset));
                    Assert.True(destination.AsSpan(0, destinationOffset).IndexOfAnyExcept((byte)0xA5) < 0, $"before, length {length} at {destinationOffset}");
                    Assert.True(source.AsSpan(sourceOffset, length).SequenceEqual(destination.AsSpan(destinationOffset, length)), $"length {length} at {destinationOffset}");
                    Assert.True(destination.AsSpan(destinationOffset + length).IndexOfAnyExcept((byte)0xA5) < 0, $"after, length {length} at {destinationOffset}");
                }
    }

    [Fact]
    public void A_destination_shorter_than_the_source_is_refused_before_anything_is_written()
    {
        var destination = new byte[4095];
        var ex = Assert.Throws<ArgumentException>(() => StreamingCopy.Copy(new byte[4096], destination));
        Assert.Contains("4095", ex.Message);
        Assert.True(destination.AsSpan().IndexOfAnyExcept((byte)0) < 0);
    }

    [Property(MaxTest = 40)]
    public void A_batch_whose_values_were_streamed_is_byte_for_byte_the_ordinary_one(int seed)
    {
        // Values up to 12 KiB, so most take the streaming path and some the ordinary one below its minimum.
        var records = RandomRecords(seed, maxCount: 12, maxValue: 12 * 1024);
        using var ordinary = AppendToArena(records);
        using var streamed = AppendToArena(records, streamValues: true);
        Assert.Equal(Convert.ToHexString(ordinary.Span), Convert.ToHexString(streamed.Span));
        Assert.Equal(Expected(records, 0, 2), ReadAll(FinishedCopy(streamed, records.Count)));
    }

    [Fact]
    public void The_producer_streams_values_of_at_least_the_minimum_only_while_it_holds_the_threshold()
    {
        var held = ProducerEngine.StreamingHeldBytes;
        Assert.False(ProducerEngine.StreamsValue(1 << 20, held - 1));
        Assert.False(ProducerEngine.StreamsValue(ProducerEngine.StreamingMinValueBytes - 1, held * 8));
        Assert.Equal(StreamingCopy.IsSupported, ProducerEngine.StreamsValue(ProducerEngine.StreamingMinValueBytes, held));
        Assert.Equal(StreamingCopy.IsSupported, ProducerEngine.StreamsValue(10_240, held * 8));
    }

    [Fact]
    public async Task Large_values_produced_while_the_buffer_holds_megabytes_arrive_intact_and_in_order()
    {
        var fake = new FakeTransport();
        fake.Topics["t"] = [1];
        var stall = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var producer = new KielProducer<byte[], byte[]>(FakeTransport.Options() with
        {
            BufferMemory = 64L * 1024 * 1024, BatchSize = 1_000_000, MaxRequestBytes = 1_000_000,
        }, null, null, _ => fake);
        // The first record is delivered, then the broker holds every request: what follows stays in the buffer.
        var first = await producer.ProduceAsync("t", null, Value(0, 10_240), partition: 0).AsTask().WaitAsync(Eventually.Deadline);
        Assert.True(first.IsDelivered);
        fake.Stalled[1] = stall;
        var values = Enumerable.Range(1, 1500).Select(i => Value(i, 10_240 + i % 97)).ToList();
        foreach (var v in values) producer.Produce("t", null, v, partition: 0);
        // About 15 MB held: the records after the first 8 MiB were streamed (where the processor has AVX).
        Assert.True(producer.Engine.Memory.Used >= ProducerEngine.StreamingHeldBytes, $"{producer.Engine.Memory.Used} bytes held");
        stall.SetResult();
        await producer.FlushAsync().WaitAsync(Eventually.Deadline);
        var log = fake.Log("t", 0);
        Assert.Equal(1 + values.Count, log.Count);
        for (var i = 0; i < values.Count; i++) Assert.True(values[i].AsSpan().SequenceEqual(log[i + 1].Value), $"record {i + 1}");
    }

    private static byte[] Value(int seed, int length)
    {
        var b = new byte[length];
        new Random(seed).NextBytes(b);
        return b;
    }

    private static byte[] FinishedCopy(RecordArena arena, int count)
    {
        var copy = arena.Span.ToArray();
        BatchEncoder.FinishInPlace(copy, count, ProducerIdentity.None, 0);
        return copy;
    }
}
