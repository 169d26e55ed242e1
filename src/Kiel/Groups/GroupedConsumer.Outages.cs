using System.Diagnostics;
using System.Diagnostics.Metrics;
using Kiel.Cluster;
using Kiel.Consuming;
using Kiel.Diagnostics;
using Kiel.Groups;

namespace Kiel;

/// <summary>
/// kiel's contract for a consume loop: transient trouble (a coordinator move or outage, an autocommit that failed after
/// its retries, a retriable offset-fetch error, a broker down) is logged and counted, and <c>ConsumeAsync</c> returns
/// within its wait time and tries again on the next call. Committed progress is never dropped: what an autocommit could
/// not store stays pending and the next call commits it.
/// </summary>
public partial class GroupedConsumer<TValue>
{
    internal static Counter<long> TransientErrors => ConsumerMetrics.TransientErrors;

    /// <summary>True for trouble that passes: retriable Kafka errors and the offset errors they end in after the retries.</summary>
    private static bool IsTransient(Exception e, CancellationToken cancellationToken) => e switch
    {
        OperationCanceledException => !cancellationToken.IsCancellationRequested,
        DeserializationException => false,
        // A Kafka group rebalancing, or this member's generation gone: the partitions are being revoked or were lost,
        // and the member rejoins; what this commit held is committed at the revocation or read again by the next owner.
        OffsetCommitException commit => commit.RetriesExhausted || commit.ErrorCode is (short)ErrorCode.RebalanceInProgress
            or (short)ErrorCode.IllegalGeneration or (short)ErrorCode.UnknownMemberId,
        NoOffsetsException offsets => offsets.ErrorCode != 0
            ? ErrorClassification.IsRetriableGroupOffsets((ErrorCode)offsets.ErrorCode)
            : offsets.InnerException is { } lost && ErrorClassification.IsRetriable(lost),
        KielException kiel => kiel.IsRetriable,
        _ => false,
    };

    private void NoteTransientError(string topic, Exception e)
    {
        GroupLog.TransientConsumeError(_log, Options.Group, Name, topic, e.GetType().Name, e.Message);
        if (TransientErrors.Enabled)
            TransientErrors.Add(1, new TagList { { "messaging.system", "kafka" }, { "messaging.consumer.group.name", Options.Group }, { "error.type", e.GetType().Name } });
    }

    private async Task<IReadOnlyList<ConsumeResult<byte[]?, TValue>>> AfterTransientErrorAsync(string topic, Exception e, CancellationToken cancellationToken)
    {
        NoteTransientError(topic, e);
        // Back off, within the consume call's wait, so that a loop does not spin against an outage.
        var pause = Options.RetryBackoff > Options.FetchMaxWait ? Options.FetchMaxWait : Options.RetryBackoff;
        if (pause > TimeSpan.Zero) await Task.Delay(pause, Options.TimeProvider, cancellationToken).ConfigureAwait(false);
        return [];
    }
}
