using System.Buffers.Binary;
using Kiel.Network;
using Kiel.Protocol;

namespace Kiel.Tests.Network;

public sealed class BrokerConnectionTests
{
    private static readonly ApiKey Metadata = ApiKey.Metadata;

    private static ConnectionOptions Options(int requestTimeoutMs = 5000) => new()
    {
        ClientId = "test",
        ConnectTimeout = TimeSpan.FromSeconds(5),
        RequestTimeout = TimeSpan.FromMilliseconds(requestTimeoutMs),
    };

    /// <summary>A script that negotiates, then echoes each request body back under its correlation id.</summary>
    private static async Task EchoAsync(ScriptedConnection c)
    {
        if (await c.HandshakeAsync() is null) return;
        while (await c.ReadRequestAsync() is { } r)
            await c.RespondAsync(r.CorrelationId, r.Body);
    }

    private static CancellationToken Bounded(double seconds = 10) => new CancellationTokenSource(TimeSpan.FromSeconds(seconds)).Token;

    [Fact]
    public async Task Negotiates_ApiVersions_v3_with_client_software_name()
    {
        // The script stores the request after it has answered, so the client may be connected first: await it.
        var handshake = new TaskCompletionSource<ScriptedRequest?>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var broker = new ScriptedBroker(async c =>
        {
            handshake.TrySetResult(await c.HandshakeAsync());
            await c.WaitForClientCloseAsync(TimeSpan.FromSeconds(5));
        });
        await using var conn = await BrokerConnection.ConnectAsync(broker.Endpoint, Options(), "test", Bounded());
        var seen = await handshake.Task.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.NotNull(seen);
        Assert.Equal(3, seen.Version);
        Assert.Equal("test", seen.ClientId);
        var reader = new KafkaReader(seen.Body);
        Assert.Equal("kiel-dotnet", reader.ReadCompactString());
        Assert.False(string.IsNullOrEmpty(reader.ReadCompactString()));
        Assert.Equal(new ApiVersionRange(0, 12), conn.Versions.GetBrokerRange(Metadata));
        Assert.Equal(12, conn.Versions.Choose(Metadata));
        Assert.Equal(3, conn.Versions.Choose(ApiKey.Metadata, 0, 3));
        Assert.Equal("ApiVersions v3", conn.Versions.Source);
    }

    [Fact]
    public async Task Falls_back_to_the_brokers_ApiVersions_version_on_UNSUPPORTED_VERSION()
    {
        var versionsSeen = new List<short>();
        await using var broker = new ScriptedBroker(async c =>
        {
            var first = await c.ReadRequestAsync();
            versionsSeen.Add(first!.Version);
            await c.AnswerApiVersionsAsync(first, [(18, 0, 2)], errorCode: 35, encodeAsV0: true);
            var second = await c.ReadRequestAsync();
            versionsSeen.Add(second!.Version);
            await c.AnswerApiVersionsAsync(second, [(3, 0, 2), (18, 0, 2)]);
            await c.WaitForClientCloseAsync(TimeSpan.FromSeconds(5));
        });
        await using var conn = await BrokerConnection.ConnectAsync(broker.Endpoint, Options(), "test", Bounded());
        Assert.Equal([3, 2], versionsSeen);
        Assert.Equal(2, conn.Versions.Choose(Metadata));
        var e = Assert.Throws<UnsupportedVersionException>(() => conn.Versions.Choose(Metadata, 4, 12));
        Assert.Contains("Metadata", e.Message);
        Assert.Contains("v0-v2", e.Message);
        Assert.Contains("v4-v12", e.Message);
        Assert.Throws<UnsupportedVersionException>(() => conn.Versions.Choose(ApiKey.Fetch));
    }

