using System.Text.Json;
using Allocation = System.Collections.Generic.IReadOnlyDictionary<string, System.Collections.Generic.IReadOnlyDictionary<string, System.Collections.Generic.IReadOnlyList<int>>>;

namespace Kiel.Groups;

internal sealed partial class GroupMembership
{
    /// <summary>
    /// The sticky allocator needs the previous allocation, and every member must use the same one, so it lives in
    /// <c>/kiel/groups/&lt;group&gt;/allocation</c> together with the inputs it was computed from. A member whose view
    /// differs computes the next allocation from the stored one and writes it with a version check; whoever loses the
    /// race reads the winner's. Members with equal views compute equal results, so they converge on one node.
    /// </summary>
    private async Task<Allocation> StickyAsync(string[] members, string[] partitions, CancellationToken cancellationToken)
    {
        for (var attempt = 0; ; attempt++)
        {
            var (json, version) = await _store.GetAllocationAsync(cancellationToken).ConfigureAwait(false);
            var stored = StickyDocument.TryParse(json);
            if (stored is not null && stored.Members.SequenceEqual(members, StringComparer.Ordinal) && stored.Partitions.SequenceEqual(partitions, StringComparer.Ordinal))
                return stored.Allocation;
            var next = Allocators.Balanced(members, partitions, stored?.Allocation);
            if (await _store.TrySetAllocationAsync(StickyDocument.Write(members, partitions, next), version, cancellationToken).ConfigureAwait(false))
                return next;
            // Another member wrote first; after a few lost races fall back to the pure result, which the next change repairs.
            if (attempt >= 5) return next;
        }
    }

    internal sealed record StickyDocument(string[] Members, string[] Partitions, Allocation Allocation)
    {
        public static StickyDocument? TryParse(string? json)
        {
            if (string.IsNullOrWhiteSpace(json)) return null;
            try
            {
                using var doc = JsonDocument.Parse(json);
                var root = doc.RootElement;
                var members = root.GetProperty("members").EnumerateArray().Select(e => e.GetString()!).ToArray();
                var partitions = root.GetProperty("partitions").EnumerateArray().Select(e => e.GetString()!).ToArray();
                var allocation = new Dictionary<string, IReadOnlyDictionary<string, IReadOnlyList<int>>>(StringComparer.Ordinal);
                foreach (var m in root.GetProperty("allocation").EnumerateObject())
                {
                    var topics = new Dictionary<string, IReadOnlyList<int>>(StringComparer.Ordinal);
                    foreach (var t in m.Value.EnumerateObject()) topics[t.Name] = t.Value.EnumerateArray().Select(e => e.GetInt32()).ToArray();
                    allocation[m.Name] = topics;
                }
                return new StickyDocument(members, partitions, allocation);
            }
            catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
            {
                // A damaged node is treated as absent: the next write replaces it.
                return null;
            }
        }

        public static string Write(string[] members, string[] partitions, Allocation allocation)
        {
            using var buffer = new MemoryStream();
            using (var w = new Utf8JsonWriter(buffer))
            {
                w.WriteStartObject();
                w.WriteStartArray("members");
                foreach (var m in members) w.WriteStringValue(m);
                w.WriteEndArray();
                w.WriteStartArray("partitions");
                foreach (var p in partitions) w.WriteStringValue(p);
                w.WriteEndArray();
                w.WriteStartObject("allocation");
                foreach (var (member, topics) in allocation.OrderBy(kv => kv.Key, StringComparer.Ordinal))
                {
                    w.WriteStartObject(member);
                    foreach (var (topic, ids) in topics.OrderBy(kv => kv.Key, StringComparer.Ordinal))
                    {
                        w.WriteStartArray(topic);
                        foreach (var id in ids) w.WriteNumberValue(id);
                        w.WriteEndArray();
                    }
                    w.WriteEndObject();
                }
                w.WriteEndObject();
                w.WriteEndObject();
            }
            return System.Text.Encoding.UTF8.GetString(buffer.ToArray());
        }
    }
}
