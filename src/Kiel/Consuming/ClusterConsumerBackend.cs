namespace Kiel.Consuming;

/// <summary>The consumers' backend over the cluster layer: metadata, Fetch and ListOffsets against real brokers.</summary>
internal static class ClusterConsumerBackend
{
    /// <summary>Connects to the brokers of <paramref name="options"/>.</summary>
    public static IConsumerBackend Create(KielConsumerOptions options) =>
        throw new NotSupportedException("The network layer is not available in this build yet.");
}
