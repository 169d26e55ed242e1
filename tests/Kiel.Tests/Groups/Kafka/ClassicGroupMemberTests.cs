using Kiel.Consuming;
using Kiel.Groups.Kafka;

namespace Kiel.Tests.Groups.Kafka;

public class ClassicGroupMemberTests
{
    private static TopicPartition T(int p) => new("t", p);

    private static GroupMemberSubscription Member(string id, int generation, params int[] owned) =>
        new(id, null, ["t"], [.. owned.Select(T)], generation, default, null);

    [Fact]
    public void Cooperative_withholds_a_partition_that_changes_owner_until_its_old_owner_revoked_it()
    {
        var members = new[] { Member("a", 5, 0, 1, 2, 3), Member("b", -1) };
        var target = new Dictionary<string, IReadOnlyList<TopicPartition>> { ["a"] = [T(0), T(1)], ["b"] = [T(2), T(3)] };

        var result = ClassicGroupMember.WithholdMoving(target, members);

        Assert.Equal([T(0), T(1)], result["a"]);   // a keeps 0 and 1 and, not finding 2 and 3, revokes them
        Assert.Empty(result["b"]);                  // b gets 2 and 3 only in the follow-up rebalance
    }

    [Fact]
    public void Cooperative_gives_unowned_partitions_at_once_and_the_follow_up_hands_over_the_revoked_ones()
    {
        // The follow-up rebalance: a gave up 2 and 3, so nobody owns them now.
        var members = new[] { Member("a", 6, 0, 1), Member("b", 6), };
        var target = new Dictionary<string, IReadOnlyList<TopicPartition>> { ["a"] = [T(0), T(1)], ["b"] = [T(2), T(3), T(4)] };

        var result = ClassicGroupMember.WithholdMoving(target, members);

        Assert.Equal([T(2), T(3), T(4)], result["b"]);
        Assert.Equal([T(0), T(1)], result["a"]);
    }

    [Fact]
    public void Cooperative_trusts_the_claim_of_the_higher_generation_when_two_members_claim_one_partition()
    {
        // b's claim on 1 is stale (generation 3; a owned it in generation 4).
        var members = new[] { Member("a", 4, 1), Member("b", 3, 1) };
        var toB = ClassicGroupMember.WithholdMoving(new Dictionary<string, IReadOnlyList<TopicPartition>> { ["a"] = [], ["b"] = [T(1)] }, members);
        var toA = ClassicGroupMember.WithholdMoving(new Dictionary<string, IReadOnlyList<TopicPartition>> { ["a"] = [T(1)], ["b"] = [] }, members);

        Assert.Empty(toB["b"]);
        Assert.Equal([T(1)], toA["a"]);
    }

    [Fact]
    public void The_leader_sees_a_topic_that_gained_partitions_or_appeared_and_ignores_one_the_metadata_does_not_show()
    {
        var assigned = new Dictionary<string, int> { ["a"] = 4, ["b"] = 2 };
        Assert.Null(ClassicGroupMember.DescribeChange(["a", "b"], assigned, t => assigned[t]));
        Assert.Equal("topic 'a' has 8 partition(s), not 4", ClassicGroupMember.DescribeChange(["a", "b"], assigned, t => t == "a" ? 8 : 2));
        Assert.Equal("topic 'b' has 1 partition(s), not 2", ClassicGroupMember.DescribeChange(["a", "b"], assigned, t => t == "a" ? 4 : 1));
        // Subscribed before it existed: it was not assigned, and now it is there.
        Assert.Equal("topic 'c' appeared with 3 partition(s)", ClassicGroupMember.DescribeChange(["a", "c"], assigned, t => t == "a" ? 4 : 3));
        // A topic missing from the metadata now (an error, a refresh that failed) is no reason to rebalance.
        Assert.Null(ClassicGroupMember.DescribeChange(["a", "b", "c"], assigned, t => t == "a" ? 4 : null));
    }

    [Fact]
    public void MetadataMaxAge_defaults_to_five_minutes_and_must_be_positive()
    {
        Assert.Equal(TimeSpan.FromMinutes(5), new KielConsumerOptions { BootstrapServers = "127.0.0.1:9092" }.MetadataMaxAge);
        var bad = new KielConsumerOptions { BootstrapServers = "127.0.0.1:9092", MetadataMaxAge = TimeSpan.Zero };
        Assert.Contains("MetadataMaxAge is 00:00:00: it must be positive", Assert.Throws<ArgumentException>(bad.Validate).Message);
    }

