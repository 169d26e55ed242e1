using System.Text.RegularExpressions;
using Kiel.Cluster;
using Kiel.Protocol;

namespace Kiel.Tests.Cluster;

/// <summary>The one error table: every code a client acts on, and no client with a table of its own.</summary>
public sealed partial class ErrorClassificationTests
{
    [Theory]
    [InlineData(ErrorCode.None, "Deliver")]
    [InlineData(ErrorCode.OffsetOutOfRange, "ResetOffset")]
    [InlineData(ErrorCode.TopicAuthorizationFailed, "Stop")]
    [InlineData(ErrorCode.CorruptMessage, "BackOff")]
    [InlineData(ErrorCode.RequestTimedOut, "BackOff")]
    [InlineData(ErrorCode.UnknownLeaderEpoch, "BackOff")]
    [InlineData(ErrorCode.UnknownTopicOrPartition, "RefreshLeader")]
    [InlineData(ErrorCode.LeaderNotAvailable, "RefreshLeader")]
    [InlineData(ErrorCode.NotLeaderOrFollower, "RefreshLeader")]
    [InlineData(ErrorCode.ReplicaNotAvailable, "RefreshLeader")]
    [InlineData(ErrorCode.KafkaStorageError, "RefreshLeader")]
    [InlineData(ErrorCode.FencedLeaderEpoch, "RefreshLeader")]
    [InlineData(ErrorCode.OffsetNotAvailable, "RefreshLeader")]
    [InlineData(ErrorCode.UnknownTopicId, "RefreshLeader")]
    [InlineData(ErrorCode.InconsistentTopicId, "RefreshLeader")]
    [InlineData((ErrorCode)9999, "RefreshLeader")]
    public void FetchActions(ErrorCode code, string expected) => Assert.Equal(expected, ErrorClassification.ForFetch(code).ToString());

    [Theory]
    [InlineData(ErrorCode.FetchSessionIdNotFound, true)]
    [InlineData(ErrorCode.InvalidFetchSessionEpoch, true)]
    [InlineData(ErrorCode.None, false)]
    [InlineData(ErrorCode.NotLeaderOrFollower, false)]
    [InlineData(ErrorCode.UnknownServerError, false)]
    public void FetchSessionLoss(ErrorCode code, bool lost) => Assert.Equal(lost, ErrorClassification.IsFetchSessionLost(code));

    [Theory]
    [InlineData(ErrorCode.None, true, "Delivered")]
    [InlineData(ErrorCode.DuplicateSequenceNumber, true, "DeliveredDuplicate")]
    [InlineData(ErrorCode.MessageTooLarge, false, "TooLarge")]
    [InlineData(ErrorCode.RecordListTooLarge, false, "TooLarge")]
    [InlineData(ErrorCode.OutOfOrderSequenceNumber, true, "BumpEpoch")]
    [InlineData(ErrorCode.UnknownProducerId, true, "BumpEpoch")]
    [InlineData(ErrorCode.InvalidProducerEpoch, true, "BumpEpoch")]
    [InlineData(ErrorCode.OutOfOrderSequenceNumber, false, "Fail")]
    [InlineData(ErrorCode.InvalidProducerEpoch, false, "Fail")]
    [InlineData(ErrorCode.CorruptMessage, true, "Retry")]
    [InlineData(ErrorCode.RequestTimedOut, true, "Retry")]
    [InlineData(ErrorCode.NotEnoughReplicas, true, "Retry")]
    [InlineData(ErrorCode.NotEnoughReplicasAfterAppend, true, "Retry")]
    [InlineData(ErrorCode.ConcurrentTransactions, true, "Retry")]
    [InlineData(ErrorCode.CoordinatorLoadInProgress, true, "Retry")]
    [InlineData(ErrorCode.CoordinatorNotAvailable, true, "Retry")]
    [InlineData(ErrorCode.NotCoordinator, true, "Retry")]
    [InlineData(ErrorCode.UnknownTopicOrPartition, true, "RetryAfterMetadata")]
    [InlineData(ErrorCode.LeaderNotAvailable, true, "RetryAfterMetadata")]
    [InlineData(ErrorCode.NotLeaderOrFollower, true, "RetryAfterMetadata")]
    [InlineData(ErrorCode.NetworkException, true, "RetryAfterMetadata")]
    [InlineData(ErrorCode.KafkaStorageError, true, "RetryAfterMetadata")]
    [InlineData(ErrorCode.FencedLeaderEpoch, true, "RetryAfterMetadata")]
    [InlineData(ErrorCode.UnknownLeaderEpoch, true, "RetryAfterMetadata")]
    [InlineData(ErrorCode.InvalidRecord, true, "Fail")]
    [InlineData(ErrorCode.TopicAuthorizationFailed, true, "Fail")]
    [InlineData(ErrorCode.UnsupportedVersion, true, "Fail")]
    [InlineData(ErrorCode.UnknownServerError, true, "Fail")]
    [InlineData((ErrorCode)9999, true, "Fail")]
    public void ProduceActions(ErrorCode code, bool idempotent, string expected) =>
        Assert.Equal(expected, ErrorClassification.ForProduce(code, idempotent).ToString());

