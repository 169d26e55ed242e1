using Kiel.Groups;

namespace Kiel;

/// <summary>
/// kiel's offsets in Kafka's ZooKeeper (spec §9.1): read where Kafka holds none for a partition, so that a group moving
/// from Python kiel resumes where it was; optionally written with every commit, so that Python members of a mixed
/// group see this member's progress.
/// </summary>
public partial class GroupedConsumer<TValue>
{
    private ZooKeeperOffsets? _zooKeeperOffsets;
    private readonly HashSet<TopicPartition> _zooKeeperOffsetLogged = [];

    /// <summary>Opens the ZooKeeper offset store when reading or writing is on: the allocator's client, or one of its own.</summary>
    private async Task OpenZooKeeperOffsetsAsync(CancellationToken cancellationToken)
    {
        if (!Options.ReadZooKeeperOffsets && !Options.WritesZooKeeperOffsets) return;
        if (Options.OffsetsZooKeeperHosts is null)
        {
            // Tests may replace the allocator's store with one that has no ZooKeeper client: then there is nothing to read.
            if (_store is ZooKeeperGroupStore zk) _zooKeeperOffsets = ZooKeeperOffsets.Shared(zk.Client);
            return;
        }
        using var connect = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        connect.CancelAfter(Options.ZooKeeperConnectTimeout);
        _zooKeeperOffsets = await ZooKeeperOffsets.ConnectAsync(Options.OffsetsZooKeeperConnectString, Options.ZooKeeperSessionTimeout,
            Options.ZooKeeperConnectTimeout, Options.LoggerFactory, Options.TimeProvider, connect.Token, Options.ApplyZooKeeperSecurity).ConfigureAwait(false);
    }

    /// <summary>kiel's stored offset of <paramref name="tp"/>, or null when there is none or it cannot be read (logged).</summary>
    private async Task<long?> ReadZooKeeperOffsetAsync(TopicPartition tp, CancellationToken cancellationToken)
    {
        if (!Options.ReadZooKeeperOffsets || _zooKeeperOffsets is not { } store) return null;
        try
        {
            var offset = await store.ReadAsync(Options.Group, tp, cancellationToken).ConfigureAwait(false);
            if (offset is { } o && _zooKeeperOffsetLogged.Add(tp))
                GroupLog.ZooKeeperOffsetAdopted(_log, Options.Group, tp.ToString(), o, ZooKeeperOffsets.PathOf(Options.Group, tp));
            return offset;
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            GroupLog.ZooKeeperOffsetFailed(_log, Options.Group, "read", tp.ToString(), ZooKeeperOffsets.PathOf(Options.Group, tp), e.Message);
            return null;
        }
    }

    /// <summary>Writes committed offsets to kiel's znodes when that is on; a failure is logged, never thrown (Kafka holds the commit).</summary>
    private async Task WriteZooKeeperOffsetsAsync(IReadOnlyDictionary<TopicPartition, long> committed, CancellationToken cancellationToken)
    {
        if (!Options.WritesZooKeeperOffsets || _zooKeeperOffsets is not { } store) return;
        foreach (var (tp, offset) in committed)
        {
            try
            {
                await store.WriteAsync(Options.Group, tp, offset, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                GroupLog.ZooKeeperOffsetFailed(_log, Options.Group, "write", tp.ToString(), ZooKeeperOffsets.PathOf(Options.Group, tp), e.Message);
            }
        }
    }

    private async Task CloseZooKeeperOffsetsAsync()
    {
        if (_zooKeeperOffsets is not { } store) return;
        _zooKeeperOffsets = null;
        try { await store.DisposeAsync().ConfigureAwait(false); }
        catch (Exception e) { GroupLog.WindDownFailed(_log, e, Name); }
    }
}