    [Fact]
    public void The_rebalance_protocol_is_cooperative_only_when_every_assignor_is()
    {
        Assert.Equal(RebalanceProtocol.Cooperative, ClassicGroupMember.ChooseProtocol([PartitionAssignor.CooperativeSticky]));
        Assert.Equal(RebalanceProtocol.Eager, ClassicGroupMember.ChooseProtocol([PartitionAssignor.CooperativeSticky, PartitionAssignor.Range]));
        Assert.Equal(RebalanceProtocol.Eager, ClassicGroupMember.ChooseProtocol([PartitionAssignor.Range, PartitionAssignor.RoundRobin]));
        Assert.Equal(RebalanceProtocol.Eager, ClassicGroupMember.ChooseProtocol([]));
    }

    [Fact]
    public void Group_settings_default_as_librdkafka_and_Java()
    {
        var options = new KielConsumerOptions { BootstrapServers = "127.0.0.1:9092", GroupId = "g" };
        options.Validate();
        Assert.Equal(TimeSpan.FromSeconds(45), options.SessionTimeout);
        Assert.Equal(TimeSpan.FromSeconds(3), options.HeartbeatInterval);
        Assert.Equal(TimeSpan.FromMinutes(5), options.MaxPollInterval);
        // librdkafka's partition.assignment.strategy default, so that default Kiel and Confluent members share a group.
        Assert.Equal(["range", "roundrobin"], options.PartitionAssignmentStrategy.Select(a => a.Name));
        Assert.True(options.EnableAutoCommit);
        Assert.Equal(TimeSpan.FromSeconds(5), options.AutoCommitInterval);
        Assert.Equal(GroupProtocol.Classic, options.GroupProtocol);
        Assert.Null(options.GroupInstanceId);
        Assert.Null(options.GroupRemoteAssignor);
    }

    [Fact]
    public void Validate_names_each_bad_group_setting_and_its_fix()
    {
        var options = new KielConsumerOptions
        {
            BootstrapServers = "127.0.0.1:9092",
            GroupId = "",
            GroupInstanceId = "",
            SessionTimeout = TimeSpan.FromSeconds(2),
            HeartbeatInterval = TimeSpan.FromSeconds(3),
            MaxPollInterval = TimeSpan.Zero,
            PartitionAssignmentStrategy = [PartitionAssignor.Range, PartitionAssignor.Range],
            AutoCommitInterval = TimeSpan.Zero,
        };
        var message = Assert.Throws<ArgumentException>(options.Validate).Message;
        Assert.Contains("GroupId is empty", message);
        Assert.Contains("GroupInstanceId is empty", message);
        Assert.Contains("HeartbeatInterval (3000 ms) must be positive and shorter than SessionTimeout (2000 ms)", message);
        Assert.Contains("MaxPollInterval", message);
        Assert.Contains("lists an assignor name twice", message);
        Assert.Contains("AutoCommitInterval", message);

        var empty = new KielConsumerOptions { BootstrapServers = "127.0.0.1:9092", GroupId = "g", PartitionAssignmentStrategy = [] };
        Assert.Contains("PartitionAssignmentStrategy is empty", Assert.Throws<ArgumentException>(empty.Validate).Message);
        var instanceOnly = new KielConsumerOptions { BootstrapServers = "127.0.0.1:9092", GroupInstanceId = "i" };
        Assert.Contains("GroupInstanceId is set without GroupId", Assert.Throws<ArgumentException>(instanceOnly.Validate).Message);
    }

    [Fact]
    public void What_a_group_commits_is_what_the_application_moved_past_and_a_seek_moves_it()
    {
        var state = new PartitionState(T(0), 10, 1024);
        Assert.Equal(10, state.Committable);
        Volatile.Write(ref state.ConsumedPosition, 13);   // three records handed out
        Assert.Equal(10, state.Committable);              // none processed yet
        state.MarkProcessed(state.Version);               // the application asked for more
        Assert.Equal(13, state.Committable);
        var stale = state.Version;
        state.Reposition(5);
        Assert.Equal(5, state.Committable);
        Volatile.Write(ref state.ConsumedPosition, 7);
        state.MarkProcessed(stale);                        // a chunk from before the seek marks nothing
        Assert.Equal(5, state.Committable);
    }

    [Fact]
    public async Task A_consumer_without_a_group_refuses_group_calls_with_the_setting_to_fix()
    {
        await using var consumer = new KielConsumer<byte[]?, byte[]?>(new KielConsumerOptions { BootstrapServers = "127.0.0.1:9" }, Deserializers.Bytes, Deserializers.Bytes);
        var error = Assert.Throws<InvalidOperationException>(() => consumer.Subscribe(["t"]));
        Assert.Contains("GroupId", error.Message);
        Assert.Null(consumer.GroupMetadata);
        Assert.Null(consumer.PartitionsAssignedHandler);
    }
}
