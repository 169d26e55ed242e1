using System.CommandLine;

namespace Kiel.Cli.Commands;

/// <summary>
/// The shared set-up of the hidden child commands (<c>kiel demo-member</c>, <c>kiel chaos-producer</c>): the command with
/// its options and action, the stop on end of stdin (the parent closes it to stop the child, and it ends when the parent
/// dies) and the <c>S bytes</c> GC heap sampler.
/// </summary>
internal static class ChildCommand
{
    /// <summary>A hidden command with <paramref name="options"/> that runs <paramref name="run"/> under <see cref="KielApp.Guard"/>.</summary>
    public static Command Create(string name, string description, IEnumerable<Option> options, Func<CommandContext, Task<int>> run)
    {
        var command = new Command(name, description) { Hidden = true };
        foreach (var option in options)
        {
            command.Options.Add(option);
        }

        command.SetAction((parse, ct) => KielApp.Guard(parse, ct, run));
        return command;
    }

    /// <summary>A token source linked to <paramref name="cancellationToken"/> that is also cancelled at the end of stdin.</summary>
    public static CancellationTokenSource StopAtEndOfStdin(CancellationToken cancellationToken)
    {
        var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        _ = Task.Run(() =>
        {
            try
            {
                while (Console.In.ReadLine() is not null)
                {
                }
            }
            finally
            {
                try
                {
                    stop.Cancel();
                }
                catch (ObjectDisposedException)
                {
                    // The command ended first.
                }
            }
        }, CancellationToken.None);
        return stop;
    }

    /// <summary>Reports <c>S bytes</c> (the GC heap) every <paramref name="sampleMs"/> from now on; null (no sampler) when it is not positive.</summary>
    public static Timer? HeapSampler(int sampleMs, Action<string> report)
        => sampleMs > 0
            ? new Timer(_ => report(FormattableString.Invariant($"S {GC.GetTotalMemory(false)}")), null, 0, sampleMs)
            : null;
}
