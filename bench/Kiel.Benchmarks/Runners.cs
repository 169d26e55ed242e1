using System.Reflection;

namespace Kiel.Benchmarks;

/// <summary>Marks a <c>static Task&lt;int&gt; Name(string[] args)</c> method as a whole-process runner named on the command line.</summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class BenchRunnerAttribute(string name) : Attribute
{
    public string Name { get; } = name;
}

/// <summary>
/// Whole-process runners (for example Kiel vs Confluent.Kafka throughput on the embedded cluster):
/// <c>dotnet run -c Release --project bench/Kiel.Benchmarks -- NAME [args]</c>.
/// </summary>
public static class Runners
{
    public static bool TryRun(string[] args, out int exitCode)
    {
        foreach (var type in typeof(Runners).Assembly.GetTypes())
        foreach (var method in type.GetMethods(BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Static))
        {
            var attr = method.GetCustomAttribute<BenchRunnerAttribute>();
            if (attr is null || !string.Equals(attr.Name, args[0], StringComparison.OrdinalIgnoreCase)) continue;
            var task = (Task<int>)method.Invoke(null, [args[1..]])!;
            exitCode = task.GetAwaiter().GetResult();
            return true;
        }
        exitCode = 0;
        return false;
    }
}
