using System.Runtime.InteropServices;
using System.Text;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Kiel.Testing;

/// <summary>
/// An in-process Kafka cluster for tests and local development: librdkafka 2.16's mock cluster,
/// driven through P/Invoke, with fault injection. Brokers listen on 127.0.0.1 with kernel-chosen ports.
/// </summary>
/// <remarks>
/// The mock serves Produce, Fetch, ListOffsets, Metadata, classic and KIP-848 groups, offsets and
/// transactions, but no admin APIs (no CreateTopics): create topics with <see cref="CreateTopic"/>.
/// Metadata for an unknown topic auto-creates it with 4 partitions. It keeps about 5 MiB per partition.
/// All members are thread-safe; after disposal they throw <see cref="ObjectDisposedException"/>.
/// </remarks>
public sealed partial class EmbeddedKafkaCluster : IAsyncDisposable, IDisposable
{
    /// <summary>Broker id meaning "every broker" for <see cref="SetBrokerDown"/>, <see cref="SetBrokerUp"/> and <see cref="SetBrokerRtt"/>.</summary>
    public const int AllBrokers = -1;

    /// <summary>librdkafka's <c>RD_KAFKA_RESP_ERR__TRANSPORT</c>: pushed as an error, the mock closes the client's connection instead of answering.</summary>
    public const int DisconnectErrorCode = -195;

    private const int ProducerType = 0;

    private readonly Lock gate = new();
    private readonly ILogger logger;
    private IntPtr rk;
    private IntPtr mc;
    private bool disposed;

    private EmbeddedKafkaCluster(IntPtr rk, IntPtr mc, int brokers, string bootstrap, ILogger logger)
    {
        this.rk = rk;
        this.mc = mc;
        this.logger = logger;
        BrokerCount = brokers;
        BootstrapServers = bootstrap;
        BrokerIds = Enumerable.Range(1, brokers).ToArray();
    }

    /// <summary>Comma-separated <c>host:port</c> list of all brokers, for any Kafka client.</summary>
    public string BootstrapServers { get; private set; }

    /// <summary>Number of brokers.</summary>
    public int BrokerCount { get; }

    /// <summary>Broker ids, 1..<see cref="BrokerCount"/>.</summary>
    public IReadOnlyList<int> BrokerIds { get; }

    /// <summary>Starts a cluster with <paramref name="brokers"/> brokers and an initial rebalance delay of 0.</summary>
    /// <param name="brokers">Number of brokers (1–64).</param>
    /// <param name="topics">Topics to create, as <c>NAME[:PARTITIONS[:REPLICATION]]</c>.</param>
    public static EmbeddedKafkaCluster Start(int brokers = 3, params string[] topics) =>
        Start(new EmbeddedKafkaOptions { Brokers = brokers, Topics = topics.Select(EmbeddedTopic.Parse).ToArray() });

