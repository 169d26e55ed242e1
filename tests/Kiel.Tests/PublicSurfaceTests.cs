using System.Reflection;

namespace Kiel.Tests;

/// <summary>The public surface of Kiel.dll is the user's API: a budget, no protocol or plumbing namespaces, and the seed's names.</summary>
public class PublicSurfaceTests
{
    private static readonly Type[] Exported = typeof(KielClientOptions).Assembly.GetExportedTypes();

    private static string Name(Type t) => (t.FullName ?? t.Name).Replace('+', '.');

    [Fact]
    public void Kiel_dll_exports_at_most_150_types()
    {
        Assert.True(Exported.Length <= 150,
            $"Kiel.dll exports {Exported.Length} public types, over the budget of 150:\n" + string.Join("\n", Exported.Select(Name).Order()));
        // A budget met by exporting nothing would be a broken build, not a small API.
        Assert.True(Exported.Length >= 20, $"Kiel.dll exports only {Exported.Length} public types.");
    }

    [Fact]
    public void No_public_type_is_in_the_protocol_namespaces()
    {
        var leaked = Exported.Where(t => t.Namespace is { } ns && (ns == "Kiel.Protocol" || ns.StartsWith("Kiel.Protocol.", StringComparison.Ordinal)))
            .Select(Name).Order().ToList();
        Assert.True(leaked.Count == 0, "Public types in Kiel.Protocol*: " + string.Join(", ", leaked));
    }

    [Fact]
    public void No_public_type_is_in_the_network_or_cluster_namespaces()
    {
        var leaked = Exported.Where(t => t.Namespace is "Kiel.Network" or "Kiel.Cluster").Select(Name).Order().ToList();
        Assert.True(leaked.Count == 0, "Public types in Kiel.Network or Kiel.Cluster: " + string.Join(", ", leaked));
    }

    [Theory]
    [InlineData("Kiel.GroupedConsumer`1")]
    [InlineData("Kiel.GroupedConsumer")]
    [InlineData("Kiel.Allocators")]
    [InlineData("Kiel.PartitionAllocator")]
    [InlineData("Kiel.Producer`1")]
    [InlineData("Kiel.Producer")]
    [InlineData("Kiel.SingleConsumer`1")]
    [InlineData("Kiel.SingleConsumer")]
    [InlineData("Kiel.Producing.KielProducer`2")]
    [InlineData("Kiel.Consuming.KielConsumer`2")]
    [InlineData("Kiel.KielClientOptions")]
    [InlineData("Kiel.KafkaException")]
    [InlineData("Kiel.ErrorCode")]
    [InlineData("Kiel.CompressionType")]
    [InlineData("Kiel.TimestampType")]
    [InlineData("Kiel.Headers")]
    [InlineData("Kiel.RecordHeader")]
    public void The_seed_and_core_names_are_public_exactly(string fullName)
    {
        var type = Exported.SingleOrDefault(t => t.FullName == fullName);
        Assert.True(type is not null, $"{fullName} is not a public type of Kiel.dll.");
    }

    [Fact]
    public void There_is_one_TimestampType_and_one_public_header_type()
    {
        Assert.Equal(["Kiel.TimestampType"], Exported.Where(t => t.Name == "TimestampType").Select(Name));
        // RawHeader(s) are the zero-copy view of the same headers on the raw path (ref structs over the fetch buffer).
        var headerTypes = Exported.Where(t => t.Name.Contains("Header", StringComparison.Ordinal)).Select(Name).Order();
        Assert.Equal(["Kiel.Consuming.RawHeader", "Kiel.Consuming.RawHeaders", "Kiel.Headers", "Kiel.RecordHeader"], headerTypes);
    }

    [Fact]
    public void Every_client_options_type_derives_from_the_one_base()
    {
        var options = Exported.Where(t => t.Name.EndsWith("Options", StringComparison.Ordinal) && t != typeof(KielClientOptions)).ToList();
        Assert.Contains(typeof(Kiel.Producing.KielProducerOptions), options);
        Assert.Contains(typeof(Kiel.Consuming.KielConsumerOptions), options);
        Assert.Contains(typeof(GroupedConsumerOptions), options);
        foreach (var type in options)
            Assert.True(type.IsSubclassOf(typeof(KielClientOptions)), $"{Name(type)} does not derive from KielClientOptions.");
        // Bootstrap servers have one type everywhere.
        Assert.Equal(typeof(string), typeof(KielClientOptions).GetProperty(nameof(KielClientOptions.BootstrapServers), BindingFlags.Public | BindingFlags.Instance)!.PropertyType);
    }
}
