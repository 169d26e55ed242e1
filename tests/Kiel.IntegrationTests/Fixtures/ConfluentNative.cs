using System.Runtime.CompilerServices;
using Kiel.Testing;

namespace Kiel.IntegrationTests.Fixtures;

/// <summary>
/// Pins Confluent.Kafka to the librdkafka 2.16 file that Kiel.Testing loads, before any test can touch it.
/// Left alone, Confluent.Kafka picks Debian's librdkafka 2.0.2 where librdkafka-dev is installed.
/// </summary>
internal static class ConfluentNative
{
#pragma warning disable CA2255 // A module initializer is the one place that surely runs before Confluent.Kafka's first P/Invoke.
    [ModuleInitializer]
#pragma warning restore CA2255
    internal static void Pin() => RdKafkaNative.PinAssembly(typeof(Confluent.Kafka.Library).Assembly);
}
