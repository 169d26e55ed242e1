namespace Kiel.Producing;

/// <summary>What a produce call does while <see cref="KielProducerOptions.BufferMemory"/> is full.</summary>
public enum BackpressureMode
{
    /// <summary>Wait for room, up to <see cref="KielProducerOptions.MaxBlock"/>, then throw <see cref="ProducerQueueFullException"/>.
    /// <c>ProduceAsync</c> waits asynchronously; the fire-and-forget <c>Produce</c> blocks its thread.</summary>
    Wait,
    /// <summary>Throw <see cref="ProducerQueueFullException"/> at once.</summary>
    Throw,
}
