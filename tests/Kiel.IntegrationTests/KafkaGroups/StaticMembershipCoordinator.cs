using System.Collections.Concurrent;
using System.Diagnostics;
using Kiel.Protocol;
using Kiel.Protocol.Messages;
using static Kiel.IntegrationTests.Capture.HookFrames;

namespace Kiel.IntegrationTests.KafkaGroups;

/// <summary>
/// What a real group coordinator does for a static member (KIP-345) and the librdkafka mock does not, as a
/// <see cref="Capture.RecordingProxy.RequestHook"/>. The mock rebalances on every JoinGroup, static or not; a real
/// coordinator answers the JoinGroup of a known <c>group.instance.id</c> whose member's session has not expired at once,
/// with the member's identity and the current generation, and hands it its previous assignment, so the other members see
/// no rebalance at all.
/// <para>
/// The hook learns the group from the requests it forwards: every SyncGroup names its member, instance id and
/// generation, and the leader's carries every member's assignment; Heartbeat, SyncGroup, OffsetCommit and JoinGroup
/// requests refresh a member's last contact. A JoinGroup with no member id and a known instance id, whose member is
/// a follower of the current generation with an assignment and was heard from within the request's session timeout,
/// is answered here (member id and generation unchanged, as the member the coordinator still holds), and that member's
/// next SyncGroup is answered here with its assignment. A follower's SyncGroup that comes after its leader's (a slow
/// client on a loaded machine) is answered here too, with the assignment the leader sent: the mock completes a
/// generation on the leader's SyncGroup and fails a later follower, which then rejoins into a new round where it can be
/// late again. Everything else goes to the mock, so the resumed member's heartbeats reach it under the member id it has
/// always had and the mock never learns of the restart. A leader's
/// restart goes to the mock (a real coordinator then gives the leader the members without a new assignment round, which
/// the mock's JoinGroup v5 answer cannot say).
/// </para>
/// </summary>
internal sealed class StaticMembershipCoordinator
{
    private readonly ConcurrentDictionary<string, long> _lastContact = new();
    private readonly ConcurrentDictionary<string, Member> _byInstance = new();
    private readonly ConcurrentDictionary<(string Group, int Generation), Round> _rounds = new();
    private readonly ConcurrentDictionary<string, int> _currentGeneration = new();
    private readonly ConcurrentDictionary<(string MemberId, int Generation), ReadOnlyMemory<byte>> _resumed = new();
    private int _joinsAnswered, _syncsAnswered, _joinsForwarded, _lateSyncsAnswered;

    private sealed record Member(string Group, string MemberId, int Generation, string? ProtocolType, string? ProtocolName);

    private sealed class Round
    {
        public string? Leader;
        public Dictionary<string, ReadOnlyMemory<byte>> Assignments = [];
    }

    /// <summary>JoinGroup requests of restarted static members answered without a rebalance.</summary>
    public int JoinsAnswered => Volatile.Read(ref _joinsAnswered);

    /// <summary>SyncGroup requests of resumed members answered with their previous assignment.</summary>
    public int SyncsAnswered => Volatile.Read(ref _syncsAnswered);

    /// <summary>SyncGroup requests of followers that came after their leader's, answered with the leader's assignment.</summary>
    public int LateSyncsAnswered => Volatile.Read(ref _lateSyncsAnswered);

    /// <summary>JoinGroup requests that went to the mock (each one a rebalance there).</summary>
    public int JoinsForwarded => Volatile.Read(ref _joinsForwarded);

    /// <summary>The instance id of the group's current leader, if the leader is a static member the hook has seen.</summary>
    public string? LeaderInstance(string group)
    {
        if (!_currentGeneration.TryGetValue(group, out var generation) || !_rounds.TryGetValue((group, generation), out var round)) return null;
        return _byInstance.FirstOrDefault(kv => kv.Value.Group == group && kv.Value.MemberId == round.Leader).Key;
    }

    /// <summary>What the hook knows, for a test's output.</summary>
    public string Describe() =>
        $"instances [{string.Join("; ", _byInstance.Select(kv => $"{kv.Key}={kv.Value.MemberId}@{kv.Value.Generation}"))}], " +
        $"generations [{string.Join("; ", _currentGeneration.Select(kv => $"{kv.Key}={kv.Value}"))}], " +
        $"leaders [{string.Join("; ", _rounds.Select(kv => $"{kv.Key.Generation}:{kv.Value.Leader}({kv.Value.Assignments.Count})"))}]";

    /// <summary>The hook: null forwards the request, a frame answers it.</summary>
    public Task<byte[]?> HookAsync(ApiKey key, short version, byte[] frame, CancellationToken ct) => Task.FromResult(key switch
    {
        ApiKey.JoinGroup => Join(version, frame),
        ApiKey.SyncGroup => Sync(version, frame),
        ApiKey.Heartbeat => Heartbeat(version, frame),
        ApiKey.OffsetCommit => Touch(Read(frame, static (ref KafkaReader r, short v) => OffsetCommitRequest.Read(ref r, v), version).Body.MemberId),
        _ => null,
    });