    /// <summary>Starts a cluster. Takes a few tens of milliseconds.</summary>
    /// <exception cref="ArgumentException">The options are invalid.</exception>
    /// <exception cref="DllNotFoundException">librdkafka could not be loaded; the message lists what was tried.</exception>
    /// <exception cref="EmbeddedKafkaException">librdkafka refused to create the cluster or a topic.</exception>
    public static EmbeddedKafkaCluster Start(EmbeddedKafkaOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        RdKafkaInterop.Initialize();
        var logger = options.LoggerFactory?.CreateLogger<EmbeddedKafkaCluster>() ?? (ILogger)NullLogger.Instance;

        var errstr = new byte[512];
        var conf = RdKafkaInterop.rd_kafka_conf_new();
        SetConf(conf, "log_level", options.NativeLogLevel.ToString(System.Globalization.CultureInfo.InvariantCulture), errstr);
        // The hosting handle never talks to a broker; keep its own threads idle and its logs quiet.
        SetConf(conf, "client.id", "kiel-embedded-kafka", errstr);

        var rk = RdKafkaInterop.rd_kafka_new(ProducerType, conf, errstr, (nuint)errstr.Length);
        if (rk == IntPtr.Zero)
        {
            RdKafkaInterop.rd_kafka_conf_destroy(conf); // not taken over on failure
            throw new EmbeddedKafkaException($"librdkafka could not create the handle that hosts the mock cluster: {CString(errstr)}");
        }

        var mc = RdKafkaInterop.rd_kafka_mock_cluster_new(rk, options.Brokers);
        if (mc == IntPtr.Zero)
        {
            RdKafkaInterop.rd_kafka_destroy(rk);
            throw new EmbeddedKafkaException($"librdkafka could not create a mock cluster of {options.Brokers} brokers (is the loaded library 2.16? it is {RdKafkaNative.LibraryPath}).");
        }

        var bootstrap = Marshal.PtrToStringUTF8(RdKafkaInterop.rd_kafka_mock_cluster_bootstraps(mc)) ?? "";
        var cluster = new EmbeddedKafkaCluster(rk, mc, options.Brokers, bootstrap, logger);
        try
        {
            cluster.SetInitialRebalanceDelay(options.InitialRebalanceDelayMs);
            foreach (var topic in options.Topics)
            {
                cluster.CreateTopic(topic.Name, topic.Partitions, topic.ReplicationFactor);
            }
        }
        catch
        {
            cluster.Dispose();
            throw;
        }

        if (options.Security is not null)
        {
            try
            {
                cluster.StartSecurity(options.Security);
            }
            catch
            {
                cluster.Dispose();
                throw;
            }
        }

        Log.Started(logger, options.Brokers, cluster.BootstrapServers, RdKafkaNative.LibraryPath);
        return cluster;
    }

    /// <summary>Starts a cluster on a thread-pool thread.</summary>
    /// <param name="options">Settings; null takes the defaults (3 brokers).</param>
    /// <param name="cancellationToken">Cancels before the start begins; a start in progress completes and is then disposed.</param>
    public static async Task<EmbeddedKafkaCluster> StartAsync(EmbeddedKafkaOptions? options = null, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var cluster = await Task.Run(() => Start(options ?? new EmbeddedKafkaOptions()), CancellationToken.None).ConfigureAwait(false);
        if (cancellationToken.IsCancellationRequested)
        {
            await cluster.DisposeAsync().ConfigureAwait(false);
            cancellationToken.ThrowIfCancellationRequested();
        }

        return cluster;
    }

    /// <summary>Creates a topic. The mock has no CreateTopics API, so this is the way to make one up front.</summary>
    /// <param name="name">Topic name.</param>
    /// <param name="partitions">Partition count, at least 1.</param>
    /// <param name="replicationFactor">Replicas per partition, 1..<see cref="BrokerCount"/>; 1 gives deterministic leaders (partition p on broker (p mod N) + 1).</param>
    /// <exception cref="EmbeddedKafkaException">The topic exists already, or the mock refused it.</exception>
    public void CreateTopic(string name, int partitions = 1, int replicationFactor = 1)
    {
        new EmbeddedTopic(name, partitions, replicationFactor).Validate();
        if (replicationFactor > BrokerCount)
        {
            throw new ArgumentException($"Topic '{name}': replication factor {replicationFactor} exceeds the {BrokerCount} brokers.", nameof(replicationFactor));
        }

        Call(mc => RdKafkaInterop.rd_kafka_mock_topic_create(mc, name, partitions, replicationFactor), $"create topic '{name}' ({partitions} partitions, RF {replicationFactor})");
        Log.TopicCreated(logger, name, partitions, replicationFactor);
    }

    /// <summary>Deletes a topic and its data.</summary>
    public void DeleteTopic(string name) =>
        Call(mc => RdKafkaInterop.rd_kafka_mock_topic_delete(mc, name), $"delete topic '{name}'");

