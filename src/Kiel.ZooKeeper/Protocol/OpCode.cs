namespace Kiel.ZooKeeper.Protocol;

/// <summary>ZooKeeper request types (ZooDefs.OpCode).</summary>
internal enum OpCode
{
    Notification = 0,
    Create = 1,
    Delete = 2,
    Exists = 3,
    GetData = 4,
    SetData = 5,
    GetAcl = 6,
    SetAcl = 7,
    GetChildren = 8,
    Sync = 9,
    Ping = 11,
    GetChildren2 = 12,
    Check = 13,
    Multi = 14,
    Create2 = 15,
    CreateContainer = 19,
    CreateTtl = 21,
    Auth = 100,
    SetWatches = 101,
    Sasl = 102,
    CloseSession = -11,
    Error = -1,
}

/// <summary>The xids the protocol reserves for non-request traffic.</summary>
internal static class SpecialXid
{
    internal const int Notification = -1;
    internal const int Ping = -2;
    internal const int Auth = -4;
    internal const int SetWatches = -8;
}
