using System.Diagnostics;
using Kiel.Network;
using Kiel.Protocol;
using Kiel.Protocol.Messages;
using Kiel.Testing;

namespace Kiel.IntegrationTests.Network;

/// <summary>BrokerConnection against the librdkafka mock: negotiation, caps, fallback, timeouts, acks=0 replies.</summary>
public sealed class BrokerConnectionMockTests
{
    private static ConnectionOptions Options(int requestTimeoutMs = 5000) => new()
    {
        ConnectTimeout = TimeSpan.FromSeconds(5),
        RequestTimeout = TimeSpan.FromMilliseconds(requestTimeoutMs),
    };

    private static BrokerEndpoint Broker(EmbeddedKafkaCluster kafka, int id) =>
        BrokerEndpoint.Parse(kafka.BootstrapServers.Split(',')[id - 1], id);

    private static CancellationToken Bounded(double seconds = 20) => new CancellationTokenSource(TimeSpan.FromSeconds(seconds)).Token;

    [Fact]
    public async Task Negotiates_with_the_mock_falling_back_from_ApiVersions_v3()
    {
        await using var kafka = await EmbeddedKafkaCluster.StartAsync();
        await using var conn = await BrokerConnection.ConnectAsync(Broker(kafka, 1), Options(), "test", Bounded());
        // The mock serves ApiVersions 0-2: it answers v3 with UNSUPPORTED_VERSION (and a list in its own
        // encoding, which is not v0), so Kiel retries at v0.
        Assert.Equal("ApiVersions v0", conn.Versions.Source);
        Assert.Equal(new ApiVersionRange(0, 13), conn.Versions.GetBrokerRange(ApiKey.Metadata));
        Assert.Equal(12, conn.Versions.Choose(ApiKey.Metadata)); // capped by KielApiVersions
        Assert.Equal(3, conn.Versions.Choose(ApiKey.FindCoordinator));
        var md = await conn.SendAsync(new MetadataRequest { Topics = null }, Bounded());
        Assert.Equal(3, md.Brokers.Count);
    }

    /// <summary>A socket's stream that counts writes and can hold them back, to see how frames leave.</summary>
    private sealed class CountingTransport : IConnectionTransportFactory
    {
        public CountingStream? Stream { get; private set; }

        public async ValueTask<Stream> ConnectAsync(BrokerEndpoint endpoint, ConnectionOptions options, CancellationToken cancellationToken)
        {
            var inner = await SocketTransportFactory.Instance.ConnectAsync(endpoint, options, cancellationToken);
            return Stream = new CountingStream(inner);
        }
    }

    private sealed class CountingStream(Stream inner) : Stream
    {
        private TaskCompletionSource? _gate;
        private int _writes;

        public int Writes => Volatile.Read(ref _writes);

        public void HoldWrites() => _gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        public void OpenWrites() => _gate?.TrySetResult();

        public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            Interlocked.Increment(ref _writes);
            if (_gate is { } gate) await gate.Task.WaitAsync(cancellationToken);
            await inner.WriteAsync(buffer, cancellationToken);
        }

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => inner.ReadAsync(buffer, cancellationToken);

