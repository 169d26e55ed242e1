namespace Kiel.Testing;

/// <summary>Placeholder until the embedded clusters land.</summary>
internal static class Placeholder { }