    /// <summary>
    /// Makes the next requests of <paramref name="apiKey"/>, to any broker, fail with these error codes,
    /// one code per request, in order. A code of 0 lets that request succeed;
    /// <see cref="DisconnectErrorCode"/> closes the connection instead of answering.
    /// </summary>
    /// <param name="apiKey">Kafka API key, e.g. <see cref="KafkaApiKeys.Produce"/>.</param>
    /// <param name="errorCodes">Kafka error codes (e.g. 6 NOT_LEADER_OR_FOLLOWER, 15 COORDINATOR_NOT_AVAILABLE).</param>
    public void PushRequestErrors(short apiKey, params int[] errorCodes)
    {
        ArgumentNullException.ThrowIfNull(errorCodes);
        if (errorCodes.Length == 0)
        {
            return;
        }

        Call(mc =>
        {
            RdKafkaInterop.rd_kafka_mock_push_request_errors_array(mc, apiKey, (nuint)errorCodes.Length, errorCodes);
            return 0;
        }, "push request errors");
        Log.ErrorsPushed(logger, apiKey, string.Join(",", errorCodes), "all brokers");
    }

    /// <summary>
    /// Makes the next requests of <paramref name="apiKey"/> to one broker fail with these error codes, in order.
    /// Broker errors take precedence over the cluster-wide ones of <see cref="PushRequestErrors"/>.
    /// </summary>
    public void PushBrokerRequestErrors(int brokerId, short apiKey, params int[] errorCodes)
    {
        ArgumentNullException.ThrowIfNull(errorCodes);
        PushBrokerRequestErrors(brokerId, apiKey, errorCodes.Select(e => (e, 0)));
    }

    /// <summary>
    /// Makes the next requests of <paramref name="apiKey"/> to one broker answer with these error codes, each
    /// after the given delay (a code of 0 with a delay just slows that request down).
    /// </summary>
    /// <exception cref="PlatformNotSupportedException">On Apple arm64, where the variadic native call cannot be made.</exception>
    public void PushBrokerRequestErrors(int brokerId, short apiKey, params IEnumerable<(int ErrorCode, int RttMs)> errors)
    {
        ArgumentNullException.ThrowIfNull(errors);
        ThrowIfVariadicUnsupported();
        var list = errors.ToArray();
        foreach (var (code, rtt) in list)
        {
            ArgumentOutOfRangeException.ThrowIfNegative(rtt, nameof(errors));
            // The native call is variadic; pushing one tuple per call keeps a fixed, portable-enough signature,
            // and the broker's error stack keeps pushes in order.
            Call(mc => RdKafkaInterop.rd_kafka_mock_broker_push_request_error_rtts(mc, brokerId, apiKey, 1, code, rtt), $"push errors for broker {brokerId}");
        }

        Log.ErrorsPushed(logger, apiKey, string.Join(",", list.Select(e => $"{e.ErrorCode}@{e.RttMs}ms")), $"broker {brokerId}");
    }

    /// <summary>Number of errors still queued for one broker and API key.</summary>
    public int PendingBrokerRequestErrors(int brokerId, short apiKey)
    {
        nuint count = 0;
        Call(mc => RdKafkaInterop.rd_kafka_mock_broker_error_stack_cnt(mc, brokerId, apiKey, out count), $"count errors of broker {brokerId}");
        return checked((int)count);
    }

    /// <summary>
    /// Makes the next requests of <paramref name="apiKey"/> that name this partition carry these partition-level
    /// error codes, one per request; other partitions of the same request are unaffected.
    /// </summary>
    /// <exception cref="PlatformNotSupportedException">On Apple arm64, where the variadic native call cannot be made.</exception>
    public void PushPartitionRequestErrors(string topic, int partition, short apiKey, params int[] errorCodes)
    {
        ArgumentNullException.ThrowIfNull(errorCodes);
        ThrowIfVariadicUnsupported();
        foreach (var code in errorCodes)
        {
            Call(mc => RdKafkaInterop.rd_kafka_mock_partition_push_request_errors(mc, topic, partition, apiKey, 1, code), $"push errors for {topic}/{partition}");
        }

        Log.ErrorsPushed(logger, apiKey, string.Join(",", errorCodes), $"{topic}/{partition}");
    }

    /// <summary>Drops the cluster-wide errors still queued for <paramref name="apiKey"/>.</summary>
    public void ClearRequestErrors(short apiKey) =>
        Call(mc =>
        {
            RdKafkaInterop.rd_kafka_mock_clear_request_errors(mc, apiKey);
            return 0;
        }, "clear request errors");

