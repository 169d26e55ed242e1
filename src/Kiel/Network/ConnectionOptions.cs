using System.Text.RegularExpressions;
using Microsoft.Extensions.Logging;

namespace Kiel.Network;

/// <summary>Settings of one broker connection. <c>ClusterOptions</c> derives them for every connection it opens.</summary>
internal partial record ConnectionOptions
{
    /// <summary>The client id sent in every request header. Default <c>kiel</c>.</summary>
    public string ClientId { get; init; } = "kiel";

    /// <summary>How long a TCP connect plus the ApiVersions exchange may take. Default 10 s.</summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>How long a request may wait for its response (and for a free in-flight slot). Default 30 s.</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Most requests written and not yet answered on one connection. Default 5.</summary>
    public int MaxInFlight { get; init; } = 5;

    /// <summary>The largest response frame accepted; a bigger size prefix closes the connection. Default 256 MiB.</summary>
    public int MaxResponseSize { get; init; } = 256 * 1024 * 1024;

    /// <summary>A connection with nothing in flight for this long is closed. Default 9 minutes; <see cref="Timeout.InfiniteTimeSpan"/> never.</summary>
    public TimeSpan IdleTimeout { get; init; } = TimeSpan.FromMinutes(9);

    /// <summary>Ask the broker for its versions at connect (ApiVersions). Default true. When false, <see cref="BrokerVersionFallback"/> must be set.</summary>
    public bool ApiVersionRequest { get; init; } = true;

    /// <summary>
    /// The Kafka release to assume when a broker does not answer ApiVersions (0.8.x and 0.9.x brokers), for
    /// example <c>0.9.0</c> or <c>0.8.2</c>. Null (default): a broker that closes the connection on ApiVersions or
    /// refuses even v0 is probed once, and is taken for 0.9.0 (it knows the group APIs) or 0.8.2 (it does not).
    /// </summary>
    public string? BrokerVersionFallback { get; init; }

    /// <summary>The releases detected so far per broker, shared by a cluster's connections so each is logged once. Null: log every detection.</summary>
    internal DetectedBrokerReleases? DetectedReleases { get; init; }

    /// <summary>Client software name sent with ApiVersions v3+. Default <c>kiel-dotnet</c>.</summary>
    public string ClientSoftwareName { get; init; } = "kiel-dotnet";

    /// <summary>Client software version sent with ApiVersions v3+. Default the library version.</summary>
    public string ClientSoftwareVersion { get; init; } = Diagnostics.KielDiagnostics.Version;

    /// <summary>Socket send and receive buffer sizes in bytes; 0 leaves the system default. Default 0.</summary>
    public int SocketBufferSize { get; init; }

    /// <summary>Where logs go. Default none.</summary>
    public ILoggerFactory? LoggerFactory { get; init; }

    /// <summary>The clock for timeouts; tests may pass a fake one. Default <see cref="TimeProvider.System"/>.</summary>
    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;

    /// <summary>
    /// Opens the stream a connection runs over. Null (default): a TCP socket (<see cref="SocketTransportFactory"/>).
    /// The seam for TLS (an <c>SslStream</c> over the socket's stream) and for tests (in-memory streams).
    /// </summary>
    internal IConnectionTransportFactory? TransportFactory { get; init; }

    /// <summary>The first correlation id (tests start near <see cref="int.MaxValue"/> to check wrapping).</summary>
    internal int InitialCorrelationId { get; init; }

    [GeneratedRegex("^[a-zA-Z0-9](?:[a-zA-Z0-9\\-.]*[a-zA-Z0-9])?$")]
    private static partial Regex SoftwarePattern();

    /// <summary>Checks every setting and throws an <see cref="ArgumentException"/> that says what is wrong and how to fix it.</summary>
    public ConnectionOptions Validate()
    {
        static void Fail(string name, string problem) => throw new ArgumentException($"ConnectionOptions.{name} {problem}", name);
        if (ClientId is null) Fail(nameof(ClientId), "must not be null; use an empty string for none.");
        if (System.Text.Encoding.UTF8.GetByteCount(ClientId!) > short.MaxValue) Fail(nameof(ClientId), "is longer than 32767 UTF-8 bytes.");
        if (ConnectTimeout <= TimeSpan.Zero) Fail(nameof(ConnectTimeout), $"is {ConnectTimeout}; it must be positive (for example 10 s).");
        if (RequestTimeout <= TimeSpan.Zero) Fail(nameof(RequestTimeout), $"is {RequestTimeout}; it must be positive (for example 30 s).");
        if (MaxInFlight is < 1 or > 1000) Fail(nameof(MaxInFlight), $"is {MaxInFlight}; it must be from 1 to 1000 (default 5).");
        if (MaxResponseSize < 1024) Fail(nameof(MaxResponseSize), $"is {MaxResponseSize}; it must be at least 1024 bytes (default 256 MiB).");
        if (IdleTimeout <= TimeSpan.Zero && IdleTimeout != Timeout.InfiniteTimeSpan) Fail(nameof(IdleTimeout), $"is {IdleTimeout}; it must be positive or Timeout.InfiniteTimeSpan.");
        if (BrokerVersionFallback is not null && !Network.BrokerVersionFallback.TryGet(BrokerVersionFallback, out _))
            Fail(nameof(BrokerVersionFallback), $"'{BrokerVersionFallback}' is not a known Kafka release; use one of {string.Join(", ", Network.BrokerVersionFallback.KnownReleases)}.");
        if (!ApiVersionRequest && BrokerVersionFallback is null)
            Fail(nameof(BrokerVersionFallback), "must be set (for example \"0.9.0\") when ApiVersionRequest is false, since the broker's versions cannot be learned any other way.");
        if (!SoftwarePattern().IsMatch(ClientSoftwareName ?? "")) Fail(nameof(ClientSoftwareName), $"'{ClientSoftwareName}' must match [a-zA-Z0-9](?:[a-zA-Z0-9-.]*[a-zA-Z0-9])? or brokers reject ApiVersions.");
        if (!SoftwarePattern().IsMatch(ClientSoftwareVersion ?? "")) Fail(nameof(ClientSoftwareVersion), $"'{ClientSoftwareVersion}' must match [a-zA-Z0-9](?:[a-zA-Z0-9-.]*[a-zA-Z0-9])? or brokers reject ApiVersions.");
        if (SocketBufferSize < 0) Fail(nameof(SocketBufferSize), "must be 0 (system default) or a positive size in bytes.");
        if (TimeProvider is null) Fail(nameof(TimeProvider), "must not be null.");
        return this;
    }
}
