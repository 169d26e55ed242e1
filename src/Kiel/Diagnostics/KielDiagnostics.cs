using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Reflection;

namespace Kiel.Diagnostics;

/// <summary>
/// The one <see cref="ActivitySource"/> and the one <see cref="Meter"/> of the library, both named <c>Kiel</c>.
/// Subscribe with OpenTelemetry's <c>AddSource("Kiel")</c> and <c>AddMeter("Kiel")</c>.
/// </summary>
public static class KielDiagnostics
{
    /// <summary>The name shared by the activity source and the meter.</summary>
    public const string Name = "Kiel";

    /// <summary>The library version reported by the source and the meter.</summary>
    public static readonly string Version =
        typeof(KielDiagnostics).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion?.Split('+')[0]
        ?? typeof(KielDiagnostics).Assembly.GetName().Version?.ToString(3)
        ?? "0.0.0";

    /// <summary>Activities for client operations (produce, consume, commit, and so on).</summary>
    public static readonly ActivitySource ActivitySource = new(Name, Version);

    /// <summary>Every Kiel instrument is created on this meter.</summary>
    public static readonly Meter Meter = new(Name, Version);
}
