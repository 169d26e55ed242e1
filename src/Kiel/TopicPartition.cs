namespace Kiel;

/// <summary>A partition of a topic. Its text form is kiel's <c>topic:partition</c>.</summary>
/// <param name="Topic">The topic name.</param>
/// <param name="Partition">The partition id.</param>
public readonly record struct TopicPartition(string Topic, int Partition) : IComparable<TopicPartition>
{
    /// <summary>Kiel's text form, <c>topic:partition</c>.</summary>
    public override string ToString() => $"{Topic}:{Partition}";

    /// <summary>Orders by topic (ordinal), then by partition number.</summary>
    public int CompareTo(TopicPartition other)
    {
        var c = string.CompareOrdinal(Topic, other.Topic);
        return c != 0 ? c : Partition.CompareTo(other.Partition);
    }

    /// <summary>Parses kiel's <c>topic:partition</c> form; the topic may itself contain colons.</summary>
    /// <exception cref="FormatException">The text has no <c>:partition</c> suffix.</exception>
    public static TopicPartition Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var i = text.LastIndexOf(':');
        if (i <= 0 || !int.TryParse(text.AsSpan(i + 1), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var p))
            throw new FormatException($"'{text}' is not of the form topic:partition (for example orders:3).");
        return new TopicPartition(text[..i], p);
    }
}
