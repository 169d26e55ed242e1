using Kiel.Groups;

namespace Kiel.Tests.Groups;

public class GroupedConsumerOptionsTests
{
    private static readonly GroupedConsumerOptions Good = new() { BootstrapServers = "127.0.0.1:9092", Group = "g", ZooKeeperHosts = ["127.0.0.1:2181"] };

    [Fact]
    public void Good_options_validate_and_default_like_kiel()
    {
        Good.Validate();
        Assert.True(Good.Autocommit);
        Assert.Equal(TimeSpan.FromSeconds(1), Good.FetchMaxWait);
        Assert.Equal(1, Good.FetchMinBytes);
        Assert.Equal(1048576, Good.MaxPartitionFetchBytes);
        Assert.Equal(OffsetResetPolicy.Latest, Good.AutoOffsetReset);
        Assert.True(Good.CheckCrcs);
        Assert.Equal(64 * 1024 * 1024, Good.MaxDecompressedBatchBytes);
        Assert.Same(TimeProvider.System, Good.TimeProvider);
        Assert.False(Good.KielCompatible);
        Assert.Equal(Kiel.Consuming.IsolationLevel.ReadUncommitted, Good.IsolationLevel);
    }

    [Fact]
    public void Kafka_coordination_needs_no_ZooKeeper_hosts_and_checks_its_own_settings()
    {
        var kafka = Good with { Coordination = GroupCoordination.Kafka, ZooKeeperHosts = [] };
        kafka.Validate();
        Assert.Equal(GroupCoordination.ZooKeeper, Good.Coordination);
        Assert.Equal(TimeSpan.FromSeconds(45), kafka.SessionTimeout);
        Assert.Equal(TimeSpan.FromSeconds(3), kafka.HeartbeatInterval);
        Assert.Equal(TimeSpan.FromMinutes(5), kafka.MaxPollInterval);
        // A ZooKeeper group still needs its hosts.
        Assert.Throws<ArgumentException>(() => (Good with { ZooKeeperHosts = [] }).Validate());
        // '/' is only a ZooKeeper restriction.
        (kafka with { Group = "a/b" }).Validate();
        var e = Assert.Throws<ArgumentException>(() => (kafka with { KielCompatible = true }).Validate());
        Assert.Contains("KielCompatible", e.Message);
        Assert.Contains("Coordination = ZooKeeper", e.Message);
        e = Assert.Throws<ArgumentException>(() => (kafka with { HeartbeatInterval = TimeSpan.FromSeconds(50) }).Validate());
        Assert.Contains("HeartbeatInterval (50000 ms) must be positive and shorter than SessionTimeout (45000 ms)", e.Message);
        e = Assert.Throws<ArgumentException>(() => (kafka with { MaxPollInterval = TimeSpan.Zero }).Validate());
        Assert.Contains("MaxPollInterval", e.Message);
        e = Assert.Throws<ArgumentException>(() => (kafka with { WriteZooKeeperOffsets = true }).Validate());
        Assert.Contains("OffsetsZooKeeperHosts", e.Message);
        e = Assert.Throws<ArgumentException>(() => (Good with { Coordination = (GroupCoordination)5 }).Validate());
        Assert.Contains("Coordination 5 is not ZooKeeper or Kafka", e.Message);
    }

    [Fact]
    public void Kafka_coordination_runs_the_allocator_as_the_assignor_of_the_same_name_on_every_member()
    {
        Assert.Same(PartitionAssignor.Naive, KafkaGroupCoordination.AssignorFor(null));
        Assert.Same(PartitionAssignor.Naive, KafkaGroupCoordination.AssignorFor(Allocators.Naive));
        Assert.Same(PartitionAssignor.Balanced, KafkaGroupCoordination.AssignorFor(Allocators.Balanced));
        var custom = KafkaGroupCoordination.AssignorFor((members, partitions) => Allocators.Naive(members, partitions));
        Assert.Equal(KafkaGroupCoordination.CustomAssignorName, custom.Name);
    }

    [Fact]
    public void Isolation_level_is_checked()
    {
        (Good with { IsolationLevel = Kiel.Consuming.IsolationLevel.ReadCommitted }).Validate();
        var e = Assert.Throws<ArgumentException>(() => (Good with { IsolationLevel = (Kiel.Consuming.IsolationLevel)7 }).Validate());
        Assert.Contains("IsolationLevel 7 is not ReadUncommitted or ReadCommitted", e.Message);
    }

    [Theory]
    [InlineData("brokers")]
    [InlineData("badbroker")]
    [InlineData("group")]
    [InlineData("slashgroup")]
    [InlineData("zk")]
    [InlineData("zkport")]
    [InlineData("zkchroot")]
    [InlineData("minbytes")]
    [InlineData("maxbytes")]
    [InlineData("wait")]
    [InlineData("requesttimeout")]
    [InlineData("decompressed")]
    [InlineData("reset")]
    public void Bad_settings_get_a_clear_error(string what)
    {
        var o = what switch
        {
            "brokers" => Good with { BootstrapServers = "" },
            "badbroker" => Good with { BootstrapServers = "127.0.0.1:9092,host:notaport" },
            "group" => Good with { Group = " " },
            "slashgroup" => Good with { Group = "a/b" },
            "zk" => Good with { ZooKeeperHosts = [] },
            "zkport" => Good with { ZooKeeperHosts = ["127.0.0.1:99999"] },
            "zkchroot" => Good with { ZooKeeperHosts = ["a:1/x,b:2"] },
            "minbytes" => Good with { FetchMinBytes = -1 },
            "maxbytes" => Good with { MaxPartitionFetchBytes = -5 },
            "requesttimeout" => Good with { RequestTimeout = TimeSpan.FromMilliseconds(500) },
            "decompressed" => Good with { MaxDecompressedBatchBytes = 0 },
            "reset" => Good with { AutoOffsetReset = (OffsetResetPolicy)9 },
            _ => Good with { FetchMaxWait = TimeSpan.FromSeconds(-1) },
        };
        var e = Assert.Throws<ArgumentException>(o.Validate);
        Assert.False(string.IsNullOrWhiteSpace(e.ParamName));
    }

    [Fact]
    public void ZooKeeper_string_parses_lists_connect_strings_and_chroot()
    {
        var (eps, chroot) = GroupedConsumerOptions.ParseZooKeeperHosts(["a:1,b", "c:3/apps/kiel"]);
        Assert.Equal([("a", 1), ("b", 2181), ("c", 3)], eps);
        Assert.Equal("/apps/kiel", chroot);
    }

    [Fact]
    public void Member_names_are_unique_per_instance_and_name_the_host_and_process()
    {
        var a = MemberName.Create();
        var b = MemberName.Create();
        Assert.NotEqual(a, b);
        Assert.StartsWith($"{Environment.MachineName}:{Environment.ProcessId}-", a);
    }
}
