using Kiel.Testing;

namespace Kiel.IntegrationTests.Peers;

public sealed class NativeLibraryTests
{
    [Fact]
    public void Kiel_testing_loads_librdkafka_2_16_from_the_redist_package()
    {
        Assert.Equal("2.16.0", RdKafkaNative.Version);
        Assert.StartsWith(AppContext.BaseDirectory, RdKafkaNative.LibraryPath, StringComparison.Ordinal);
        if (OperatingSystem.IsLinux() && System.Runtime.InteropServices.RuntimeInformation.OSArchitecture == System.Runtime.InteropServices.Architecture.X64)
        {
            Assert.EndsWith("centos8-librdkafka.so", RdKafkaNative.LibraryPath, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Confluent_kafka_is_pinned_to_the_same_librdkafka_2_16()
    {
        Assert.Equal("2.16.0", Confluent.Kafka.Library.VersionString);
        Assert.Equal(0x021000ff, Confluent.Kafka.Library.Version);
    }

    [Fact]
    public void Pinning_twice_is_harmless()
    {
        // The runtime refuses a second resolver for one assembly, so a pin that were not idempotent would throw here.
        var error = Record.Exception(() =>
        {
            RdKafkaNative.PinAssembly(typeof(Confluent.Kafka.Library).Assembly);
            RdKafkaNative.PinAssembly(typeof(Confluent.Kafka.Library).Assembly);
            Parallel.For(0, 8, _ => RdKafkaNative.PinAssembly(typeof(NativeLibraryTests).Assembly));
        });
        Assert.Null(error);
        // The pin is real: this assembly now has a resolver (a second one is refused), and Confluent's calls still
        // reach the same librdkafka build.
        Assert.Throws<InvalidOperationException>(() =>
            System.Runtime.InteropServices.NativeLibrary.SetDllImportResolver(typeof(NativeLibraryTests).Assembly, (_, _, _) => IntPtr.Zero));
        Assert.Equal("2.16.0", Confluent.Kafka.Library.VersionString);
        Assert.Equal(RdKafkaNative.Version, Confluent.Kafka.Library.VersionString);
    }

    [Fact]
    public void Candidates_include_both_output_layouts()
    {
        var candidates = RdKafkaNative.Candidates();
        Assert.Contains(candidates, c => c.Contains(Path.Combine("runtimes", ""), StringComparison.Ordinal));
        Assert.Contains(candidates, c => Path.GetDirectoryName(c) == Path.TrimEndingDirectorySeparator(AppContext.BaseDirectory));
    }

    [Fact]
    public void When_nothing_loads_the_exception_names_every_file_and_why()
    {
        var missing = Path.Combine(Path.GetTempPath(), $"kiel-missing-{Guid.NewGuid():N}.so");
        var garbage = Path.Combine(Path.GetTempPath(), $"kiel-garbage-{Guid.NewGuid():N}.so");
        File.WriteAllText(garbage, "not a shared library");
        try
        {
            var ex = Assert.Throws<DllNotFoundException>(() => RdKafkaNative.LoadFirst([missing, garbage]));
            Assert.Contains($"{missing}: file not found", ex.Message, StringComparison.Ordinal);
            Assert.Contains($"{garbage}: ", ex.Message, StringComparison.Ordinal);
            Assert.Contains(RdKafkaNative.PathEnvironmentVariable, ex.Message, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(garbage);
        }
    }
}
