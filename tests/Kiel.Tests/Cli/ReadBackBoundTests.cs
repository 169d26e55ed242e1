using Kiel.Cli.Chaos;

namespace Kiel.Tests.Cli;

/// <summary>The bound of <c>kiel chaos</c>'s read-back of the topic (src/Kiel.Cli/Chaos/ReadBackBound.cs, compiled in).</summary>
public sealed class ReadBackBoundTests
{
    [Fact]
    public void A_short_run_gets_the_five_minute_floor()
    {
        Assert.Equal(TimeSpan.FromMinutes(5), ReadBackBound.For(0));
        Assert.Equal(TimeSpan.FromMinutes(5), ReadBackBound.For(-1));
        // The long campaign's runs: 60 s at 300 records/s.
        Assert.Equal(TimeSpan.FromMinutes(5) + TimeSpan.FromSeconds(54), ReadBackBound.For(18_000));
    }

    [Fact]
    public void The_bound_grows_with_the_record_count()
    {
        // The 30-minute soak's 540,002 records ran past a fixed 5 minutes; now 5 min + 3 ms each (about 32 min).
        var soak = ReadBackBound.For(540_002);
        Assert.Equal(TimeSpan.FromMinutes(5) + TimeSpan.FromMilliseconds(3 * 540_002L), soak);
        Assert.True(soak > TimeSpan.FromMinutes(30), soak.ToString());
        Assert.True(ReadBackBound.For(1_000_001) > ReadBackBound.For(1_000_000));
    }

    [Fact]
    public void The_verdict_states_the_bound_used()
    {
        Assert.Equal("32 min (5 min + 3 ms × 540002 records)", ReadBackBound.Describe(540_002));
        Assert.Equal("5 min (5 min + 3 ms × 0 records)", ReadBackBound.Describe(0));
    }
}
