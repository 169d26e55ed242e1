using System.Diagnostics;
using Kiel.Protocol.Records;

namespace Kiel.Benchmarks.Records;

/// <summary>
/// CRC-32C throughput of the CRC instruction's three streams against 512-bit folding, over buffers from 16 KiB (in
/// cache) to 64 MiB (from memory), random bytes, 2 GiB per measurement after 3 warm-up passes:
/// <c>dotnet run -c Release --project bench/Kiel.Benchmarks -- crc</c>.
/// </summary>
internal static class CrcRunner
{
    [BenchRunner("crc")]
    public static Task<int> Run(string[] args)
    {
        _ = args;
        Console.WriteLine($"# folding available: {Crc32C.IsFoldAccelerated}");
        foreach (var size in new[] { 16 * 1024, 1 << 20, 6 << 20, 64 << 20 })
        {
            var data = new byte[size];
            new Random(size).NextBytes(data);
            var paths = new List<(string Name, Func<byte[], uint> Crc)> { ("CRC instruction, 3 streams", d => Crc32C.UpdateCrcInstruction(~0u, d)) };
            if (Crc32C.IsFoldAccelerated) paths.Add(("512-bit folding", d => Crc32C.UpdateFolded(~0u, d)));
            uint? first = null;
            foreach (var (name, crc) in paths)
            {
                var value = crc(data);
                if (first is { } f && f != value) throw new InvalidOperationException($"{name} disagrees at {size} bytes");
                first = value;
                for (var w = 0; w < 3; w++) crc(data);
                var iterations = Math.Max(1, (int)(2L * 1024 * 1024 * 1024 / size));
                var watch = Stopwatch.StartNew();
                for (var i = 0; i < iterations; i++) crc(data);
                Console.WriteLine($"{name,-28} {size,10:N0} B: {(double)size * iterations / watch.Elapsed.TotalSeconds / 1e9:F2} GB/s");
            }
        }
        return Task.FromResult(0);
    }
}
