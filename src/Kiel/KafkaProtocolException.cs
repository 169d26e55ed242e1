namespace Kiel;

/// <summary>
/// Malformed bytes on the wire: a truncated frame, a hostile length, an unknown magic byte or a bad checksum.
/// It names the message, the version and the field that could not be read.
/// </summary>
public sealed class KafkaProtocolException : KielException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="messageName">The message or structure being decoded, for example <c>FetchResponse</c> or <c>RecordBatch</c>.</param>
    /// <param name="version">The version being decoded, or -1 where it does not apply.</param>
    /// <param name="field">The field being read when the problem was found, or null.</param>
    /// <param name="problem">What was wrong.</param>
    /// <param name="innerException">The underlying exception, if any.</param>
    public KafkaProtocolException(string? messageName, int version, string? field, string problem, Exception? innerException = null)
        : base(Format(messageName, version, field, problem), innerException)
    {
        MessageName = messageName;
        Version = version;
        Field = field;
        Problem = problem;
    }

    /// <summary>Creates the exception with a plain message.</summary>
    public KafkaProtocolException(string problem) : this(null, -1, null, problem) { }

    /// <summary>The message or structure being decoded.</summary>
    public string? MessageName { get; }

    /// <summary>The version being decoded, or -1.</summary>
    public int Version { get; }

    /// <summary>The field being read, or null.</summary>
    public string? Field { get; }

    /// <summary>What was wrong, without the location.</summary>
    public string Problem { get; }

    private static string Format(string? messageName, int version, string? field, string problem)
    {
        var where = messageName ?? "Kafka protocol data";
        if (version >= 0) where += " v" + version;
        if (field is not null) where += ", field " + field;
        return $"Malformed {where}: {problem}";
    }
}
