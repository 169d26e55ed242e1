namespace Kiel.IntegrationTests.Docs;

/// <summary>
/// Every C# block in the README, docs/ and the package READMEs compiles as written, and the blocks marked
/// <see cref="DocSnippet.RunMarker"/> run to the end against Kiel.Testing. A doc change that breaks its code fails here.
/// </summary>
public sealed class DocsCodeTests
{
    private static readonly string Root = RepoRoot();

    public static TheoryData<string> Snippets() => new(DocSnippet.All(Root).Select(s => s.Id));

    public static TheoryData<string> RunnableSnippets() => new(DocSnippet.All(Root).Where(s => s.Run).Select(s => s.Id));

    [Theory]
    [MemberData(nameof(Snippets))]
    public void Every_csharp_block_compiles_as_written(string id)
    {
        var snippet = DocSnippet.All(Root).Single(s => s.Id == id);
        var (image, errors) = SnippetCompiler.Compile(snippet);
        Assert.True(image is not null, $"{id} does not compile:\n" + string.Join('\n', errors));
    }

    [Theory]
    [MemberData(nameof(RunnableSnippets))]
    public async Task Quick_start_blocks_run_against_the_embedded_cluster(string id)
    {
        var snippet = DocSnippet.All(Root).Single(s => s.Id == id);
        var (image, errors) = SnippetCompiler.Compile(snippet);
        Assert.True(image is not null, $"{id} does not compile:\n" + string.Join('\n', errors));
        await SnippetCompiler.RunAsync(image, TimeSpan.FromSeconds(120));
    }

    [Fact]
    public void The_extractor_finds_the_blocks_users_read()
    {
        var all = DocSnippet.All(Root);
        // The README's quick start and the getting-started guide are run, not only compiled.
        Assert.Contains(all, s => s.File == "README.md" && s.Run);
        Assert.Contains(all, s => s.File == "docs/getting-started.md" && s.Run);
        Assert.Contains(all, s => s.File == "src/Kiel/README.md");
        Assert.True(all.Count >= 8, $"only {all.Count} C# blocks found: " + string.Join(", ", all));
    }

    [Fact]
    public void A_block_that_does_not_compile_is_reported_with_its_doc_line()
    {
        var broken = new DocSnippet("docs/x.md", 10, "using Kiel;\n\nvar p = new NoSuchType();", Run: false);
        var (image, errors) = SnippetCompiler.Compile(broken);
        Assert.Null(image);
        Assert.Contains(errors, e => e.StartsWith("docs/x.md:13: CS0246", StringComparison.Ordinal));
    }

    private static string RepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Kiel.slnx"))) return dir.FullName;
        throw new InvalidOperationException("The repository root (with Kiel.slnx) is not above " + AppContext.BaseDirectory);
    }
}
