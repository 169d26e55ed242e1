using System.Buffers.Binary;
using Kiel.Protocol;
using Kiel.Protocol.Messages;

namespace Kiel.Network;

/// <summary>
/// The Kafka frame codec, pure and I/O-free: a request frame is a 4-byte size, a request header (the generated
/// <see cref="RequestHeader"/> at the version the API and its version call for) and the body; a response frame is
/// a 4-byte size, a response header (the generated <see cref="ResponseHeader"/>) and the body. The connection
/// knows frames only; message shapes stay with the caller.
/// </summary>
internal static class FrameCodec
{
    [ThreadStatic]
    private static RequestHeader? t_header;

    /// <summary>Bytes in the size prefix of every frame.</summary>
    public const int SizePrefixLength = 4;

    /// <summary>Where the correlation id sits in a request frame (after the size, the API key and the API version), in every header version.</summary>
    public const int RequestCorrelationIdOffset = SizePrefixLength + 2 + 2;

    /// <summary>
    /// Writes one whole request frame (size prefix, header, body) to <paramref name="buffer"/>. The correlation id
    /// may be a placeholder, patched later with <see cref="PatchCorrelationId"/>.
    /// </summary>
    /// <exception cref="KafkaEncodeException">The request cannot be written at <paramref name="version"/>.</exception>
    public static void WriteRequest(PooledBufferWriter buffer, IRequestMessage request, short version, int correlationId, string? clientId)
    {
        var start = buffer.WrittenCount;
        var segmentBytes = buffer.SegmentBytes;
        buffer.GetSpan(SizePrefixLength);
        buffer.Advance(SizePrefixLength); // the size, patched below
        var writer = new KafkaWriter(buffer);
        // One header per thread, refilled for each frame: writing is synchronous, so a frame costs no header allocation.
        var header = t_header ??= new RequestHeader();
        header.RequestApiKey = (short)request.ApiKey;
        header.RequestApiVersion = version;
        header.CorrelationId = correlationId;
        header.ClientId = clientId; // an int16-length string even in header v2, so any broker can read any header
        header.UnknownTaggedFields = null;
        header.Write(ref writer, HeaderVersions.Request(request.ApiKey, version));
        request.Write(ref writer, version);
        writer.Flush();
        // Shared segments (record batches written in place, see PooledBufferWriter.GathersSegments) count too.
        var frame = buffer.WrittenSpanMutable[start..];
        var size = frame.Length + (buffer.SegmentBytes - segmentBytes) - SizePrefixLength;
        if (size > int.MaxValue) throw new KafkaEncodeException(request.ApiKey.ToString(), version, null, $"the request is {size} bytes, more than a frame can carry");
        BinaryPrimitives.WriteInt32BigEndian(frame, (int)size);
    }

    /// <summary>Sets the correlation id of a request frame written by <see cref="WriteRequest"/>.</summary>
    public static void PatchCorrelationId(Span<byte> requestFrame, int correlationId) =>
        BinaryPrimitives.WriteInt32BigEndian(requestFrame.Slice(RequestCorrelationIdOffset, 4), correlationId);

    /// <summary>Reads the size prefix of a frame: the number of bytes that follow it.</summary>
    public static int ReadSize(ReadOnlySpan<byte> sizePrefix) => BinaryPrimitives.ReadInt32BigEndian(sizePrefix);

    /// <summary>
    /// Reads the correlation id at the start of a response (after the size prefix), which every response header
    /// version begins with, so that the request, and with it the header version, can be found.
    /// </summary>
    /// <exception cref="KafkaProtocolException">Fewer than four bytes.</exception>
    public static int PeekCorrelationId(ReadOnlySpan<byte> response)
    {
        if (response.Length < 4)
            throw new KafkaProtocolException("ResponseHeader", 0, "CorrelationId", $"needed 4 bytes, the response has {response.Length}");
        return BinaryPrimitives.ReadInt32BigEndian(response);
    }

    /// <summary>
    /// Reads the response header at <paramref name="headerVersion"/> (v1 carries tagged fields) from the start of
    /// a response (after the size prefix) and returns its length, that is where the body starts.
    /// </summary>
    /// <exception cref="KafkaProtocolException">The header is truncated or malformed.</exception>
    public static int ReadResponseHeader(ReadOnlySpan<byte> response, short headerVersion, out int correlationId)
    {
        var reader = new KafkaReader(response, "ResponseHeader", headerVersion);
        var header = ResponseHeader.Read(ref reader, headerVersion);
        correlationId = header.CorrelationId;
        return reader.Position;
    }
}
