using Kiel.Consuming;
using Kiel.Extensions.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;

namespace Kiel.Samples.Worker;

/// <summary>An order as the producer wrote it (JSON).</summary>
public sealed record OrderPlaced(int Id, decimal Amount);

/// <summary>Handles each order; the base class connects, consumes as a group member and winds down on stop.</summary>
public sealed partial class OrderWorker(GroupedConsumer<OrderPlaced> consumer, IConfiguration configuration, ILogger<OrderWorker> logger)
    : KielGroupWorker<OrderPlaced>(consumer)
{
    private long _processed;

    protected override string Topic => configuration["Worker:Topic"] ?? "orders";

    protected override Task ProcessAsync(ConsumeResult<byte[]?, OrderPlaced> record, CancellationToken cancellationToken)
    {
        var total = Interlocked.Increment(ref _processed);
        Processed(logger, record.Value.Id, record.Value.Amount, record.Partition, record.Offset, total);
        return Task.CompletedTask;
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);
        Stopped(logger, Interlocked.Read(ref _processed));
    }

    [LoggerMessage(1, LogLevel.Information, "processed order {Id} ({Amount}) from partition {Partition} offset {Offset}; {Total} so far")]
    private static partial void Processed(ILogger logger, int id, decimal amount, int partition, long offset, long total);

    [LoggerMessage(2, LogLevel.Information, "worker stopped after {Total} orders; the group member has wound down")]
    private static partial void Stopped(ILogger logger, long total);
}
