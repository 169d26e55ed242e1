namespace Kiel.Testing;

/// <summary>A topic to create in an <see cref="EmbeddedKafkaCluster"/>.</summary>
/// <param name="Name">Topic name: 1–249 characters of <c>[a-zA-Z0-9._-]</c>, not "." or "..".</param>
/// <param name="Partitions">Partition count, at least 1.</param>
/// <param name="ReplicationFactor">
/// Replicas per partition, at most the broker count. With 1, leadership is deterministic in librdkafka 2.16:
/// partition p is led by broker (p mod N) + 1; with more, the mock picks a random replica as leader.
/// </param>
public sealed record EmbeddedTopic(string Name, int Partitions = 1, int ReplicationFactor = 1)
{
    /// <summary>Parses <c>NAME[:PARTITIONS[:REPLICATION]]</c>, as taken by <c>kiel cluster --topic</c>.</summary>
    /// <exception cref="FormatException">The text does not have that shape; the message shows the expected form.</exception>
    public static EmbeddedTopic Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var parts = text.Split(':');
        if (parts.Length > 3 || parts[0].Length == 0)
        {
            throw new FormatException($"'{text}' is not NAME[:PARTITIONS[:REPLICATION]], e.g. 'orders:4'.");
        }

        var partitions = parts.Length > 1 ? ParsePositive(parts[1], "PARTITIONS", text) : 1;
        var rf = parts.Length > 2 ? ParsePositive(parts[2], "REPLICATION", text) : 1;
        var topic = new EmbeddedTopic(parts[0], partitions, rf);
        try
        {
            topic.Validate();
        }
        catch (ArgumentException ex)
        {
            throw new FormatException(ex.Message, ex);
        }

        return topic;
    }

    /// <summary>Checks the name and counts.</summary>
    /// <exception cref="ArgumentException">Something is invalid; the message says what.</exception>
    public void Validate()
    {
        if (string.IsNullOrEmpty(Name) || Name.Length > 249 || Name is "." or ".." ||
            !Name.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-'))
        {
            throw new ArgumentException($"Topic name '{Name}' is invalid: use 1–249 characters of a-z, A-Z, 0-9, '.', '_' and '-'.", nameof(Name));
        }

        if (Partitions < 1)
        {
            throw new ArgumentException($"Topic '{Name}' needs at least 1 partition (was {Partitions}).", nameof(Partitions));
        }

        if (ReplicationFactor < 1)
        {
            throw new ArgumentException($"Topic '{Name}' needs a replication factor of at least 1 (was {ReplicationFactor}).", nameof(ReplicationFactor));
        }
    }

    private static int ParsePositive(string value, string what, string text) =>
        int.TryParse(value, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var n) && n > 0
            ? n
            : throw new FormatException($"{what} in '{text}' must be a positive whole number (was '{value}').");
}
