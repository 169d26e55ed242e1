namespace Kiel.Producing.Internal;

/// <summary>
/// Brokers before Kafka 0.11 (0.8.2 and 0.9 among them) have no InitProducerId, so no idempotent produce. Idempotence
/// left at its default is turned off there with one warning; idempotence the options asked for fails every record
/// with an error that says why and what to change.
/// </summary>
internal sealed partial class ProducerEngine
{
    // Set once, on the sender loop, when idempotence was asked for and the brokers cannot give it.
    private volatile ProduceException? _idempotenceRefused;

    private void OnIdempotenceUnsupported()
    {
        if (_options.EnableIdempotenceIsExplicit)
        {
            _idempotenceRefused = new ProduceException(
                "EnableIdempotence is set, but the brokers do not support idempotent produce (no InitProducerId: Kafka before 0.11, " +
                "such as 0.8.2 or 0.9); set EnableIdempotence = false, or leave it unset to go on without it.");
        }
        else
        {
            ProducerLog.IdempotenceUnsupported(_log);
        }
    }
}
