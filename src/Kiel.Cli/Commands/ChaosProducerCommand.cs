using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Threading.Channels;
using Kiel.Producing;

namespace Kiel.Cli.Commands;

/// <summary>
/// <c>kiel chaos-producer</c> (hidden): the producer of <c>kiel chaos</c>, run as a child process so that the soak
/// samples a process that holds only the producer (the <c>kiel</c> process holds the embedded cluster, the proxy and
/// the verdict's record of every record sent). It produces <c>--rate</c> records per second for <c>--duration-ms</c>,
/// each record's key and value its sequence number, and reports on stdout, one line each:
/// <c>D seq partition offset ms</c> for a delivered record (ms: from the produce call to the report),
/// <c>F seq ms reason</c> for a failed one, <c>T ms</c> whenever a produce call set a new longest duration,
/// <c>S bytes</c> (its GC heap) every <c>--sample-ms</c>, and at the end <c>E produced flush-ms</c> (with
/// <c> timeout</c> when the final flush did not end within <c>--flush-bound-ms</c>). End of stdin stops it.
/// </summary>
internal static class ChaosProducerCommand
{
    private static readonly Option<string> Brokers = new("--brokers", "-b") { Required = true };
    private static readonly Option<string> Topic = new("--topic") { Required = true };
    private static readonly Option<int> Rate = new("--rate") { Required = true };
    private static readonly Option<long> DurationMs = new("--duration-ms") { Required = true };
    private static readonly Option<int> DeliveryTimeoutMs = new("--delivery-timeout-ms") { DefaultValueFactory = _ => 30_000 };
    private static readonly Option<int> RequestTimeoutMs = new("--request-timeout-ms") { DefaultValueFactory = _ => 10_000 };
    private static readonly Option<int> FlushBoundMs = new("--flush-bound-ms") { DefaultValueFactory = _ => 35_000 };
    private static readonly Option<int> SampleMs = new("--sample-ms");

    public static Command Create() => ChildCommand.Create(
        "chaos-producer",
        "The producer of kiel chaos (internal).",
        [Brokers, Topic, Rate, DurationMs, DeliveryTimeoutMs, RequestTimeoutMs, FlushBoundMs, SampleMs],
        RunAsync);

    private static async Task<int> RunAsync(CommandContext context)
    {
        var parse = context.Parse;
        // The parent closes our stdin to stop us (also when it dies).
        using var stop = ChildCommand.StopAtEndOfStdin(context.CancellationToken);

        // Delivery reports come on the producer's threads; a writer task puts them on stdout so that a slow reader
        // never holds up the producer.
        var lines = Channel.CreateUnbounded<string>(new UnboundedChannelOptions { SingleReader = true });
        var writer = Task.Run(() => WriteLinesAsync(lines.Reader), CancellationToken.None);
        using var sampler = ChildCommand.HeapSampler(parse.GetValue(SampleMs), line => lines.Writer.TryWrite(line));
        try
        {
            return await ProduceAsync(context, lines.Writer, stop.Token);
        }
        finally
        {
            lines.Writer.TryComplete();
            await writer;
        }
    }

    private static async Task<int> ProduceAsync(CommandContext context, ChannelWriter<string> lines, CancellationToken stop)
    {
        var parse = context.Parse;
        var topic = parse.GetValue(Topic)!;
        var rate = parse.GetValue(Rate);
        var duration = TimeSpan.FromMilliseconds(parse.GetValue(DurationMs));
        await using var producer = new KielProducer<byte[], byte[]>(
            new KielProducerOptions
            {
                BootstrapServers = parse.GetValue(Brokers)!,
                ClientId = "kiel-chaos",
                DeliveryTimeout = TimeSpan.FromMilliseconds(parse.GetValue(DeliveryTimeoutMs)),
                RequestTimeout = TimeSpan.FromMilliseconds(parse.GetValue(RequestTimeoutMs)),

                // One request in flight per broker, so one batch per partition: the embedded cluster does not check a plain idempotent producer's
                // sequence numbers, so a batch sent behind one that then fails is appended ahead of that one's retry,
                // where a real broker refuses it as out of order. With one in flight the campaign's order check
                // judges Kiel's retries alone (the pipelined case is ProducerFaultTests', against the mock's checked
                // transactional sequences).
                MaxInFlight = 1,
                LoggerFactory = context.LoggerFactory,
            },
            Serializers.Bytes,
            Serializers.Bytes);
        var started = Stopwatch.StartNew();
        var produced = 0L;
        var longestCallMs = -1L;
        try
        {
            while (started.Elapsed < duration)
            {
                // Read the clock once: checked and then read again, the wait could turn negative in between.
                var wait = TimeSpan.FromSeconds((double)produced / rate) - started.Elapsed;
                if (wait > TimeSpan.Zero)
                {
                    await Task.Delay(wait, stop);
                }

                var seq = produced++;
                var key = Encoding.ASCII.GetBytes(seq.ToString(CultureInfo.InvariantCulture));
                var at = Stopwatch.GetTimestamp();
                producer.Produce(topic, key, key, onDelivery: (in DeliveryReport r) => lines.TryWrite(Report(seq, at, r)));
                var callMs = (long)Stopwatch.GetElapsedTime(at).TotalMilliseconds;
                if (callMs > longestCallMs)
                {
                    longestCallMs = callMs;
                    lines.TryWrite(FormattableString.Invariant($"T {callMs}"));
                }
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            return ExitCodes.Interrupted;
        }

        // Every record ends within the delivery timeout: delivered or failed.
        using var flushBound = CancellationTokenSource.CreateLinkedTokenSource(stop);
        flushBound.CancelAfter(parse.GetValue(FlushBoundMs));
        var flushStarted = Stopwatch.GetTimestamp();
        var timedOut = false;
        try
        {
            await producer.FlushAsync(flushBound.Token);
        }
        catch (OperationCanceledException) when (!stop.IsCancellationRequested)
        {
            timedOut = true;
        }

        var flushMs = (long)Stopwatch.GetElapsedTime(flushStarted).TotalMilliseconds;
        lines.TryWrite(FormattableString.Invariant($"E {produced} {flushMs}{(timedOut ? " timeout" : "")}"));
        return ExitCodes.Ok;
    }

    private static string Report(long seq, long producedAt, in DeliveryReport r)
    {
        var ms = (long)Stopwatch.GetElapsedTime(producedAt).TotalMilliseconds;
        return r.IsDelivered
            ? FormattableString.Invariant($"D {seq} {r.Partition} {r.Offset} {ms}")
            : FormattableString.Invariant($"F {seq} {ms} {(r.Error?.Message ?? "failed").ReplaceLineEndings(" ")}");
    }

    private static async Task WriteLinesAsync(ChannelReader<string> lines)
    {
        // Our own buffered writer: Console.Out flushes every write.
        await using var stdout = new StreamWriter(Console.OpenStandardOutput(), new UTF8Encoding(false), 64 * 1024) { AutoFlush = false };
        while (await lines.WaitToReadAsync())
        {
            while (lines.TryRead(out var line))
            {
                stdout.Write(line);
                stdout.Write('\n');
            }

            await stdout.FlushAsync();
        }
    }
}
