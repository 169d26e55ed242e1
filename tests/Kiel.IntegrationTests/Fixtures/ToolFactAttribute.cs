namespace Kiel.IntegrationTests.Fixtures;

/// <summary>
/// A fact that needs an external program on PATH. Without it the test is skipped with the package to install,
/// except when the environment variable CI is "true": there a missing tool must fail, not hide behind a skip.
/// </summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class ToolFactAttribute : FactAttribute
{
    public ToolFactAttribute(string tool, string aptPackage)
    {
        if (ExternalTools.Find(tool) is null && !ExternalTools.IsCi)
        {
            Skip = $"'{tool}' is not on PATH; install it with: apt-get install -y --no-install-recommends {aptPackage} (with CI=true this test fails instead).";
        }
    }
}

/// <summary>Finds external programs for tests.</summary>
public static class ExternalTools
{
    /// <summary>True when the environment variable CI is "true" (case-insensitive).</summary>
    public static bool IsCi => string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase);

    /// <summary>The full path of <paramref name="tool"/> on PATH, or null.</summary>
    public static string? Find(string tool)
    {
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            var candidate = Path.Combine(dir, tool);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        return null;
    }

    /// <summary>The full path of <paramref name="tool"/>, or an exception that names the package to install.</summary>
    public static string Require(string tool, string aptPackage) =>
        Find(tool) ?? throw new InvalidOperationException($"'{tool}' is not on PATH; install it with: apt-get install -y --no-install-recommends {aptPackage}.");
}
