using System.Buffers;
using System.Buffers.Binary;
using System.Collections.Concurrent;
using Kiel.Protocol;
using Kiel.Protocol.Messages;

namespace Kiel.IntegrationTests.Transactions;

/// <summary>
/// A <see cref="Capture.RecordingProxy.ResponseHook"/> that gives the librdkafka mock's Fetch responses the
/// aborted-transactions list a real broker sends (the mock always sends an empty one). The test registers each aborted
/// transaction's range on a partition: its first offset and the offset of its ABORT marker. A response lists the
/// aborted transactions that overlap the record batches it carries, as a broker does, with the producer id taken from
/// the transactional batches themselves. It also counts the control batches (markers) it forwards.
/// </summary>
internal sealed class AbortedTransactionsInjector
{
    private readonly ConcurrentDictionary<(string Topic, int Partition), List<(long First, long Marker)>> _aborted = new();
    private readonly ConcurrentDictionary<Guid, string> _topicNames = new();
    private readonly ConcurrentDictionary<short, int> _fetchVersions = new();
    private int _controlBatches;
    private int _badControlCrcs;

    /// <summary>Control batches whose stored CRC-32C does not match their bytes.</summary>
    public int BadControlCrcs => Volatile.Read(ref _badControlCrcs);
    private int _injected;

    /// <summary>Control batches (COMMIT or ABORT markers) seen in Fetch responses.</summary>
    public int ControlBatches => Volatile.Read(ref _controlBatches);

    /// <summary>Aborted-transaction entries added to responses.</summary>
    public int Injected => Volatile.Read(ref _injected);

    /// <summary>When set, the COMMIT/ABORT markers' CRC-32C (the mock writes 0) is computed as a real broker's is, so CRC-checking readers read them.</summary>
    public bool FixMarkerCrcs { get; set; }

    /// <summary>
    /// Producer ids whose open transaction a real coordinator would have aborted (the instance died; the mock never writes
    /// its ABORT marker): each of their transactional batches is listed as an aborted transaction starting there.
    /// </summary>
    public ConcurrentDictionary<long, bool> AbandonedProducerIds { get; } = new();

    /// <summary>
    /// Transactional batches (topic, partition, base offset) of a transaction that ended in ABORT, with their producer id:
    /// each is listed as an aborted transaction starting there when a Fetch response carries it.
    /// </summary>
    public ConcurrentDictionary<(string Topic, int Partition, long BaseOffset), long> AbortedBatches { get; } = new();

    public void AddAborted(string topic, int partition, long firstOffset, long markerOffset)
    {
        var list = _aborted.GetOrAdd((topic, partition), _ => []);
        lock (list) list.Add((firstOffset, markerOffset));
    }

    /// <summary>The Fetch versions of the responses seen, with their counts.</summary>
    public IReadOnlyDictionary<short, int> FetchVersions => _fetchVersions;

    public byte[] Hook(ApiKey key, short version, byte[] frame)
    {
        if (key == ApiKey.Metadata)
        {
            LearnTopicIds(frame, version);
            return frame;
        }
        if (key != ApiKey.Fetch || version < 4) return frame;
        _fetchVersions.AddOrUpdate(version, 1, (_, n) => n + 1);
        var reader = new KafkaReader(frame.AsMemory());
        var correlationId = KafkaHeaders.ReadResponseHeader(ref reader, ApiKey.Fetch, version);
        var response = FetchResponse.Read(ref reader, version);
        var changed = false;
        foreach (var topic in response.Responses)
        {
            // Fetch v13+ names a topic by its id alone; its name is learnt from the Metadata responses the client read.
            var name = version >= 13 ? _topicNames.GetValueOrDefault(topic.TopicId, "") : topic.Topic;
            foreach (var p in topic.Partitions)
            {
                if (p.Records is not { Length: > 0 } records) continue;
                var (low, high, producerId, controls, bad) = Scan(records.Span);
                Interlocked.Add(ref _controlBatches, controls);
                Interlocked.Add(ref _badControlCrcs, bad);
                if (bad > 0 && FixMarkerCrcs)
                {
                    var copy = records.ToArray();
                    FixCrcs(copy);
                    p.Records = copy;
                    changed = true;
                }
                if (!AbortedBatches.IsEmpty)
                    foreach (var (batchBase, batchProducer) in TransactionalBatches(records.Span))
                        if (AbortedBatches.TryGetValue((name, p.PartitionIndex, batchBase), out var abortedBy) && abortedBy == batchProducer)
                        {
                            (p.AbortedTransactions ??= []).Add(new FetchResponse.AbortedTransaction { ProducerId = batchProducer, FirstOffset = batchBase });
                            Interlocked.Increment(ref _injected);
                            changed = true;
                        }
                if (!AbandonedProducerIds.IsEmpty)
                    foreach (var (batchBase, batchProducer) in TransactionalBatches(records.Span))
                        if (AbandonedProducerIds.ContainsKey(batchProducer))
                        {
                            (p.AbortedTransactions ??= []).Add(new FetchResponse.AbortedTransaction { ProducerId = batchProducer, FirstOffset = batchBase });
                            Interlocked.Increment(ref _injected);
                            changed = true;
                        }
                if (producerId < 0 || !_aborted.TryGetValue((name, p.PartitionIndex), out var ranges)) continue;
                lock (ranges)
                    foreach (var (first, marker) in ranges)
                        if (first <= high && marker >= low)
                        {
                            (p.AbortedTransactions ??= []).Add(new FetchResponse.AbortedTransaction { ProducerId = producerId, FirstOffset = first });
                            Interlocked.Increment(ref _injected);
                            changed = true;
                        }
            }
        }
        if (!changed) return frame;
        var output = new ArrayBufferWriter<byte>(frame.Length + 256);
        var writer = new KafkaWriter(output);
        KafkaHeaders.WriteResponseHeader(ref writer, ApiKey.Fetch, version, correlationId);
        response.Write(ref writer, version);
        writer.Flush();
        return output.WrittenSpan.ToArray();
    }

