namespace Kiel.ZooKeeper.Protocol;

/// <summary>The body of a notification (xid -1): WatcherEvent.</summary>
internal readonly record struct WatcherEventMessage(int Type, int State, string? Path)
{
    internal static WatcherEventMessage Read(ref JuteReader r) =>
        new(r.ReadInt("type"), r.ReadInt("state"), r.ReadString("path"));
}
