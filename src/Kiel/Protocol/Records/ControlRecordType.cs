namespace Kiel.Protocol.Records;

/// <summary>The type in a control record's key. Applications never see control records.</summary>
internal enum ControlRecordType : short
{
    /// <summary>The transaction was aborted.</summary>
    Abort = 0,

    /// <summary>The transaction was committed.</summary>
    Commit = 1,

    /// <summary>KRaft: leader change.</summary>
    LeaderChange = 2,

    /// <summary>KRaft: snapshot header.</summary>
    SnapshotHeader = 3,

    /// <summary>KRaft: snapshot footer.</summary>
    SnapshotFooter = 4,

    /// <summary>KRaft: KRaft version.</summary>
    KRaftVersion = 5,

    /// <summary>KRaft: voters.</summary>
    KRaftVoters = 6,
}
