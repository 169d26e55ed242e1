namespace Kiel.Cli.Demo;

/// <summary>
/// What the demo knows, fed by delivery reports and the members' reports: for every partition, the offsets written
/// and how often each was consumed; for every member, its partitions and counts. Thread-safe through one lock; the
/// view reads snapshots.
/// </summary>
internal sealed class DemoTracker
{
    private readonly object _gate = new();
    private readonly int _partitions;
    private readonly List<byte>[] _consumedTimes;
    private readonly long[] _highWatermark;
    private readonly long[] _position;
    private readonly List<DemoMemberState> _members = [];
    private readonly Queue<string> _events = new();
    private long _produced;
    private long _failed;
    private string? _firstError;

    public DemoTracker(int partitions)
    {
        _partitions = partitions;
        _consumedTimes = new List<byte>[partitions];
        _highWatermark = new long[partitions];
        _position = new long[partitions];
        for (var p = 0; p < partitions; p++)
        {
            _consumedTimes[p] = [];
        }
    }

    public int Partitions => _partitions;

    public DemoMemberState AddMember(string label)
    {
        lock (_gate)
        {
            var member = new DemoMemberState(label);
            _members.Add(member);
            return member;
        }
    }

    public void Delivered(int partition, long offset)
    {
        lock (_gate)
        {
            _produced++;
            if (partition >= 0 && partition < _partitions && offset + 1 > _highWatermark[partition])
            {
                _highWatermark[partition] = offset + 1;
            }
        }
    }

    public void Failed(string error)
    {
        lock (_gate)
        {
            _failed++;
            _firstError ??= error;
        }
    }

    public void Consumed(DemoMemberState member, int partition, long first, long last)
    {
        if (partition < 0 || partition >= _partitions || first < 0 || last < first)
        {
            return;
        }

        lock (_gate)
        {
            var times = _consumedTimes[partition];
            for (var offset = first; offset <= last; offset++)
            {
                while (times.Count <= offset)
                {
                    times.Add(0);
                }

                var i = (int)offset;
                if (times[i] < byte.MaxValue)
                {
                    times[i]++;
                }
            }

            member.Consumed += last - first + 1;
            if (last + 1 > _position[partition])
            {
                _position[partition] = last + 1;
            }
        }
    }

    /// <summary>How often the record at <paramref name="offset"/> of <paramref name="partition"/> was consumed.</summary>
    public int TimesConsumed(int partition, long offset)
    {
        lock (_gate)
        {
            var times = _consumedTimes[partition];
            return offset < times.Count ? times[(int)offset] : 0;
        }
    }

    public void Allocated(DemoMemberState member, IReadOnlyList<int> partitions)
    {
        lock (_gate)
        {
            member.Partitions = partitions;
        }
    }

    /// <summary>Told of every event as it happens (the plain-line view prints them).</summary>
    public Action<string>? OnEvent { get; set; }

    public void Event(string text)
    {
        lock (_gate)
        {
            _events.Enqueue($"{DateTime.Now:HH:mm:ss}  {text}");
            while (_events.Count > 6)
            {
                _events.Dequeue();
            }
        }

        OnEvent?.Invoke(text);
    }

    public DemoSnapshot Snapshot()
    {
        lock (_gate)
        {
            long distinct = 0;
            long duplicates = 0;
            long lost = 0;
            for (var p = 0; p < _partitions; p++)
            {
                var times = _consumedTimes[p];
                for (var o = 0; o < _highWatermark[p]; o++)
                {
                    var t = o < times.Count ? times[o] : 0;
                    if (t == 0)
                    {
                        lost++;
                    }
                    else
                    {
                        distinct++;
                        duplicates += t - 1;
                    }
                }
            }

            var members = _members.Select(m => new DemoMemberRow(
                m.Label,
                m.Name,
                m.Partitions,
                m.Consumed,
                m.Alive ? m.Partitions.Sum(p => Math.Max(0, _highWatermark[p] - _position[p])) : 0,
                m.Alive,
                m.Status)).ToArray();
            return new DemoSnapshot(_produced, _failed, _firstError, distinct, duplicates, lost, members, _events.ToArray());
        }
    }

    /// <summary>True when every live member's partitions together cover the topic and no dead member holds one.</summary>
    public bool FullyAllocated()
    {
        lock (_gate)
        {
            var covered = new HashSet<int>();
            foreach (var m in _members.Where(m => m.Alive))
            {
                covered.UnionWith(m.Partitions);
            }

            return covered.Count == _partitions;
        }
    }
}

/// <summary>One member as the demo sees it.</summary>
internal sealed class DemoMemberState(string label)
{
    public string Label { get; } = label;

    public string Name { get; set; } = "";

    public IReadOnlyList<int> Partitions { get; set; } = [];

    public long Consumed { get; set; }

    public bool Alive { get; set; } = true;

    public string Status { get; set; } = "starting";

    /// <summary>The member's longest consume call so far (ms, frozen time left out), when it reports them.</summary>
    public long LongestCallMs { get; set; }

    /// <summary>The member's last reported GC heap size, when it reports one.</summary>
    public long GcHeapBytes { get; set; }
}

/// <summary>A member's row in the live table.</summary>
internal sealed record DemoMemberRow(string Label, string Name, IReadOnlyList<int> Partitions, long Consumed, long Lag, bool Alive, string Status);

/// <summary>A consistent view of the demo at one moment.</summary>
internal sealed record DemoSnapshot(
    long Produced,
    long Failed,
    string? FirstError,
    long DistinctConsumed,
    long Duplicates,
    long Lost,
    IReadOnlyList<DemoMemberRow> Members,
    IReadOnlyList<string> Events);
