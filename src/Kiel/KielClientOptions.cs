using Microsoft.Extensions.Logging;

namespace Kiel;

/// <summary>
/// What every Kiel client's options have: where to bootstrap, the client id, the request timeout and retry backoff,
/// logging and the clock. <see cref="Producing.KielProducerOptions"/>, <see cref="Consuming.KielConsumerOptions"/> and
/// <see cref="GroupedConsumerOptions"/> derive from it, so a setting has one name and one type in every client.
/// </summary>
public abstract partial record KielClientOptions
{
    /// <summary>Only Kiel's own options types derive from this record.</summary>
    private protected KielClientOptions()
    {
    }

    /// <summary>
    /// The brokers to bootstrap from: a comma-separated list of <c>host:port</c> (or <c>host</c>, port 9092), as Kafka's
    /// <c>bootstrap.servers</c>, for example <c>kafka1:9092,kafka2:9092</c>. IPv6 literals go in brackets
    /// (<c>[::1]:9092</c>). They are tried in order. Required.
    /// </summary>
    public string BootstrapServers { get; init; } = "";

    /// <summary>The client id sent with every request (brokers log and throttle by it). Default <c>kiel</c>.</summary>
    public string ClientId { get; init; } = "kiel";

    /// <summary>How long one request may wait for its response before it fails or is retried. Default 30 s.</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>The first pause before a retriable failure is retried; later pauses double up to 1 s. Default 100 ms.</summary>
    public TimeSpan RetryBackoff { get; init; } = TimeSpan.FromMilliseconds(100);

    /// <summary>Where logs go; null (the default) logs nothing.</summary>
    public ILoggerFactory? LoggerFactory { get; init; }

    /// <summary>The clock for timeouts, backoff and lingering; tests may pass a fake one. Default <see cref="TimeProvider.System"/>.</summary>
    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;

    /// <summary>The bootstrap entries of <see cref="BootstrapServers"/>, checked and trimmed.</summary>
    /// <exception cref="ArgumentException">The list is empty or an entry is not <c>host[:port]</c>.</exception>
    internal IReadOnlyList<string> BootstrapServerList => BootstrapServerParser.Parse(BootstrapServers, $"{GetType().Name}.{nameof(BootstrapServers)}");

    /// <summary>
    /// The problems of the settings this record holds, each as the setting's name and a sentence that says what is
    /// wrong and how to fix it. Every derived <c>Validate()</c> reports them with its own.
    /// </summary>
    private protected IEnumerable<(string Setting, string Problem)> ClientSettingProblems()
    {
        if (BootstrapServerParser.Problem(BootstrapServers) is { } bootstrap)
            yield return (nameof(BootstrapServers), bootstrap);
        foreach (var brokerProblem in BrokerSettingProblems())
            yield return brokerProblem;
        if (string.IsNullOrWhiteSpace(ClientId))
            yield return (nameof(ClientId), "is empty; give a name brokers can log and throttle by, or keep the default \"kiel\".");
        if (RequestTimeout <= TimeSpan.Zero || RequestTimeout.TotalMilliseconds > int.MaxValue)
            yield return (nameof(RequestTimeout), $"is {RequestTimeout}; it must be positive and under 24 days (the default is 30 s).");
        if (RetryBackoff < TimeSpan.Zero || RetryBackoff.TotalMilliseconds > int.MaxValue)
            yield return (nameof(RetryBackoff), $"is {RetryBackoff}; it must be 0 or more and under 24 days (the default is 100 ms).");
        if (TimeProvider is null)
            yield return (nameof(TimeProvider), "is null; leave it unset for TimeProvider.System.");
        foreach (var problem in SecuritySettingProblems())
            yield return problem;
    }

    /// <summary>Throws for the first problem of <see cref="ClientSettingProblems"/>, naming this options type and the setting.</summary>
    /// <exception cref="ArgumentException">A shared setting is missing or out of range.</exception>
    private protected void ValidateClientSettings()
    {
        foreach (var (setting, problem) in ClientSettingProblems())
            throw new ArgumentException($"{GetType().Name}.{setting}: {problem}", setting);
    }
}
