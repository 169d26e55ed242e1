using Kiel.Diagnostics;
using Microsoft.Extensions.Logging;

namespace Kiel.Producing;

/// <summary>The transactional producer's log messages. Event ids 6100–6199 belong to transactions.</summary>
internal static partial class TransactionLog
{
    [LoggerMessage(LogEvents.TransactionInitialized, LogLevel.Information, "Transactional id {TransactionalId}: producer id {ProducerId} epoch {Epoch}")]
    public static partial void Initialized(ILogger logger, string transactionalId, long producerId, short epoch);

    [LoggerMessage(LogEvents.TransactionRetrying, LogLevel.Information, "Transactional id {TransactionalId}: {Api} got {Error}; retrying (attempt {Attempt})")]
    public static partial void Retrying(ILogger logger, string transactionalId, string api, string error, int attempt);

    [LoggerMessage(LogEvents.TransactionAbortable, LogLevel.Warning, "Transactional id {TransactionalId}: the transaction must be aborted: {Reason}")]
    public static partial void Abortable(ILogger logger, string transactionalId, string reason);

    [LoggerMessage(LogEvents.TransactionFatal, LogLevel.Error, "Transactional id {TransactionalId}: no more transactional work: {Reason}")]
    public static partial void Fatal(ILogger logger, string transactionalId, string reason);

    [LoggerMessage(LogEvents.TransactionCommitted, LogLevel.Debug, "Transactional id {TransactionalId}: transaction committed")]
    public static partial void Committed(ILogger logger, string transactionalId);

    [LoggerMessage(LogEvents.TransactionAborted, LogLevel.Debug, "Transactional id {TransactionalId}: transaction aborted")]
    public static partial void Aborted(ILogger logger, string transactionalId);

    [LoggerMessage(LogEvents.TransactionPartitionsAdded, LogLevel.Debug, "Transactional id {TransactionalId}: {Count} partitions added to the transaction")]
    public static partial void PartitionsAdded(ILogger logger, string transactionalId, int count);

    [LoggerMessage(LogEvents.TransactionAbortAtCloseFailed, LogLevel.Warning, "Transactional id {TransactionalId}: aborting the open transaction at close failed: {Error}; the coordinator aborts it after the transaction timeout")]
    public static partial void AbortAtCloseFailed(ILogger logger, string transactionalId, string error);
}
