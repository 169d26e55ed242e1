namespace Kiel;

/// <summary>
/// Settings of a <c>GroupedConsumer</c>: kiel's constructor arguments and more. Immutable; call
/// <see cref="Validate"/> (the consumer does) to get a clear error for a bad setting. The bootstrap list, client id,
/// request timeout, retry backoff, logging and clock are in <see cref="KielClientOptions"/>; the fetch settings have
/// the names of <see cref="Consuming.KielConsumerOptions"/>.
/// </summary>
public sealed record GroupedConsumerOptions : KielClientOptions
{
    /// <summary>The group name: members with the same name share the partitions. Required.</summary>
    public string Group { get; init; } = "";

    /// <summary>
    /// The ZooKeeper ensemble as <c>host:port</c> entries (port 2181 by default); the last may carry a chroot
    /// suffix (<c>host:2181/chroot</c>). Default: <c>127.0.0.1:2181</c>.
    /// </summary>
    public IReadOnlyList<string> ZooKeeperHosts { get; init; } = ["127.0.0.1:2181"];

    /// <summary>The allocator every member runs. Default: <see cref="Allocators.Naive"/>, as kiel. With
    /// <see cref="GroupCoordination.Kafka"/> the group leader runs it as its assignor: Naive as <c>kiel-naive</c>,
    /// Balanced as <c>kiel-balanced</c> (cooperative), any other as <c>kiel-custom</c>.</summary>
    public PartitionAllocator? Allocator { get; init; }

    /// <summary>
    /// How the members agree on who reads which partition: <see cref="GroupCoordination.ZooKeeper"/> (the default,
    /// kiel's: <see cref="ZooKeeperHosts"/> is used) or <see cref="GroupCoordination.Kafka"/> (a Kafka consumer group
    /// on the broker's group coordinator, classic protocol; no ZooKeeper needed, see <see cref="SessionTimeout"/>).
    /// </summary>
    public GroupCoordination Coordination { get; init; } = GroupCoordination.ZooKeeper;

    /// <summary>With <see cref="GroupCoordination.Kafka"/>: how long the group coordinator keeps a member without a
    /// heartbeat (<c>session.timeout.ms</c>); a crashed member's partitions move after about this long. Default 45 s.</summary>
    public TimeSpan SessionTimeout { get; init; } = TimeSpan.FromSeconds(45);

    /// <summary>With <see cref="GroupCoordination.Kafka"/>: how often the member heartbeats, on its own task. Default 3 s;
    /// must be shorter than <see cref="SessionTimeout"/>.</summary>
    public TimeSpan HeartbeatInterval { get; init; } = TimeSpan.FromSeconds(3);

