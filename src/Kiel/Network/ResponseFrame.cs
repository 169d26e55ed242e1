using System.Buffers;
using Kiel.Protocol;

namespace Kiel.Network;

/// <summary>
/// One response as read from the socket: its body lies in a pooled buffer that is returned when the frame is
/// disposed. Decoders may keep slices of <see cref="Body"/> (records are parsed in place) only until then.
/// </summary>
internal sealed class ResponseFrame : IDisposable
{
    private byte[]? _buffer;
    private readonly int _offset;
    private readonly int _length;

    internal ResponseFrame(byte[] buffer, int offset, int length, ApiKey apiKey, short version, int correlationId, BrokerEndpoint broker)
    {
        _buffer = buffer;
        _offset = offset;
        _length = length;
        ApiKey = apiKey;
        Version = version;
        CorrelationId = correlationId;
        Broker = broker;
    }

    /// <summary>The API of the request this answers.</summary>
    public ApiKey ApiKey { get; }

    /// <summary>The version the request was sent at, which is also the version of the body.</summary>
    public short Version { get; }

    /// <summary>The correlation id of the request.</summary>
    public int CorrelationId { get; }

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
}
