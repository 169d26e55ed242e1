using Kiel.Network;
using Kiel.Protocol;
using Kiel.Protocol.Messages;

namespace Kiel.Testing;

/// <summary>
/// Rewrites the broker addresses in Metadata, FindCoordinator and DescribeCluster responses (and caps those APIs in an
/// ApiVersions response to the versions it can rewrite), so that a front placed before each broker (the secured front,
/// the <see cref="FaultProxy"/>) keeps clients on its own listeners. Shared by every such front.
/// </summary>
internal static class BrokerAddressRewriter
{
    /// <summary>True when responses of this API may carry broker addresses or API versions to rewrite.</summary>
    public static bool Concerns(short apiKey) => (ApiKey)apiKey is ApiKey.ApiVersions || CarriesAddresses(apiKey);

    /// <summary>True when responses of this API carry broker addresses (Metadata, FindCoordinator, DescribeCluster).</summary>
    public static bool CarriesAddresses(short apiKey) => (ApiKey)apiKey is ApiKey.Metadata or ApiKey.FindCoordinator or ApiKey.DescribeCluster;

    /// <summary>
    /// Rewrites one response (header and body, without the size prefix). <paramref name="map"/> maps an advertised
    /// host and port to the front's; <paramref name="adjustApiVersions"/> may change a successful ApiVersions answer further.
    /// </summary>
    /// <exception cref="KafkaProtocolException">The response does not decode.</exception>
    public static byte[] Rewrite(short apiKeyValue, short version, byte[] response, Func<string, int, (string Host, int Port)> map,
        Action<ApiVersionsResponse>? adjustApiVersions = null)
    {
        var apiKey = (ApiKey)apiKeyValue;
        if (!Concerns(apiKeyValue)) return response;
        var headerLength = FrameCodec.ReadResponseHeader(response, HeaderVersions.Response(apiKey, version), out _);
        var reader = new KafkaReader(response.AsMemory(headerLength), apiKey.ToString(), version);
        using var buffer = new PooledBufferWriter(response.Length + 64);
        var writer = new KafkaWriter(buffer);
        writer.WriteRaw(response.AsSpan(0, headerLength));
        var rewritten = apiKey switch
        {
            ApiKey.ApiVersions => Recode<ApiVersionsResponse>(ref reader, ref writer, version, message =>
            {
                if (message.ErrorCode != 0) return false;
                // Offer only the versions of the responses the front can rewrite.
                foreach (var k in message.ApiKeys)
                {
                    var cap = (ApiKey)k.ApiKey switch
                    {
                        ApiKey.Metadata => MetadataResponse.HighestSupportedVersion,
                        ApiKey.FindCoordinator => FindCoordinatorResponse.HighestSupportedVersion,
                        ApiKey.DescribeCluster => DescribeClusterResponse.HighestSupportedVersion,
                        _ => k.MaxVersion,
                    };
                    k.MaxVersion = Math.Min(k.MaxVersion, cap);
                }
                adjustApiVersions?.Invoke(message);
                return true;
            }),
            ApiKey.Metadata => Recode<MetadataResponse>(ref reader, ref writer, version, message =>
            {
                foreach (var broker in message.Brokers) (broker.Host, broker.Port) = map(broker.Host, broker.Port);
                return true;
            }),
            ApiKey.FindCoordinator => Recode<FindCoordinatorResponse>(ref reader, ref writer, version, message =>
            {
                if (message.Port > 0) (message.Host, message.Port) = map(message.Host, message.Port);
                foreach (var c in message.Coordinators ?? []) if (c.Port > 0) (c.Host, c.Port) = map(c.Host, c.Port);
                return true;
            }),
            _ => Recode<DescribeClusterResponse>(ref reader, ref writer, version, message =>
            {
                foreach (var broker in message.Brokers) (broker.Host, broker.Port) = map(broker.Host, broker.Port);
                return true;
            }),
        };
        if (!rewritten) return response;
        writer.Flush();
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>Reads a <typeparamref name="T"/>, lets <paramref name="change"/> edit it and writes it back; false (nothing written) when <paramref name="change"/> keeps the response as it was.</summary>
    private static bool Recode<T>(ref KafkaReader reader, ref KafkaWriter writer, short version, Func<T, bool> change) where T : IResponseMessage<T>
    {
        var message = T.Read(ref reader, version);
        if (!change(message)) return false;
        message.Write(ref writer, version);
        return true;
    }
}
