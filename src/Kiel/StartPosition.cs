namespace Kiel;

/// <summary>Where a consumer starts reading a partition.</summary>
public enum StartPositionKind
{
    /// <summary>The log start offset (kiel's BEGINNING).</summary>
    Beginning,
    /// <summary>The log end offset: only records produced from now on (kiel's END, the default).</summary>
    End,
    /// <summary>The first offset whose timestamp is at or after <see cref="StartPosition.Timestamp"/>.</summary>
    Timestamp,
    /// <summary>An explicit offset.</summary>
    Offset,
}

/// <summary>
/// A start position: <see cref="Beginning"/>, <see cref="End"/>, a point in time, a duration ago, or an offset.
/// A <see cref="DateTimeOffset"/> or a <see cref="TimeSpan"/> (meaning that long ago) converts implicitly.
/// </summary>
public readonly record struct StartPosition
{
    private StartPosition(StartPositionKind kind, DateTimeOffset? timestamp, TimeSpan? ago, long offset)
    {
        Kind = kind;
        FixedTimestamp = timestamp;
        Ago = ago;
        Offset = offset;
    }

    /// <summary>Which kind of position this is.</summary>
    public StartPositionKind Kind { get; }

    /// <summary>The fixed point in time, for a position made from a <see cref="DateTimeOffset"/>.</summary>
    public DateTimeOffset? FixedTimestamp { get; }

    /// <summary>The duration before now, for a position made from a <see cref="TimeSpan"/>.</summary>
    public TimeSpan? Ago { get; }

    /// <summary>The explicit offset, for <see cref="StartPositionKind.Offset"/>.</summary>
    public long Offset { get; }

    /// <summary>The point in time to look up, resolved against <paramref name="now"/> for a duration ago.</summary>
    public DateTimeOffset Timestamp(DateTimeOffset now) => FixedTimestamp ?? now - (Ago ?? TimeSpan.Zero);

    /// <summary>The earliest available record.</summary>
    public static StartPosition Beginning { get; } = new(StartPositionKind.Beginning, null, null, -2);

    /// <summary>Only records produced from now on.</summary>
    public static StartPosition End { get; } = new(StartPositionKind.End, null, null, -1);

    /// <summary>The first record at or after <paramref name="timestamp"/>.</summary>
    public static StartPosition At(DateTimeOffset timestamp) => new(StartPositionKind.Timestamp, timestamp, null, 0);

    /// <summary>The first record at or after <paramref name="ago"/> before now.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="ago"/> is negative.</exception>
    public static StartPosition Before(TimeSpan ago)
    {
        if (ago < TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(ago), ago, "A duration ago must not be negative; use StartPosition.End for 'from now on'.");
        return new(StartPositionKind.Timestamp, null, ago, 0);
    }

    /// <summary>An explicit offset.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="offset"/> is negative.</exception>
    public static StartPosition AtOffset(long offset)
    {
        if (offset < 0) throw new ArgumentOutOfRangeException(nameof(offset), offset, "An offset must be 0 or more; use StartPosition.Beginning or End for the log's ends.");
        return new(StartPositionKind.Offset, null, null, offset);
    }

    /// <summary>The first record at or after <paramref name="timestamp"/>.</summary>
    public static implicit operator StartPosition(DateTimeOffset timestamp) => At(timestamp);

    /// <summary>The first record at or after <paramref name="ago"/> before now.</summary>
    public static implicit operator StartPosition(TimeSpan ago) => Before(ago);

    /// <inheritdoc />
    public override string ToString() => Kind switch
    {
        StartPositionKind.Beginning => "beginning",
        StartPositionKind.End => "end",
        StartPositionKind.Offset => $"offset {Offset}",
        _ => FixedTimestamp is { } t ? $"time {t:O}" : $"{Ago} ago",
    };
}

/// <summary>What a consumer does when it has no valid position (no committed offset, or an offset out of range).</summary>
public enum OffsetResetPolicy
{
    /// <summary>Start at the log start offset.</summary>
    Earliest,
    /// <summary>Start at the log end offset.</summary>
    Latest,
    /// <summary>Throw, so that the application decides.</summary>
    Error,
}
