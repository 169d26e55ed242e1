using Kiel.Protocol;

namespace Kiel.Network;

/// <summary>
/// The ApiVersions request and the part of its response that negotiation needs. Hand-written rather than
/// generated because negotiation must read a v0-encoded body whatever version it asked for: a broker that
/// rejects our version with UNSUPPORTED_VERSION answers in v0 (KIP-511).
/// </summary>
internal sealed class ApiVersionsExchange : IRequestMessage
{
    public const short UnsupportedVersion = 35;

    public ApiVersionsExchange(string softwareName, string softwareVersion)
    {
        SoftwareName = softwareName;
        SoftwareVersion = softwareVersion;
    }

    public string SoftwareName { get; }

    public string SoftwareVersion { get; }

    public ApiKey ApiKey => ApiKey.ApiVersions;

    public void Write(ref KafkaWriter writer, short version)
    {
        if (version < 3) return; // v0-v2 have an empty body
        writer.WriteString(SoftwareName, compact: true);
        writer.WriteString(SoftwareVersion, compact: true);
        writer.WriteUnsignedVarInt(0); // no tagged fields
    }

    /// <summary>The decoded reply: the error code, the ranges and the throttle time.</summary>
    public readonly record struct Reply(short ErrorCode, Dictionary<ApiKey, ApiVersionRange> Ranges, int ThrottleTimeMs);

    /// <summary>
    /// Reads a reply. An UNSUPPORTED_VERSION reply is read as v0, whatever was asked; when its list cannot be read
    /// that way (the librdkafka mock writes a one-byte count there) the list is dropped and the caller retries at v0.
    /// </summary>
    public static Reply Read(ReadOnlySpan<byte> body, short version)
    {
        if (body.Length >= 2 && System.Buffers.Binary.BinaryPrimitives.ReadInt16BigEndian(body) == UnsupportedVersion && version > 0)
        {
            try
            {
                return ReadCore(body, 0);
            }
            catch (KafkaProtocolException)
            {
                return new Reply(UnsupportedVersion, [], 0);
            }
        }
        return ReadCore(body, version);
    }

    private static Reply ReadCore(ReadOnlySpan<byte> body, short version)
    {
        var reader = new KafkaReader(body, "ApiVersionsResponse", version) { Field = "ErrorCode" };
        var error = reader.ReadInt16();
        var flexible = version >= 3;
        reader.Field = "ApiKeys";
        var count = reader.ReadArrayLength(flexible, minElementSize: flexible ? 7 : 6);
        var ranges = new Dictionary<ApiKey, ApiVersionRange>(Math.Max(0, count));
        for (var i = 0; i < count; i++)
        {
            reader.Field = "ApiKeys.ApiKey";
            var key = reader.ReadInt16();
            reader.Field = "ApiKeys.MinVersion";
            var min = reader.ReadInt16();
            reader.Field = "ApiKeys.MaxVersion";
            var max = reader.ReadInt16();
            if (flexible) SkipTaggedFields(ref reader);
            ranges[(ApiKey)key] = new ApiVersionRange(min, max);
        }
        var throttle = 0;
        if (version >= 1 && !reader.End)
        {
            reader.Field = "ThrottleTimeMs";
            throttle = reader.ReadInt32();
        }
        // v3+ top-level tagged fields (supported and finalized features) are not needed to negotiate.
        return new Reply(error, ranges, throttle);
    }

    private static void SkipTaggedFields(ref KafkaReader reader)
    {
        var n = reader.ReadTaggedFieldCount();
        for (var i = 0; i < n; i++)
        {
            reader.ReadUnsignedVarInt();
            var size = reader.ReadUnsignedVarInt();
            if (size > int.MaxValue) reader.Fail($"tagged field size {size} is too large");
            reader.Skip((int)size);
        }
    }
}
