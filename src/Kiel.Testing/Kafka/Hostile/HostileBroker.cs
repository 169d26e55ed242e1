using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Threading.Channels;
using Kiel.Network;
using Kiel.Protocol;
using Kiel.Protocol.Messages;

namespace Kiel.Testing;

/// <summary>
/// A hostile front for an <see cref="EmbeddedKafkaCluster"/>: one loopback listener per broker that forwards every
/// request to its broker and, as its seeded script says, answers with wrong correlation ids, another API's response,
/// truncated or oversized frames, impossible counts, leaders that do not exist, partitions that come and go, throttle
/// times of hours, endless empty fetches or metadata that never converges. Broker addresses in Metadata and
/// FindCoordinator responses point at the front, so a client that bootstraps from <see cref="BootstrapServers"/>
/// stays behind it. For tests that every client call ends in a clear exception or recovers, and never hangs.
/// </summary>
public sealed class HostileBroker : IAsyncDisposable
{
    private const int MaxFrame = 64 * 1024 * 1024;
    private const int MissingBrokerId = 4242;
    private const int ThreeHoursMs = 3 * 60 * 60 * 1000;

    private readonly HostileBrokerOptions _options;
    private readonly FrontListeners _listeners;
    private readonly CancellationTokenSource _stopping = new();
    private readonly ConcurrentDictionary<Task, bool> _tasks = new();
    private readonly Random _random;
    private readonly Lock _randomGate = new();
    private volatile int _behaviour;
    private long _hits;
    private long _metadataResponses;

    /// <summary>Starts a front for every broker of <paramref name="cluster"/> (a plaintext one).</summary>
    /// <param name="cluster">The cluster to stand in front of.</param>
    /// <param name="options">The script; null is a plain forwarding front.</param>
    /// <exception cref="ArgumentException">The options are out of range, or the cluster has a secured front.</exception>
    public HostileBroker(EmbeddedKafkaCluster cluster, HostileBrokerOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(cluster);
        _options = options ?? new HostileBrokerOptions();
        _options.Validate();
        if (cluster.Security is not null) throw new ArgumentException("A hostile broker stands in front of a plaintext cluster; this one has a secured front.", nameof(cluster));
        _behaviour = (int)_options.Behaviour;
        _random = new Random(_options.Seed);
        var ports = cluster.BootstrapServers.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(address => int.Parse(address[(address.LastIndexOf(':') + 1)..], CultureInfo.InvariantCulture)).ToList();
        _listeners = new FrontListeners(ports);
        _listeners.Accept((i, socket) => ServeAsync(socket, _listeners.UpstreamPort(i)), Track, _stopping.Token);
    }

    /// <summary>The front's listeners, to bootstrap a client from.</summary>
    public string BootstrapServers => _listeners.BootstrapServers;

    /// <summary>The behaviour now; set <see cref="HostileBehaviour.None"/> to let a client recover.</summary>
    public HostileBehaviour Behaviour
    {
        get => (HostileBehaviour)_behaviour;
        set => _behaviour = (int)value;
    }

    /// <summary>How many responses were hit so far.</summary>
    public long Misbehaviours => Interlocked.Read(ref _hits);

