using Kiel.Protocol.Messages;

namespace Kiel.Protocol;

/// <summary>
/// Request and response headers, with the header version chosen from the API and its version (GUIDE §10):
/// request header v2 and response header v1 for flexible versions, except that ApiVersions responses always use v0.
/// </summary>
internal static class KafkaHeaders
{
    /// <summary>Writes a request header (no size prefix) without allocating.</summary>
    /// <param name="writer">Where to write.</param>
    /// <param name="apiKey">The API of the request that follows.</param>
    /// <param name="apiVersion">Its version; picks the header version.</param>
    /// <param name="correlationId">The id the broker echoes in its response.</param>
    /// <param name="clientId">The client id, or null. Always an int16-length string, even in header v2.</param>
    public static void WriteRequestHeader(ref KafkaWriter writer, ApiKey apiKey, short apiVersion, int correlationId, string? clientId)
    {
        var headerVersion = ApiKeys.RequestHeaderVersion(apiKey, apiVersion);
        writer.WriteInt16((short)apiKey);
        writer.WriteInt16(apiVersion);
        writer.WriteInt32(correlationId);
        if (headerVersion >= 1) writer.WriteString(clientId, compact: false);
        if (headerVersion >= 2) writer.WriteUnsignedVarInt(0); // no tagged fields
    }

    /// <summary>
    /// Reads a response header for a request of <paramref name="apiKey"/> at <paramref name="apiVersion"/> and returns
    /// its correlation id. Tagged fields in a v1 header are checked and skipped.
    /// </summary>
    /// <exception cref="KafkaProtocolException">The header is truncated or malformed.</exception>
    public static int ReadResponseHeader(ref KafkaReader reader, ApiKey apiKey, short apiVersion)
    {
        var headerVersion = ApiKeys.ResponseHeaderVersion(apiKey, apiVersion);
        reader.MessageName = "ResponseHeader";
        reader.Version = headerVersion;
        reader.Field = "CorrelationId";
        var correlationId = reader.ReadInt32();
        if (headerVersion >= 1)
        {
            reader.Field = "(tagged fields)";
            var count = reader.ReadTaggedFieldCount();
            for (var i = 0; i < count; i++)
            {
                reader.ReadUnsignedVarInt();
                reader.Skip(ProtocolSupport.ReadTagSize(ref reader));
            }
        }
        return correlationId;
    }

    /// <summary>Reads the correlation id at the start of a response frame without consuming anything.</summary>
    /// <returns>False when fewer than 4 bytes are present.</returns>
    public static bool TryPeekCorrelationId(ReadOnlySpan<byte> responseFrame, out int correlationId)
    {
        if (responseFrame.Length < 4)
        {
            correlationId = 0;
            return false;
        }
        correlationId = System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(responseFrame);
        return true;
    }

    /// <summary>Writes a response header (test servers and proxies).</summary>
    public static void WriteResponseHeader(ref KafkaWriter writer, ApiKey apiKey, short apiVersion, int correlationId)
    {
        writer.WriteInt32(correlationId);
        if (ApiKeys.ResponseHeaderVersion(apiKey, apiVersion) >= 1) writer.WriteUnsignedVarInt(0);
    }

    /// <summary>
    /// Reads a request header, choosing its version from the API key and version it starts with (test servers,
    /// proxies and captured frames).
    /// </summary>
    /// <exception cref="KafkaProtocolException">The header is truncated, or names an unknown API or version.</exception>
    public static RequestHeader ReadRequestHeader(ref KafkaReader reader)
    {
        reader.MessageName = "RequestHeader";
        reader.Field = "RequestApiKey";
        var head = reader.RemainingSpan;
        if (head.Length < 4) reader.Fail("needed 4 bytes for the API key and version (truncated input)");
        var key = (ApiKey)System.Buffers.Binary.BinaryPrimitives.ReadInt16BigEndian(head);
        var version = System.Buffers.Binary.BinaryPrimitives.ReadInt16BigEndian(head[2..]);
        if (!ApiKeys.TryGetInfo(key, out var info)) reader.Fail($"unknown API key {(short)key}");
        if (!info.IsValid(version)) reader.Fail($"{info.Name} version {version} is outside {info.MinVersion}-{info.MaxVersion}");
        return RequestHeader.Read(ref reader, ApiKeys.RequestHeaderVersion(key, version));
    }
}
