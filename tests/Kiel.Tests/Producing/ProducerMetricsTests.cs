using System.Diagnostics.Metrics;
using Kiel.Producing;

namespace Kiel.Tests.Producing;

public class ProducerMetricsTests
{
    [Fact]
    public async Task Sent_messages_are_counted_per_topic_with_error_type_on_failure()
    {
        var topic = "metrics-" + Guid.NewGuid().ToString("N")[..8];
        long delivered = 0, failed = 0;
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == "Kiel" && instrument.Name == "messaging.client.sent.messages") l.EnableMeasurementEvents(instrument);
        };
        listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
        {
            string? dest = null, error = null;
            foreach (var t in tags)
            {
                if (t.Key == "messaging.destination.name") dest = t.Value as string;
                if (t.Key == "error.type") error = t.Value as string;
            }
            if (dest != topic) return;
            if (error is null) Interlocked.Add(ref delivered, value);
            else if (error == "INVALID_RECORD") Interlocked.Add(ref failed, value);
        });
        listener.Start();

        var fake = new FakeTransport();
        fake.Topics[topic] = [1];
        await using var producer = FakeTransport.Producer(fake);
        for (var i = 0; i < 10; i++) await producer.ProduceAsync(topic, null, "v");
        fake.ProduceErrors.Enqueue(87);
        await Assert.ThrowsAsync<ProduceException>(() => producer.ProduceAsync(topic, null, "v").AsTask());
        Assert.Equal(10, Interlocked.Read(ref delivered));
        Assert.Equal(1, Interlocked.Read(ref failed));
    }
}
