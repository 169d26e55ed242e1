using System.Reflection;
using System.Text.RegularExpressions;
using Kiel.Diagnostics;
using Kiel.Tests.Cluster;
using Kiel.ZooKeeper;
using Microsoft.Extensions.Logging;

namespace Kiel.Tests.Diagnostics;

/// <summary>One event-id table: every [LoggerMessage] id is unique, named in the table, in its range, and documented.</summary>
public sealed partial class LogEventsTests
{
    private static Dictionary<string, int> Constants(Type table) => table
        .GetFields(BindingFlags.Public | BindingFlags.Static)
        .Where(f => f.IsLiteral && f.FieldType == typeof(int) && f.Name is not "First" and not "Last")
        .ToDictionary(f => f.Name, f => (int)f.GetRawConstantValue()!);

    private static List<(string Method, int Id)> LoggedIds(Assembly assembly) =>
        [.. assembly.GetTypes()
            .SelectMany(t => t.GetMethods(BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Static | BindingFlags.Instance | BindingFlags.DeclaredOnly))
            .Select(m => (Method: m, Attribute: m.GetCustomAttribute<LoggerMessageAttribute>()))
            .Where(x => x.Attribute is not null)
            .Select(x => ($"{x.Method.DeclaringType!.FullName}.{x.Method.Name}", x.Attribute!.EventId))];

    [Fact]
    public void KielLogsOnlyWithUniqueIdsFromLogEventsInTheirRange()
    {
        var table = Constants(typeof(LogEvents));
        var logged = LoggedIds(typeof(LogEvents).Assembly);
        Assert.True(logged.Count >= 50, $"only {logged.Count} [LoggerMessage] methods found in Kiel");
        AssertUniqueAndTabled(logged, table);
        foreach (var (name, id) in table)
            Assert.True(LogEvents.Ranges.Any(r => id >= r.First && id <= r.Last), $"LogEvents.{name} = {id} is in no documented range");
        Assert.Equal(table.Count, table.Values.Distinct().Count());
        // Every constant is used, so the table says only what Kiel really logs.
        Assert.Empty(table.Where(kv => !logged.Any(l => l.Id == kv.Value)).Select(kv => kv.Key));
    }

    [Fact]
    public void ZooKeeperLogsOnlyWithUniqueIdsFromItsTableInItsRange()
    {
        var table = Constants(typeof(ZooKeeperLogEvents));
        var logged = LoggedIds(typeof(ZooKeeperLogEvents).Assembly);
        Assert.NotEmpty(logged);
        AssertUniqueAndTabled(logged, table);
        Assert.All(table, kv => Assert.InRange(kv.Value, ZooKeeperLogEvents.First, ZooKeeperLogEvents.Last));
        Assert.DoesNotContain(table.Values, id => LogEvents.Ranges.Any(r => id >= r.First && id <= r.Last));
        Assert.Empty(table.Where(kv => !logged.Any(l => l.Id == kv.Value)).Select(kv => kv.Key));
    }

    private static void AssertUniqueAndTabled(List<(string Method, int Id)> logged, Dictionary<string, int> table)
    {
        var duplicates = logged.GroupBy(l => l.Id).Where(g => g.Count() > 1).Select(g => $"{g.Key}: {string.Join(", ", g.Select(l => l.Method))}");
        Assert.True(!duplicates.Any(), "event ids used twice: " + string.Join("; ", duplicates));
        var stray = logged.Where(l => !table.ContainsValue(l.Id)).Select(l => $"{l.Method} = {l.Id}");
        Assert.True(!stray.Any(), "event ids not in the table: " + string.Join("; ", stray));
    }

    /// <summary>The CLI and the hosting extensions (and any future assembly) name their ids from a table too, never a literal.</summary>
    [Fact]
    public void NoLoggerMessageInTheProductUsesALiteralId()
    {
        var root = ErrorClassificationTests.RepoRoot();
        var literal = new List<string>();
        var count = 0;
        foreach (var file in Directory.EnumerateFiles(Path.Combine(root, "src"), "*.cs", SearchOption.AllDirectories))
        {
            var relative = Path.GetRelativePath(root, file);
            // The embedded test cluster's own log is test tooling, not the product.
            if (relative.StartsWith(Path.Combine("src", "Kiel.Testing"), StringComparison.Ordinal) || relative.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal)) continue;
            foreach (Match m in LoggerMessageId().Matches(File.ReadAllText(file)))
            {
                count++;
                if (!m.Groups[1].Value.StartsWith("LogEvents.", StringComparison.Ordinal) && !m.Groups[1].Value.StartsWith("ZooKeeperLogEvents.", StringComparison.Ordinal))
                    literal.Add($"{relative}: {m.Value}");
            }
        }
        Assert.True(count >= 60, $"only {count} [LoggerMessage] attributes found under src/");
        Assert.True(literal.Count == 0, "ids not from LogEvents/ZooKeeperLogEvents:\n" + string.Join('\n', literal));
    }

    [GeneratedRegex(@"\[LoggerMessage\((?:EventId\s*=\s*)?([\w.]+)")]
    private static partial Regex LoggerMessageId();

    [Fact]
    public void ConfigurationDocListsEveryIdAndRange()
    {
        var doc = File.ReadAllText(Path.Combine(ErrorClassificationTests.RepoRoot(), "docs", "configuration.md"));
        var missing = new List<string>();
        foreach (var (table, type) in new[] { ("LogEvents", typeof(LogEvents)), ("ZooKeeperLogEvents", typeof(ZooKeeperLogEvents)) })
            foreach (var (name, id) in Constants(type))
                if (!doc.Contains($"| {id} | `{table}.{name}` |", StringComparison.Ordinal)) missing.Add($"{table}.{name} = {id}");
        Assert.True(missing.Count == 0, "docs/configuration.md does not list: " + string.Join(", ", missing));
        foreach (var (first, last, area) in LogEvents.Ranges.Append((ZooKeeperLogEvents.First, ZooKeeperLogEvents.Last, "ZooKeeper client")))
            Assert.Contains($"| {first}–{last} | {area} |", doc, StringComparison.Ordinal);
        // And the doc lists no id the tables do not have.
        var all = Constants(typeof(LogEvents)).Values.Concat(Constants(typeof(ZooKeeperLogEvents)).Values).ToHashSet();
        var documented = DocumentedId().Matches(doc).Select(m => int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture));
        Assert.All(documented, id => Assert.Contains(id, all));
    }

    [GeneratedRegex(@"^\| (\d+) \| `", RegexOptions.Multiline)]
    private static partial Regex DocumentedId();
}