    [Theory]
    [InlineData(ErrorCode.UnknownTopicOrPartition, true)]
    [InlineData(ErrorCode.LeaderNotAvailable, true)]
    [InlineData(ErrorCode.NotLeaderOrFollower, true)]
    [InlineData(ErrorCode.RequestTimedOut, true)]
    [InlineData(ErrorCode.ReplicaNotAvailable, true)]
    [InlineData(ErrorCode.KafkaStorageError, true)]
    [InlineData(ErrorCode.FencedLeaderEpoch, true)]
    [InlineData(ErrorCode.UnknownLeaderEpoch, true)]
    [InlineData(ErrorCode.OffsetNotAvailable, true)]
    [InlineData(ErrorCode.UnknownTopicId, true)]
    [InlineData(ErrorCode.TopicAuthorizationFailed, false)]
    [InlineData(ErrorCode.UnsupportedVersion, false)]
    [InlineData(ErrorCode.InvalidRequest, false)]
    [InlineData(ErrorCode.UnknownServerError, false)]
    public void ListOffsetsRetries(ErrorCode code, bool retried) => Assert.Equal(retried, ErrorClassification.IsRetriableListOffsets(code));

    [Theory]
    [InlineData(ErrorCode.CoordinatorLoadInProgress, true, false)]
    [InlineData(ErrorCode.CoordinatorNotAvailable, true, true)]
    [InlineData(ErrorCode.NotCoordinator, true, true)]
    [InlineData(ErrorCode.RequestTimedOut, true, true)]
    [InlineData(ErrorCode.UnstableOffsetCommit, true, true)]
    [InlineData(ErrorCode.None, false, true)] // a lost connection carries no code
    [InlineData(ErrorCode.OffsetMetadataTooLarge, false, true)]
    [InlineData(ErrorCode.GroupAuthorizationFailed, false, true)]
    [InlineData(ErrorCode.IllegalGeneration, false, true)]
    [InlineData(ErrorCode.UnknownMemberId, false, true)]
    public void GroupOffsets(ErrorCode code, bool retried, bool rediscover)
    {
        Assert.Equal(retried, ErrorClassification.IsRetriableGroupOffsets(code));
        Assert.Equal(rediscover, ErrorClassification.RediscoverCoordinatorAfter(code));
    }

    [Theory]
    [InlineData(ErrorCode.CoordinatorNotAvailable, true)]
    [InlineData(ErrorCode.NotCoordinator, true)]
    [InlineData(ErrorCode.CoordinatorLoadInProgress, false)]
    [InlineData(ErrorCode.NotLeaderOrFollower, false)]
    public void CoordinatorMoved(ErrorCode code, bool moved) => Assert.Equal(moved, ErrorClassification.MeansCoordinatorMoved(code));