    private byte[]? Touch(string memberId)
    {
        if (memberId.Length > 0) _lastContact[memberId] = Stopwatch.GetTimestamp();
        return null;
    }

    private byte[]? Heartbeat(short version, byte[] frame)
    {
        var heartbeat = Read(frame, static (ref KafkaReader r, short v) => HeartbeatRequest.Read(ref r, v), version).Body;
        Touch(heartbeat.MemberId);
        // Heartbeat v3+ names the instance: SyncGroup does only from v3, so a member that syncs at v0-v2 is learnt here.
        if (heartbeat.GroupInstanceId is { } instance && heartbeat.MemberId.Length > 0)
            _byInstance.AddOrUpdate(instance,
                _ => new Member(heartbeat.GroupId, heartbeat.MemberId, heartbeat.GenerationId, null, null),
                (_, m) => m.MemberId == heartbeat.MemberId && m.Generation == heartbeat.GenerationId
                    ? m : new Member(heartbeat.GroupId, heartbeat.MemberId, heartbeat.GenerationId, null, null));
        return null;
    }

    private byte[]? Join(short version, byte[] frame)
    {
        var (correlationId, join) = Read(frame, static (ref KafkaReader r, short v) => JoinGroupRequest.Read(ref r, v), version);
        Touch(join.MemberId);
        if (join.MemberId.Length == 0 && join.GroupInstanceId is { } instance
            && _byInstance.TryGetValue(instance, out var member) && member.Group == join.GroupId
            && _currentGeneration.TryGetValue(join.GroupId, out var generation) && generation == member.Generation
            && _rounds.TryGetValue((join.GroupId, generation), out var round) && round.Leader is { } leader && leader != member.MemberId
            && round.Assignments.TryGetValue(member.MemberId, out var assignment)
            && _lastContact.TryGetValue(member.MemberId, out var last)
            && Stopwatch.GetElapsedTime(last) < TimeSpan.FromMilliseconds(join.SessionTimeoutMs))
        {
            _resumed[(member.MemberId, generation)] = assignment;
            Touch(member.MemberId);
            Interlocked.Increment(ref _joinsAnswered);
            var response = new JoinGroupResponse
            {
                GenerationId = generation,
                ProtocolType = member.ProtocolType ?? join.ProtocolType,
                ProtocolName = member.ProtocolName ?? join.Protocols[0].Name, // the mock picks the leader's first: the same list
                Leader = leader,
                MemberId = member.MemberId,
                Members = [],
            };
            return Response(ApiKey.JoinGroup, version, correlationId, response.Write);
        }
        Interlocked.Increment(ref _joinsForwarded);
        return null;
    }

    private byte[]? Sync(short version, byte[] frame)
    {
        var (correlationId, sync) = Read(frame, static (ref KafkaReader r, short v) => SyncGroupRequest.Read(ref r, v), version);
        Touch(sync.MemberId);
        if (_resumed.TryRemove((sync.MemberId, sync.GenerationId), out var assignment))
        {
            Interlocked.Increment(ref _syncsAnswered);
            var member = _byInstance.Values.First(m => m.MemberId == sync.MemberId);
            var response = new SyncGroupResponse { ProtocolType = sync.ProtocolType ?? member.ProtocolType, ProtocolName = sync.ProtocolName ?? member.ProtocolName, Assignment = assignment };
            return Response(ApiKey.SyncGroup, version, correlationId, response.Write);
        }
        _currentGeneration.AddOrUpdate(sync.GroupId, sync.GenerationId, (_, g) => Math.Max(g, sync.GenerationId));
        if (sync.GroupInstanceId is { } instance)
            _byInstance[instance] = new Member(sync.GroupId, sync.MemberId, sync.GenerationId, sync.ProtocolType, sync.ProtocolName);
        var round = _rounds.GetOrAdd((sync.GroupId, sync.GenerationId), _ => new Round());
        ReadOnlyMemory<byte> late;
        lock (round)
        {
            if (sync.Assignments.Count > 0)
            {
                round.Leader = sync.MemberId;
                round.Assignments = sync.Assignments.ToDictionary(a => a.MemberId, a => (ReadOnlyMemory<byte>)a.Assignment.ToArray());
                return null;
            }
            // A follower whose SyncGroup comes after the leader's: the mock has completed the generation and would answer
            // it with an error and no assignment (it serves only followers already waiting), so the follower would join
            // again and start another round, in which it can be late again. A Kafka coordinator hands a member of the
            // current generation its assignment whenever it asks; so does the hook.
            if (round.Leader is null || !round.Assignments.TryGetValue(sync.MemberId, out late)) return null;
        }
        Interlocked.Increment(ref _lateSyncsAnswered);
        var answer = new SyncGroupResponse { ProtocolType = sync.ProtocolType, ProtocolName = sync.ProtocolName, Assignment = late };
        return Response(ApiKey.SyncGroup, version, correlationId, answer.Write);
    }
}
