using Kiel.ZooKeeper;

namespace Kiel.Tests.ZooKeeper;

public sealed class WatchRegistryTests
{
    [Fact]
    public void Events_trigger_the_right_kinds_once()
    {
        var registry = new WatchRegistry();
        var fired = new List<string>();
        Action<WatchedEvent> data = _ => fired.Add("data");
        Action<WatchedEvent> exist = _ => fired.Add("exist");
        Action<WatchedEvent> child = _ => fired.Add("child");
        registry.Add(WatchRegistry.Kind.Data, "/a", data);
        registry.Add(WatchRegistry.Kind.Data, "/a", data);
        registry.Add(WatchRegistry.Kind.Exist, "/a", exist);
        registry.Add(WatchRegistry.Kind.Child, "/a", child);

        Assert.Empty(registry.Trigger(WatchEventType.NodeChildrenChanged, "/b"));
        Assert.Equal(2, registry.Trigger(WatchEventType.NodeDataChanged, "/a").Count);
        Assert.Empty(registry.Trigger(WatchEventType.NodeDataChanged, "/a"));
        Assert.Single(registry.Trigger(WatchEventType.NodeDeleted, "/a"));
        Assert.Equal(0, registry.Count);

        registry.Add(WatchRegistry.Kind.Exist, "/x", exist);
        registry.Add(WatchRegistry.Kind.Child, "/y", child);
        var (d, e, c) = registry.Snapshot();
        Assert.Empty(d);
        Assert.Equal(["/x"], e);
        Assert.Equal(["/y"], c);
        Assert.Equal(2, registry.TakeAll().Count);
        Assert.Equal(0, registry.Count);
    }
}
