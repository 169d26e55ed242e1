using System.Buffers;
using Kiel.Protocol;

namespace Kiel.Network;

/// <summary>
/// One response as read from the socket: its body lies in a pooled buffer that is returned when the frame is
/// disposed. Decoders may keep slices of <see cref="Body"/> (records are parsed in place) only until then.
/// </summary>
/// <remarks>
/// A caller that holds the only reference to the frame and keeps nothing of its body may <see cref="Recycle"/> it
/// instead: the object then goes back to its connection's pool (the producer's answers, one per request). A recycled
/// frame must not be touched again, not even disposed.
/// </remarks>
internal sealed class ResponseFrame : IDisposable
{
    private byte[]? _buffer;
    private int _offset;
    private int _length;
    private readonly BrokerConnection? _home;

    internal ResponseFrame(byte[] buffer, int offset, int length, ApiKey apiKey, short version, int correlationId, BrokerEndpoint broker)
    {
        Set(buffer, offset, length, apiKey, version, correlationId);
        Broker = broker;
    }

    /// <summary>An empty frame of <paramref name="home"/>'s pool (see <see cref="Set"/>).</summary>
    internal ResponseFrame(BrokerConnection home)
    {
        _home = home;
        Broker = home.Endpoint;
    }

    /// <summary>Fills a new or recycled frame.</summary>
    internal ResponseFrame Set(byte[] buffer, int offset, int length, ApiKey apiKey, short version, int correlationId)
    {
        _buffer = buffer;
        _offset = offset;
        _length = length;
        ApiKey = apiKey;
        Version = version;
        CorrelationId = correlationId;
        return this;
    }

    /// <summary>The API of the request this answers.</summary>
    public ApiKey ApiKey { get; private set; }

    /// <summary>The version the request was sent at, which is also the version of the body.</summary>
    public short Version { get; private set; }

    /// <summary>The correlation id of the request.</summary>
    public int CorrelationId { get; private set; }

    /// <summary>The broker that answered.</summary>
    public BrokerEndpoint Broker { get; }

    /// <summary>The response body, after the response header. Valid until <see cref="Dispose"/>.</summary>
    public ReadOnlyMemory<byte> Body => _buffer is { } b
        ? b.AsMemory(_offset, _length)
        : throw new ObjectDisposedException(nameof(ResponseFrame), "The response frame was disposed and its buffer returned to the pool.");

    /// <summary>
    /// Decodes the body in place: byte fields of the result are slices of this frame's buffer, valid until the
    /// frame is disposed. Use it for Fetch; for anything kept longer use <see cref="DecodeCopy{TResponse}"/>.
    /// </summary>
    public TResponse Decode<TResponse>() where TResponse : IResponseMessage<TResponse>
    {
        var reader = new KafkaReader(Body, typeof(TResponse).Name, Version);
        return TResponse.Read(ref reader, Version);
    }

    /// <summary>Decodes the body, copying every byte field, so the result outlives the frame.</summary>
    public TResponse DecodeCopy<TResponse>() where TResponse : IResponseMessage<TResponse>
    {
        var reader = new KafkaReader(Body.Span, typeof(TResponse).Name, Version);
        return TResponse.Read(ref reader, Version);
    }

    /// <summary>Returns the buffer to the pool. Safe to call more than once.</summary>
    public void Dispose()
    {
        var b = Interlocked.Exchange(ref _buffer, null);
        if (b is not null) ArrayPool<byte>.Shared.Return(b);
    }

    /// <summary>
    /// Returns the buffer, and the frame itself to its connection's pool. Only for a caller that holds the one
    /// reference to the frame and keeps nothing of its body; the frame must not be used (or disposed) afterwards.
    /// </summary>
    public void Recycle()
    {
        Dispose();
        _home?.ReturnResponseFrame(this);
    }
}
