using System.Text;
using Kiel.Producing;

namespace Kiel.Tests.Producing;

/// <summary>
/// Random producer runs against the scripted broker: record sizes that make batches too large (so they are split, and
/// their halves split again), refusals a producer must retry, idempotence on or off, one to five requests in flight,
/// several partitions on two brokers whose leadership may move. Whatever happens, every record is delivered once, each
/// partition's log holds its records in the order they were produced, and each report names the record's offset in
/// that log.
/// </summary>
public class ProducerOrderPropertyTests
{
    public static TheoryData<int> Seeds()
    {
        var seeds = new TheoryData<int>();
        for (var seed = 1; seed <= 60; seed++) seeds.Add(seed);
        return seeds;
    }

    [Theory]
    [MemberData(nameof(Seeds))]
    public async Task Every_record_is_delivered_once_and_in_order_per_partition(int seed)
    {
        var rng = new Random(seed);
        var partitions = rng.Next(1, 5);
        var fake = new FakeTransport();
        fake.Topics["t"] = Enumerable.Range(0, partitions).Select(p => 1 + p % 2).ToArray();
        // Any one record fits (at most ~460 B with its overhead); several together often do not.
        fake.MaxBatchBytes = rng.Next(700, 3000);
        var idempotence = rng.Next(2) == 0;
        var options = FakeTransport.Options() with
        {
            Linger = TimeSpan.FromMilliseconds(rng.Next(0, 4)),
            MaxInFlight = rng.Next(1, 6),
            EnableIdempotence = idempotence,
        };
        // Refusals of whole requests, taken one per Produce call from the start: NOT_LEADER_OR_FOLLOWER (retried after
        // new metadata) and REQUEST_TIMED_OUT (retried; the scripted broker wrote nothing).
        for (var k = rng.Next(0, 4); k > 0; k--) fake.ProduceErrors.Enqueue(rng.Next(2) == 0 ? (short)6 : (short)7);
        var count = rng.Next(10, 80);
        var plan = Enumerable.Range(0, count).Select(i => (Partition: rng.Next(partitions), Value: $"{i:D3}-" + new string('v', rng.Next(1, 400)))).ToArray();
        // Half the seeds move every partition's leadership to the other broker halfway through the records.
        var moveAt = rng.Next(2) == 0 ? count / 2 : -1;
        var context = $"seed {seed}: {partitions} partition(s), {count} records, max batch {fake.MaxBatchBytes} B, " +
            $"idempotence {idempotence}, linger {options.Linger.TotalMilliseconds} ms, in flight {options.MaxInFlight}, leaders move at record {moveAt}";

        await using (var producer = FakeTransport.Producer(fake, options))
        {
            var sends = new Task<DeliveryReport>[count];
            for (var i = 0; i < count; i++)
            {
                if (i == moveAt) fake.Topics["t"] = fake.Topics["t"].Select(leader => 3 - leader).ToArray();
                sends[i] = producer.ProduceAsync("t", null, plan[i].Value, partition: plan[i].Partition).AsTask();
            }
            var reports = await Task.WhenAll(sends).WaitAsync(TimeSpan.FromSeconds(20));
            for (var p = 0; p < partitions; p++)
            {
                var expected = plan.Where(r => r.Partition == p).Select(r => r.Value[..3]).ToArray();
                var log = fake.Log("t", p).Select(r => Encoding.UTF8.GetString(r.Value!)[..3]).ToArray();
                Assert.True(expected.SequenceEqual(log), $"{context}: partition {p} holds [{string.Join(",", log)}], produced [{string.Join(",", expected)}]");
            }
            for (var i = 0; i < count; i++)
            {
                var stored = fake.Log("t", plan[i].Partition)[(int)reports[i].Offset];
                Assert.True(Encoding.UTF8.GetString(stored.Value!) == plan[i].Value, $"{context}: record {i}'s report names offset {reports[i].Offset}, which holds another record");
            }
        }
    }
}
