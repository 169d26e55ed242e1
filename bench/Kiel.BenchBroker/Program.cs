using Kiel.BenchBroker;

// kiel-bench-broker [--port N] [--no-verify]
// Prints "listening 127.0.0.1:PORT", then answers lines on stdin: "stats TOPIC" → "stats TOPIC records batches bytes checksum errors";
// "quit" or the end of stdin stops it.
var port = 0;
var verify = true;
for (var i = 0; i < args.Length; i++)
{
    if (args[i] == "--port" && i + 1 < args.Length) port = int.Parse(args[++i], System.Globalization.CultureInfo.InvariantCulture);
    else if (args[i] == "--no-verify") verify = false;
    else
    {
        Console.Error.WriteLine($"unknown argument {args[i]}; usage: Kiel.BenchBroker [--port N] [--no-verify]");
        return 2;
    }
}
await using var broker = new BenchBroker(port, verify);
Console.WriteLine($"listening 127.0.0.1:{broker.Port}");
Console.Out.Flush();
while (Console.ReadLine() is { } line)
{
    var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
    if (parts.Length == 0) continue;
    if (parts[0] == "quit") break;
    if (parts[0] == "stats" && parts.Length == 2)
    {
        var s = broker.Stats(parts[1]);
        Console.WriteLine($"stats {parts[1]} {s.Records} {s.Batches} {s.Bytes} {s.Checksum} {s.Errors}");
    }
    else Console.WriteLine($"error unknown command {line}");
    Console.Out.Flush();
}
return 0;