    [Fact]
    public async Task Requests_round_trip_and_pipeline_up_to_max_in_flight()
    {
        var maxOutstanding = 0;
        await using var broker = new ScriptedBroker(async c =>
        {
            if (await c.HandshakeAsync() is null) return;
            var queue = new Queue<ScriptedRequest>();
            // Read until 5 are outstanding (or 300 ms pass with fewer), then answer them all.
            while (true)
            {
                var read = c.ReadRequestAsync();
                if (queue.Count > 0 && await Task.WhenAny(read, Task.Delay(300)) != read)
                {
                    while (queue.TryDequeue(out var q)) await c.RespondAsync(q.CorrelationId, q.Body);
                }
                var r = await read;
                if (r is null) return;
                queue.Enqueue(r);
                maxOutstanding = Math.Max(maxOutstanding, queue.Count);
                if (queue.Count >= 5)
                    while (queue.TryDequeue(out var q)) await c.RespondAsync(q.CorrelationId, q.Body);
            }
        });
        await using var conn = await BrokerConnection.ConnectAsync(broker.Endpoint, Options(), "test", Bounded());
        var tasks = Enumerable.Range(0, 20).Select(i => conn.SendAsync(new TestRequest(Metadata, BitConverter.GetBytes(i)), 0, Bounded()).AsTask()).ToArray();
        var results = await Task.WhenAll(tasks);
        for (var i = 0; i < 20; i++) Assert.Equal(i, BitConverter.ToInt32(results[i].Body));
        Assert.Equal(5, maxOutstanding);
    }

    [Fact]
    public async Task Correlation_ids_wrap_after_int_MaxValue()
    {
        var ids = new List<int>();
        await using var broker = new ScriptedBroker(async c =>
        {
            var hs = await c.HandshakeAsync();
            ids.Add(hs!.CorrelationId);
            while (await c.ReadRequestAsync() is { } r)
            {
                ids.Add(r.CorrelationId);
                await c.RespondAsync(r.CorrelationId, r.Body);
            }
        });
        var options = Options() with { InitialCorrelationId = int.MaxValue - 2 };
        await using var conn = await BrokerConnection.ConnectAsync(broker.Endpoint, options, "test", Bounded());
        for (var i = 0; i < 4; i++)
            await conn.SendAsync(new TestRequest(Metadata, [(byte)i]), 0, Bounded());
        Assert.Equal([int.MaxValue - 2, int.MaxValue - 1, int.MaxValue, 0, 1], ids);
    }

    [Fact]
    public async Task Garbage_from_the_broker_fails_the_request_and_closes_the_socket()
    {
        await using var broker = new ScriptedBroker(async c =>
        {
            if (await c.HandshakeAsync() is null) return;
            await c.ReadRequestAsync();
            await c.WriteRawAsync([0xDE, 0xAD, 0xBE, 0xEF, 1, 2, 3, 4, 5, 6, 7, 8]);
            await c.WaitForClientCloseAsync(TimeSpan.FromSeconds(5));
        });
        await using var conn = await BrokerConnection.ConnectAsync(broker.Endpoint, Options(), "test", Bounded());
        var e = await Assert.ThrowsAsync<KafkaConnectionException>(() => conn.SendAsync(new TestRequest(Metadata), 0, Bounded()).AsTask());
        Assert.Contains("frame size", e.Message);
        Assert.Contains("127.0.0.1", e.Message);
        Assert.True(e.IsRetriable);
        Assert.False(conn.IsOpen);
        await broker.ClientClosed.Task.WaitAsync(TimeSpan.FromSeconds(5));
    }

