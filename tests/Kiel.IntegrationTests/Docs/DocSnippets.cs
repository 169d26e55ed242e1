using System.Collections.Immutable;
using System.Reflection;
using System.Runtime.Loader;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;

namespace Kiel.IntegrationTests.Docs;

/// <summary>One <c>```csharp</c> block of a Markdown file, and whether the file marks it to be run.</summary>
public sealed record DocSnippet(string File, int Line, string Code, bool Run)
{
    /// <summary>The marker line, just above a block, that makes the docs test run the block (against Kiel.Testing).</summary>
    public const string RunMarker = "<!-- docs-test: run -->";

    /// <summary>How a test names the block: the file relative to the repository root and the block's first line.</summary>
    public string Id => $"{File}:{Line}";

    public override string ToString() => Id;

    /// <summary>Every Markdown file whose C# a user reads: the README, docs/, and each package's README.</summary>
    public static IReadOnlyList<string> Files(string root) =>
        new[] { Path.Combine(root, "README.md") }
            .Concat(Directory.GetFiles(Path.Combine(root, "docs"), "*.md"))
            .Concat(Directory.GetDirectories(Path.Combine(root, "src")).Select(d => Path.Combine(d, "README.md")).Where(System.IO.File.Exists))
            .Order(StringComparer.Ordinal)
            .ToList();

    /// <summary>The <c>```csharp</c> blocks of every file of <see cref="Files"/>, in order.</summary>
    public static IReadOnlyList<DocSnippet> All(string root)
    {
        var snippets = new List<DocSnippet>();
        foreach (var path in Files(root))
        {
            var lines = System.IO.File.ReadAllLines(path);
            var relative = Path.GetRelativePath(root, path).Replace('\\', '/');
            for (var i = 0; i < lines.Length; i++)
            {
                var fence = lines[i].Trim();
                if (fence is not ("```csharp" or "```cs" or "```c#")) continue;
                var start = i + 1;
                var end = start;
                while (end < lines.Length && lines[end].Trim() != "```") end++;
                if (end == lines.Length) throw new InvalidDataException($"{relative}:{i + 1}: a ```csharp block is never closed.");
                var marker = i > 0 && lines[i - 1].Trim() == RunMarker;
                snippets.Add(new DocSnippet(relative, i + 1, string.Join('\n', lines[start..end]), marker));
                i = end;
            }
        }
        return snippets;
    }
}

/// <summary>Compiles a snippet as a console app of its own would be (the SDK's implicit usings, nullable on) and runs it.</summary>
internal static class SnippetCompiler
{
    // What `dotnet new console` puts in scope (ImplicitUsings=enable); everything else a snippet must say itself.
    private const string ImplicitUsings = """
        global using global::System;
        global using global::System.Collections.Generic;
        global using global::System.IO;
        global using global::System.Linq;
        global using global::System.Net.Http;
        global using global::System.Threading;
        global using global::System.Threading.Tasks;
        """;

    private static readonly Lazy<ImmutableArray<MetadataReference>> References = new(() =>
        ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!)
            .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Where(p => p.EndsWith(".dll", StringComparison.OrdinalIgnoreCase))
            .Select(p => (MetadataReference)MetadataReference.CreateFromFile(p))
            .ToImmutableArray());

    /// <summary>The snippet compiled to an assembly image, or the compiler's errors (each with the doc line it came from).</summary>
    public static (byte[]? Image, IReadOnlyList<string> Errors) Compile(DocSnippet snippet)
    {
        var parse = new CSharpParseOptions(LanguageVersion.Latest);
        var code = CSharpSyntaxTree.ParseText(snippet.Code, parse, path: snippet.File);
        var usings = CSharpSyntaxTree.ParseText(ImplicitUsings, parse, path: "ImplicitUsings.g.cs");
        var hasStatements = code.GetCompilationUnitRoot().Members.Any(m => m is Microsoft.CodeAnalysis.CSharp.Syntax.GlobalStatementSyntax);
        var options = new CSharpCompilationOptions(hasStatements ? OutputKind.ConsoleApplication : OutputKind.DynamicallyLinkedLibrary,
            nullableContextOptions: NullableContextOptions.Enable);
        var compilation = CSharpCompilation.Create("DocSnippet_" + Guid.NewGuid().ToString("N"), [code, usings], References.Value, options);
        using var image = new MemoryStream();
        var result = compilation.Emit(image);
        var errors = result.Diagnostics
            .Where(d => d.Severity == DiagnosticSeverity.Error)
            .Select(d =>
            {
                var line = d.Location.GetLineSpan().StartLinePosition.Line;
                // +1 for the fence line above the code, +1 because lines count from 1.
                return $"{snippet.File}:{snippet.Line + line + 1}: {d.Id} {d.GetMessage(System.Globalization.CultureInfo.InvariantCulture)}";
            })
            .ToList();
        return (result.Success ? image.ToArray() : null, errors);
    }

    /// <summary>Runs a compiled console snippet's entry point and waits for it, at most <paramref name="timeout"/>.</summary>
    public static async Task RunAsync(byte[] image, TimeSpan timeout)
    {
        var context = new AssemblyLoadContext("doc-snippet", isCollectible: true);
        try
        {
            var assembly = context.LoadFromStream(new MemoryStream(image));
            var entry = assembly.EntryPoint ?? throw new InvalidOperationException("The snippet has no entry point (no top-level statements).");
            var args = entry.GetParameters().Length == 0 ? null : new object[] { Array.Empty<string>() };
            object? returned;
            try
            {
                returned = entry.Invoke(null, args);
            }
            catch (TargetInvocationException ex) when (ex.InnerException is not null)
            {
                System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(ex.InnerException).Throw();
                throw;
            }
            if (returned is Task task) await task.WaitAsync(timeout);
        }
        finally
        {
            context.Unload();
        }
    }
}
