namespace Kiel.Consuming;

public sealed partial record KielConsumerOptions
{
    /// <summary>
    /// The consumer group to join with <see cref="KielConsumer{TKey, TValue}.Subscribe"/> (Confluent's <c>GroupId</c>,
    /// Java's <c>group.id</c>), coordinated by the brokers. Null (the default) for a consumer of assigned partitions only.
    /// </summary>
    public string? GroupId { get; init; }

    /// <summary>
    /// A static member id (KIP-345, <c>group.instance.id</c>): a member that restarts with the same id within
    /// <see cref="SessionTimeout"/> gets its partitions back without a rebalance. Null (the default) for a dynamic member.
    /// Give every member its own; a second member with the same id fences the first.
    /// </summary>
    public string? GroupInstanceId { get; init; }

    /// <summary>How long the coordinator keeps a member without a heartbeat before it rebalances its partitions away
    /// (<c>session.timeout.ms</c>). Default 45 s, as Java and librdkafka; the broker bounds it (group.min/max.session.timeout.ms).</summary>
    public TimeSpan SessionTimeout { get; init; } = TimeSpan.FromSeconds(45);

    /// <summary>How often a member heartbeats (<c>heartbeat.interval.ms</c>); on its own task, never held up by processing.
    /// Default 3 s; keep it well under a third of <see cref="SessionTimeout"/>.</summary>
    public TimeSpan HeartbeatInterval { get; init; } = TimeSpan.FromSeconds(3);

    /// <summary>
    /// The longest the application may go without asking for records while it holds some (<c>max.poll.interval.ms</c>).
    /// A member that stalls longer leaves the group, logs why, and joins again when it asks for records. It is also the
    /// rebalance timeout sent with JoinGroup. Default 300 s.
    /// </summary>
    public TimeSpan MaxPollInterval { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// The assignors this member offers, in order of preference (<c>partition.assignment.strategy</c>); the coordinator
    /// picks the first one every member lists, and the group leader runs it. Default range, then roundrobin: what
    /// librdkafka (Confluent.Kafka) lists by default, so that a default Kiel member and a default Confluent member
    /// share a group. The rebalance is cooperative (KIP-429) when every listed assignor is cooperative, eager otherwise.
    /// </summary>
    public IReadOnlyList<PartitionAssignor> PartitionAssignmentStrategy { get; init; } = [PartitionAssignor.Range, PartitionAssignor.RoundRobin];

    /// <summary>Which group protocol to speak (<c>group.protocol</c>). Default <see cref="GroupProtocol.Classic"/>.</summary>
    public GroupProtocol GroupProtocol { get; init; } = GroupProtocol.Classic;

    /// <summary>For <see cref="GroupProtocol.Consumer"/> (KIP-848): the broker-side assignor to ask for
    /// (<c>group.remote.assignor</c>), or null (the default) for the broker's own choice.</summary>
    public string? GroupRemoteAssignor { get; init; }

    /// <summary>
    /// Whether to commit offsets in the background every <see cref="AutoCommitInterval"/> (<c>enable.auto.commit</c>),
    /// and when partitions are revoked and at close. Only what the application was handed and moved past is committed
    /// (at least once). Default true.
    /// </summary>
    public bool EnableAutoCommit { get; init; } = true;

    /// <summary>How often offsets are committed when <see cref="EnableAutoCommit"/> is on (<c>auto.commit.interval.ms</c>). Default 5 s.</summary>
    public TimeSpan AutoCommitInterval { get; init; } = TimeSpan.FromSeconds(5);

    private IEnumerable<string> GroupSettingProblems()
    {
        if (GroupId is not null && GroupId.Length == 0)
            yield return "GroupId is empty: set a group name, or leave it null for a consumer without a group.";
        if (GroupInstanceId is not null && GroupInstanceId.Length == 0)
            yield return "GroupInstanceId is empty: set a name unique to this member, or leave it null for a dynamic member.";
        if (GroupInstanceId is not null && GroupId is null)
            yield return "GroupInstanceId is set without GroupId: static membership needs a group; set GroupId too.";
        if (SessionTimeout <= TimeSpan.Zero || SessionTimeout.TotalMilliseconds > int.MaxValue)
            yield return $"SessionTimeout is {SessionTimeout}: it must be positive and under 24 days (the default is 45 s).";
        if (HeartbeatInterval <= TimeSpan.Zero || HeartbeatInterval >= SessionTimeout)
            yield return $"HeartbeatInterval ({HeartbeatInterval.TotalMilliseconds} ms) must be positive and shorter than SessionTimeout ({SessionTimeout.TotalMilliseconds} ms); a third of it or less is usual (the default is 3 s).";
        if (MaxPollInterval <= TimeSpan.Zero || MaxPollInterval.TotalMilliseconds > int.MaxValue)
            yield return $"MaxPollInterval is {MaxPollInterval}: it must be positive and under 24 days (the default is 300 s).";
        if (PartitionAssignmentStrategy is null || PartitionAssignmentStrategy.Count == 0)
            yield return "PartitionAssignmentStrategy is empty: list at least one assignor, for example [PartitionAssignor.Range, PartitionAssignor.RoundRobin].";
        else if (PartitionAssignmentStrategy.Any(a => a is null))
            yield return "PartitionAssignmentStrategy contains null: list assignors only.";
        else if (PartitionAssignmentStrategy.Select(a => a.Name).Distinct(StringComparer.Ordinal).Count() != PartitionAssignmentStrategy.Count)
            yield return "PartitionAssignmentStrategy lists an assignor name twice: list each one once.";
        if (!Enum.IsDefined(GroupProtocol))
            yield return $"GroupProtocol {GroupProtocol} is not Classic or Consumer.";
        if (EnableAutoCommit && (AutoCommitInterval <= TimeSpan.Zero || AutoCommitInterval.TotalMilliseconds > int.MaxValue))
            yield return $"AutoCommitInterval is {AutoCommitInterval}: it must be positive (the default is 5 s), or turn EnableAutoCommit off.";
    }
}
