using BenchmarkDotNet.Running;

// Micro-benchmarks: dotnet run -c Release --project bench/Kiel.Benchmarks -- --filter '*'
// Side-by-side runners against Confluent.Kafka register themselves as named commands in Runners.cs.
if (args.Length > 0 && Kiel.Benchmarks.Runners.TryRun(args, out var exitCode))
    return exitCode;
BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
return 0;