    [Fact]
    public async Task A_200MB_frame_that_ends_after_a_few_bytes_costs_what_was_sent_not_what_was_claimed()
    {
        // Within MaxResponseSize (256 MiB), so the prefix is taken at its word until the bytes stop coming.
        await using var broker = new ScriptedBroker(async c =>
        {
            if (await c.HandshakeAsync() is null) return;
            var r = await c.ReadRequestAsync();
            var prefix = new byte[4096];
            BinaryPrimitives.WriteInt32BigEndian(prefix, 200 * 1024 * 1024);
            BinaryPrimitives.WriteInt32BigEndian(prefix.AsSpan(4), r!.CorrelationId);
            await c.WriteRawAsync(prefix);
            c.Close();
        });
        await using var conn = await BrokerConnection.ConnectAsync(broker.Endpoint, Options(), "test", Bounded());
        var before = GC.GetTotalAllocatedBytes(precise: true);
        var e = await Assert.ThrowsAsync<KafkaConnectionException>(() => conn.SendAsync(new TestRequest(Metadata), 0, Bounded()).AsTask());
        Assert.Contains("in the middle of a 209715200-byte response", e.Message);
        var allocated = GC.GetTotalAllocatedBytes(precise: true) - before;
        Assert.True(allocated < 32 * 1024 * 1024, $"allocated {allocated} bytes for a response that sent 4 KiB");
        Assert.False(conn.IsOpen);
    }

    [Fact]
    public async Task A_2GB_frame_size_is_refused_without_allocating_it()
    {
        await using var broker = new ScriptedBroker(async c =>
        {
            if (await c.HandshakeAsync() is null) return;
            var r = await c.ReadRequestAsync();
            var prefix = new byte[8];
            BinaryPrimitives.WriteInt32BigEndian(prefix, int.MaxValue);
            BinaryPrimitives.WriteInt32BigEndian(prefix.AsSpan(4), r!.CorrelationId);
            await c.WriteRawAsync(prefix);
            await c.WaitForClientCloseAsync(TimeSpan.FromSeconds(5));
        });
        await using var conn = await BrokerConnection.ConnectAsync(broker.Endpoint, Options(), "test", Bounded());
        var before = GC.GetTotalAllocatedBytes(precise: true);
        var e = await Assert.ThrowsAsync<KafkaConnectionException>(() => conn.SendAsync(new TestRequest(Metadata), 0, Bounded()).AsTask());
        Assert.Contains("2147483647", e.Message);
        Assert.Contains("MaxResponseSize", e.Message);
        Assert.True(GC.GetTotalAllocatedBytes(precise: true) - before < 64 * 1024 * 1024, "the hostile size must not be allocated");
        await broker.ClientClosed.Task.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.False(conn.IsOpen);
    }

    [Fact]
    public async Task An_unknown_correlation_id_closes_the_connection_with_a_clear_error()
    {
        await using var broker = new ScriptedBroker(async c =>
        {
            if (await c.HandshakeAsync() is null) return;
            var r = await c.ReadRequestAsync();
            await c.RespondAsync(r!.CorrelationId + 1000, [1, 2, 3]);
            await c.WaitForClientCloseAsync(TimeSpan.FromSeconds(5));
        });
        await using var conn = await BrokerConnection.ConnectAsync(broker.Endpoint, Options(), "test", Bounded());
        var e = await Assert.ThrowsAsync<KafkaConnectionException>(() => conn.SendAsync(new TestRequest(Metadata), 0, Bounded()).AsTask());
        Assert.Contains("correlation id", e.Message);
        Assert.Contains("matches no request", e.Message);
        await broker.ClientClosed.Task.WaitAsync(TimeSpan.FromSeconds(5));
        await conn.Completion.WaitAsync(TimeSpan.FromSeconds(5));
    }

    [Fact]
    public async Task A_close_in_the_middle_of_a_frame_fails_cleanly()
    {
        await using var broker = new ScriptedBroker(async c =>
        {
            if (await c.HandshakeAsync() is null) return;
            var r = await c.ReadRequestAsync();
            var partial = new byte[10];
            BinaryPrimitives.WriteInt32BigEndian(partial, 100);
            BinaryPrimitives.WriteInt32BigEndian(partial.AsSpan(4), r!.CorrelationId);
            await c.WriteRawAsync(partial);
            c.Close();
        });
        await using var conn = await BrokerConnection.ConnectAsync(broker.Endpoint, Options(), "test", Bounded());
        var e = await Assert.ThrowsAsync<KafkaConnectionException>(() => conn.SendAsync(new TestRequest(Metadata), 0, Bounded()).AsTask());
        Assert.Contains("middle of a 100-byte response", e.Message);
        await conn.Completion.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.False(conn.IsOpen);
    }

