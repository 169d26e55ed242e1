namespace Kiel;

/// <summary>
/// Metadata names a broker (as a partition leader, say) that is not in its broker list, usually because the
/// broker is down. Retriable: metadata is refreshed and the leader may move.
/// </summary>
public sealed class BrokerNotAvailableException : KielException
{
    /// <summary>Creates the exception.</summary>
    internal BrokerNotAvailableException(int brokerId, string context)
        : base($"{context}: broker {brokerId} is not in the cluster's broker list (it may be down); metadata will be refreshed.")
    {
        BrokerId = brokerId;
    }

    /// <summary>The broker id that could not be found.</summary>
    public int BrokerId { get; }

    /// <inheritdoc />
    public override bool IsRetriable => true;
}
