namespace Kiel.ZooKeeper;

/// <summary>Placeholder until the ZooKeeper client lands.</summary>
internal static class Placeholder { }