        public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);

        protected override void Dispose(bool disposing)
        {
            OpenWrites();
            if (disposing) inner.Dispose();
            base.Dispose(disposing);
        }

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() => inner.Flush();
        public override int Read(byte[] buffer, int offset, int count) => inner.Read(buffer, offset, count);
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }

    [Fact]
    public async Task Pipelined_requests_to_the_mock_leave_in_one_write_and_all_round_trip()
    {
        await using var kafka = await EmbeddedKafkaCluster.StartAsync();
        var transport = new CountingTransport();
        await using var conn = await BrokerConnection.ConnectAsync(Broker(kafka, 1), Options() with { MaxInFlight = 16, TransportFactory = transport }, "test", Bounded());
        var stream = transport.Stream!;
        var before = stream.Writes;

        stream.HoldWrites();
        var replies = Enumerable.Range(0, 10).Select(_ => conn.SendAsync(new MetadataRequest { Topics = null }, Bounded()).AsTask()).ToList();
        Assert.Equal(before + 1, stream.Writes); // the first is being written, nine wait
        stream.OpenWrites();
        foreach (var reply in replies) Assert.Equal(3, (await reply).Brokers.Count);
        Assert.Equal(before + 2, stream.Writes);
    }

    [Fact]
    public async Task Capped_version_ranges_are_negotiated_down_and_requests_succeed()
    {
        await using var kafka = await EmbeddedKafkaCluster.StartAsync();
        kafka.SetApiVersion(KafkaApiKeys.Metadata, 0, 4);
        kafka.SetApiVersion(KafkaApiKeys.FindCoordinator, 0, 0);
        await using var conn = await BrokerConnection.ConnectAsync(Broker(kafka, 1), Options(), "test", Bounded());
        Assert.Equal(4, conn.Versions.Choose(ApiKey.Metadata));
        Assert.Equal(0, conn.Versions.Choose(ApiKey.FindCoordinator));
        var md = await conn.SendAsync(new MetadataRequest { Topics = null }, Bounded());
        Assert.Equal(3, md.Brokers.Count);
        var fc = await conn.SendAsync(new FindCoordinatorRequest { Key = "g" }, Bounded());
        Assert.Equal(0, fc.ErrorCode);
        var e = Assert.Throws<UnsupportedVersionException>(() => conn.Versions.Choose(ApiKey.FindCoordinator, 1, 4));
        Assert.Contains("FindCoordinator", e.Message);
        Assert.Contains("v0", e.Message);
        Assert.Contains("v1-v4", e.Message);
    }

    [Fact]
    public async Task A_broker_without_ApiVersions_is_served_by_the_fallback_profile()
    {
        await using var kafka = await EmbeddedKafkaCluster.StartAsync();
        kafka.RemoveApi(KafkaApiKeys.ApiVersions);
        // The mock then answers ApiVersions with UNSUPPORTED_VERSION even at v0. Without a fallback the release is
        // detected on the same connection: the mock knows Heartbeat, so 0.9.0.
        await using (var detected = await BrokerConnection.ConnectAsync(Broker(kafka, 1), Options(), "test", Bounded()))
            Assert.Equal("detected 0.9.0", detected.Versions.Source);

        await using var conn = await BrokerConnection.ConnectAsync(Broker(kafka, 1), Options() with { BrokerVersionFallback = "0.10.0" }, "test", Bounded());
        Assert.Equal("fallback 0.10.0", conn.Versions.Source);
        var version = conn.Versions.Choose(ApiKey.Metadata);
        Assert.Equal(1, version);
        var md = await conn.SendAsync(new MetadataRequest { Topics = null }, version, Bounded());
        Assert.Equal(3, md.Brokers.Count);

        await using var skipping = await BrokerConnection.ConnectAsync(Broker(kafka, 2), Options() with { ApiVersionRequest = false, BrokerVersionFallback = "0.9.0" }, "test", Bounded());
        var md0 = await skipping.SendAsync(new MetadataRequest { Topics = [] }, skipping.Versions.Choose(ApiKey.Metadata), Bounded());
        Assert.Equal(3, md0.Brokers.Count);
    }

    [Fact]
    public async Task A_500ms_latency_with_a_200ms_timeout_times_out_and_a_new_connection_recovers()
    {
        await using var kafka = await EmbeddedKafkaCluster.StartAsync();
        var broker = Broker(kafka, 1);
        await using var conn = await BrokerConnection.ConnectAsync(broker, Options(requestTimeoutMs: 200), "test", Bounded());
        kafka.PushBrokerRequestErrors(1, KafkaApiKeys.Metadata, [(0, 500)]);
        var sw = Stopwatch.StartNew();
        var e = await Assert.ThrowsAsync<KafkaRequestTimeoutException>(() => conn.SendAsync(new MetadataRequest { Topics = null }, Bounded()).AsTask());
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(2), $"timed out after {sw.Elapsed}");
        Assert.Contains("200 ms", e.Message);
        await conn.Completion.WaitAsync(TimeSpan.FromSeconds(5));

        await using var again = await BrokerConnection.ConnectAsync(broker, Options(requestTimeoutMs: 200), "test", Bounded());
        var md = await again.SendAsync(new MetadataRequest { Topics = null }, Bounded());
        Assert.Equal(3, md.Brokers.Count);
    }

    [Fact]
    public async Task The_mocks_reply_to_an_acks0_produce_is_dropped_quietly()
    {
        await using var kafka = await EmbeddedKafkaCluster.StartAsync();
        kafka.CreateTopic("acks0", 1, 1);
        await using var conn = await BrokerConnection.ConnectAsync(Broker(kafka, 1), Options(), "test", Bounded());
        var produce = new ProduceRequest { Acks = 0, TimeoutMs = 1000, TopicData = [] };
        for (var i = 0; i < 3; i++)
            await conn.SendWithoutReplyAsync(produce, conn.Versions.Choose(ApiKey.Produce, 3, 7), Bounded());
        var md = await conn.SendAsync(new MetadataRequest { Topics = null }, Bounded());
        Assert.Equal(3, md.Brokers.Count);
        Assert.True(conn.IsOpen);
    }

    [Fact]
    public async Task A_disconnect_injected_on_ApiVersions_is_asked_again_and_not_taken_for_an_old_broker()
    {
        await using var kafka = await EmbeddedKafkaCluster.StartAsync();
        kafka.PushRequestErrors(KafkaApiKeys.ApiVersions, EmbeddedKafkaCluster.DisconnectErrorCode);
        await using var conn = await BrokerConnection.ConnectAsync(Broker(kafka, 1), Options(), "test", Bounded());
        Assert.StartsWith("ApiVersions v", conn.Versions.Source);
        Assert.True(conn.Versions.Supports(ApiKey.Metadata));
        // With a fallback configured, a dropped ApiVersions is the configured release's (unchanged).
        kafka.PushRequestErrors(KafkaApiKeys.ApiVersions, EmbeddedKafkaCluster.DisconnectErrorCode);
        await using var pinned = await BrokerConnection.ConnectAsync(Broker(kafka, 1), Options() with { BrokerVersionFallback = "0.9.0" }, "test", Bounded());
        Assert.Equal("fallback 0.9.0", pinned.Versions.Source);
    }

    [Fact]
    public async Task Error_codes_injected_on_ApiVersions_are_classified()
    {
        await using var kafka = await EmbeddedKafkaCluster.StartAsync();
        // The mock answers a v3 request with 35 itself; the pushed error applies to the retried request.
        kafka.PushRequestErrors(KafkaApiKeys.ApiVersions, 7, 7);
        var transient = await Assert.ThrowsAsync<ApiVersionsException>(() => BrokerConnection.ConnectAsync(Broker(kafka, 1), Options(), "test", Bounded()));
        Assert.Equal(7, transient.ErrorCode);
        Assert.True(transient.IsRetriable);

        kafka.ClearRequestErrors(KafkaApiKeys.ApiVersions);
        kafka.PushRequestErrors(KafkaApiKeys.ApiVersions, 42, 42);
        var fatal = await Assert.ThrowsAsync<ApiVersionsException>(() => BrokerConnection.ConnectAsync(Broker(kafka, 1), Options(), "test", Bounded()));
        Assert.Equal(42, fatal.ErrorCode);
        Assert.False(fatal.IsRetriable);
        Assert.Contains("INVALID_REQUEST", fatal.Message);
    }
}
