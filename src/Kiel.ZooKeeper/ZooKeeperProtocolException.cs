namespace Kiel.ZooKeeper;

/// <summary>A reply from the server was malformed (a hostile or corrupt length, a bad field); the connection is dropped.</summary>
public sealed class ZooKeeperProtocolException : ZooKeeperException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="message">The message being decoded.</param>
    /// <param name="field">The field that was malformed.</param>
    /// <param name="problem">What was wrong.</param>
    public ZooKeeperProtocolException(string message, string field, string problem)
        : base(ZooKeeperErrorCode.MarshallingError, null, $"Malformed ZooKeeper {message}: field '{field}' {problem}.")
    {
        MessageName = message;
        Field = field;
    }

    /// <summary>The message being decoded.</summary>
    public string MessageName { get; }

    /// <summary>The malformed field.</summary>
    public string Field { get; }
}
