using System.Threading.Channels;
using Kiel.Network;
using Kiel.Protocol;
using Kiel.Protocol.Messages;

namespace Kiel.Tests.Network;

/// <summary>
/// Over a plain TCP socket, request frames that refer to large record batches in place go out as one gathered send
/// (<c>sendmsg</c> with every piece), not as a write per batch and per run of inline bytes: the broker must read the
/// same bytes as the copied frame's, also when a request has more pieces than one send takes, and a send the broker
/// does not read must end when the connection closes.
/// </summary>
public sealed class GatheredSocketSendTests
{
    private static byte[] Pattern(int length, int seed)
    {
        var bytes = new byte[length];
        for (var i = 0; i < bytes.Length; i++) bytes[i] = (byte)(i * 31 + seed);
        return bytes;
    }

    private static ProduceRequest Request(params ReadOnlyMemory<byte>[] records) => new()
    {
        Acks = 0,
        TimeoutMs = 30_000,
        TopicData =
        [
            new ProduceRequest.TopicProduceData
            {
                Name = "t",
                PartitionData = [.. records.Select((r, i) => new ProduceRequest.PartitionProduceData { Index = i, Records = r })],
            },
        ],
    };

    private static byte[] Body(ProduceRequest request, short version)
    {
        using var copied = new PooledBufferWriter();
        FrameCodec.WriteRequest(copied, request, version, 0, "test");
        Assert.Null(copied.Segments);
        return copied.WrittenSpan.ToArray();
    }

    private static ConnectionOptions Options(int socketBufferSize = 0) => new()
    {
        ClientId = "test",
        ConnectTimeout = TimeSpan.FromSeconds(10),
        RequestTimeout = TimeSpan.FromSeconds(30),
        SocketBufferSize = socketBufferSize,
    };

    /// <summary>A broker that answers the handshake and then passes every request it reads on.</summary>
    private static ScriptedBroker Reader(Channel<ScriptedRequest> requests) => new(async c =>
    {
        await c.HandshakeAsync();
        while (await c.ReadRequestAsync() is { } request) await requests.Writer.WriteAsync(request, c.Token);
    });

    [Fact]
    public async Task Frames_with_batches_in_place_arrive_byte_for_byte_through_gathered_sends()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var requests = Channel.CreateUnbounded<ScriptedRequest>();
        await using var broker = Reader(requests);
        await using var connection = await BrokerConnection.ConnectAsync(broker.Endpoint, Options(), "test", cts.Token);

        var sent = new List<ProduceRequest>();
        var writes = new List<Task>();
        for (var n = 0; n < 4; n++)
        {
            var large = new SharedBuffer(Pattern(KafkaWriter.SegmentThreshold * (n + 1) + 17, n), _ => { });
            var large2 = new SharedBuffer(Pattern(KafkaWriter.SegmentThreshold + 5, n + 100), _ => { });
            var request = Request(large.Memory, Pattern(40, n + 50), large2.Memory);
            sent.Add(request);
            writes.Add(connection.SendWithoutReplyAsync(request, 3, cts.Token).AsTask());
            large.Release();
            large2.Release();
        }
        await Task.WhenAll(writes);

