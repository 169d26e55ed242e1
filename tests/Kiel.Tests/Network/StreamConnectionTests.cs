using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;
using Kiel.Network;
using Kiel.Protocol;

namespace Kiel.Tests.Network;

/// <summary>The client's end of an in-memory duplex stream; it counts writes and reads and can hold writes back.</summary>
internal sealed class DuplexClientStream(PipeReader fromServer, PipeWriter toServer) : Stream
{
    private TaskCompletionSource? _gate;
    private int _writes;
    private int _reads;

    public int Writes => Volatile.Read(ref _writes);

    public int Reads => Volatile.Read(ref _reads);

    /// <summary>Holds every write until <see cref="OpenWrites"/>.</summary>
    public void HoldWrites() => _gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

    public void OpenWrites() => _gate?.TrySetResult();

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        Interlocked.Increment(ref _writes);
        if (_gate is { } gate) await gate.Task.WaitAsync(cancellationToken);
        await toServer.WriteAsync(buffer, cancellationToken);
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        Interlocked.Increment(ref _reads);
        var result = await fromServer.ReadAsync(cancellationToken);
        var n = (int)Math.Min(result.Buffer.Length, buffer.Length);
        result.Buffer.Slice(0, n).CopyTo(buffer.Span);
        fromServer.AdvanceTo(result.Buffer.GetPosition(n));
        return n;
    }

    protected override void Dispose(bool disposing)
    {
        fromServer.Complete();
        toServer.Complete();
        OpenWrites();
        base.Dispose(disposing);
    }

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => true;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    public override void Flush() { }
    public override Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}

/// <summary>A broker at the other end of an in-memory duplex stream, driven by the test.</summary>
internal sealed class DuplexServer : IConnectionTransportFactory
{
    private readonly Pipe _toServer = new();
    private readonly Pipe _toClient = new();

    public DuplexServer() => Client = new DuplexClientStream(_toClient.Reader, _toServer.Writer);

    public DuplexClientStream Client { get; }

    public ValueTask<Stream> ConnectAsync(BrokerEndpoint endpoint, ConnectionOptions options, CancellationToken cancellationToken) =>
        ValueTask.FromResult<Stream>(Client);

    /// <summary>Reads one request frame: (API key, version, correlation id, body after a header v1/v2), or null at the end.</summary>
    public async Task<(short Key, short Version, int CorrelationId, byte[] Body)?> ReadRequestAsync(CancellationToken token)
    {
        var prefix = new byte[4];
        while (true)
        {
            var result = await _toServer.Reader.ReadAsync(token);
            var buffer = result.Buffer;
            if (buffer.Length >= 4)
            {
                buffer.Slice(0, 4).CopyTo(prefix);
                var size = BinaryPrimitives.ReadInt32BigEndian(prefix);
                if (buffer.Length >= 4 + size)
                {
                    var frame = buffer.Slice(4, size).ToArray();
                    _toServer.Reader.AdvanceTo(buffer.GetPosition(4 + size));
                    var key = BinaryPrimitives.ReadInt16BigEndian(frame);
                    var version = BinaryPrimitives.ReadInt16BigEndian(frame.AsSpan(2));
                    var id = BinaryPrimitives.ReadInt32BigEndian(frame.AsSpan(4));
                    var idLength = BinaryPrimitives.ReadInt16BigEndian(frame.AsSpan(8));
                    var offset = 10 + Math.Max(0, (int)idLength) + (ApiKeys.RequestHeaderVersion((ApiKey)key, version) >= 2 ? 1 : 0);
                    return (key, version, id, frame[offset..]);
                }
            }
            if (result.IsCompleted)
            {
                _toServer.Reader.AdvanceTo(buffer.Start, buffer.End);
                return null;
            }
            _toServer.Reader.AdvanceTo(buffer.Start, buffer.End);
        }
    }

