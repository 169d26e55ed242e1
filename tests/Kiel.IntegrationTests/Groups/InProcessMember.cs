namespace Kiel.IntegrationTests.Groups;

/// <summary>A member in this process that consumes in a loop and logs what it hands out.</summary>
internal sealed class InProcessMember : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private Task _loop = Task.CompletedTask;

    public GroupedConsumer Consumer { get; }

    public Exception? Failure { get; private set; }

    private InProcessMember(GroupedConsumer consumer) => Consumer = consumer;

    public static async Task<InProcessMember> StartAsync(GroupedConsumerOptions options, DeliveryLog log, string topic)
    {
        var member = new InProcessMember(new GroupedConsumer(options));
        using (var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30)))
            await member.Consumer.ConnectAsync(cts.Token);
        member._loop = Task.Run(async () =>
        {
            try
            {
                while (!member._stop.IsCancellationRequested)
                {
                    var records = await member.Consumer.ConsumeRecordsAsync(topic, null, member._stop.Token);
                    var at = System.Diagnostics.Stopwatch.GetTimestamp();
                    foreach (var r in records) log.Add(member.Consumer.Name, r.Partition, r.Offset, at);
                }
            }
            catch (OperationCanceledException) when (member._stop.IsCancellationRequested) { }
            catch (Exception e) { member.Failure = e; }
        });
        return member;
    }

    public HashSet<int> Allocation => Consumer.Allocation.Values.SelectMany(v => v).ToHashSet();

    /// <summary>Stops the loop, then winds down (which commits what was handed out).</summary>
    public async Task LeaveAsync()
    {
        _stop.Cancel();
        await _loop.WaitAsync(TimeSpan.FromSeconds(10));
        await Consumer.WindDownAsync();
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        try { await _loop.WaitAsync(TimeSpan.FromSeconds(10)); } catch (TimeoutException) { }
        await Consumer.DisposeAsync();
    }
}
