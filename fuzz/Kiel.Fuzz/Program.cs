using Kiel.Fuzz;
using SharpFuzz;

// kiel-fuzz TARGET               run under afl-fuzz (SharpFuzz's in-process persistent mode): reads each input from afl
// kiel-fuzz seed TARGET DIR      writes the target's seed inputs (made with the production encoders) into DIR
// kiel-fuzz replay TARGET FILE…  runs inputs once each and says which throw an undocumented exception (exit 1 if any)
// kiel-fuzz bench TARGET DIR [S]  the target's own execution rate over the inputs in DIR (no afl, no instrumentation)
if (args.Length == 0 || !(args[0] is "seed" or "replay" or "bench" || FuzzTargets.All.ContainsKey(args[0])))
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

if (args[0] == "bench")
{
    // kiel-fuzz bench TARGET DIR [SECONDS]: the target's own cost (no afl, no instrumentation) over a corpus, round robin.
    var target = FuzzTargets.All[args[1]];
    var inputs = Directory.GetFiles(args[2]).Where(f => !Path.GetFileName(f).StartsWith('.')).Select(File.ReadAllBytes).ToArray();
    var seconds = args.Length > 3 ? double.Parse(args[3], System.Globalization.CultureInfo.InvariantCulture) : 10;
    var clock = System.Diagnostics.Stopwatch.StartNew();
    long n = 0;
    var gc0 = GC.CollectionCount(0);
    var bytes0 = GC.GetTotalAllocatedBytes();
    while (clock.Elapsed.TotalSeconds < seconds)
    {
        foreach (var input in inputs)
        {
            try { target(input); } catch (Exception e) when (FuzzTargets.IsDocumented(e)) { }
            n++;
        }
    }
    Console.WriteLine($"bench {args[1]}: {n} executions of {inputs.Length} inputs in {clock.Elapsed.TotalSeconds:F1} s = {n / clock.Elapsed.TotalSeconds:F0}/s, {(GC.GetTotalAllocatedBytes() - bytes0) / Math.Max(1, n)} B allocated per execution, {GC.CollectionCount(0) - gc0} gen0 GCs");
    return 0;
}

var run = FuzzTargets.All[args[0]];
// SharpFuzz's in-process persistent mode: this one process runs input after input for afl (no second process per
// execution, as the out-of-process mode has). An undocumented exception escapes the action and SharpFuzz reports it to
// afl as a crash. A stack overflow or a hang kills the process, and with it afl's fork server: run.sh then saves afl's
// current input as the finding and resumes the campaign.
var buffer = new byte[64 * 1024];
Fuzzer.Run(stream =>
{
    var length = 0;
    int read;
    while ((read = stream.Read(buffer, length, buffer.Length - length)) > 0)
    {
        length += read;
        if (length == buffer.Length) Array.Resize(ref buffer, buffer.Length * 2);
    }
    try
    {
        run(buffer.AsSpan(0, length).ToArray());
    }
    catch (Exception e) when (FuzzTargets.IsDocumented(e))
    {
        // Malformed input refused the documented way: not a finding.
    }
});
return 0;
