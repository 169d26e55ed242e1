namespace Kiel;

/// <summary>
/// A message cannot be encoded as asked: the version is outside what the message defines, or a field holds a value
/// that the chosen version cannot carry (it would otherwise be dropped silently), or a null where null is not allowed.
/// </summary>
public sealed class KafkaEncodeException : KielException
{
    /// <summary>Creates the exception.</summary>
    public KafkaEncodeException(string? messageName, int version, string? field, string problem)
        : base($"Cannot write {messageName ?? "message"} v{version}{(field is null ? "" : ", field " + field)}: {problem}")
    {
        MessageName = messageName;
        Version = version;
        Field = field;
    }

    /// <summary>The message being written, when known.</summary>
    public string? MessageName { get; }

    /// <summary>The version asked for.</summary>
    public int Version { get; }

    /// <summary>The field that could not be written, or null when the version itself is the problem.</summary>
    public string? Field { get; }
}
