using Kiel.Protocol;
using Kiel.Protocol.Messages;

namespace Kiel.Network;

/// <summary>
/// What version negotiation needs from an <see cref="ApiVersionsResponse"/>: its error, its version ranges and its
/// throttle time. The body is decoded by the generated message; the one twist is KIP-511's: a broker that rejects
/// the version asked for with UNSUPPORTED_VERSION answers with a v0 body, whatever was asked.
/// </summary>
internal readonly record struct ApiVersionsReply(ErrorCode ErrorCode, Dictionary<ApiKey, ApiVersionRange> Ranges, int ThrottleTimeMs)
{
    /// <summary>
    /// Reads a reply to a request sent at <paramref name="version"/>. An UNSUPPORTED_VERSION reply is read as v0;
    /// when its list cannot be read that way (the librdkafka mock writes a one-byte count there) the list is
    /// dropped, and the caller retries at v0.
    /// </summary>
    /// <exception cref="KafkaProtocolException">The body is malformed.</exception>
    public static ApiVersionsReply Read(ReadOnlySpan<byte> body, short version)
    {
        if (version > 0 && ApiVersionsResponse.TryPeekErrorCode(body, out var code) && code == ErrorCode.UnsupportedVersion)
        {
            try
            {
                return Decode(body, 0);
            }
            catch (KafkaProtocolException)
            {
                return new ApiVersionsReply(ErrorCode.UnsupportedVersion, [], 0);
            }
        }
        return Decode(body, version);
    }

    private static ApiVersionsReply Decode(ReadOnlySpan<byte> body, short version)
    {
        var reader = new KafkaReader(body, nameof(ApiVersionsResponse), version);
        var response = ApiVersionsResponse.Read(ref reader, version);
        var ranges = new Dictionary<ApiKey, ApiVersionRange>(response.ApiKeys.Count);
        foreach (var api in response.ApiKeys) ranges[(ApiKey)api.ApiKey] = new ApiVersionRange(api.MinVersion, api.MaxVersion);
        return new ApiVersionsReply((ErrorCode)response.ErrorCode, ranges, response.ThrottleTimeMs);
    }
}
