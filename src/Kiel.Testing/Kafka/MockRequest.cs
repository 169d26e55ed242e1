namespace Kiel.Testing;

/// <summary>A request the mock cluster received while request tracking was on.</summary>
/// <param name="BrokerId">The broker that received it.</param>
/// <param name="ApiKey">The Kafka API key (0 Produce, 1 Fetch, 3 Metadata, ...). The mock records no version.</param>
/// <param name="Timestamp">When the mock received it.</param>
public readonly record struct MockRequest(int BrokerId, short ApiKey, DateTimeOffset Timestamp);
