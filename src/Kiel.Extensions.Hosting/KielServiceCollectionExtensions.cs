using Kiel.Producing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;

namespace Kiel.Extensions.Hosting;

/// <summary>Registers Kiel clients in a service collection, with options bound from configuration.</summary>
public static class KielServiceCollectionExtensions
{
    /// <summary>
    /// Registers a singleton <see cref="KielProducer{TKey, TValue}"/> whose <see cref="KielProducerOptions"/> are bound
    /// from <paramref name="configuration"/> (for example the section <c>Kiel:Producer</c>: <c>BootstrapServers</c>, <c>Acks</c>,
    /// <c>Linger</c>, <c>Compression</c>, ...). Serializers registered as <see cref="ISerializer{T}"/> are used; otherwise
    /// the producer's defaults (string, byte[]). The logger factory comes from the container. The host disposes the
    /// producer (which flushes) when it stops.
    /// </summary>
    /// <param name="services">The services.</param>
    /// <param name="configuration">The configuration section with the producer options.</param>
    /// <param name="configure">Changes applied after binding, for settings configuration cannot carry (a partitioner).</param>
    /// <exception cref="ArgumentException">When the producer is first resolved: the options are invalid.</exception>
    public static IServiceCollection AddKielProducer<TKey, TValue>(this IServiceCollection services, IConfiguration configuration,
        Func<KielProducerOptions, KielProducerOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);
        services.TryAddSingleton(sp =>
        {
            var options = Bind<KielProducerOptions>(configuration) with { LoggerFactory = sp.GetService<ILoggerFactory>() };
            if (ListOrNull(configuration, nameof(KielClientOptions.BootstrapServers)) is { } servers) options = options with { BootstrapServers = string.Join(',', servers) };
            options = configure?.Invoke(options) ?? options;
            return new KielProducer<TKey, TValue>(options, sp.GetService<ISerializer<TKey>>(), sp.GetService<ISerializer<TValue>>());
        });
        return services;
    }

    /// <summary>
    /// Registers a singleton <see cref="GroupedConsumer{TValue}"/> whose <see cref="GroupedConsumerOptions"/> are bound
    /// from <paramref name="configuration"/> (for example <c>Kiel:Consumer</c>: <c>BootstrapServers</c>, <c>Group</c>,
    /// <c>ZooKeeperHosts</c>, <c>AutoOffsetReset</c>, ...). A registered <see cref="IDeserializer{T}"/> is used; otherwise JSON.
    /// Nothing connects until <see cref="GroupedConsumer{TValue}.ConnectAsync"/>; <see cref="KielGroupWorker{TValue}"/> does that.
    /// </summary>
    /// <param name="services">The services.</param>
    /// <param name="configuration">The configuration section with the consumer options.</param>
    /// <param name="configure">Changes applied after binding, for settings configuration cannot carry (an allocator).</param>
    /// <exception cref="ArgumentException">When the consumer is first resolved: the options are invalid.</exception>
    public static IServiceCollection AddKielGroupedConsumer<TValue>(this IServiceCollection services, IConfiguration configuration,
        Func<GroupedConsumerOptions, GroupedConsumerOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);
        services.TryAddSingleton(sp =>
        {
            var options = Bind<GroupedConsumerOptions>(configuration) with { LoggerFactory = sp.GetService<ILoggerFactory>() };
            if (ListOrNull(configuration, nameof(KielClientOptions.BootstrapServers)) is { } servers) options = options with { BootstrapServers = string.Join(',', servers) };
            if (ListOrNull(configuration, nameof(GroupedConsumerOptions.ZooKeeperHosts)) is { } hosts) options = options with { ZooKeeperHosts = hosts };
            options = configure?.Invoke(options) ?? options;
            return new GroupedConsumer<TValue>(options, sp.GetService<IDeserializer<TValue>>());
        });
        return services;
    }

    private static T Bind<T>(IConfiguration configuration) where T : new()
    {
        var options = new T();
        // BootstrapServers may be one string or an array of entries, which cannot bind to a string; the callers set it
        // from ListOrNull, which takes both.
        new WithoutKey(configuration, nameof(KielClientOptions.BootstrapServers)).Bind(options, o => o.ErrorOnUnknownConfiguration = true);
        return options;
    }

    /// <summary>A view of a configuration without one of its keys.</summary>
    private sealed class WithoutKey(IConfiguration inner, string key) : IConfiguration
    {
        private bool Is(string k) => string.Equals(k, key, StringComparison.OrdinalIgnoreCase);

        public string? this[string k] { get => Is(k) ? null : inner[k]; set => inner[k] = value; }

        public IEnumerable<IConfigurationSection> GetChildren() => inner.GetChildren().Where(c => !Is(c.Key));

        public Microsoft.Extensions.Primitives.IChangeToken GetReloadToken() => inner.GetReloadToken();

        // A section that does not exist, so the binder leaves the property as it is.
        public IConfigurationSection GetSection(string k) => inner.GetSection(Is(k) ? k + ConfigurationPath.KeyDelimiter + "\u0001absent" : k);
    }

    // The binder appends configured list items to a list's default entries (ZooKeeperHosts defaults to 127.0.0.1:2181);
    // a configured list must replace them instead. BootstrapServers is one comma-separated string, as Kafka's
    // bootstrap.servers; an array of entries in configuration is joined into it.
    private static string[]? ListOrNull(IConfiguration configuration, string key)
    {
        var section = configuration.GetSection(key);
        if (!section.Exists()) return null;
        // "a,b" in one value (an environment variable) or an array of entries.
        return section.Value is { } single
            ? single.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            : section.GetChildren().Select(c => c.Value).OfType<string>().ToArray();
    }
}
