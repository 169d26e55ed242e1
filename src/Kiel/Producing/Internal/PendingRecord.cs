namespace Kiel.Producing.Internal;

/// <summary>A serialized record that waits for its topic's first metadata, in produce order.</summary>
internal sealed class PendingRecord
{
    public required byte[]? Key { get; init; }
    public required byte[]? Value { get; init; }
    public required Headers? Headers { get; init; }
    public required int? Partition { get; init; }
    public required long Timestamp { get; init; }
    public required object? Completion { get; init; }
    public required int Size { get; init; }
}
