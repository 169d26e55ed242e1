namespace Kiel.Testing;

/// <summary>The script of a <see cref="HostileBroker"/>: which behaviour, on which APIs, how often, from which seed.</summary>
public sealed record HostileBrokerOptions
{
    /// <summary>The misbehaviour. Default <see cref="HostileBehaviour.None"/> (a plain forwarding front). It can be changed later through <see cref="HostileBroker.Behaviour"/>.</summary>
    public HostileBehaviour Behaviour { get; init; }

    /// <summary>The seed of every random choice (which responses are hit, which variant), so a run can be replayed. Default 0.</summary>
    public int Seed { get; init; }

    /// <summary>The share of eligible responses that are hit, from 0 to 1. Default 1 (every one).</summary>
    public double Rate { get; init; } = 1.0;

    /// <summary>
    /// The API keys (Kafka's numbers: 0 Produce, 1 Fetch, 2 ListOffsets, 3 Metadata, 8 OffsetCommit, 9 OffsetFetch,
    /// 10 FindCoordinator, 18 ApiVersions, ...) whose responses may be hit; null (the default) means every API.
    /// Metadata behaviours hit Metadata and fetch behaviours Fetch whatever this says.
    /// </summary>
    public IReadOnlyCollection<short>? ApiKeys { get; init; }

    /// <summary>Checks the settings.</summary>
    /// <exception cref="ArgumentException">A setting is out of range; the message says which and what is allowed.</exception>
    public void Validate()
    {
        if (!Enum.IsDefined(Behaviour)) throw new ArgumentException($"Behaviour {(int)Behaviour} is not a HostileBehaviour.", nameof(Behaviour));
        if (double.IsNaN(Rate) || Rate is < 0 or > 1) throw new ArgumentException($"Rate must be between 0 and 1 (was {Rate}).", nameof(Rate));
    }
}
