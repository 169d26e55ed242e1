using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Allocation = System.Collections.Generic.IReadOnlyDictionary<string, System.Collections.Generic.IReadOnlyDictionary<string, System.Collections.Generic.IReadOnlyList<int>>>;

namespace Kiel.Tests.Groups;

public class AllocatorTests
{
    private static readonly string[] SpecMembers = ["client1:1233", "client1:4444", "client2:5555"];
    private static readonly string[] SpecPartitions = ["t1:0", "t1:1", "t2:0", "t2:3", "t2:6", "t2:7", "t4:8"];

    private static string Render(Allocation a) => string.Join(" | ", a.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv =>
        kv.Key + " " + string.Join(" ", kv.Value.OrderBy(t => t.Key, StringComparer.Ordinal).Select(t => $"{t.Key}:[{string.Join(",", t.Value)}]"))));

    [Fact]
    public void Naive_gives_the_spec_example_exactly()
    {
        var a = Allocators.Naive(SpecMembers, SpecPartitions);
        Assert.Equal("client1:1233 t1:[0] t2:[3] t4:[8] | client1:4444 t1:[1] t2:[6] | client2:5555 t2:[0,7]", Render(a));
    }

    [Fact]
    public void Naive_sorts_its_inputs_itself_by_ordinal_order()
    {
        var shuffled = Allocators.Naive(SpecMembers.Reverse().ToArray(), SpecPartitions.Reverse().ToArray());
        Assert.Equal(Render(Allocators.Naive(SpecMembers, SpecPartitions)), Render(shuffled));
    }

    [Fact]
    public void Naive_orders_twelve_partitions_as_text_so_t10_comes_before_t2()
    {
        var parts = Enumerable.Range(0, 12).Select(p => $"t:{p}").ToArray();
        var a = Allocators.Naive(["b", "a"], parts);
        Assert.Equal([0, 10, 2, 4, 6, 8], a["a"]["t"]);
        Assert.Equal([1, 11, 3, 5, 7, 9], a["b"]["t"]);
    }

    [Fact]
    public void Naive_with_three_members_on_twelve_partitions()
    {
        var parts = Enumerable.Range(0, 12).Select(p => $"t:{p}").ToArray();
        var a = Allocators.Naive(["m1", "m2", "m3"], parts);
        // Order: 0 1 10 11 2 3 4 5 6 7 8 9
        Assert.Equal([0, 11, 4, 7], a["m1"]["t"]);
        Assert.Equal([1, 2, 5, 8], a["m2"]["t"]);
        Assert.Equal([10, 3, 6, 9], a["m3"]["t"]);
    }

    [Fact]
    public void Naive_internal_topics_sort_before_lower_case_names_and_shift_the_phase()
    {
        var a = Allocators.Naive(["a", "b"], ["t:0", "__consumer_offsets:0", "t:1"]);
        Assert.Equal([0], a["a"]["__consumer_offsets"]);
        Assert.Equal([0], a["b"]["t"]);
        Assert.Equal([1], a["a"]["t"]);
    }

    [Fact]
    public void Naive_leaves_members_without_partitions_out()
    {
        var a = Allocators.Naive(["a", "b", "c", "d"], ["t:0", "t:1"]);
        Assert.Equal(2, a.Count);
        Assert.False(a.ContainsKey("c"));
        Assert.False(a.ContainsKey("d"));
    }

    [Fact]
    public void Naive_with_no_members_or_no_partitions_is_empty()
    {
        Assert.Empty(Allocators.Naive([], ["t:0"]));
        Assert.Empty(Allocators.Naive(["a"], []));
    }

    [Fact]
    public void Allocators_reject_a_malformed_partition()
    {
        Assert.Throws<FormatException>(() => Allocators.Naive(["a"], ["nocolon"]));
        Assert.Throws<FormatException>(() => Allocators.Balanced(["a"], ["t:x"]));
    }

    [Fact]
    public void Naive_fits_the_delegate()
    {
        PartitionAllocator naive = Allocators.Naive;
        PartitionAllocator balanced = Allocators.Balanced;
        Assert.NotNull(naive(["a"], ["t:0"])["a"]);
        Assert.NotNull(balanced(["a"], ["t:0"])["a"]);
    }

    [Fact]
    public void Balanced_orders_numerically_and_spreads_topics()
    {
        var parts = Enumerable.Range(0, 12).Select(p => $"t:{p}").Concat(Enumerable.Range(0, 3).Select(p => $"u:{p}")).ToArray();
        var a = Allocators.Balanced(["m1", "m2", "m3"], parts);
        Assert.Equal([0, 3, 6, 9], a["m1"]["t"]);
        Assert.Equal([1, 4, 7, 10], a["m2"]["t"]);
        Assert.Equal([2, 5, 8, 11], a["m3"]["t"]);
        Assert.All(new[] { "m1", "m2", "m3" }, m => Assert.Single(a[m]["u"]));
    }

    [Fact]
    public void Balanced_lists_every_member_even_with_nothing()
    {
        var a = Allocators.Balanced(["a", "b", "c"], ["t:0"]);
        Assert.Equal(3, a.Count);
        Assert.Empty(a["c"]);
    }

    [Fact]
    public void Balanced_keeps_partitions_when_a_member_joins()
    {
        var parts = Enumerable.Range(0, 12).Select(p => $"t:{p}").ToArray();
        var before = Allocators.Balanced(["m1", "m2", "m3"], parts);
        var after = Allocators.Balanced(["m1", "m2", "m3", "m4"], parts, before);
        foreach (var m in new[] { "m1", "m2", "m3" })
        {
            Assert.Equal(3, after[m]["t"].Count);
            Assert.Subset(before[m]["t"].ToHashSet(), after[m]["t"].ToHashSet());
        }
        Assert.Equal(3, after["m4"]["t"].Count);
    }

    [Fact]
    public void Balanced_moves_only_the_leavers_partitions()
    {
        var parts = Enumerable.Range(0, 12).Select(p => $"t:{p}").ToArray();
        var before = Allocators.Balanced(["m1", "m2", "m3"], parts);
        var after = Allocators.Balanced(["m1", "m3"], parts, before);
        Assert.Subset(after["m1"]["t"].ToHashSet(), before["m1"]["t"].ToHashSet());
        Assert.Subset(after["m3"]["t"].ToHashSet(), before["m3"]["t"].ToHashSet());
        Assert.Equal(6, after["m1"]["t"].Count);
        Assert.Equal(6, after["m3"]["t"].Count);
    }

    // ---- properties ----

    public static class Gens
    {
        public static Arbitrary<Input> Inputs() => Gen.Choose(0, 6).SelectMany(memberCount =>
            Gen.Choose(1, 3).SelectMany(topicCount =>
                Gen.ArrayOf(Gen.Choose(0, 14), topicCount).SelectMany(sizes =>
                    Gen.Choose(0, int.MaxValue).Select(seed =>
                    {
                        var members = Enumerable.Range(0, memberCount).Select(i => $"host:{seed % 97 + i * 13}").ToArray();
                        var parts = sizes.SelectMany((n, t) => Enumerable.Range(0, n).Select(p => $"topic{(char)('a' + t)}:{p}")).ToArray();
                        var rnd = new Random(seed);
                        rnd.Shuffle(members);
                        rnd.Shuffle(parts);
                        return new Input(members, parts, seed);
                    })))).ToArbitrary();
    }

    public sealed record Input(string[] Members, string[] Partitions, int Seed)
    {
        public override string ToString() => $"members [{string.Join(",", Members)}] partitions [{string.Join(",", Partitions)}]";
    }

    private static List<(string Member, TopicPartition Tp)> Flatten(Allocation a)
        => a.SelectMany(m => m.Value.SelectMany(t => t.Value.Select(p => (m.Key, new TopicPartition(t.Key, p))))).ToList();

    private static bool EachPartitionToExactlyOneMember(Input input, Allocation a)
    {
        var flat = Flatten(a);
        if (input.Members.Length == 0) return flat.Count == 0;
        var expected = input.Partitions.Select(TopicPartition.Parse).Order().ToArray();
        var got = flat.Select(x => x.Tp).Order().ToArray();
        return expected.SequenceEqual(got) && flat.All(x => input.Members.Contains(x.Member));
    }

    [Property(Arbitrary = [typeof(Gens)], MaxTest = 200)]
    public bool Naive_gives_every_partition_to_exactly_one_member(Input input)
        => EachPartitionToExactlyOneMember(input, Allocators.Naive(input.Members, input.Partitions));

    [Property(Arbitrary = [typeof(Gens)], MaxTest = 200)]
    public bool Naive_is_deterministic(Input input)
    {
        var reordered = input.Members.Reverse().ToArray();
        return Render(Allocators.Naive(input.Members, input.Partitions)) == Render(Allocators.Naive(reordered, input.Partitions.Reverse().ToArray()));
    }

    [Property(Arbitrary = [typeof(Gens)], MaxTest = 200)]
    public bool Balanced_gives_every_partition_to_exactly_one_member(Input input)
        => EachPartitionToExactlyOneMember(input, Allocators.Balanced(input.Members, input.Partitions));

    [Property(Arbitrary = [typeof(Gens)], MaxTest = 200)]
    public bool Balanced_is_deterministic(Input input)
        => Render(Allocators.Balanced(input.Members, input.Partitions)) == Render(Allocators.Balanced(input.Members.Reverse().ToArray(), input.Partitions.Reverse().ToArray()));

    private static bool IsBalanced(Input input, Allocation a, bool perTopic)
    {
        if (input.Members.Length == 0) return true;
        var counts = input.Members.Select(m => a.TryGetValue(m, out var t) ? t.Values.Sum(v => v.Count) : 0).ToArray();
        if (counts.Max() - counts.Min() > 1) return false;
        if (!perTopic) return true;
        foreach (var topic in input.Partitions.Select(p => TopicPartition.Parse(p).Topic).Distinct())
        {
            var c = input.Members.Select(m => a.TryGetValue(m, out var t) && t.TryGetValue(topic, out var ids) ? ids.Count : 0).ToArray();
            if (c.Max() - c.Min() > 1) return false;
        }
        return true;
    }

    [Property(Arbitrary = [typeof(Gens)], MaxTest = 200)]
    public bool Balanced_counts_differ_by_at_most_one_overall_and_per_topic(Input input)
        => IsBalanced(input, Allocators.Balanced(input.Members, input.Partitions), perTopic: true);

    [Property(Arbitrary = [typeof(Gens)], MaxTest = 200)]
    public bool Balanced_ids_are_in_numeric_order(Input input)
        => Allocators.Balanced(input.Members, input.Partitions).Values.SelectMany(t => t.Values).All(ids => ids.SequenceEqual(ids.Order()));

    [Property(Arbitrary = [typeof(Gens)], MaxTest = 300)]
    public bool Balanced_sticky_stays_balanced_complete_deterministic_and_keeps_what_balance_allows(Input input)
    {
        // The group changes: a member leaves (if any) and a new one joins; the partition set loses one.
        var rnd = new Random(input.Seed);
        var before = Allocators.Balanced(input.Members, input.Partitions);
        var leaver = rnd.Next(Math.Max(1, input.Members.Length));
        var members2 = input.Members.Where((_, i) => i != leaver).Append($"joiner:{input.Seed}").ToArray();
        var parts2 = input.Partitions.Skip(input.Partitions.Length > 0 ? 1 : 0).ToArray();
        var next = new Input(members2, parts2, input.Seed);
        var after = Allocators.Balanced(members2, parts2, before);
        if (!EachPartitionToExactlyOneMember(next, after) || !IsBalanced(next, after, perTopic: false)) return false;
        if (Render(after) != Render(Allocators.Balanced(members2.Reverse().ToArray(), parts2.Reverse().ToArray(), before))) return false;

        // Stickiness: with quota q_m = floor(n/m) or +1, a survivor keeps min(what it still could, its quota);
        // and the +1 quotas go to those that held the most, so the total kept is the most balance allows.
        var existing = parts2.Select(TopicPartition.Parse).ToHashSet();
        var n = parts2.Length;
        var m = members2.Length;
        var held = members2.Select(x => before.TryGetValue(x, out var t) ? t.SelectMany(kv => kv.Value.Select(p => new TopicPartition(kv.Key, p))).Where(existing.Contains).ToHashSet() : []).ToArray();
        var sortedHeld = held.Select(h => h.Count).OrderDescending().ToArray();
        var bestKept = sortedHeld.Select((h, i) => Math.Min(h, n / m + (i < n % m ? 1 : 0))).Sum();
        var kept = members2.Select((x, i) => after.TryGetValue(x, out var t) ? t.SelectMany(kv => kv.Value.Select(p => new TopicPartition(kv.Key, p))).Count(held[i].Contains) : 0).Sum();
        return kept == bestKept;
    }
}