    /// <summary>With <see cref="GroupCoordination.Kafka"/>: the longest the application may go without calling
    /// <c>ConsumeAsync</c> (<c>max.poll.interval.ms</c>); a member that stalls longer leaves the group and joins again on
    /// its next call. Also the rebalance timeout. Default 300 s.</summary>
    public TimeSpan MaxPollInterval { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// What <c>ConsumeAsync</c> does with a record the deserializer cannot read. Null (the default) is
    /// <see cref="Consuming.DeserializationErrorAction.Skip"/>, kiel's behaviour: log it with topic, partition, offset and
    /// the deserializer's message, count it, go on, and commit past it. <see cref="Consuming.DeserializationErrorAction.Throw"/>
    /// throws <see cref="Consuming.DeserializationException"/> and keeps the record as the position; <c>SeekAsync</c>
    /// past it to go on. A null value is never an error for a deserializer that maps null to null.
    /// </summary>
    public Consuming.DeserializationErrorAction? OnDeserializationError { get; init; }

    /// <summary>Decides per record instead of <see cref="OnDeserializationError"/>, for example <see cref="Consuming.DeadLetter.To"/>. Default none.</summary>
    public Consuming.DeserializationErrorHandler? DeserializationErrorHandler { get; init; }

    /// <summary>
    /// Let transient trouble escape <c>ConsumeAsync</c>: a coordinator move or outage, an autocommit that failed after its
    /// retries, an offset fetch that failed with a retriable code, a broker that is down. False (the default, kiel's
    /// contract): such trouble is logged (4052) and counted (<c>kiel.consumer.transient.errors</c>), the call returns
    /// what it has (possibly nothing) and the next call tries again; progress not yet committed is committed by a later
    /// call. Non-retriable errors (authentication, authorization, a fatal code, a disposed consumer) always throw.
    /// While false, the autocommit and offset fetch inside a consume call make one attempt within
    /// <see cref="KielClientOptions.RequestTimeout"/> instead of the <see cref="MaxRetries"/> sequence, so a call returns
    /// within <see cref="FetchMaxWait"/> plus <see cref="KielClientOptions.RequestTimeout"/> during an outage.
    /// </summary>
    public bool ThrowOnTransientErrors { get; init; }

    /// <summary>Commit after every consume and on wind-down. Default true, as kiel.</summary>
    public bool Autocommit { get; init; } = true;

    /// <summary>How long a broker may hold a fetch that has not yet reached <see cref="FetchMinBytes"/> (kiel's <c>max_wait_time</c>). Default 1 s, as kiel.</summary>
    public TimeSpan FetchMaxWait { get; init; } = TimeSpan.FromMilliseconds(1000);

    /// <summary>The least data a fetch waits for (kiel's <c>min_bytes</c>). Default 1 byte, as kiel.</summary>
    public int FetchMinBytes { get; init; } = 1;

    /// <summary>
    /// The most data one fetch asks a leader for (kiel's <c>max_bytes</c>), split evenly over the partitions that fetch
    /// reads from that leader (<c>max_bytes / partitions</c>), as kiel. A record larger than a partition's share doubles
    /// that partition's limit until it fits. Default 1 MiB.
    /// </summary>
    public int MaxPartitionFetchBytes { get; init; } = 1048576;

    /// <summary>
    /// Check the CRC-32C of every fetched record batch and refuse a batch whose bytes do not match it, as Java's
    /// <c>check.crcs</c>. Default true.
    /// </summary>
    public bool CheckCrcs { get; init; } = true;

    /// <summary>Which transactional records are returned. Default <see cref="Kiel.Consuming.IsolationLevel.ReadUncommitted"/>;
    /// <see cref="Kiel.Consuming.IsolationLevel.ReadCommitted"/> stops at the last stable offset and skips aborted transactions.</summary>
    public Kiel.Consuming.IsolationLevel IsolationLevel { get; init; } = Kiel.Consuming.IsolationLevel.ReadUncommitted;

    /// <summary>The most bytes one compressed record batch may decompress to; a larger one is refused as corrupt. Default 64 MiB.</summary>
    public int MaxDecompressedBatchBytes { get; init; } = 64 * 1024 * 1024;

    /// <summary>
    /// Where a partition starts when the group has no committed offset for it (or the offset is out of range)
    /// and <c>ConsumeAsync</c> was given no start: <see cref="OffsetResetPolicy.Latest"/> by default, as kiel's
    /// SingleConsumer (kiel's GroupedConsumer hung, L1).
    /// </summary>
    public OffsetResetPolicy AutoOffsetReset { get; init; } = OffsetResetPolicy.Latest;

    /// <summary>The ZooKeeper session timeout: a crashed member's partitions move after about this long. Default 10 s, as kazoo.</summary>
    public TimeSpan ZooKeeperSessionTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>How long <c>ConnectAsync</c> waits for the ZooKeeper ensemble before it fails. Default 15 s.</summary>
    public TimeSpan ZooKeeperConnectTimeout { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>
    /// Credentials the allocator's and the offsets' ZooKeeper sessions present (<c>addauth</c>), for example
    /// <c>Kiel.ZooKeeper.ZooKeeperAuth.Digest("kiel", password)</c>. Null (default): none. Printed with the secret masked.
    /// </summary>
    public Kiel.ZooKeeper.ZooKeeperAuth? ZooKeeperAuth { get; init; }

    /// <summary>
    /// The ACL of the znodes kiel creates (the group's members, partitions, owners and allocation, and ZooKeeper
    /// offsets), for example <c>[ZooKeeperAcl.Digest("kiel", password)]</c> or <see cref="Kiel.ZooKeeper.ZooKeeperAcl.CreatorAll"/>
    /// (which needs <see cref="ZooKeeperAuth"/>). Null (default): world:anyone, as kiel.
    /// </summary>
    public IReadOnlyList<Kiel.ZooKeeper.ZooKeeperAcl>? ZooKeeperAcl { get; init; }

    /// <summary>
    /// TLS for the allocator's and the offsets' ZooKeeper sessions, to the servers' secure client port (which
    /// <see cref="ZooKeeperHosts"/> then names), for example <c>new ZooKeeperTlsOptions { SslCaLocation = "ca.pem" }</c>.
    /// Null (default): plaintext. Separate from the Kafka TLS settings, since the two often trust different CAs.
    /// </summary>
    public Kiel.ZooKeeper.ZooKeeperTlsOptions? ZooKeeperTls { get; init; }

    /// <summary>The ZooKeeper session settings of <see cref="ZooKeeperAuth"/>, <see cref="ZooKeeperAcl"/> and <see cref="ZooKeeperTls"/>.</summary>
    internal Kiel.ZooKeeper.ZooKeeperClientOptions ApplyZooKeeperSecurity(Kiel.ZooKeeper.ZooKeeperClientOptions options) =>
        options with { Auth = ZooKeeperAuth is { } auth ? [auth] : [], DefaultAcl = ZooKeeperAcl, Tls = ZooKeeperTls };

    /// <summary>The metadata stored with every commit. Null (the default) means kiel's <c>committed by &lt;Name&gt;</c>.</summary>
    public string? CommitMetadata { get; init; }

    /// <summary>
    /// Turn off the exclusive-ownership claims (<c>/kiel/groups/&lt;group&gt;/owners/…</c>) so that the group can be
    /// shared with Python kiel members, which do not claim. Then, as in kiel, two members may briefly read the same
    /// partition during a rebalance. Default false.
    /// </summary>
    public bool KielCompatible { get; init; }

    /// <summary>
    /// The cluster metadata is refreshed at least this often, to find partitions that were added to a topic (Kafka's
    /// <c>metadata.max.age.ms</c>). Default 30 s.
    /// </summary>
    public TimeSpan MetadataMaxAge { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>How many times a retriable offset request is tried before it fails. Default 10.</summary>
    public int MaxRetries { get; init; } = 10;

    /// <summary>The bound on <c>WindDownAsync</c> and <c>DisposeAsync</c>. Default 10 s.</summary>
    public TimeSpan WindDownTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// The ZooKeeper where kiel's committed offsets live: Kafka's own ZooKeeper, where a ZooKeeper-mode broker keeps
    /// OffsetCommit v0 commits at <c>/consumers/&lt;group&gt;/offsets/&lt;topic&gt;/&lt;partition&gt;</c>. Entries as in
    /// <see cref="ZooKeeperHosts"/>, the last may carry Kafka's chroot (<c>zk:2181/kafka</c>). Null (the default): the
    /// allocator's ensemble, <see cref="ZooKeeperHosts"/>.
    /// </summary>
    public IReadOnlyList<string>? OffsetsZooKeeperHosts { get; init; }

    /// <summary>
    /// Where the group has no offset stored in Kafka for a partition, start from kiel's ZooKeeper-stored offset
    /// (<see cref="OffsetsZooKeeperHosts"/>) when there is one, and log it once per partition; the next commit then
    /// stores it in Kafka. Default true.
    /// </summary>
    public bool ReadZooKeeperOffsets { get; init; } = true;

    /// <summary>
    /// Also write every commit to kiel's ZooKeeper offset znodes (decimal text), as a ZooKeeper-mode broker does for a
    /// v0 commit, so that Python kiel members of a mixed group see this member's progress. Null (the default): on when
    /// <see cref="KielCompatible"/> is on.
    /// </summary>
    public bool? WriteZooKeeperOffsets { get; init; }

    /// <summary>The ZooKeeper connect string that <see cref="OffsetsZooKeeperHosts"/> stands for (the allocator's when null).</summary>
    internal string OffsetsZooKeeperConnectString => OffsetsZooKeeperHosts is null ? ZooKeeperConnectString : string.Join(',', OffsetsZooKeeperHosts);

    /// <summary>Whether commits are also written to the ZooKeeper offset znodes.</summary>
    internal bool WritesZooKeeperOffsets => WriteZooKeeperOffsets ?? KielCompatible;

    /// <summary>The ZooKeeper connect string that <see cref="ZooKeeperHosts"/> stands for.</summary>
    public string ZooKeeperConnectString => string.Join(',', ZooKeeperHosts);

    /// <summary>Checks every setting.</summary>
    /// <exception cref="ArgumentException">A setting is missing or out of range; the message names it and says how to fix it.</exception>
    public void Validate()
    {
        ValidateClientSettings();
        if (string.IsNullOrWhiteSpace(Group))
            throw new ArgumentException("The group name is empty: members with the same group name share the partitions, so give one.", nameof(Group));
        if (!Enum.IsDefined(Coordination))
            throw new ArgumentException($"Coordination {Coordination} is not ZooKeeper or Kafka.", nameof(Coordination));
        if (Coordination == GroupCoordination.Kafka)
            ValidateKafkaCoordination();
        else
        {
            if (Group.Contains('/'))
                throw new ArgumentException($"The group name '{Group}' contains '/', which cannot appear in a ZooKeeper node name.", nameof(Group));
            ParseZooKeeperHosts(ZooKeeperHosts);
        }
        if (OffsetsZooKeeperHosts is not null)
        {
            try { ParseZooKeeperHosts(OffsetsZooKeeperHosts); }
            catch (ArgumentException e)
            {
                throw new ArgumentException($"OffsetsZooKeeperHosts: {e.Message} Or leave it null to use ZooKeeperHosts.", nameof(OffsetsZooKeeperHosts), e);
            }
        }
        if (FetchMinBytes < 0) throw new ArgumentException($"FetchMinBytes is {FetchMinBytes}; it must be 0 or more (the default is 1).", nameof(FetchMinBytes));
        if (MaxPartitionFetchBytes <= 0)
            throw new ArgumentException($"MaxPartitionFetchBytes is {MaxPartitionFetchBytes}; it must be more than 0 (the default is 1048576).", nameof(MaxPartitionFetchBytes));
        if (FetchMaxWait < TimeSpan.Zero || FetchMaxWait.TotalMilliseconds > int.MaxValue)
            throw new ArgumentException($"FetchMaxWait is {FetchMaxWait}; it must be 0 or more and fit in an int of milliseconds (the default is 1 s).", nameof(FetchMaxWait));
        if (RequestTimeout <= FetchMaxWait)
            throw new ArgumentException($"RequestTimeout ({RequestTimeout.TotalMilliseconds} ms) must be longer than FetchMaxWait ({FetchMaxWait.TotalMilliseconds} ms), or every held fetch would time out; raise RequestTimeout or lower FetchMaxWait.", nameof(RequestTimeout));
        if (!Enum.IsDefined(AutoOffsetReset))
            throw new ArgumentException($"AutoOffsetReset {AutoOffsetReset} is not Earliest, Latest or Error.", nameof(AutoOffsetReset));
        if (!Enum.IsDefined(IsolationLevel))
            throw new ArgumentException($"IsolationLevel {IsolationLevel} is not ReadUncommitted or ReadCommitted.", nameof(IsolationLevel));
        if (MaxDecompressedBatchBytes <= 0)
            throw new ArgumentException($"MaxDecompressedBatchBytes is {MaxDecompressedBatchBytes}; it must be more than 0 (the default is 64 MiB).", nameof(MaxDecompressedBatchBytes));
        if (ZooKeeperSessionTimeout < TimeSpan.FromMilliseconds(100) || ZooKeeperSessionTimeout.TotalMilliseconds > int.MaxValue)
            throw new ArgumentException($"ZooKeeperSessionTimeout is {ZooKeeperSessionTimeout}; it must be at least 100 ms (the server clamps it to 2 to 20 ticks).", nameof(ZooKeeperSessionTimeout));
        if (ZooKeeperAcl is { Count: 0 })
            throw new ArgumentException("ZooKeeperAcl is empty; leave it null for world:anyone, or give entries such as ZooKeeperAcl.Digest(user, password).", nameof(ZooKeeperAcl));
        ZooKeeperTls?.Validate();
        if (ZooKeeperAuth is { } zkAuth && (string.IsNullOrEmpty(zkAuth.Scheme) || zkAuth.Credentials is null))
            throw new ArgumentException("ZooKeeperAuth needs a scheme and credentials; use ZooKeeperAuth.Digest(user, password).", nameof(ZooKeeperAuth));
        if (ZooKeeperConnectTimeout <= TimeSpan.Zero)
            throw new ArgumentException($"ZooKeeperConnectTimeout is {ZooKeeperConnectTimeout}; it must be positive.", nameof(ZooKeeperConnectTimeout));
        if (MetadataMaxAge <= TimeSpan.Zero)
            throw new ArgumentException($"MetadataMaxAge is {MetadataMaxAge}; it must be positive (the default is 30 s).", nameof(MetadataMaxAge));
        if (MaxRetries < 0) throw new ArgumentException($"MaxRetries is {MaxRetries}; it must be 0 or more (the default is 10).", nameof(MaxRetries));
        if (WindDownTimeout <= TimeSpan.Zero)
            throw new ArgumentException($"WindDownTimeout is {WindDownTimeout}; it must be positive.", nameof(WindDownTimeout));
    }

    private void ValidateKafkaCoordination()
    {
        if (Group.Length > 249)
            throw new ArgumentException($"The group name is {Group.Length} characters long; a Kafka group id may have at most 249.", nameof(Group));
        if (KielCompatible)
            throw new ArgumentException("KielCompatible shares a group with Python kiel members through ZooKeeper; it needs Coordination = ZooKeeper. Turn it off for a Kafka group.", nameof(KielCompatible));
        if (WriteZooKeeperOffsets == true && OffsetsZooKeeperHosts is null)
            throw new ArgumentException("WriteZooKeeperOffsets with Coordination = Kafka needs OffsetsZooKeeperHosts (a Kafka group has no ZooKeeper of its own); set it or turn the writes off.", nameof(WriteZooKeeperOffsets));
        if (SessionTimeout <= TimeSpan.Zero || SessionTimeout.TotalMilliseconds > int.MaxValue)
            throw new ArgumentException($"SessionTimeout is {SessionTimeout}: it must be positive and under 24 days (the default is 45 s).", nameof(SessionTimeout));
        if (HeartbeatInterval <= TimeSpan.Zero || HeartbeatInterval >= SessionTimeout)
            throw new ArgumentException($"HeartbeatInterval ({HeartbeatInterval.TotalMilliseconds} ms) must be positive and shorter than SessionTimeout ({SessionTimeout.TotalMilliseconds} ms); a third of it or less is usual (the default is 3 s).", nameof(HeartbeatInterval));
        if (MaxPollInterval <= TimeSpan.Zero || MaxPollInterval.TotalMilliseconds > int.MaxValue)
            throw new ArgumentException($"MaxPollInterval is {MaxPollInterval}: it must be positive and under 24 days (the default is 300 s).", nameof(MaxPollInterval));
    }

    /// <summary>Parses the ZooKeeper hosts into endpoints and an optional chroot.</summary>
    /// <exception cref="ArgumentException">The list is empty or an entry does not parse.</exception>
    internal static (IReadOnlyList<(string Host, int Port)> Endpoints, string? Chroot) ParseZooKeeperHosts(IReadOnlyList<string>? hosts)
    {
        if (hosts is null || hosts.Count == 0)
            throw new ArgumentException("No ZooKeeper hosts: give at least one as host:port, for example 127.0.0.1:2181.", nameof(ZooKeeperHosts));
        // Accept both a list and a single connect string "a:1,b:2/chroot", as kazoo does.
        var entries = hosts.SelectMany(h => (h ?? "").Split(',')).ToArray();
        string? chroot = null;
        var endpoints = new List<(string, int)>();
        for (var i = 0; i < entries.Length; i++)
        {
            var entry = entries[i].Trim();
            var slash = entry.IndexOf('/');
            if (slash >= 0)
            {
                if (i != entries.Length - 1)
                    throw new ArgumentException($"ZooKeeper string '{string.Join(',', hosts)}' has a chroot ('{entry[slash..]}') before its last host; only the last entry may carry one.", nameof(ZooKeeperHosts));
                chroot = entry[slash..];
                entry = entry[..slash];
                if (chroot.Length < 2 || chroot.EndsWith('/') || chroot.Contains("//", StringComparison.Ordinal))
                    throw new ArgumentException($"ZooKeeper chroot '{chroot}' is not an absolute path such as /apps/kiel.", nameof(ZooKeeperHosts));
            }
            if (!TrySplitHostPort(entry, 2181, out var host, out var port))
                throw new ArgumentException($"ZooKeeper host '{entries[i]}' in '{string.Join(',', hosts)}' is not host or host:port with a port from 1 to 65535.", nameof(ZooKeeperHosts));
            endpoints.Add((host, port));
        }
        return (endpoints, chroot);
    }

    internal static bool TrySplitHostPort(string text, int defaultPort, out string host, out int port) =>
        BootstrapServerParser.TrySplitHostPort(text, defaultPort, out host, out port);
}
