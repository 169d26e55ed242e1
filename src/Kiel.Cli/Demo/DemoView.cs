using System.Globalization;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace Kiel.Cli.Demo;

/// <summary>Renders the demo: a live Spectre.Console layout on a terminal, plain lines otherwise.</summary>
internal static class DemoView
{
    /// <summary>Live widgets only on an interactive terminal; CI and pipes get plain lines.</summary>
    public static bool UseLiveWidgets =>
        !Console.IsOutputRedirected && AnsiConsole.Profile.Capabilities.Interactive && AnsiConsole.Profile.Capabilities.Ansi;

    public static IRenderable Render(DemoSnapshot s, long target, string phase)
    {
        var ratio = target == 0 ? 1.0 : Math.Min(1.0, (double)s.Produced / target);
        var bar = Bar(ratio, 40);
        var consumedRatio = target == 0 ? 1.0 : Math.Min(1.0, (double)s.DistinctConsumed / target);

        var table = new Table().Border(TableBorder.Rounded).Title("[bold]GroupedConsumer members[/]");
        table.AddColumn("member");
        table.AddColumn("partitions");
        table.AddColumn(new TableColumn("consumed").RightAligned());
        table.AddColumn(new TableColumn("lag").RightAligned());
        table.AddColumn("state");
        foreach (var m in s.Members)
        {
            var style = m.Alive ? "" : "[red]";
            var end = m.Alive ? "" : "[/]";
            table.AddRow(
                $"{style}{Markup.Escape(m.Label)}{end}",
                Markup.Escape(m.Alive ? string.Join(',', m.Partitions) : "-"),
                m.Consumed.ToString("N0", CultureInfo.InvariantCulture),
                m.Lag.ToString("N0", CultureInfo.InvariantCulture),
                $"{style}{Markup.Escape(m.Status)}{end}");
        }

        var events = s.Events.Count == 0 ? "(none yet)" : string.Join('\n', s.Events.Select(Markup.Escape));
        return new Rows(
            new Markup($"[bold]{Markup.Escape(phase)}[/]"),
            new Markup($"produce  [green]{bar}[/] {s.Produced.ToString("N0", CultureInfo.InvariantCulture)}/{target.ToString("N0", CultureInfo.InvariantCulture)}"),
            new Markup($"consume  [blue]{Bar(consumedRatio, 40)}[/] {s.DistinctConsumed.ToString("N0", CultureInfo.InvariantCulture)} distinct, {s.Duplicates.ToString("N0", CultureInfo.InvariantCulture)} duplicate(s)"),
            table,
            new Panel(new Markup(events)).Header("events").Border(BoxBorder.Rounded));
    }

    public static string PlainLine(DemoSnapshot s, long target, TimeSpan elapsed)
    {
        var members = string.Join(" | ", s.Members.Select(m => m.Alive
            ? FormattableString.Invariant($"{m.Label} [{string.Join(',', m.Partitions)}] {m.Consumed} lag {m.Lag}")
            : $"{m.Label} {m.Status}"));
        return FormattableString.Invariant($"[{elapsed.TotalSeconds,5:F1}s] produced {s.Produced}/{target}, consumed {s.DistinctConsumed} (+{s.Duplicates} dup) | {members}");
    }

    private static string Bar(double ratio, int width)
    {
        var full = (int)Math.Round(ratio * width);
        return new string('█', full) + new string('░', width - full);
    }
}
