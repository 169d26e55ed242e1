using System.Text;
using Kiel.Consuming;

namespace Kiel.Tests.Consuming;

internal static class EngineHarness
{
    public static KielConsumerOptions Options(OffsetResetPolicy reset = OffsetResetPolicy.Earliest, IsolationLevel isolation = IsolationLevel.ReadUncommitted) => new()
    {
        BootstrapServers = "fake:9092",
        FetchMaxWait = TimeSpan.FromMilliseconds(50),
        RetryBackoff = TimeSpan.FromMilliseconds(5),
        RequestTimeout = TimeSpan.FromSeconds(5),
        TopicMetadataTimeout = TimeSpan.FromMilliseconds(300),
        AutoOffsetReset = reset,
        IsolationLevel = isolation,
    };

    /// <summary>Reads records until <paramref name="count"/> arrived or 10 s passed.</summary>
    public static async Task<List<(TopicPartition Tp, long Offset, string Value)>> ReadAsync(FetchEngine engine, int count, TimeSpan? limit = null)
    {
        var list = new List<(TopicPartition, long, string)>();
        using var cts = new CancellationTokenSource(limit ?? TimeSpan.FromSeconds(10));
        try
        {
            while (list.Count < count)
            {
                var chunk = await engine.TakeAsync(cts.Token);
                try
                {
                    if (chunk.Error is { } e) throw e;
                    while (chunk.IsCurrent && chunk.TryReadNext(out var r))
                        list.Add((r.TopicPartition, r.Offset, Encoding.UTF8.GetString(r.Value)));
                }
                finally
                {
                    engine.Release(chunk);
                }
            }
        }
        catch (OperationCanceledException) when (limit is not null)
        {
        }
        return list;
    }
}
