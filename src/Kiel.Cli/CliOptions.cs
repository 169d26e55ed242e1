using System.CommandLine;

namespace Kiel.Cli;

/// <summary>Validation shared by the commands' options.</summary>
internal static class CliOptions
{
    /// <summary>Refuses a value of <paramref name="option"/> outside <paramref name="min"/>..<paramref name="max"/> with a message that names both.</summary>
    public static void Range(Option<int> option, int min, int max) => option.Validators.Add(r =>
    {
        var n = r.GetValueOrDefault<int>();
        if (n < min || n > max)
        {
            r.AddError(FormattableString.Invariant($"{option.Name} must be between {min:N0} and {max:N0} (was {n})."));
        }
    });
}