    /// <summary>Sets the error that Metadata (and AddPartitionsToTxn) report for a topic; 0 clears it.</summary>
    public void SetTopicError(string topic, int errorCode) =>
        Call(mc =>
        {
            RdKafkaInterop.rd_kafka_mock_topic_set_error(mc, topic, errorCode);
            return 0;
        }, $"set the error of topic '{topic}'");

    /// <summary>
    /// Takes a broker down: its listener closes and connections to it are refused. Leadership does not move;
    /// use <see cref="SetPartitionLeader"/> for that. A down broker is left out of Metadata's broker list.
    /// </summary>
    /// <param name="brokerId">Broker id, or <see cref="AllBrokers"/>.</param>
    public void SetBrokerDown(int brokerId)
    {
        Call(mc => RdKafkaInterop.rd_kafka_mock_broker_set_down(mc, brokerId), $"take broker {brokerId} down");
        Log.BrokerState(logger, brokerId, "down");
    }

    /// <summary>Brings a broker back up on the same port.</summary>
    /// <param name="brokerId">Broker id, or <see cref="AllBrokers"/>.</param>
    public void SetBrokerUp(int brokerId)
    {
        Call(mc => RdKafkaInterop.rd_kafka_mock_broker_set_up(mc, brokerId), $"bring broker {brokerId} up");
        Log.BrokerState(logger, brokerId, "up");
    }