    /// <summary>Stops the listeners and closes every connection.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_stopping.IsCancellationRequested) return;
        await _stopping.CancelAsync().ConfigureAwait(false);
        _listeners.Stop();
        try { await Task.WhenAll(_tasks.Keys).WaitAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false); }
        catch (Exception e) when (e is TimeoutException or OperationCanceledException or IOException or SocketException or ObjectDisposedException) { }
        _stopping.Dispose();
    }

    private void Track(Task task)
    {
        _tasks[task] = true;
        _ = task.ContinueWith(t => _tasks.TryRemove(t, out _), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }

    private async Task ServeAsync(Socket socket, int upstreamPort)
    {
        using var connectionStop = CancellationTokenSource.CreateLinkedTokenSource(_stopping.Token);
        using var upstreamSocket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await using var client = new NetworkStream(socket, ownsSocket: true);
        try
        {
            await upstreamSocket.ConnectAsync(IPAddress.Loopback, upstreamPort, connectionStop.Token).ConfigureAwait(false);
            await using var upstream = new NetworkStream(upstreamSocket, ownsSocket: false);
            await new Session(this, client, upstream, connectionStop).RunAsync().ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or ObjectDisposedException or InvalidOperationException)
        {
            // A client that goes away, the upstream broker gone, or the front stopping: the connection ends.
        }
        finally
        {
            await connectionStop.CancelAsync().ConfigureAwait(false);
        }
    }

    private bool Hit(short apiKey)
    {
        var behaviour = Behaviour;
        if (behaviour == HostileBehaviour.None) return false;
        var eligible = behaviour switch
        {
            HostileBehaviour.MissingLeader or HostileBehaviour.FlappingPartitions or HostileBehaviour.DivergingMetadata => apiKey == (short)ApiKey.Metadata,
            HostileBehaviour.EndlessEmptyFetch => apiKey == (short)ApiKey.Fetch,
            _ => _options.ApiKeys is null || _options.ApiKeys.Contains(apiKey),
        };
        if (!eligible) return false;
        lock (_randomGate)
            if (_options.Rate < 1 && _random.NextDouble() >= _options.Rate) return false;
        Interlocked.Increment(ref _hits);
        return true;
    }

    private int NextRandom(int maxExclusive)
    {
        lock (_randomGate) return _random.Next(maxExclusive);
    }

    /// <summary>What goes back to the client for one response from the broker (header and body, no size prefix).</summary>
    private Reply Answer(short apiKey, short version, int correlationId, byte[] response)
    {
        response = MapAddresses((ApiKey)apiKey, version, response);
        if (!Hit(apiKey)) return Reply.Frame(WithSize(response));
        var headerLength = FrameCodec.ReadResponseHeader(response, HeaderVersions.Response((ApiKey)apiKey, version), out _);
        switch (Behaviour)
        {
            case HostileBehaviour.WrongCorrelationId:
            {
                BinaryPrimitives.WriteInt32BigEndian(response, correlationId + 7919 + NextRandom(1000));
                return Reply.Frame(WithSize(response));
            }
            case HostileBehaviour.OtherApiResponse:
                return Reply.Frame(WithSize([.. response.AsSpan(0, headerLength), .. ForeignBody((ApiKey)apiKey)]));
            case HostileBehaviour.TruncatedFrame:
            {
                var frame = WithSize(response);
                return Reply.ThenClose(frame[..Math.Max(5, frame.Length / 2)]);
            }
            case HostileBehaviour.OversizedFrame:
            {
                var frame = WithSize(response);
                if (NextRandom(2) == 0)
                {
                    BinaryPrimitives.WriteInt32BigEndian(frame, int.MaxValue);
                    return Reply.Frame(frame);
                }
                BinaryPrimitives.WriteInt32BigEndian(frame, 200 * 1024 * 1024);
                return Reply.ThenClose(frame);
            }
            case HostileBehaviour.ImpossibleCount:
                return Reply.Frame(WithSize(ImpossibleCount((ApiKey)apiKey, version, response, headerLength)));
            case HostileBehaviour.MissingLeader:
                return Reply.Frame(WithSize(Recode<MetadataResponse>(response, headerLength, version, m =>
                {
                    foreach (var t in m.Topics) foreach (var p in t.Partitions) p.LeaderId = MissingBrokerId;
                })));
            case HostileBehaviour.FlappingPartitions:
            {
                if (Interlocked.Increment(ref _metadataResponses) % 2 == 1) return Reply.Frame(WithSize(response));
                return Reply.Frame(WithSize(Recode<MetadataResponse>(response, headerLength, version, m =>
                {
                    foreach (var t in m.Topics)
                    {
                        if (t.Partitions.Count <= 1)
                        {
                            t.Partitions.Clear();
                            t.ErrorCode = (short)ErrorCode.UnknownTopicOrPartition;
                        }
                        else t.Partitions.RemoveAll(p => p.PartitionIndex >= t.Partitions.Count / 2);
                    }
                })));
            }
            case HostileBehaviour.DivergingMetadata:
            {
                var turn = (int)Interlocked.Increment(ref _metadataResponses);
                return Reply.Frame(WithSize(Recode<MetadataResponse>(response, headerLength, version, m =>
                {
                    var ids = m.Brokers.Select(b => b.NodeId).Order().ToList();
                    if (ids.Count == 0) return;
                    if (ids.Count > 1) m.Brokers.RemoveAll(b => b.NodeId == ids[turn % ids.Count]);
                    var alive = m.Brokers.Select(b => b.NodeId).Order().ToList();
                    m.ControllerId = alive[turn % alive.Count];
                    foreach (var t in m.Topics)
                        foreach (var p in t.Partitions)
                        {
                            p.LeaderId = ids[(p.PartitionIndex + turn) % ids.Count];
                            p.LeaderEpoch = turn;
                        }
                })));
            }
            case HostileBehaviour.HugeThrottle:
                return Reply.Frame(WithSize(Throttle((ApiKey)apiKey, version, response, headerLength)));
            case HostileBehaviour.EndlessEmptyFetch:
                return Reply.Frame(WithSize(Recode<FetchResponse>(response, headerLength, version, m =>
                {
                    foreach (var t in m.Responses) foreach (var p in t.Partitions) p.Records = ReadOnlyMemory<byte>.Empty;
                })));
            default:
                return Reply.Frame(WithSize(response));
        }
    }

    private static byte[] ForeignBody(ApiKey apiKey)
    {
        using var buffer = new PooledBufferWriter(64);
        var writer = new KafkaWriter(buffer);
        if (apiKey == ApiKey.ApiVersions)
            new MetadataResponse { Brokers = [new MetadataResponse.MetadataResponseBroker { NodeId = 1, Host = "127.0.0.1", Port = 1 }], Topics = [] }.Write(ref writer, 0);
        else
            new ApiVersionsResponse { ApiKeys = [new ApiVersionsResponse.ApiVersion { ApiKey = 0, MinVersion = 0, MaxVersion = 9 }] }.Write(ref writer, 0);
        writer.Flush();
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>Where the first array count of a response body sits, and whether it is a compact (varint) one; null when unknown.</summary>
    private static (int Offset, bool Compact)? FirstArray(ApiKey apiKey, short version)
    {
        var flexible = HeaderVersions.IsFlexible(apiKey, version);
        return apiKey switch
        {
            ApiKey.Produce => (0, flexible),
            ApiKey.Fetch => (version >= 7 ? 10 : version >= 1 ? 4 : 0, flexible),
            ApiKey.ListOffsets => (version >= 2 ? 4 : 0, flexible),
            ApiKey.Metadata => (version >= 3 ? 4 : 0, flexible),
            ApiKey.OffsetCommit => (version >= 3 ? 4 : 0, flexible),
            ApiKey.OffsetFetch => (version >= 3 ? 4 : 0, flexible),
            ApiKey.FindCoordinator when version >= 4 => (4, flexible),
            ApiKey.ApiVersions => (2, version >= 3),
            _ => null,
        };
    }

    private static byte[] ImpossibleCount(ApiKey apiKey, short version, byte[] response, int headerLength)
    {
        var at = FirstArray(apiKey, version);
        var start = headerLength + (at?.Offset ?? 0);
        if (start + 4 > response.Length) return response;
        if (at is not { Compact: true })
        {
            BinaryPrimitives.WriteInt32BigEndian(response.AsSpan(start), int.MaxValue);
            return response;
        }
        // A compact array: replace its varint (length + 1) with the one of 2^31-1 elements.
        var old = 0;
        while (start + old < response.Length && (response[start + old] & 0x80) != 0) old++;
        old++;
        byte[] huge = [0x80, 0x80, 0x80, 0x80, 0x08];
        return [.. response.AsSpan(0, start), .. huge, .. response.AsSpan(Math.Min(response.Length, start + old))];
    }

    private static byte[] Throttle(ApiKey apiKey, short version, byte[] response, int headerLength) => apiKey switch
    {
        ApiKey.Produce when version >= 1 => Recode<ProduceResponse>(response, headerLength, version, m => m.ThrottleTimeMs = ThreeHoursMs),
        ApiKey.Fetch when version >= 1 => Recode<FetchResponse>(response, headerLength, version, m => m.ThrottleTimeMs = ThreeHoursMs),
        ApiKey.ListOffsets when version >= 2 => Recode<ListOffsetsResponse>(response, headerLength, version, m => m.ThrottleTimeMs = ThreeHoursMs),
        ApiKey.Metadata when version >= 3 => Recode<MetadataResponse>(response, headerLength, version, m => m.ThrottleTimeMs = ThreeHoursMs),
        ApiKey.OffsetCommit when version >= 3 => Recode<OffsetCommitResponse>(response, headerLength, version, m => m.ThrottleTimeMs = ThreeHoursMs),
        ApiKey.OffsetFetch when version >= 3 => Recode<OffsetFetchResponse>(response, headerLength, version, m => m.ThrottleTimeMs = ThreeHoursMs),
        ApiKey.FindCoordinator when version >= 1 => Recode<FindCoordinatorResponse>(response, headerLength, version, m => m.ThrottleTimeMs = ThreeHoursMs),
        ApiKey.ApiVersions when version >= 1 => Recode<ApiVersionsResponse>(response, headerLength, version, m => m.ThrottleTimeMs = ThreeHoursMs),
        ApiKey.InitProducerId => Recode<InitProducerIdResponse>(response, headerLength, version, m => m.ThrottleTimeMs = ThreeHoursMs),
        _ => response,
    };

    private static byte[] Recode<T>(byte[] response, int headerLength, short version, Action<T> change) where T : IResponseMessage<T>
    {
        var reader = new KafkaReader(response.AsMemory(headerLength), typeof(T).Name, version);
        var message = T.Read(ref reader, version);
        change(message);
        using var buffer = new PooledBufferWriter(response.Length + 64);
        var writer = new KafkaWriter(buffer);
        writer.WriteRaw(response.AsSpan(0, headerLength));
        message.Write(ref writer, version);
        writer.Flush();
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>Points broker addresses in Metadata and FindCoordinator responses at the front's listeners.</summary>
    private byte[] MapAddresses(ApiKey apiKey, short version, byte[] response) => apiKey is ApiKey.Metadata or ApiKey.FindCoordinator
        ? BrokerAddressRewriter.Rewrite((short)apiKey, version, response, _listeners.Map)
        : response;

    private static byte[] WithSize(ReadOnlySpan<byte> body)
    {
        var frame = new byte[body.Length + 4];
        BinaryPrimitives.WriteInt32BigEndian(frame, body.Length);
        body.CopyTo(frame.AsSpan(4));
        return frame;
    }

    private static async Task<byte[]?> ReadFrameAsync(Stream stream, int minimum, CancellationToken token)
    {
        var size = new byte[4];
        try { await stream.ReadExactlyAsync(size, token).ConfigureAwait(false); }
        catch (EndOfStreamException) { return null; }
        var length = BinaryPrimitives.ReadInt32BigEndian(size);
        if (length < minimum || length > MaxFrame) return null;
        var frame = new byte[length];
        await stream.ReadExactlyAsync(frame, token).ConfigureAwait(false);
        return frame;
    }

    /// <summary>Bytes to write, and whether the connection closes after them.</summary>
    private readonly record struct Reply(byte[] Bytes, bool Close)
    {
        public static Reply Frame(byte[] bytes) => new(bytes, false);

        public static Reply ThenClose(byte[] bytes) => new(bytes, true);
    }

    /// <summary>One client connection: requests forwarded in order, answers written in request order.</summary>
    private sealed class Session(HostileBroker front, Stream client, Stream upstream, CancellationTokenSource stop)
    {
        private readonly ConcurrentDictionary<int, (TaskCompletionSource<Reply?> Reply, short ApiKey, short Version)> _forwarded = new();
        private readonly Channel<Task<Reply?>> _replies = Channel.CreateUnbounded<Task<Reply?>>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });

        public async Task RunAsync()
        {
            var token = stop.Token;
            var writer = WriteRepliesAsync(token);
            var reader = ReadUpstreamAsync(token);
            try
            {
                while (!token.IsCancellationRequested)
                {
                    var frame = await ReadFrameAsync(client, 8, token).ConfigureAwait(false);
                    if (frame is null) break;
                    var apiKey = BinaryPrimitives.ReadInt16BigEndian(frame);
                    var version = BinaryPrimitives.ReadInt16BigEndian(frame.AsSpan(2));
                    var correlationId = BinaryPrimitives.ReadInt32BigEndian(frame.AsSpan(4));
                    if (apiKey == (short)ApiKey.Produce && NoReply(frame, version))
                    {
                        // acks=0: the broker sends nothing back, so nothing waits for it here.
                        await upstream.WriteAsync(WithSize(frame), token).ConfigureAwait(false);
                        continue;
                    }
                    var reply = new TaskCompletionSource<Reply?>(TaskCreationOptions.RunContinuationsAsynchronously);
                    _forwarded[correlationId] = (reply, apiKey, version);
                    _replies.Writer.TryWrite(reply.Task);
                    await upstream.WriteAsync(WithSize(frame), token).ConfigureAwait(false);
                    await upstream.FlushAsync(token).ConfigureAwait(false);
                }
            }
            finally
            {
                _replies.Writer.TryComplete();
                await stop.CancelAsync().ConfigureAwait(false);
                foreach (var pending in _forwarded.Values) pending.Reply.TrySetResult(null);
                try { await Task.WhenAll(writer, reader).WaitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false); }
                catch (Exception e) when (e is IOException or OperationCanceledException or ObjectDisposedException or TimeoutException or SocketException) { }
            }
        }

        private static bool NoReply(byte[] frame, short version)
        {
            try
            {
                var headerVersion = HeaderVersions.Request(ApiKey.Produce, version);
                var reader = new KafkaReader(frame, "RequestHeader", headerVersion);
                RequestHeader.Read(ref reader, headerVersion);
                var body = new KafkaReader(frame.AsMemory(reader.Position), "ProduceRequest", version);
                return ProduceRequest.Read(ref body, version).Acks == 0;
            }
            catch (KafkaProtocolException)
            {
                return false;
            }
        }

        private async Task WriteRepliesAsync(CancellationToken token)
        {
            try
            {
                await foreach (var next in _replies.Reader.ReadAllAsync(token).ConfigureAwait(false))
                {
                    if (await next.ConfigureAwait(false) is not { } reply) break;
                    await client.WriteAsync(reply.Bytes, token).ConfigureAwait(false);
                    await client.FlushAsync(token).ConfigureAwait(false);
                    if (reply.Close) break;
                }
            }
            finally
            {
                await stop.CancelAsync().ConfigureAwait(false);
            }
        }

        private async Task ReadUpstreamAsync(CancellationToken token)
        {
            try
            {
                while (!token.IsCancellationRequested)
                {
                    var frame = await ReadFrameAsync(upstream, 4, token).ConfigureAwait(false);
                    if (frame is null) break;
                    var correlationId = BinaryPrimitives.ReadInt32BigEndian(frame);
                    if (!_forwarded.TryRemove(correlationId, out var pending)) continue;
                    Reply reply;
                    try { reply = front.Answer(pending.ApiKey, pending.Version, correlationId, frame); }
                    catch (KafkaProtocolException) { reply = Reply.Frame(WithSize(frame)); }
                    pending.Reply.TrySetResult(reply);
                }
            }
            finally
            {
                foreach (var pending in _forwarded.Values) pending.Reply.TrySetResult(null);
                await stop.CancelAsync().ConfigureAwait(false);
            }
        }
    }
}
