using Kiel.Network;
using Kiel.Producing.Internal;
using Kiel.Protocol;
using Kiel.Protocol.Messages;

namespace Kiel.Tests.Network;

/// <summary>
/// Large record batches go into a produce request frame by reference (a <see cref="SharedBuffer"/> segment), not by
/// copy: the bytes on the wire must equal the copied frame's, and the batch's array must not go back to its pool
/// before the frame that refers to it has been written, even when the producer lets go of it first.
/// </summary>
public sealed class GatheredFrameTests
{
    private static readonly BrokerEndpoint Endpoint = new(1, "in-memory", 9092);

    private static byte[] Pattern(int length, int seed)
    {
        var bytes = new byte[length];
        for (var i = 0; i < bytes.Length; i++) bytes[i] = (byte)(i * 31 + seed);
        return bytes;
    }

    private static ProduceRequest Request(ReadOnlyMemory<byte> large, ReadOnlyMemory<byte> small, ReadOnlyMemory<byte> large2) => new()
    {
        Acks = 0,
        TimeoutMs = 30_000,
        TopicData =
        [
            new ProduceRequest.TopicProduceData
            {
                Name = "t",
                PartitionData =
                [
                    new ProduceRequest.PartitionProduceData { Index = 0, Records = large },
                    new ProduceRequest.PartitionProduceData { Index = 1, Records = small },
                    new ProduceRequest.PartitionProduceData { Index = 2, Records = large2 },
                ],
            },
        ],
    };

    [Theory]
    [InlineData((short)3)] // int32 lengths
    [InlineData((short)9)] // flexible: compact lengths and tagged fields
    public void A_gathered_frame_holds_the_same_bytes_as_a_copied_one(short version)
    {
        var returned = new List<byte[]>();
        var largeBytes = Pattern(KafkaWriter.SegmentThreshold + 1000, 1);
        var large2Bytes = Pattern(3 * KafkaWriter.SegmentThreshold, 7);
        var large = new SharedBuffer(largeBytes, returned.Add);
        var large2 = new SharedBuffer(large2Bytes, returned.Add);
        var small = Pattern(KafkaWriter.SegmentThreshold - 1, 3); // below the threshold: copied even from a shared buffer
        var request = Request(large.Memory, small, large2.Memory);

        using var copied = new PooledBufferWriter();
        FrameCodec.WriteRequest(copied, request, version, 42, "client");
        Assert.Null(copied.Segments);

        using var gathered = new PooledBufferWriter { GathersSegments = true };
        FrameCodec.WriteRequest(gathered, request, version, 42, "client");
        Assert.Equal(2, gathered.Segments!.Count);
        Assert.Equal(largeBytes.Length + large2Bytes.Length, gathered.SegmentBytes);
        Assert.Equal(copied.WrittenCount, gathered.TotalLength);
        Assert.Equal(copied.WrittenSpan.ToArray(), Assemble(gathered));
        // The frame holds a reference of its own to each segment.
        Assert.Equal(2, large.References);
        gathered.Dispose();
        Assert.Equal(1, large.References);
        Assert.Empty(returned);
        large.Release();
        large2.Release();
        Assert.Equal(2, returned.Count);
    }

    [Fact]
    public async Task A_batch_released_while_its_frame_waits_to_be_written_keeps_its_bytes_until_the_write()
    {
        var token = new CancellationTokenSource(TimeSpan.FromSeconds(20)).Token;
        var server = new DuplexServer();
        var handshake = server.HandshakeAsync(token);
        await using var connection = await BrokerConnection.ConnectAsync(Endpoint, new ConnectionOptions
        {
            ClientId = "test",
            ConnectTimeout = TimeSpan.FromSeconds(10),
            RequestTimeout = TimeSpan.FromSeconds(30),
            TransportFactory = server,
        }, "test", token);
        await handshake;

        var returned = 0;
        var largeBytes = Pattern(2 * KafkaWriter.SegmentThreshold, 5);
        var large = new SharedBuffer((byte[])largeBytes.Clone(), array =>
        {
            Interlocked.Increment(ref returned);
            Array.Clear(array); // what reuse by another batch would do to the bytes
        });
        var request = Request(large.Memory, Pattern(10, 9), large.Memory[..KafkaWriter.SegmentThreshold]);
        using var expected = new PooledBufferWriter();
        FrameCodec.WriteRequest(expected, request, 3, 0, "test");

        server.Client.HoldWrites();
        var written = connection.SendWithoutReplyAsync(request, 3, token).AsTask();
        // The producer gives its batch up (an abandoned request does) while the frame is still held.
        large.Release();
        Assert.Equal(0, Volatile.Read(ref returned));
        server.Client.OpenWrites();
        // Read while it is written: the in-memory pipe holds back a writer 64 KiB ahead of its reader.
        var frame = await server.ReadRequestAsync(token);
        await written;
        Assert.NotNull(frame);
        Assert.Equal((short)ApiKey.Produce, frame.Value.Key);
        // The body after the header is the copied frame's body, byte for byte: nothing was cleared under the write.
        var expectedBody = expected.WrittenSpan[^frame.Value.Body.Length..].ToArray();
        Assert.Equal(expectedBody, frame.Value.Body);
        Assert.Equal(1, Volatile.Read(ref returned));
    }