    /// <summary>A response frame with a v0 header.</summary>
    public static byte[] Response(int correlationId, ReadOnlySpan<byte> body)
    {
        var frame = new byte[8 + body.Length];
        BinaryPrimitives.WriteInt32BigEndian(frame, frame.Length - 4);
        BinaryPrimitives.WriteInt32BigEndian(frame.AsSpan(4), correlationId);
        body.CopyTo(frame.AsSpan(8));
        return frame;
    }

    public async Task WriteAsync(byte[] bytes, CancellationToken token) => await _toClient.Writer.WriteAsync(bytes, token);

    public void CloseFromServer() => _toClient.Writer.Complete();

    /// <summary>Answers the ApiVersions request with v3 ranges for Metadata and ApiVersions.</summary>
    public async Task HandshakeAsync(CancellationToken token)
    {
        var request = await ReadRequestAsync(token);
        Assert.NotNull(request);
        Assert.Equal(18, request.Value.Key);
        Assert.Equal(3, request.Value.Version);
        byte[] body = [0, 0, /* 2 ranges */ 3, 0, 3, 0, 0, 0, 12, 0, 0, 18, 0, 0, 0, 3, 0, /* throttle */ 0, 0, 0, 0, /* tags */ 0];
        await WriteAsync(Response(request.Value.CorrelationId, body), token);
    }
}

public sealed class StreamConnectionTests
{
    private static readonly BrokerEndpoint Endpoint = new(1, "in-memory", 9092);

    private static ConnectionOptions Options(DuplexServer server) => new()
    {
        ClientId = "test",
        ConnectTimeout = TimeSpan.FromSeconds(10),
        RequestTimeout = TimeSpan.FromSeconds(30),
        TransportFactory = server,
    };

    private static CancellationToken Bounded(double seconds = 20) => new CancellationTokenSource(TimeSpan.FromSeconds(seconds)).Token;

    private static async Task<BrokerConnection> ConnectAsync(DuplexServer server, CancellationToken token)
    {
        var handshake = server.HandshakeAsync(token);
        var connection = await BrokerConnection.ConnectAsync(Endpoint, Options(server), "test", token);
        await handshake;
        return connection;
    }

    [Fact]
    public async Task Runs_over_an_in_memory_duplex_stream()
    {
        var token = Bounded();
        var server = new DuplexServer();
        await using var connection = await ConnectAsync(server, token);
        Assert.Equal("ApiVersions v3", connection.Versions.Source);
        Assert.Equal(12, connection.Versions.Choose(ApiKey.Metadata));

        var reply = connection.SendAsync(new TestRequest(ApiKey.Metadata, [1, 2, 3]), 1, token).AsTask();
        var request = await server.ReadRequestAsync(token);
        Assert.Equal((short)ApiKey.Metadata, request!.Value.Key);
        Assert.Equal([1, 2, 3], request.Value.Body);
        await server.WriteAsync(DuplexServer.Response(request.Value.CorrelationId, [4, 5]), token);
        Assert.Equal([4, 5], (await reply).Body);

        // The broker goes away: what is in flight fails with a retriable error that names the broker.
        var pending = connection.SendAsync(new TestRequest(ApiKey.Metadata, [9]), 1, token).AsTask();
        Assert.NotNull(await server.ReadRequestAsync(token));
        server.CloseFromServer();
        var e = await Assert.ThrowsAsync<KafkaConnectionException>(() => pending);
        Assert.True(e.IsRetriable);
        Assert.Contains("in-memory:9092", e.Message);
        await connection.Completion.WaitAsync(token);
        Assert.False(connection.IsOpen);
    }

