namespace Kiel;

/// <summary>
/// A connection to a broker could not be opened or broke while requests were in flight. Retriable: another
/// attempt opens a new connection (after refreshing metadata where the broker may have moved).
/// </summary>
public class KafkaConnectionException : KielException
{
    /// <summary>Creates the exception.</summary>
    internal KafkaConnectionException(BrokerEndpoint broker, string problem, Exception? innerException = null)
        : base($"Connection to broker {broker}: {problem}", innerException)
    {
        Broker = broker;
        Problem = problem;
    }

    /// <summary>The broker the connection was for.</summary>
    internal BrokerEndpoint Broker { get; }

    /// <summary>What happened, without the broker's name.</summary>
    public string Problem { get; }

    /// <inheritdoc />
    public override bool IsRetriable => true;
}