    [Fact]
    public void An_arena_shares_its_bytes_from_the_threshold_on_and_returns_them_after_the_last_holder()
    {
        var small = new RecordArena(1024);
        small.Write(Pattern(100, 1));
        Assert.False(System.Runtime.InteropServices.MemoryMarshal.TryGetMemoryManager<byte, SharedBuffer>(small.MemoryForRequest(), out _));
        small.Dispose();

        var arena = new RecordArena(KafkaWriter.SegmentThreshold * 2);
        arena.Write(Pattern(KafkaWriter.SegmentThreshold, 2));
        var memory = arena.MemoryForRequest();
        Assert.True(System.Runtime.InteropServices.MemoryMarshal.TryGetMemoryManager<byte, SharedBuffer>(memory, out var shared));
        Assert.Equal(Pattern(KafkaWriter.SegmentThreshold, 2), memory.ToArray());
        // A shared arena cannot grow: that would hand its array back while a frame still writes it.
        Assert.Throws<InvalidOperationException>(() => arena.Write(new byte[KafkaWriter.SegmentThreshold * 2]));

        using (var frame = new PooledBufferWriter { GathersSegments = true })
        {
            Assert.True(frame.TryAppendSegment(shared!, 0, memory.Length));
            arena.Dispose();
            Assert.Equal(1, shared!.References);
        }
        Assert.Equal(0, shared.References);
        Assert.False(shared.TryAddReference());
    }

    [Fact]
    public void A_cleared_frame_writer_lets_its_segments_go_and_is_a_plain_writer_again_for_the_next_frame()
    {
        var arena = new RecordArena(KafkaWriter.SegmentThreshold * 2);
        arena.Write(Pattern(KafkaWriter.SegmentThreshold, 3));
        var memory = arena.MemoryForRequest();
        Assert.True(System.Runtime.InteropServices.MemoryMarshal.TryGetMemoryManager<byte, SharedBuffer>(memory, out var shared));

        using var frame = new PooledBufferWriter { GathersSegments = true };
        frame.Write([1, 2, 3]);
        Assert.True(frame.TryAppendSegment(shared!, 0, memory.Length));
        Assert.Equal(2, shared!.References);
        // Cleared for reuse (a connection's pooled frame writer): the segment's reference is dropped at once.
        frame.Clear();
        Assert.Equal(1, shared.References);
        Assert.Null(frame.Segments);
        Assert.Equal(0, frame.TotalLength);
        // The next frame has only what it is given, and can be truncated as a frame without segments can.
        frame.Write([4, 5]);
        Assert.Equal([4, 5], frame.WrittenSpan.ToArray());
        Assert.Equal(2, frame.TotalLength);
        frame.Truncate(1);
        arena.Dispose();
        Assert.Equal(0, shared.References);
    }

    private static byte[] Assemble(PooledBufferWriter frame)
    {
        var bytes = new List<byte>();
        var inline = frame.WrittenSpan.ToArray();
        var at = 0;
        foreach (var s in frame.Segments!)
        {
            bytes.AddRange(inline[at..s.At]);
            bytes.AddRange(s.Owner.Memory.Slice(s.Start, s.Length).ToArray());
            at = s.At;
        }
        bytes.AddRange(inline[at..]);
        return [.. bytes];
    }
}