    [Fact]
    public async Task A_large_frame_over_a_stream_that_is_not_a_plain_socket_is_written_from_the_pool_even_when_asked()
    {
        // TLS is such a stream: encrypting a large frame is work the caller asked to be spared only on a plain socket.
        var token = Bounded();
        var server = new DuplexServer();
        await using var connection = await ConnectAsync(server, token);
        var body = new byte[BrokerConnection.SmallFrameLimit + 1];
        body.AsSpan().Fill(7);

        var reply = connection.SendRawAsync(new TestRequest(ApiKey.Metadata, body), 1, token, writeInline: true).AsTask();
        var request = await server.ReadRequestAsync(token);
        Assert.Equal(body, request!.Value.Body);
        await server.WriteAsync(DuplexServer.Response(request.Value.CorrelationId, [4, 5]), token);
        (await reply).Recycle();
        Assert.Equal(0, connection.InlineLargeWrites);
    }

    [Fact]
    public async Task Requests_queued_behind_a_write_leave_together_in_one_write()
    {
        var token = Bounded();
        var server = new DuplexServer();
        await using var connection = await ConnectAsync(server, token);
        var writesBefore = server.Client.Writes;

        server.Client.HoldWrites();
        var replies = new List<Task<TestResponse>>();
        for (var i = 0; i < 4; i++)
            replies.Add(connection.SendAsync(new TestRequest(ApiKey.Metadata, [(byte)i]), 1, token).AsTask());
        // The first request is being written (held); the other three wait in the queue.
        Assert.Equal(writesBefore + 1, server.Client.Writes);
        server.Client.OpenWrites();

        for (var i = 0; i < 4; i++)
        {
            var request = await server.ReadRequestAsync(token);
            Assert.Equal([(byte)i], request!.Value.Body);
            await server.WriteAsync(DuplexServer.Response(request.Value.CorrelationId, [(byte)(10 + i)]), token);
        }
        for (var i = 0; i < 4; i++) Assert.Equal([(byte)(10 + i)], (await replies[i]).Body);
        Assert.Equal(writesBefore + 2, server.Client.Writes);
    }

    [Fact]
    public async Task Responses_that_arrive_together_are_read_through_one_buffer()
    {
        var token = Bounded();
        var server = new DuplexServer();
        await using var connection = await ConnectAsync(server, token);

        var replies = new List<Task<TestResponse>>();
        var ids = new List<int>();
        for (var i = 0; i < 5; i++)
        {
            replies.Add(connection.SendAsync(new TestRequest(ApiKey.Metadata, [(byte)i]), 1, token).AsTask());
            ids.Add((await server.ReadRequestAsync(token))!.Value.CorrelationId);
        }
        var readsBefore = server.Client.Reads;
        var all = new List<byte>();
        for (var i = 0; i < 5; i++) all.AddRange(DuplexServer.Response(ids[i], [(byte)(20 + i)]));
        await server.WriteAsync([.. all], token);
        for (var i = 0; i < 5; i++) Assert.Equal([(byte)(20 + i)], (await replies[i]).Body);
        // One read brings all five; at most one more read is then waiting for the next bytes.
        Assert.InRange(server.Client.Reads - readsBefore, 0, 2);
    }

    [Fact]
    public async Task A_response_larger_than_the_read_buffer_arrives_whole()
    {
        var token = Bounded();
        var server = new DuplexServer();
        await using var connection = await ConnectAsync(server, token);
        var body = new byte[BrokerConnection.ReadBufferSize * 3 + 17];
        for (var i = 0; i < body.Length; i++) body[i] = (byte)(i * 31);

        var reply = connection.SendAsync(new TestRequest(ApiKey.Metadata, [1]), 1, token).AsTask();
        var request = await server.ReadRequestAsync(token);
        var frame = DuplexServer.Response(request!.Value.CorrelationId, body);
        // In pieces that straddle the size prefix and the read buffer's edge.
        foreach (var (from, to) in new[] { (0, 2), (2, 100), (100, BrokerConnection.ReadBufferSize + 5), (BrokerConnection.ReadBufferSize + 5, frame.Length) })
            await server.WriteAsync(frame[from..to], token);
        Assert.Equal(body, (await reply).Body);
    }
}