    [Fact]
    public void StaleMetadataCodesAreAllRetriable()
    {
        var stale = ErrorCodes.All.Where(i => ErrorClassification.MeansStaleMetadata(i.Code)).Select(i => i.Code).ToList();
        Assert.Equal(12, stale.Count);
        Assert.All(stale, c => Assert.True(ErrorClassification.IsRetriable(c), $"{c} refreshes metadata but is not retriable"));
        Assert.False(ErrorClassification.MeansStaleMetadata(ErrorCode.None));
        Assert.False(ErrorClassification.MeansStaleMetadata(ErrorCode.RequestTimedOut));
    }

    [Theory]
    [InlineData(ErrorCode.None, true)]
    [InlineData(ErrorCode.ReplicaNotAvailable, true)]
    [InlineData(ErrorCode.LeaderNotAvailable, false)]
    [InlineData(ErrorCode.NotLeaderOrFollower, false)]
    public void MetadataLeaderUsable(ErrorCode code, bool usable) => Assert.Equal(usable, ErrorClassification.LeaderUsable(code));

    /// <summary>
    /// Client folders never decide on a raw error number: no <c>case 6:</c>, no <c>ErrorCode is 3</c>, no <c>const short X = 7</c>
    /// table. Comparing with zero ("no error") is allowed.
    /// </summary>
    [Fact]
    public void NoClientFileSwitchesOnNumericErrorCodes()
    {
        var root = RepoRoot();
        var offenders = new List<string>();
        foreach (var folder in new[] { "Producing", "Consuming", "Groups", "Cluster" })
            foreach (var file in Directory.EnumerateFiles(Path.Combine(root, "src", "Kiel", folder), "*.cs", SearchOption.AllDirectories))
            {
                var lines = File.ReadAllLines(file);
                for (var i = 0; i < lines.Length; i++)
                    if (IsRawCodeDecision(lines[i]))
                        offenders.Add($"{Path.GetRelativePath(root, file)}:{i + 1}: {lines[i].Trim()}");
            }
        Assert.True(offenders.Count == 0, "Decide through Cluster/ErrorClassification, not raw codes:\n" + string.Join('\n', offenders));
    }

    [Fact]
    public void TheNumericCheckCatchesALocalTable()
    {
        Assert.True(IsRawCodeDecision("    internal const short None = 0, OffsetOutOfRange = 1;"));
        Assert.True(IsRawCodeDecision("    private const short CoordinatorLoadInProgress = 14;"));
        Assert.True(IsRawCodeDecision("if (p.ErrorCode is 0 or 9)"));
        Assert.True(IsRawCodeDecision("if (version == 0 && p.ErrorCode == 3)"));
        Assert.True(IsRawCodeDecision("            switch (partition.ErrorCode)"));
        Assert.False(IsRawCodeDecision("if (p.ErrorCode == 0)"));
        Assert.False(IsRawCodeDecision("if (t.ErrorCode != 0) continue;"));
        Assert.False(IsRawCodeDecision("    private const short MaxFetchVersion = 12;"));
        Assert.False(IsRawCodeDecision("            case 3:"));
    }

    private static bool IsRawCodeDecision(string line) =>
        RawComparison().IsMatch(line)
        || RawSwitch().IsMatch(line)
        || ConstShort().Matches(line).Any(m => Enum.TryParse<ErrorCode>(m.Groups[1].Value, out _));

    // `...Code is/==/!= N` with N other than 0, or `is 0 or N`.
    [GeneratedRegex(@"(?i:code)\s*(==|!=|is)\s*(not\s+)?(-[1-9]|[1-9]|0\s+or)")]
    private static partial Regex RawComparison();

    // `switch (x.ErrorCode)`: the cases would be raw numbers or local constants.
    [GeneratedRegex(@"switch\s*\(\s*[\w.]*ErrorCode\s*\)")]
    private static partial Regex RawSwitch();

    // A local constant named like a Kafka error code.
    [GeneratedRegex(@"(?:const\s+short\s+|,\s*)([A-Za-z]\w*)\s*=\s*-?\d")]
    private static partial Regex ConstShort();

    internal static string RepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Kiel.slnx"))) return dir.FullName;
        throw new InvalidOperationException("Kiel.slnx not found above " + AppContext.BaseDirectory);
    }
}
