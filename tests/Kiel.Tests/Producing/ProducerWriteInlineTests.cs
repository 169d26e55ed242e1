using Kiel.Producing;

namespace Kiel.Tests.Producing;

/// <summary>
/// The sender asks to write the requests to the last broker of a pass itself (<c>ProduceCall.WriteInline</c>), so
/// that a large request does not wake a pool thread when the sender has nothing else to start, and leaves the requests
/// to the pass's other brokers to the pool, so that requests to several brokers are still written side by side.
/// </summary>
public sealed class ProducerWriteInlineTests
{
    /// <summary>Produces <paramref name="values"/>[i] to partition i of "t", flushes, and checks every record was delivered.</summary>
    private static async Task ProduceAndFlushAsync(KielProducer<string, string> producer, params string[] values)
    {
        var deliveries = values.Select((v, p) => producer.ProduceAsync("t", null, v, partition: p).AsTask()).ToList();
        await producer.FlushAsync().WaitAsync(Eventually.Deadline);
        foreach (var delivery in deliveries) Assert.True((await delivery.WaitAsync(Eventually.Deadline)).IsDelivered);
    }

    [Fact]
    public async Task Only_the_requests_to_the_last_broker_of_a_pass_are_written_by_the_sender()
    {
        var fake = new FakeTransport();
        fake.Topics["t"] = [1, 2, 3];
        // A long linger: nothing is sealed until the flush, which seals every partition's batch in one pass.
        var options = FakeTransport.Options() with { Linger = TimeSpan.FromSeconds(30), DeliveryTimeout = TimeSpan.FromSeconds(60) };
        await using var producer = FakeTransport.Producer(fake, options);

        // Warm-up: the layout and the producer id are known. A pass of one request writes it on the sender.
        await ProduceAndFlushAsync(producer, "warm");
        Assert.Equal([(1, true)], fake.WriteInlineFlags);
        fake.WriteInlineFlags.Clear();

        // One batch for each of the three leaders, sealed by one flush: three requests in one pass.
        await ProduceAndFlushAsync(producer, "r0", "r1", "r2");

        var flags = fake.WriteInlineFlags.ToArray();
        Assert.Equal(3, flags.Length);
        Assert.Equal([1, 2, 3], flags.Select(f => f.Broker).Order());
        Assert.Equal([false, false, true], flags.Select(f => f.WriteInline));
    }

    [Fact]
    public async Task Every_request_of_a_pass_to_one_broker_is_written_by_the_sender()
    {
        var fake = new FakeTransport();
        fake.Topics["t"] = [1, 1];
        // Two batches of about 620 bytes do not fit in one request of at most 1,024: two requests to broker 1.
        var options = FakeTransport.Options() with
        {
            Linger = TimeSpan.FromSeconds(30), DeliveryTimeout = TimeSpan.FromSeconds(60), MaxRequestBytes = 1024,
        };
        await using var producer = FakeTransport.Producer(fake, options);
        await ProduceAndFlushAsync(producer, "warm");
        fake.WriteInlineFlags.Clear();

        var value = new string('v', 600);
        await ProduceAndFlushAsync(producer, value, value);

        Assert.Equal([(1, true), (1, true)], fake.WriteInlineFlags);
    }
}
