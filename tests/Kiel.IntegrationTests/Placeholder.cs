namespace Kiel.IntegrationTests;

internal static class Placeholder { }
