using Kiel.Producing;

namespace Kiel.Tests.Producing;

/// <summary>
/// byte[] and ReadOnlyMemory&lt;byte&gt; keys and values go to the batch straight from the caller's bytes (no
/// serializer copy): the record is copied before the call returns, so the caller may reuse its buffer at once.
/// </summary>
public sealed class ProducerRawBytesTests
{
    [Fact]
    public async Task A_byte_array_reused_after_Produce_returns_does_not_change_the_record()
    {
        var fake = new FakeTransport();
        fake.Topics["t"] = [1];
        await using var producer = new KielProducer<byte[], byte[]>(FakeTransport.Options(), null, null, _ => fake);
        var key = new byte[] { 1, 2, 3 };
        var value = new byte[20_000];
        value.AsSpan().Fill(7);
        producer.Produce("t", key, value, partition: 0);
        key.AsSpan().Clear();
        value.AsSpan().Fill(9);
        var awaited = producer.ProduceAsync("t", key, value, partition: 0);
        value.AsSpan().Fill(5);
        Assert.True((await awaited.AsTask().WaitAsync(Eventually.Deadline)).IsDelivered);
        await producer.FlushAsync().WaitAsync(Eventually.Deadline);
        var log = fake.Log("t", 0);
        Assert.Equal(2, log.Count);
        Assert.Equal([1, 2, 3], log[0].Key);
        Assert.True(log[0].Value!.All(b => b == 7));
        Assert.Equal([0, 0, 0], log[1].Key);
        Assert.True(log[1].Value!.All(b => b == 9));
        Assert.Equal(20_000, log[1].Value!.Length);
    }

    [Fact]
    public async Task Memory_keys_and_values_are_taken_as_they_are_including_empty_ones()
    {
        var fake = new FakeTransport();
        fake.Topics["t"] = [1];
        await using var producer = new KielProducer<ReadOnlyMemory<byte>, ReadOnlyMemory<byte>>(FakeTransport.Options(), null, null, _ => fake);
        var buffer = new byte[] { 0, 1, 2, 3, 4, 5, 6, 7 };
        producer.Produce("t", buffer.AsMemory(2, 3), buffer.AsMemory(5), partition: 0);
        buffer.AsSpan().Clear();
        producer.Produce("t", ReadOnlyMemory<byte>.Empty, ReadOnlyMemory<byte>.Empty, partition: 0);
        await producer.FlushAsync().WaitAsync(Eventually.Deadline);
        var log = fake.Log("t", 0);
        Assert.Equal([2, 3, 4], log[0].Key);
        Assert.Equal([5, 6, 7], log[0].Value);
        Assert.Empty(log[1].Key!);
        Assert.Empty(log[1].Value!);
    }
}