    [Fact]
    public async Task A_broker_that_never_answers_times_out_and_the_socket_is_closed()
    {
        await using var broker = new ScriptedBroker(async c =>
        {
            if (await c.HandshakeAsync() is null) return;
            await c.ReadRequestAsync();
            await c.WaitForClientCloseAsync(TimeSpan.FromSeconds(5));
        });
        await using var conn = await BrokerConnection.ConnectAsync(broker.Endpoint, Options(requestTimeoutMs: 300), "test", Bounded());
        var e = await Assert.ThrowsAsync<KafkaRequestTimeoutException>(() => conn.SendAsync(new TestRequest(Metadata), 0, Bounded()).AsTask());
        Assert.Contains("300 ms", e.Message);
        Assert.True(e.IsRetriable);
        await broker.ClientClosed.Task.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.False(conn.IsOpen);
    }

    [Fact]
    public async Task A_broken_connection_fails_every_request_in_flight_and_queued_at_once()
    {
        var received = 0;
        var allIn = new TaskCompletionSource();
        await using var broker = new ScriptedBroker(async c =>
        {
            if (await c.HandshakeAsync() is null) return;
            while (await c.ReadRequestAsync() is not null)
                if (Interlocked.Increment(ref received) == 5) { allIn.TrySetResult(); break; }
            await allIn.Task;
            c.Close();
        });
        await using var conn = await BrokerConnection.ConnectAsync(broker.Endpoint, Options(requestTimeoutMs: 30_000), "test", Bounded());
        var tasks = Enumerable.Range(0, 12).Select(_ => conn.SendAsync(new TestRequest(Metadata), 0, Bounded(30)).AsTask()).ToArray();
        await allIn.Task.WaitAsync(TimeSpan.FromSeconds(5));
        var all = Task.WhenAll(tasks);
        await Assert.ThrowsAnyAsync<Exception>(() => all.WaitAsync(TimeSpan.FromSeconds(5)));
        foreach (var t in tasks)
        {
            var e = Assert.IsType<KafkaConnectionException>(t.Exception!.InnerException);
            Assert.Equal(broker.Port, e.Broker.Port);
            Assert.True(e.IsRetriable);
        }
        var after = await Assert.ThrowsAsync<KafkaConnectionException>(() => conn.SendAsync(new TestRequest(Metadata), 0).AsTask());
        Assert.Contains("closed", after.Message);
    }

    [Fact]
    public async Task A_no_reply_request_completes_when_written_and_a_stray_reply_is_dropped()
    {
        await using var broker = new ScriptedBroker(async c =>
        {
            if (await c.HandshakeAsync() is null) return;
            // Like the librdkafka mock, answer the acks=0 request anyway, then echo the next one.
            var noReply = await c.ReadRequestAsync();
            await c.RespondAsync(noReply!.CorrelationId, [9, 9]);
            while (await c.ReadRequestAsync() is { } r) await c.RespondAsync(r.CorrelationId, r.Body);
        });
        await using var conn = await BrokerConnection.ConnectAsync(broker.Endpoint, Options(), "test", Bounded());
        await conn.SendWithoutReplyAsync(new TestRequest(ApiKey.Produce, [1]), 0, Bounded());
        var reply = await conn.SendAsync(new TestRequest(Metadata, [7]), 0, Bounded());
        Assert.Equal([7], reply.Body);
        Assert.True(conn.IsOpen);
    }

