namespace Kiel.Producing;

/// <summary>
/// A transactional call failed. <see cref="RequiresAbort"/> says the current transaction can only be aborted now
/// (an abortable error: abort it with <see cref="KielProducer{TKey, TValue}.AbortTransactionAsync"/> and start
/// again); <see cref="IsFatal"/> says the producer can do no more transactional work (it was fenced by a newer
/// instance with the same transactional id, or is not authorized): dispose it. Neither is set for a call made in
/// the wrong state, which changes nothing.
/// </summary>
public sealed class TransactionException : KielException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="message">What failed and what to do.</param>
    /// <param name="errorCode">The broker's error code, or -1 when the failure was not a broker error.</param>
    /// <param name="requiresAbort">True when the transaction must be aborted before the producer can go on.</param>
    /// <param name="isFatal">True when the producer can do no more transactional work.</param>
    /// <param name="innerException">The cause, if any.</param>
    public TransactionException(string message, short errorCode = -1, bool requiresAbort = false, bool isFatal = false, Exception? innerException = null)
        : base(message, innerException)
    {
        ErrorCode = errorCode;
        ErrorName = Kiel.Protocol.ErrorCodes.Info(errorCode).Name;
        RequiresAbort = requiresAbort;
        IsFatal = isFatal;
    }

    /// <summary>The Kafka error code, or -1 when the failure was not a broker error (wrong state, timeout, a failed record...).</summary>
    public short ErrorCode { get; }

    /// <summary>Kafka's name for <see cref="ErrorCode"/>, for example <c>PRODUCER_FENCED</c>.</summary>
    public string ErrorName { get; }

    /// <summary>True when the current transaction can only be aborted (an abortable error).</summary>
    public bool RequiresAbort { get; }

    /// <summary>True when the producer can do no more transactional work (fenced, not authorized, or an unexpected broker answer).</summary>
    public bool IsFatal { get; }
}