    private void LearnTopicIds(byte[] frame, short version)
    {
        if (version < 10) return;
        var reader = new KafkaReader(frame.AsMemory());
        KafkaHeaders.ReadResponseHeader(ref reader, ApiKey.Metadata, version);
        foreach (var topic in MetadataResponse.Read(ref reader, version).Topics)
            if (topic.Name is { } name && topic.TopicId != Guid.Empty) _topicNames[topic.TopicId] = name;
    }

    private static List<(long Base, long ProducerId)> TransactionalBatches(ReadOnlySpan<byte> set)
    {
        var list = new List<(long, long)>();
        var at = 0;
        while (set.Length - at >= 61)
        {
            var length = BinaryPrimitives.ReadInt32BigEndian(set[(at + 8)..]);
            if (set[at + 16] != 2 || length < 49 || set.Length - at < 12 + length) break;
            var attributes = BinaryPrimitives.ReadInt16BigEndian(set[(at + 21)..]);
            if ((attributes & 0x30) == 0x10)
                list.Add((BinaryPrimitives.ReadInt64BigEndian(set[at..]), BinaryPrimitives.ReadInt64BigEndian(set[(at + 43)..])));
            at += 12 + length;
        }
        return list;
    }

    private static void FixCrcs(byte[] set)
    {
        var at = 0;
        while (set.Length - at >= 61)
        {
            var length = BinaryPrimitives.ReadInt32BigEndian(set.AsSpan(at + 8));
            if (set[at + 16] != 2 || length < 49 || set.Length - at < 12 + length) break;
            if ((BinaryPrimitives.ReadInt16BigEndian(set.AsSpan(at + 21)) & 0x20) != 0)
                BinaryPrimitives.WriteUInt32BigEndian(set.AsSpan(at + 17), Kiel.Protocol.Records.Crc32C.Compute(set.AsSpan(at + 21, length - 9)));
            at += 12 + length;
        }
    }

    /// <summary>Walks magic-2 batch headers: the offsets covered, a transactional producer id, and the number of control batches.</summary>
    private static (long Low, long High, long ProducerId, int Controls, int Bad) Scan(ReadOnlySpan<byte> set)
    {
        long low = long.MaxValue, high = -1, producerId = -1;
        var controls = 0;
        var bad = 0;
        var at = 0;
        while (set.Length - at >= 61)
        {
            var baseOffset = BinaryPrimitives.ReadInt64BigEndian(set[at..]);
            var length = BinaryPrimitives.ReadInt32BigEndian(set[(at + 8)..]);
            if (set[at + 16] != 2 || length < 49 || set.Length - at < 12 + length) break;
            var attributes = BinaryPrimitives.ReadInt16BigEndian(set[(at + 21)..]);
            var lastDelta = BinaryPrimitives.ReadInt32BigEndian(set[(at + 23)..]);
            low = Math.Min(low, baseOffset);
            high = Math.Max(high, baseOffset + lastDelta);
            if ((attributes & 0x20) != 0)
            {
                controls++;
                var stored = BinaryPrimitives.ReadUInt32BigEndian(set[(at + 17)..]);
                if (stored != Kiel.Protocol.Records.Crc32C.Compute(set.Slice(at + 21, length - 9))) bad++;
            }
            else if ((attributes & 0x10) != 0) producerId = BinaryPrimitives.ReadInt64BigEndian(set[(at + 43)..]);
            at += 12 + length;
        }
        return (low, high, producerId, controls, bad);
    }
}