    [Fact]
    public async Task A_silent_no_reply_request_leaves_the_connection_usable()
    {
        await using var broker = new ScriptedBroker(async c =>
        {
            if (await c.HandshakeAsync() is null) return;
            await c.ReadRequestAsync(); // a real broker never answers acks=0
            while (await c.ReadRequestAsync() is { } r) await c.RespondAsync(r.CorrelationId, r.Body);
        });
        await using var conn = await BrokerConnection.ConnectAsync(broker.Endpoint, Options(requestTimeoutMs: 2000), "test", Bounded());
        await conn.SendWithoutReplyAsync(new TestRequest(ApiKey.Produce, [1]), 0, Bounded());
        var reply = await conn.SendAsync(new TestRequest(Metadata, [5]), 0, Bounded());
        Assert.Equal([5], reply.Body);
        Assert.Equal(0, conn.InFlightCount);
    }

    [Fact]
    public async Task Flexible_responses_skip_the_header_tagged_fields()
    {
        await using var broker = new ScriptedBroker(async c =>
        {
            if (await c.HandshakeAsync() is null) return;
            var r = await c.ReadRequestAsync();
            Assert.Equal(9, r!.Version);
            await c.RespondAsync(r.CorrelationId, [4, 2], headerV1: true);
            await c.WaitForClientCloseAsync(TimeSpan.FromSeconds(5));
        });
        await using var conn = await BrokerConnection.ConnectAsync(broker.Endpoint, Options(), "test", Bounded());
        using var frame = await conn.SendRawAsync(new TestRequest(Metadata), 9, Bounded());
        Assert.Equal([4, 2], frame.Body.ToArray());
        Assert.Equal(9, frame.Version);
    }

    [Fact]
    public async Task A_broker_that_closes_on_ApiVersions_uses_the_configured_fallback()
    {
        await using var broker = new ScriptedBroker(async c =>
        {
            var r = await c.ReadRequestAsync();
            if (r is null) return;
            if (r.ApiKey == 18) { c.Close(); return; } // a 0.8/0.9 broker drops unknown APIs
            do await c.RespondAsync(r!.CorrelationId, r.Body);
            while ((r = await c.ReadRequestAsync()) is not null);
        });
        await using var conn = await BrokerConnection.ConnectAsync(broker.Endpoint, Options() with { BrokerVersionFallback = "0.9.0" }, "test", Bounded());
        Assert.Equal("fallback 0.9.0", conn.Versions.Source);
        Assert.Equal(1, conn.Versions.Choose(ApiKey.Produce));
        Assert.Equal(0, conn.Versions.Choose(Metadata));
        var reply = await conn.SendAsync(new TestRequest(Metadata, [3]), conn.Versions.Choose(Metadata), Bounded());
        Assert.Equal([3], reply.Body);
    }

    [Fact]
    public async Task A_fallback_profile_skips_ApiVersions_entirely()
    {
        var keys = new List<short>();
        await using var broker = new ScriptedBroker(async c =>
        {
            while (await c.ReadRequestAsync() is { } r)
            {
                keys.Add(r.ApiKey);
                await c.RespondAsync(r.CorrelationId, r.Body);
            }
        });
        var options = Options() with { ApiVersionRequest = false, BrokerVersionFallback = "0.8.2" };
        await using var conn = await BrokerConnection.ConnectAsync(broker.Endpoint, options, "test", Bounded());
        await conn.SendAsync(new TestRequest(Metadata, [1]), 0, Bounded());
        Assert.Equal([(short)3], keys);
        Assert.Equal(1, conn.Versions.Choose((ApiKey)8)); // OffsetCommit v1 in 0.8.2
    }

    [Fact]
    public async Task A_silent_broker_with_a_fallback_is_given_the_fallback_after_the_connect_timeout()
    {
        await using var broker = new ScriptedBroker(async c =>
        {
            var r = await c.ReadRequestAsync();
            if (r is null || r.ApiKey == 18) { await c.WaitForClientCloseAsync(TimeSpan.FromSeconds(5)); return; }
            do await c.RespondAsync(r!.CorrelationId, r.Body);
            while ((r = await c.ReadRequestAsync()) is not null);
        });
        var options = Options() with { ConnectTimeout = TimeSpan.FromMilliseconds(400), BrokerVersionFallback = "0.9" };
        await using var conn = await BrokerConnection.ConnectAsync(broker.Endpoint, options, "test", Bounded());
        Assert.Equal("fallback 0.9", conn.Versions.Source);
        // The fallback reconnects (the first socket timed out); the server may see the accept a moment later.
        for (var i = 0; i < 100 && broker.Accepted < 2; i++) await Task.Delay(20);
        Assert.Equal(2, broker.Accepted);
    }

