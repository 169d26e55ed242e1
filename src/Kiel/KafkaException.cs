using Kiel.Protocol;

namespace Kiel;

/// <summary>
/// A broker answered with an error code. It carries the code, Kafka's name for it and whether the Java client would
/// retry it. Codes this version of Kiel does not know still produce this exception, never a crash.
/// </summary>
public class KafkaException : KielException
{
    /// <summary>Creates the exception for <paramref name="code"/>.</summary>
    /// <param name="code">The error code from the response.</param>
    /// <param name="detail">Where it came from or the broker's error message, if any (for example the topic and partition).</param>
    /// <param name="innerException">The underlying exception, if any.</param>
    public KafkaException(ErrorCode code, string? detail = null, Exception? innerException = null)
        : this(ErrorCodes.Info(code), detail, innerException)
    {
    }

    private KafkaException(ErrorInfo info, string? detail, Exception? innerException)
        : base(Format(info, detail), innerException)
    {
        Info = info;
        Detail = detail;
    }

    /// <summary>The error code, for example <see cref="ErrorCode.NotLeaderOrFollower"/>.</summary>
    public ErrorCode ErrorCode => Info.Code;

    /// <summary>Kafka's name for the code, for example <c>NOT_LEADER_OR_FOLLOWER</c>.</summary>
    public string Name => Info.Name;

    /// <summary>The table entry for the code.</summary>
    internal ErrorInfo Info { get; }

    /// <summary>The context given when the exception was created, or null.</summary>
    public string? Detail { get; }

    /// <inheritdoc/>
    public override bool IsRetriable => Info.IsRetriable;

    /// <summary>Throws a <see cref="KafkaException"/> unless <paramref name="code"/> is 0 (NONE).</summary>
    internal static void ThrowIfError(short code, string? detail = null)
    {
        if (code != 0) throw new KafkaException((ErrorCode)code, detail);
    }

    /// <summary>Throws a <see cref="KafkaException"/> unless <paramref name="code"/> is <see cref="ErrorCode.None"/>.</summary>
    internal static void ThrowIfError(ErrorCode code, string? detail = null)
    {
        if (code != ErrorCode.None) throw new KafkaException(code, detail);
    }

    private static string Format(ErrorInfo info, string? detail) =>
        $"{info.Name} ({(short)info.Code}): {info.Message}" + (string.IsNullOrEmpty(detail) ? "" : " " + detail);
}
