using Kiel.Fuzz;
using SharpFuzz;

// kiel-fuzz TARGET               run under afl-fuzz (SharpFuzz's out-of-process mode): reads each input from stdin/afl
// kiel-fuzz seed TARGET DIR      writes the target's seed inputs (made with the production encoders) into DIR
// kiel-fuzz replay TARGET FILE…  runs inputs once each and says which throw an undocumented exception (exit 1 if any)
if (args.Length == 0 || !(args[0] is "seed" or "replay" || FuzzTargets.All.ContainsKey(args[0])))
{
    Console.Error.WriteLine($"usage: Kiel.Fuzz TARGET | seed TARGET DIR | replay TARGET FILE...; targets: {string.Join(", ", FuzzTargets.All.Keys)}");
    return 2;
}

if (args[0] == "seed")
{
    Directory.CreateDirectory(args[2]);
    var n = 0;
    foreach (var (name, bytes) in FuzzTargets.Seeds(args[1]))
    {
        File.WriteAllBytes(Path.Combine(args[2], name), bytes);
        n++;
    }
    Console.WriteLine($"{n} seeds for {args[1]} in {args[2]}");
    return 0;
}

if (args[0] == "replay")
{
    var target = FuzzTargets.All[args[1]];
    var bad = 0;
    foreach (var file in args.Skip(2))
    {
        try
        {
            target(File.ReadAllBytes(file));
        }
        catch (Exception e) when (FuzzTargets.IsDocumented(e))
        {
        }
        catch (Exception e)
        {
            bad++;
            Console.WriteLine($"{file}: {e.GetType().Name}: {e.Message}");
        }
    }
    Console.WriteLine($"replayed {args.Length - 2} input(s), {bad} finding(s)");
    return bad == 0 ? 0 : 1;
}

var run = FuzzTargets.All[args[0]];
Fuzzer.OutOfProcess.Run(stream =>
{
    using var buffer = new MemoryStream();
    stream.CopyTo(buffer);
    try
    {
        run(buffer.ToArray());
    }
    catch (Exception e) when (FuzzTargets.IsDocumented(e))
    {
        // Malformed input refused the documented way: not a finding.
    }
});
return 0;
