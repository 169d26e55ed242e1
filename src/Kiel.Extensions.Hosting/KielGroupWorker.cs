using Kiel.Consuming;
using Kiel.Diagnostics;
using Microsoft.Extensions.Hosting;

namespace Kiel.Extensions.Hosting;

/// <summary>
/// A hosted worker that consumes one topic as a member of a GroupedConsumer group: it connects when the host starts,
/// hands every record to <see cref="ProcessAsync"/> inside a <c>process</c> span that continues the producer's trace,
/// and winds down (commit, leave the group, close the ZooKeeper session) when the host stops.
/// Delivery is at least once: a record is committed after the call that handed it out returns, so a crash re-delivers
/// what was being processed.
/// </summary>
/// <typeparam name="TValue">The value type.</typeparam>
/// <param name="consumer">The group member, usually registered with <see cref="KielServiceCollectionExtensions.AddKielGroupedConsumer{TValue}"/>.</param>
public abstract class KielGroupWorker<TValue>(GroupedConsumer<TValue> consumer) : BackgroundService
{
    /// <summary>The group member this worker drives.</summary>
    protected GroupedConsumer<TValue> Consumer { get; } = consumer ?? throw new ArgumentNullException(nameof(consumer));

    /// <summary>The topic to consume.</summary>
    protected abstract string Topic { get; }

    /// <summary>Where partitions without a committed offset start; null means the consumer's reset policy.</summary>
    protected virtual StartPosition? Start => null;

    /// <summary>Handles one record. An exception stops the worker (and, by the host's default, the host).</summary>
    /// <param name="record">The record.</param>
    /// <param name="cancellationToken">Signalled when the host stops.</param>
    protected abstract Task ProcessAsync(ConsumeResult<byte[]?, TValue> record, CancellationToken cancellationToken);

    /// <inheritdoc />
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await Consumer.ConnectAsync(stoppingToken).ConfigureAwait(false);
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                IReadOnlyList<ConsumeResult<byte[]?, TValue>> batch;
                try
                {
                    batch = await Consumer.ConsumeRecordsAsync(Topic, Start, stoppingToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
                {
                    break;
                }

                foreach (var record in batch)
                {
                    using var activity = KielTracing.StartProcess(record, Consumer.Group);
                    await ProcessAsync(record, stoppingToken).ConfigureAwait(false);
                }
            }
        }
        finally
        {
            // Commits what was handed out and leaves the group, bounded by the consumer's WindDownTimeout.
            await Consumer.WindDownAsync(CancellationToken.None).ConfigureAwait(false);
        }
    }
}
