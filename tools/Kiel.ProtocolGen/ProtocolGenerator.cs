namespace Kiel.ProtocolGen;

/// <summary>Generates Kiel's protocol message classes from Kafka's JSON message schemas.</summary>
public static class ProtocolGenerator
{
    /// <summary>Where the schemas live, relative to the repository root.</summary>
    public const string SchemaFolder = "../shared/kafka-protocol/message";

    /// <summary>Where the generated code goes, relative to the repository root.</summary>
    public const string OutputFolder = "src/Kiel/Protocol/Messages";

    /// <summary>Loads every schema in <paramref name="messageDir"/>, sorted by file name.</summary>
    public static List<MessageSpec> LoadAll(string messageDir)
    {
        var files = Directory.GetFiles(messageDir, "*.json").OrderBy(f => Path.GetFileName(f), StringComparer.Ordinal).ToList();
        if (files.Count == 0) throw new FileNotFoundException($"No *.json schema in {messageDir}.");
        return files.Select(MessageSpec.Load).ToList();
    }

    /// <summary>Generates every file: file name → content.</summary>
    public static SortedDictionary<string, string> Generate(string messageDir)
    {
        var specs = LoadAll(messageDir);
        var result = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var spec in specs)
            result.Add(spec.Name + ".g.cs", new MessageEmitter(spec).Emit(spec.FileName));
        foreach (var (file, text) in TableEmitter.Emit(specs)) result.Add(file, text);
        return result;
    }

    /// <summary>Writes the generated files into <paramref name="outputDir"/> and removes stale generated files.</summary>
    public static int Run(string messageDir, string outputDir, TextWriter log)
    {
        var files = Generate(messageDir);
        Directory.CreateDirectory(outputDir);
        int written = 0;
        foreach (var (name, text) in files)
        {
            var path = Path.Combine(outputDir, name);
            if (File.Exists(path) && File.ReadAllText(path) == text) continue;
            File.WriteAllText(path, text);
            written++;
        }
        foreach (var existing in Directory.GetFiles(outputDir, "*.g.cs"))
        {
            if (!files.ContainsKey(Path.GetFileName(existing)))
            {
                File.Delete(existing);
                log.WriteLine($"removed stale {Path.GetFileName(existing)}");
            }
        }
        log.WriteLine($"{files.Count} files generated into {outputDir} ({written} changed).");
        return files.Count;
    }
}