    /// <summary>Delays every response of a broker by <paramref name="rttMs"/> milliseconds (0 removes the delay).</summary>
    /// <param name="brokerId">Broker id, or <see cref="AllBrokers"/>.</param>
    /// <param name="rttMs">Round-trip delay in milliseconds.</param>
    public void SetBrokerRtt(int brokerId, int rttMs)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(rttMs);
        Call(mc => RdKafkaInterop.rd_kafka_mock_broker_set_rtt(mc, brokerId, rttMs), $"set the RTT of broker {brokerId}");
    }

    /// <summary>Sets the rack a broker reports in Metadata.</summary>
    public void SetBrokerRack(int brokerId, string rack) =>
        Call(mc => RdKafkaInterop.rd_kafka_mock_broker_set_rack(mc, brokerId, rack), $"set the rack of broker {brokerId}");

    /// <summary>Moves a partition's leadership (auto-creates the topic if unknown). -1 leaves it leaderless.</summary>
    public void SetPartitionLeader(string topic, int partition, int brokerId)
    {
        Call(mc => RdKafkaInterop.rd_kafka_mock_partition_set_leader(mc, topic, partition, brokerId), $"set the leader of {topic}/{partition}");
        Log.LeaderMoved(logger, topic, partition, brokerId);
    }

    /// <summary>Sets the preferred follower (for fetch-from-follower) of a partition.</summary>
    public void SetPartitionFollower(string topic, int partition, int brokerId) =>
        Call(mc => RdKafkaInterop.rd_kafka_mock_partition_set_follower(mc, topic, partition, brokerId), $"set the follower of {topic}/{partition}");

    /// <summary>Sets the watermarks the follower reports (-1 means "as the leader").</summary>
    public void SetPartitionFollowerWatermarks(string topic, int partition, long low, long high) =>
        Call(mc => RdKafkaInterop.rd_kafka_mock_partition_set_follower_wmarks(mc, topic, partition, low, high), $"set the follower watermarks of {topic}/{partition}");

    /// <summary>Deletes the records of a partition below <paramref name="beforeOffset"/> (moves the log start offset).</summary>
    public void DeleteRecords(string topic, int partition, long beforeOffset) =>
        Call(mc => RdKafkaInterop.rd_kafka_mock_partition_delete_records(mc, topic, partition, beforeOffset), $"delete records of {topic}/{partition}");

    /// <summary>Makes <paramref name="brokerId"/> the coordinator of a consumer group (need not be a live broker).</summary>
    public void SetGroupCoordinator(string groupId, int brokerId) =>
        Call(mc => RdKafkaInterop.rd_kafka_mock_coordinator_set(mc, "group", groupId, brokerId), $"set the coordinator of group '{groupId}'");

    /// <summary>Makes <paramref name="brokerId"/> the coordinator of a transactional id.</summary>
    public void SetTransactionCoordinator(string transactionalId, int brokerId) =>
        Call(mc => RdKafkaInterop.rd_kafka_mock_coordinator_set(mc, "transaction", transactionalId, brokerId), $"set the coordinator of transaction '{transactionalId}'");

    /// <summary>Sets the broker that Metadata names as controller.</summary>
    public void SetControllerId(int brokerId) =>
        Call(mc =>
        {
            RdKafkaInterop.rd_kafka_mock_set_controller_id(mc, brokerId);
            return 0;
        }, "set the controller");

    /// <summary>Sets <c>group.initial.rebalance.delay.ms</c> for the whole cluster (the mock's own default is 3000).</summary>
    public void SetInitialRebalanceDelay(int delayMs)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(delayMs);
        Call(mc =>
        {
            RdKafkaInterop.rd_kafka_mock_group_initial_rebalance_delay_ms(mc, delayMs);
            return 0;
        }, "set the initial rebalance delay");
    }

    /// <summary>
    /// Caps the version range the brokers advertise (and accept) for an API, e.g. to look like an old broker.
    /// The range must lie within what the mock implements; (-1, -1) removes the API (see <see cref="RemoveApi"/>).
    /// </summary>
    public void SetApiVersion(short apiKey, short minVersion, short maxVersion)
    {
        if (!(minVersion == -1 && maxVersion == -1) && (minVersion < 0 || maxVersion < minVersion))
        {
            throw new ArgumentException($"Version range {minVersion}..{maxVersion} for API {apiKey} is invalid: use 0 <= min <= max, or -1,-1 to remove the API.");
        }

        Call(mc => RdKafkaInterop.rd_kafka_mock_set_apiversion(mc, apiKey, minVersion, maxVersion), $"set the versions of API {apiKey}");
    }

    /// <summary>Stops advertising and serving an API; requests for it then close the connection.</summary>
    public void RemoveApi(short apiKey) => SetApiVersion(apiKey, -1, -1);

    /// <summary>Starts recording which requests reach which broker (see <see cref="GetRequests"/>).</summary>
    public void StartRequestTracking() => Call(mc =>
    {
        RdKafkaInterop.rd_kafka_mock_start_request_tracking(mc);
        return 0;
    }, "start request tracking");

    /// <summary>Stops recording requests; what was recorded stays.</summary>
    public void StopRequestTracking() => Call(mc =>
    {
        RdKafkaInterop.rd_kafka_mock_stop_request_tracking(mc);
        return 0;
    }, "stop request tracking");

    /// <summary>Forgets the recorded requests.</summary>
    public void ClearRequests() => Call(mc =>
    {
        RdKafkaInterop.rd_kafka_mock_clear_requests(mc);
        return 0;
    }, "clear tracked requests");

    /// <summary>The requests recorded since tracking started or was last cleared, oldest first.</summary>
    public IReadOnlyList<MockRequest> GetRequests()
    {
        var result = new List<MockRequest>();
        Call(mc =>
        {
            var array = RdKafkaInterop.rd_kafka_mock_get_requests(mc, out var count);
            if (array == IntPtr.Zero)
            {
                return 0;
            }

            try
            {
                for (nuint i = 0; i < count; i++)
                {
                    var req = Marshal.ReadIntPtr(array, checked((int)i * IntPtr.Size));
                    var micros = RdKafkaInterop.rd_kafka_mock_request_timestamp(req);
                    result.Add(new MockRequest(
                        RdKafkaInterop.rd_kafka_mock_request_id(req),
                        RdKafkaInterop.rd_kafka_mock_request_api_key(req),
                        DateTimeOffset.FromUnixTimeMilliseconds(micros / 1000)));
                }
            }
            finally
            {
                RdKafkaInterop.rd_kafka_mock_request_destroy_array(array, count);
            }

            return 0;
        }, "read tracked requests");
        return result;
    }

    /// <summary>Stops the brokers and frees the cluster. Idempotent.</summary>
    public ValueTask DisposeAsync()
    {
        lock (gate)
        {
            if (disposed)
            {
                return ValueTask.CompletedTask;
            }
        }

        // Destroying joins librdkafka's threads; keep that off the caller's (possibly single-threaded) context.
        return new ValueTask(Task.Run(Dispose));
    }

    /// <summary>Stops the brokers and frees the cluster. Idempotent.</summary>
    public void Dispose()
    {
        lock (gate)
        {
            if (disposed)
            {
                return;
            }

            disposed = true;
            StopSecurity();
            // The mock cluster runs on the handle's resources: it must go first.
            RdKafkaInterop.rd_kafka_mock_cluster_destroy(mc);
            RdKafkaInterop.rd_kafka_destroy(rk);
            mc = IntPtr.Zero;
            rk = IntPtr.Zero;
        }

        Log.Stopped(logger, BootstrapServers);
    }

    /// <inheritdoc/>
    public override string ToString() => $"EmbeddedKafkaCluster({BrokerCount} brokers: {BootstrapServers})";

    private void Call(Func<IntPtr, int> call, string what)
    {
        int err;
        lock (gate)
        {
            ObjectDisposedException.ThrowIf(disposed, this);
            err = call(mc);
        }

        if (err != 0)
        {
            var name = Marshal.PtrToStringUTF8(RdKafkaInterop.rd_kafka_err2name(err));
            var text = Marshal.PtrToStringUTF8(RdKafkaInterop.rd_kafka_err2str(err));
            throw new EmbeddedKafkaException($"Could not {what}: {name} ({err}): {text}.", err, name);
        }
    }

    private static void ThrowIfVariadicUnsupported()
    {
        // Apple's arm64 ABI passes variadic arguments on the stack, unlike a fixed-arity P/Invoke.
        if (OperatingSystem.IsMacOS() && RuntimeInformation.ProcessArchitecture == Architecture.Arm64)
        {
            throw new PlatformNotSupportedException("Per-broker and per-partition error injection needs a variadic native call, which is not possible on macOS arm64; use PushRequestErrors.");
        }
    }

    private static void SetConf(IntPtr conf, string name, string value, byte[] errstr)
    {
        if (RdKafkaInterop.rd_kafka_conf_set(conf, name, value, errstr, (nuint)errstr.Length) != 0)
        {
            RdKafkaInterop.rd_kafka_conf_destroy(conf);
            throw new EmbeddedKafkaException($"librdkafka refused {name}={value}: {CString(errstr)}");
        }
    }

    private static string CString(byte[] buffer)
    {
        var end = Array.IndexOf(buffer, (byte)0);
        return Encoding.UTF8.GetString(buffer, 0, end < 0 ? buffer.Length : end);
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "Embedded Kafka cluster started: {Brokers} brokers at {Bootstrap} (librdkafka {Path})")]
        public static partial void Started(ILogger logger, int brokers, string bootstrap, string path);

        [LoggerMessage(EventId = 2, Level = LogLevel.Information, Message = "Embedded Kafka cluster at {Bootstrap} stopped")]
        public static partial void Stopped(ILogger logger, string bootstrap);

        [LoggerMessage(EventId = 3, Level = LogLevel.Debug, Message = "Topic {Topic} created: {Partitions} partitions, replication factor {ReplicationFactor}")]
        public static partial void TopicCreated(ILogger logger, string topic, int partitions, int replicationFactor);

        [LoggerMessage(EventId = 4, Level = LogLevel.Information, Message = "Injected errors for API {ApiKey} on {Target}: {Errors}")]
        public static partial void ErrorsPushed(ILogger logger, short apiKey, string errors, string target);

        [LoggerMessage(EventId = 5, Level = LogLevel.Information, Message = "Broker {BrokerId} is {State}")]
        public static partial void BrokerState(ILogger logger, int brokerId, string state);

        [LoggerMessage(EventId = 6, Level = LogLevel.Information, Message = "Leader of {Topic}/{Partition} moved to broker {BrokerId}")]
        public static partial void LeaderMoved(ILogger logger, string topic, int partition, int brokerId);
    }
}