        foreach (var request in sent)
        {
            var frame = await requests.Reader.ReadAsync(cts.Token);
            Assert.Equal((short)ApiKey.Produce, frame.ApiKey);
            var expected = Body(request, 3);
            Assert.Equal(expected[^frame.Body.Length..], frame.Body.ToArray());
        }
        Assert.InRange(connection.GatheredSends, 1, sent.Count);
    }

    [Fact]
    public async Task A_request_of_more_pieces_than_one_send_takes_is_sent_whole_in_several()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var requests = Channel.CreateUnbounded<ScriptedRequest>();
        await using var broker = Reader(requests);
        await using var connection = await BrokerConnection.ConnectAsync(broker.Endpoint, Options(), "test", cts.Token);

        // Each partition's batch is a segment with inline bytes before it: two pieces a partition.
        var partitions = 3 * BrokerConnection.MaxGatheredPieces + 1;
        var buffers = Enumerable.Range(0, partitions).Select(i => new SharedBuffer(Pattern(KafkaWriter.SegmentThreshold, i), _ => { })).ToArray();
        var request = Request([.. buffers.Select(b => b.Memory)]);
        await connection.SendWithoutReplyAsync(request, 9, cts.Token);
        foreach (var buffer in buffers) buffer.Release();

        var frame = await requests.Reader.ReadAsync(cts.Token);
        var expected = Body(request, 9);
        Assert.Equal(expected[^frame.Body.Length..], frame.Body.ToArray());
        // 2 pieces a partition, and maybe the frame's last inline bytes.
        Assert.InRange(connection.GatheredSends, (2 * partitions + BrokerConnection.MaxGatheredPieces - 1) / BrokerConnection.MaxGatheredPieces,
            (2 * partitions + BrokerConnection.MaxGatheredPieces) / BrokerConnection.MaxGatheredPieces);
    }

    [Fact]
    public async Task A_gathered_send_the_broker_does_not_read_ends_when_the_connection_closes()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var handshaken = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var broker = new ScriptedBroker(async c =>
        {
            await c.HandshakeAsync();
            handshaken.SetResult();
            // Never reads again: the client's send fills the socket buffers and waits.
            await Task.Delay(Timeout.Infinite, c.Token);
        });
        var connection = await BrokerConnection.ConnectAsync(broker.Endpoint, Options(socketBufferSize: 64 * 1024), "test", cts.Token);
        await handshaken.Task.WaitAsync(cts.Token);

        // 16 MiB cannot fit in the buffers of an unread loopback connection with 64 KiB socket buffers.
        var buffers = Enumerable.Range(0, 16).Select(i => new SharedBuffer(Pattern(1024 * 1024, i), _ => { })).ToArray();
        var write = connection.SendWithoutReplyAsync(Request([.. buffers.Select(b => b.Memory)]), 3, cts.Token).AsTask();
        foreach (var buffer in buffers) buffer.Release();
        // The writer starts on the thread pool: wait (bounded) until its send is under way.
        for (var i = 0; i < 1000 && connection.GatheredSends == 0; i++) await Task.Delay(10, cts.Token);
        Assert.Equal(1, connection.GatheredSends);
        Assert.False(write.IsCompleted);

        await connection.DisposeAsync().AsTask().WaitAsync(cts.Token);
        await Assert.ThrowsAsync<KafkaConnectionException>(() => write.WaitAsync(cts.Token));
    }

    [Fact]
    public async Task A_large_frame_is_written_by_its_caller_when_it_asks_and_from_the_pool_otherwise()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var requests = Channel.CreateUnbounded<ScriptedRequest>();
        await using var broker = Reader(requests);
        await using var connection = await BrokerConnection.ConnectAsync(broker.Endpoint, Options(), "test", cts.Token);
        var large = new SharedBuffer(Pattern(2 * KafkaWriter.SegmentThreshold + 3, 7), _ => { });
        var request = Request(large.Memory, Pattern(40, 8));
        var expected = Body(request, 3);
        Assert.True(expected.Length > BrokerConnection.SmallFrameLimit);

        // The broker never answers: each wait is cancelled once its frame has arrived.
        using var inlineWait = CancellationTokenSource.CreateLinkedTokenSource(cts.Token);
        var inline = connection.SendRawAsync(request, 3, inlineWait.Token, writeInline: true).AsTask();
        // Written by this call, before it returned.
        Assert.Equal(1, connection.InlineLargeWrites);
        var frame = await requests.Reader.ReadAsync(cts.Token);
        Assert.Equal(expected[^frame.Body.Length..], frame.Body.ToArray());

        using var pooledWait = CancellationTokenSource.CreateLinkedTokenSource(cts.Token);
        var pooled = connection.SendRawAsync(request, 3, pooledWait.Token).AsTask();
        frame = await requests.Reader.ReadAsync(cts.Token);
        Assert.Equal(expected[^frame.Body.Length..], frame.Body.ToArray());
        Assert.Equal(1, connection.InlineLargeWrites);
        large.Release();

        inlineWait.Cancel();
        pooledWait.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => inline);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => pooled);
    }
}
