using System.Runtime.InteropServices;

namespace Kiel.Testing;

/// <summary>P/Invoke declarations for the librdkafka client and mock-cluster API (rdkafka_mock.h, 2.16).</summary>
internal static partial class RdKafkaInterop
{
    private const string Lib = "librdkafka";

    static RdKafkaInterop()
    {
        // Must happen before the first call below binds; the resolver then hands out the pinned file.
        RdKafkaNative.PinAssembly(typeof(RdKafkaInterop).Assembly);
    }

    /// <summary>Forces the static constructor, hence the pin, to run.</summary>
    internal static void Initialize() => RdKafkaNative.EnsureLoaded();

    [LibraryImport(Lib)]
    internal static partial IntPtr rd_kafka_conf_new();

    [LibraryImport(Lib, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int rd_kafka_conf_set(IntPtr conf, string name, string value, byte[] errstr, nuint errstrSize);

    [LibraryImport(Lib)]
    internal static partial void rd_kafka_conf_destroy(IntPtr conf);

    [LibraryImport(Lib)]
    internal static partial IntPtr rd_kafka_new(int type, IntPtr conf, byte[] errstr, nuint errstrSize);

    [LibraryImport(Lib)]
    internal static partial void rd_kafka_destroy(IntPtr rk);

    [LibraryImport(Lib)]
    internal static partial IntPtr rd_kafka_err2name(int err);

    [LibraryImport(Lib)]
    internal static partial IntPtr rd_kafka_err2str(int err);

    [LibraryImport(Lib)]
    internal static partial IntPtr rd_kafka_mock_cluster_new(IntPtr rk, int brokerCount);

    [LibraryImport(Lib)]
    internal static partial void rd_kafka_mock_cluster_destroy(IntPtr mc);

    [LibraryImport(Lib)]
    internal static partial IntPtr rd_kafka_mock_cluster_bootstraps(IntPtr mc);

    [LibraryImport(Lib)]
    internal static partial void rd_kafka_mock_clear_request_errors(IntPtr mc, short apiKey);

    [LibraryImport(Lib)]
    internal static partial void rd_kafka_mock_push_request_errors_array(IntPtr mc, short apiKey, nuint count, int[] errors);

    [LibraryImport(Lib)]
    internal static partial void rd_kafka_mock_group_initial_rebalance_delay_ms(IntPtr mc, int delayMs);

    [LibraryImport(Lib)]
    internal static partial void rd_kafka_mock_set_controller_id(IntPtr mc, int controllerId);

    // Variadic in C: (mc, broker, key, cnt, err1, rtt1, ...). A fixed-arity declaration for exactly one
    // (err, rtt) tuple matches the variadic calling convention on x64 (SysV and Windows), but not on
    // Apple arm64, where variadic arguments go on the stack; callers check for that.
    [LibraryImport(Lib)]
    internal static partial int rd_kafka_mock_broker_push_request_error_rtts(IntPtr mc, int brokerId, short apiKey, nuint count, int err, int rttMs);

    // Variadic in C: (mc, topic, partition, key, cnt, err1, ...); same one-at-a-time convention.
    [LibraryImport(Lib, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int rd_kafka_mock_partition_push_request_errors(IntPtr mc, string topic, int partition, short apiKey, nuint count, int err);

    [LibraryImport(Lib, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial void rd_kafka_mock_topic_set_error(IntPtr mc, string topic, int err);

    [LibraryImport(Lib, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int rd_kafka_mock_topic_create(IntPtr mc, string topic, int partitions, int replicationFactor);

    [LibraryImport(Lib, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int rd_kafka_mock_topic_delete(IntPtr mc, string topic);

    [LibraryImport(Lib, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int rd_kafka_mock_partition_delete_records(IntPtr mc, string topic, int partition, long beforeOffset);

    [LibraryImport(Lib, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int rd_kafka_mock_partition_set_leader(IntPtr mc, string topic, int partition, int brokerId);

    [LibraryImport(Lib, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int rd_kafka_mock_partition_set_follower(IntPtr mc, string topic, int partition, int brokerId);

    [LibraryImport(Lib, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int rd_kafka_mock_partition_set_follower_wmarks(IntPtr mc, string topic, int partition, long lo, long hi);

    [LibraryImport(Lib)]
    internal static partial int rd_kafka_mock_broker_set_down(IntPtr mc, int brokerId);

    [LibraryImport(Lib)]
    internal static partial int rd_kafka_mock_broker_set_up(IntPtr mc, int brokerId);

    [LibraryImport(Lib)]
    internal static partial int rd_kafka_mock_broker_set_rtt(IntPtr mc, int brokerId, int rttMs);

    [LibraryImport(Lib, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int rd_kafka_mock_broker_set_rack(IntPtr mc, int brokerId, string rack);

    [LibraryImport(Lib, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int rd_kafka_mock_coordinator_set(IntPtr mc, string keyType, string key, int brokerId);

    [LibraryImport(Lib)]
    internal static partial int rd_kafka_mock_set_apiversion(IntPtr mc, short apiKey, short minVersion, short maxVersion);

    [LibraryImport(Lib)]
    internal static partial void rd_kafka_mock_start_request_tracking(IntPtr mc);

    [LibraryImport(Lib)]
    internal static partial void rd_kafka_mock_stop_request_tracking(IntPtr mc);

    [LibraryImport(Lib)]
    internal static partial IntPtr rd_kafka_mock_get_requests(IntPtr mc, out nuint count);

    [LibraryImport(Lib)]
    internal static partial void rd_kafka_mock_request_destroy_array(IntPtr requests, nuint count);

    [LibraryImport(Lib)]
    internal static partial int rd_kafka_mock_request_id(IntPtr request);

    [LibraryImport(Lib)]
    internal static partial short rd_kafka_mock_request_api_key(IntPtr request);

    [LibraryImport(Lib)]
    internal static partial long rd_kafka_mock_request_timestamp(IntPtr request);

    [LibraryImport(Lib)]
    internal static partial void rd_kafka_mock_clear_requests(IntPtr mc);

    [LibraryImport(Lib)]
    internal static partial int rd_kafka_mock_broker_error_stack_cnt(IntPtr mc, int brokerId, short apiKey, out nuint count);
}
