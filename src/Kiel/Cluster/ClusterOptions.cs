using Kiel.Network;
using Microsoft.Extensions.Logging;

namespace Kiel.Cluster;

/// <summary>Settings of a <see cref="KafkaCluster"/>: where to bootstrap, timeouts, metadata age, backoff and connections.</summary>
internal sealed record ClusterOptions
{
    /// <summary>Creates options with no bootstrap brokers; set <see cref="BootstrapServers"/>.</summary>
    public ClusterOptions() { }

    /// <summary>Creates options from kiel's <c>brokers</c> list: <c>host</c> or <c>host:port</c> (default port 9092), tried in order.</summary>
    public ClusterOptions(params IEnumerable<string> brokers) => BootstrapServers = [.. brokers];

    /// <summary>Parses a comma-separated list such as <c>kafka1:9092,kafka2:9092</c>.</summary>
    public static ClusterOptions FromBootstrapString(string servers) =>
        new(servers.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));

    /// <summary>Bootstrap addresses, <c>host</c> or <c>host:port</c> (default port 9092), tried in order. Required.</summary>
    public IReadOnlyList<string> BootstrapServers { get; init; } = [];

    /// <summary>The client id sent with every request. Default <c>kiel</c>.</summary>
    public string ClientId { get; init; } = "kiel";

    /// <summary>How long a request may wait for its response. Default 30 s.</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>How long a connect plus version negotiation may take. Default 10 s.</summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Metadata older than this is refreshed. Default 5 minutes.</summary>
    public TimeSpan MetadataMaxAge { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>Retry budget and backoff of every request-with-retry. Default 10 attempts, 100 ms doubling to 1 s, ±20% jitter.</summary>
    public RetryPolicy Retry { get; init; } = new();

    /// <summary>Backoff between attempts to reconnect to one broker. Default 50 ms doubling to 1 s, ±20% jitter.</summary>
    public RetryPolicy ReconnectBackoff { get; init; } = new() { Backoff = TimeSpan.FromMilliseconds(50), BackoffMax = TimeSpan.FromSeconds(1) };

    /// <summary>Most requests in flight per connection. Default 5.</summary>
    public int MaxInFlight { get; init; } = 5;

    /// <summary>The largest response accepted. Default 256 MiB.</summary>
    public int MaxResponseSize { get; init; } = 256 * 1024 * 1024;

    /// <summary>Idle connections are closed after this. Default 9 minutes.</summary>
    public TimeSpan IdleTimeout { get; init; } = TimeSpan.FromMinutes(9);

    /// <summary>Ask brokers for their versions (ApiVersions). Default true.</summary>
    public bool ApiVersionRequest { get; init; } = true;

    /// <summary>The Kafka release to assume for brokers that do not answer ApiVersions (0.8.x, 0.9.x), such as <c>0.9.0</c>. Default none.</summary>
    public string? BrokerVersionFallback { get; init; }

    /// <summary>Let Metadata requests for unknown topics create them (Metadata v4+; older versions always may). Default false.</summary>
    public bool AllowAutoTopicCreation { get; init; }

    /// <summary>Where logs go. Default none.</summary>
    public ILoggerFactory? LoggerFactory { get; init; }

    /// <summary>The clock. Default <see cref="TimeProvider.System"/>.</summary>
    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;

    /// <summary>Checks every setting and throws an <see cref="ArgumentException"/> that says what is wrong and how to fix it.</summary>
    public ClusterOptions Validate()
    {
        static void Fail(string name, string problem) => throw new ArgumentException($"ClusterOptions.{name} {problem}", name);
        if (BootstrapServers is null || BootstrapServers.Count == 0)
            Fail(nameof(BootstrapServers), "is empty; give at least one broker as host or host:port, for example \"localhost:9092\".");
        foreach (var address in BootstrapServers!)
            if (!BrokerEndpoint.TryParse(address, out _, out _, out var problem))
                Fail(nameof(BootstrapServers), $"has '{address}', which is not host or host:port: {problem}.");
        if (MetadataMaxAge <= TimeSpan.Zero) Fail(nameof(MetadataMaxAge), $"is {MetadataMaxAge}; it must be positive (default 5 minutes).");
        if (Retry is null) Fail(nameof(Retry), "must not be null.");
        if (ReconnectBackoff is null) Fail(nameof(ReconnectBackoff), "must not be null.");
        Retry!.Validate("ClusterOptions.Retry");
        ReconnectBackoff!.Validate("ClusterOptions.ReconnectBackoff");
        ToConnectionOptions().Validate();
        return this;
    }

    /// <summary>The settings each connection of the cluster gets.</summary>
    public ConnectionOptions ToConnectionOptions() => new()
    {
        ClientId = ClientId,
        ConnectTimeout = ConnectTimeout,
        RequestTimeout = RequestTimeout,
        MaxInFlight = MaxInFlight,
        MaxResponseSize = MaxResponseSize,
        IdleTimeout = IdleTimeout,
        ApiVersionRequest = ApiVersionRequest,
        BrokerVersionFallback = BrokerVersionFallback,
        LoggerFactory = LoggerFactory,
        TimeProvider = TimeProvider,
        TransportFactory = TransportFactory,
        Security = Security,
    };

    /// <summary>TLS and SASL for every connection, or null (default) for plaintext.</summary>
    public Kiel.Security.ConnectionSecurity? Security { get; init; }

    /// <summary>
    /// Opens the stream of each connection; null (default) is plain TCP. The seam where TLS slots in, and where tests
    /// put in-memory or counting streams.
    /// </summary>
    internal IConnectionTransportFactory? TransportFactory { get; init; }
}
