using Kiel.Fuzz;

namespace Kiel.Tests.Fuzz;

/// <summary>
/// The fuzz targets (fuzz/Kiel.Fuzz/FuzzTargets.cs, the code afl++ drives) on every build: their seeds, a fixed set of
/// seeded mutations of them, and every input a fuzzing campaign saved under fuzz/findings/ (a crash found there is a
/// regression test from the moment it is saved). Each input must decode or be refused with a documented exception.
/// </summary>
public sealed class FuzzReplayTests
{
    public static TheoryData<string> Targets() => new(FuzzTargets.All.Keys);

    [Theory]
    [MemberData(nameof(Targets))]
    public void Seeds_decode_without_error(string target)
    {
        var run = FuzzTargets.All[target];
        var seeds = FuzzTargets.Seeds(target).ToList();
        Assert.NotEmpty(seeds);
        foreach (var (name, bytes) in seeds)
        {
            var error = Record.Exception(() => run(bytes));
            // Seeds are valid inputs; the ZooKeeper seeds are zeros, which some decoders refuse (a null where data is needed),
            // and the SASL seeds named refused-* are server messages the client must refuse.
            if (error is not null && !((target == "zookeeper" || name.StartsWith("refused-", StringComparison.Ordinal)) && FuzzTargets.IsDocumented(error)))
                Assert.Fail($"{target} seed {name}: {error}");
            if (error is null && name.StartsWith("refused-", StringComparison.Ordinal))
                Assert.Fail($"{target} seed {name} was accepted, and the client must refuse it");
        }
    }

    [Theory]
    [MemberData(nameof(Targets))]
    public void Mutated_seeds_decode_or_are_refused_with_a_documented_exception(string target)
    {
        var run = FuzzTargets.All[target];
        var random = new Random(20261202);
        var seeds = FuzzTargets.Seeds(target).Select(s => s.Bytes).ToList();
        var refused = 0;
        for (var i = 0; i < 3000; i++)
        {
            var input = Mutate(seeds[random.Next(seeds.Count)], random);
            try
            {
                run(input);
            }
            catch (Exception e) when (FuzzTargets.IsDocumented(e))
            {
                refused++;
            }
            catch (Exception e)
            {
                Assert.Fail($"{target} mutation {i} ({Convert.ToHexString(input.AsSpan(0, Math.Min(64, input.Length)))}…): {e}");
            }
        }
        // The mutations must reach the decoders' error paths, or this test proves little.
        Assert.True(refused > 100, $"only {refused} of 3000 mutations were refused");
    }

    [Theory]
    [MemberData(nameof(Targets))]
    public void Saved_findings_stay_fixed(string target)
    {
        var folder = Path.Combine(Cluster.ErrorClassificationTests.RepoRoot(), "fuzz", "findings", target);
        if (!Directory.Exists(folder)) return;   // no finding saved for this target
        foreach (var file in Directory.GetFiles(folder))
        {
            var error = Record.Exception(() => FuzzTargets.All[target](File.ReadAllBytes(file)));
            Assert.True(error is null || FuzzTargets.IsDocumented(error), $"{file}: {error}");
        }
    }

    /// <summary>One to four byte-level edits: flip, set to an edge value, insert, delete, truncate or splice in a length.</summary>
    private static byte[] Mutate(byte[] seed, Random random)
    {
        var bytes = new List<byte>(seed);
        var edits = 1 + random.Next(4);
        for (var e = 0; e < edits && bytes.Count > 0; e++)
        {
            var at = random.Next(bytes.Count);
            switch (random.Next(6))
            {
                case 0: bytes[at] ^= (byte)(1 << random.Next(8)); break;
                case 1: bytes[at] = new byte[] { 0x00, 0x7f, 0x80, 0xff }[random.Next(4)]; break;
                case 2: bytes.Insert(at, (byte)random.Next(256)); break;
                case 3: bytes.RemoveAt(at); break;
                case 4: bytes.RemoveRange(at, bytes.Count - at); break;
                default:
                    var edge = new[] { 0, -1, int.MaxValue, int.MinValue, 0x7fff, 1 << 20 }[random.Next(6)];
                    for (var k = 0; k < 4 && at + k < bytes.Count; k++) bytes[at + k] = (byte)(edge >> (24 - 8 * k));
                    break;
            }
        }
        return [.. bytes];
    }
}
