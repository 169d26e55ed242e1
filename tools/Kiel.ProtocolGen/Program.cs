// Usage: dotnet run --project tools/Kiel.ProtocolGen -- [repoRoot] [outputDir]
// repoRoot defaults to the nearest folder above the current one that holds Kiel.slnx; the schemas are read
// from <repoRoot>/../shared/kafka-protocol/message and the output goes to <repoRoot>/src/Kiel/Protocol/Messages.
using Kiel.ProtocolGen;

var root = args.Length > 0 ? Path.GetFullPath(args[0]) : FindRoot(Directory.GetCurrentDirectory());
if (root is null)
{
    Console.Error.WriteLine("Could not find Kiel.slnx above the current folder; pass the repository root as the first argument.");
    return 2;
}
var schemas = Path.GetFullPath(Path.Combine(root, ProtocolGenerator.SchemaFolder));
var output = args.Length > 1 ? Path.GetFullPath(args[1]) : Path.Combine(root, ProtocolGenerator.OutputFolder);
if (!Directory.Exists(schemas))
{
    Console.Error.WriteLine($"Schema folder not found: {schemas}");
    return 2;
}
ProtocolGenerator.Run(schemas, output, Console.Out);
return 0;

static string? FindRoot(string start)
{
    for (var d = new DirectoryInfo(start); d is not null; d = d.Parent)
        if (File.Exists(Path.Combine(d.FullName, "Kiel.slnx"))) return d.FullName;
    return null;
}