    [Fact]
    public async Task Connecting_to_a_closed_port_fails_with_a_connection_error_naming_the_broker()
    {
        var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        var port = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        var e = await Assert.ThrowsAsync<KafkaConnectionException>(() => BrokerConnection.ConnectAsync(new BrokerEndpoint(7, "127.0.0.1", port), Options(), "test", Bounded()));
        Assert.Contains($"127.0.0.1:{port} (broker 7)", e.Message);
        Assert.True(e.IsRetriable);
    }

    [Fact]
    public async Task An_idle_connection_is_closed()
    {
        await using var broker = new ScriptedBroker(async c =>
        {
            if (await c.HandshakeAsync() is null) return;
            await c.WaitForClientCloseAsync(TimeSpan.FromSeconds(5));
        });
        var options = Options() with { IdleTimeout = TimeSpan.FromMilliseconds(200), RequestTimeout = TimeSpan.FromMilliseconds(500) };
        await using var conn = await BrokerConnection.ConnectAsync(broker.Endpoint, options, "test", Bounded());
        await conn.Completion.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Contains("idle", conn.CloseReason!.Message);
        await broker.ClientClosed.Task.WaitAsync(TimeSpan.FromSeconds(5));
    }

    [Fact]
    public async Task Cancelling_a_wait_keeps_the_connection_and_drops_the_late_reply()
    {
        var release = new TaskCompletionSource();
        var firstRead = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var broker = new ScriptedBroker(async c =>
        {
            if (await c.HandshakeAsync() is null) return;
            var first = await c.ReadRequestAsync();
            firstRead.TrySetResult();
            await release.Task;
            await c.RespondAsync(first!.CorrelationId, [1]);
            while (await c.ReadRequestAsync() is { } r) await c.RespondAsync(r.CorrelationId, r.Body);
        });
        await using var conn = await BrokerConnection.ConnectAsync(broker.Endpoint, Options(), "test", Bounded());
        using var cts = new CancellationTokenSource();
        var waiting = conn.SendAsync(new TestRequest(Metadata), 0, cts.Token).AsTask();
        // Cancel only once the broker holds the request: a wait cancelled before its request was written sends nothing
        // (seen on a busy machine, where a 100 ms timer fired first and the broker then answered the second request with [1]).
        await firstRead.Task.WaitAsync(Eventually.Deadline);
        cts.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting);
        release.SetResult();
        var reply = await conn.SendAsync(new TestRequest(Metadata, [2]), 0, Bounded());
        Assert.Equal([2], reply.Body);
        Assert.True(conn.IsOpen);
    }

    [Fact]
    public async Task Answered_requests_and_read_frames_are_reused_and_abandoned_requests_are_not()
    {
        var release = new TaskCompletionSource();
        var held = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var broker = new ScriptedBroker(async c =>
        {
            if (await c.HandshakeAsync() is null) return;
            while (await c.ReadRequestAsync() is { } r)
            {
                if (r.Body.Length > 0 && r.Body[0] == 9)
                {
                    // Held until the client has given up waiting, then answered anyway.
                    held.TrySetResult();
                    await release.Task;
                }
                await c.RespondAsync(r.CorrelationId, r.Body);
            }
        });
        await using var conn = await BrokerConnection.ConnectAsync(broker.Endpoint, Options(), "test", Bounded());
        // The handshake's frame was disposed, not recycled; its request was reused.
        var (requests, frames) = conn.PooledExchangeObjects;
        Assert.True(requests <= 1 && frames == 0, $"after the handshake: {requests} request(s), {frames} frame(s) pooled");

        // Round trips one after another take the same request and frame back each time (the pools do not grow).
        for (byte i = 0; i < 3; i++)
        {
            var reply = await conn.SendAsync(new TestRequest(Metadata, [i]), 0, Bounded());
            Assert.Equal([i], reply.Body);
        }
        Assert.Equal((1, 1), conn.PooledExchangeObjects);

        // A request whose caller gave up stays in the connection's table until its reply: it is never reused, and
        // the late reply's frame goes back to the pool unread.
        using var cts = new CancellationTokenSource();
        var waiting = conn.SendAsync(new TestRequest(Metadata, [9]), 0, cts.Token).AsTask();
        await held.Task.WaitAsync(Eventually.Deadline);
        Assert.Equal((0, 1), conn.PooledExchangeObjects);
        cts.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting);
        release.SetResult();
        Assert.True(await WaitUntilAsync(() => conn.InFlightCount == 0, TimeSpan.FromSeconds(10)));
        Assert.Equal((0, 1), conn.PooledExchangeObjects);

        // The next request is a new one, and it answers its own caller.
        var next = await conn.SendAsync(new TestRequest(Metadata, [7]), 0, Bounded());
        Assert.Equal([7], next.Body);
        Assert.Equal((1, 1), conn.PooledExchangeObjects);
    }

    [Fact]
    public async Task An_UNSUPPORTED_VERSION_reply_whose_list_is_unreadable_retries_at_v0()
    {
        var versionsSeen = new List<short>();
        await using var broker = new ScriptedBroker(async c =>
        {
            var first = await c.ReadRequestAsync();
            versionsSeen.Add(first!.Version);
            // What the librdkafka mock sends: error 35, a one-byte count, one entry, a throttle time.
            await c.RespondAsync(first.CorrelationId, [0, 35, 1, 0, 18, 0, 0, 0, 2, 0, 0, 0, 0]);
            var second = await c.ReadRequestAsync();
            versionsSeen.Add(second!.Version);
            await c.AnswerApiVersionsAsync(second, [(3, 0, 5), (18, 0, 2)]);
            await c.WaitForClientCloseAsync(TimeSpan.FromSeconds(5));
        });
        await using var conn = await BrokerConnection.ConnectAsync(broker.Endpoint, Options(), "test", Bounded());
        Assert.Equal([3, 0], versionsSeen);
        Assert.Equal(5, conn.Versions.Choose(Metadata));
    }

    [Fact]
    public async Task Many_concurrent_requests_with_random_cancellation_all_end()
    {
        await using var broker = new ScriptedBroker(async c =>
        {
            if (await c.HandshakeAsync() is null) return;
            var random = new Random(7);
            while (await c.ReadRequestAsync() is { } r)
            {
                if (random.Next(4) == 0) await Task.Delay(random.Next(3));
                await c.RespondAsync(r.CorrelationId, r.Body);
            }
        });
        await using var conn = await BrokerConnection.ConnectAsync(broker.Endpoint, Options(requestTimeoutMs: 10_000), "test", Bounded());
        var random = new Random(11);
        var tasks = new List<Task<int>>();
        var sources = new List<CancellationTokenSource>();
        for (var i = 0; i < 400; i++)
        {
            var cts = new CancellationTokenSource();
            sources.Add(cts);
            if (random.Next(3) == 0) cts.CancelAfter(random.Next(0, 20));
            var payload = BitConverter.GetBytes(i);
            tasks.Add(Task.Run(async () =>
            {
                try
                {
                    var reply = await conn.SendAsync(new TestRequest(Metadata, payload), 0, cts.Token);
                    Assert.Equal(payload, reply.Body);
                    return 1;
                }
                catch (OperationCanceledException)
                {
                    return 0;
                }
            }));
        }
        var results = await Task.WhenAll(tasks).WaitAsync(TimeSpan.FromSeconds(30));
        Assert.True(results.Sum() > 0);
        Assert.True(conn.IsOpen);
        Assert.True(await WaitUntilAsync(() => conn.InFlightCount == 0, TimeSpan.FromSeconds(5)));
        var last = await conn.SendAsync(new TestRequest(Metadata, [1]), 0, Bounded());
        Assert.Equal([1], last.Body);
        foreach (var cts in sources) cts.Dispose();
    }

    [Fact]
    public async Task A_fetch_answers_frame_goes_back_to_the_pool_once_when_its_view_is_disposed()
    {
        await using var broker = new ScriptedBroker(EchoAsync);
        await using var conn = await BrokerConnection.ConnectAsync(broker.Endpoint, Options(), "test", Bounded());
        var frame = await conn.SendRawAsync(new TestRequest(ApiKey.Fetch, [5]), 0, Bounded());
        Assert.Equal(0, conn.PooledExchangeObjects.Frames);
        var view = new Kiel.Consuming.FetchResponseView(0, 0, 0, [], frame);

        view.Dispose();
        Assert.Equal(1, conn.PooledExchangeObjects.Frames);
        Assert.Throws<ObjectDisposedException>(() => frame.Body);
        view.Dispose(); // a second release (the lease's and a direct one) does not return it twice
        Assert.Equal(1, conn.PooledExchangeObjects.Frames);
    }

    [Fact]
    public async Task Reused_requests_answer_only_their_own_callers_when_cancellations_race_the_replies()
    {
        // Eight callers in a row each, every wait cancelled at a random moment around its reply: a request reused while
        // a cancellation or a late reply could still reach it would hand one caller another's answer.
        await using var broker = new ScriptedBroker(async c =>
        {
            if (await c.HandshakeAsync() is null) return;
            while (await c.ReadRequestAsync() is { } r) await c.RespondAsync(r.CorrelationId, r.Body);
        });
        await using var conn = await BrokerConnection.ConnectAsync(broker.Endpoint, Options(requestTimeoutMs: 10_000), "test", Bounded());
        var answered = 0;
        var cancelled = 0;
        var callers = Enumerable.Range(0, 8).Select(caller => Task.Run(async () =>
        {
            var random = new Random(caller);
            for (var i = 0; i < 250; i++)
            {
                var payload = BitConverter.GetBytes(caller * 1000 + i);
                using var cts = new CancellationTokenSource();
                var cancel = random.Next(4) switch
                {
                    0 => Task.CompletedTask,
                    1 => Task.Run(cts.Cancel),
                    2 => Task.Run(async () => { await Task.Yield(); cts.Cancel(); }),
                    _ => Task.Run(() => { Thread.SpinWait(random.Next(20_000)); cts.Cancel(); }),
                };
                try
                {
                    var reply = await conn.SendAsync(new TestRequest(Metadata, payload), 0, cts.Token);
                    Assert.Equal(payload, reply.Body);
                    Interlocked.Increment(ref answered);
                }
                catch (OperationCanceledException)
                {
                    Interlocked.Increment(ref cancelled);
                }
                await cancel;
            }
        })).ToArray();
        await Task.WhenAll(callers).WaitAsync(TimeSpan.FromSeconds(60));
        Assert.Equal(2000, answered + cancelled);
        Assert.True(answered > 0, "no request was answered");
        Assert.True(conn.IsOpen);
        Assert.True(await WaitUntilAsync(() => conn.InFlightCount == 0, TimeSpan.FromSeconds(10)));
        var last = await conn.SendAsync(new TestRequest(Metadata, [1]), 0, Bounded());
        Assert.Equal([1], last.Body);
    }

    private static async Task<bool> WaitUntilAsync(Func<bool> condition, TimeSpan timeout)
    {
        var sw = System.Diagnostics.Stopwatch.StartNew();
        while (!condition())
        {
            if (sw.Elapsed > timeout) return false;
            await Task.Delay(10);
        }
        return true;
    }
}
