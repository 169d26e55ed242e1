using System.Reflection.Metadata;

namespace Kiel.Tests;

/// <summary>The built library names no build folder: every source path in its PDB is mapped to /_/ (reproducible builds).</summary>
public sealed class BuildOutputTests
{
    [Fact]
    public void The_pdb_holds_no_absolute_build_path()
    {
        var dll = typeof(KielClientOptions).Assembly.Location;
        var pdb = Path.ChangeExtension(dll, ".pdb");
        Assert.True(File.Exists(pdb), $"no PDB beside {dll}");
        using var stream = File.OpenRead(pdb);
        using var provider = MetadataReaderProvider.FromPortablePdbStream(stream);
        var reader = provider.GetMetadataReader();
        var documents = reader.Documents.Select(h => reader.GetString(reader.GetDocument(h).Name)).ToList();
        Assert.NotEmpty(documents);
        var unmapped = documents.Where(d => !d.StartsWith("/_/", StringComparison.Ordinal)).ToList();
        Assert.True(unmapped.Count == 0, "source paths not mapped to /_/: " + string.Join(", ", unmapped.Take(5)));
    }
}
