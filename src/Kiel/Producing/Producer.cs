using System.Text;
using System.Text.Json;
using Kiel.Producing;
using Kiel.Protocol.Compression;

namespace Kiel;

/// <summary>
/// Kiel's producer shape (spec §8) on the modern engine: the key comes from <c>keyMaker(message)</c> and the partition
/// from <c>partitioner(key, partitions)</c>. Unlike kiel, every message is reported: <see cref="ProduceAsync"/>
/// completes with its offset or throws why it failed; nothing is dropped at close.
/// </summary>
/// <typeparam name="TMessage">The message type.</typeparam>
public class Producer<TMessage> : IAsyncDisposable
{
    private readonly KielProducer<byte[], TMessage> _producer;
    private readonly Func<TMessage, object?>? _keyMaker;
    private readonly Func<object?, IReadOnlyList<int>, int>? _partitioner;
    private readonly Dictionary<int, int[]> _partitionLists = [];

    /// <summary>Creates a producer with kiel's parameters.</summary>
    /// <param name="brokers">Bootstrap brokers, <c>host[:port]</c>.</param>
    /// <param name="serializer">Turns a message into the record value; default JSON (kiel's default).</param>
    /// <param name="keyMaker">Makes the key of a message (a string, bytes, or anything whose text is the key); default no key.</param>
    /// <param name="partitioner">Picks an element of the partition list for a key (the raw <paramref name="keyMaker"/> output);
    /// default: the Java-compatible murmur2 for keys and sticky partitioning for keyless messages.</param>
    /// <param name="batchSize">kiel's batch size in messages: 1 sends each message at once (no linger); more lets batches form for 5 ms.</param>
    /// <param name="compression">None, Gzip or Snappy in kiel; Lz4 and Zstd are accepted too.</param>
    /// <param name="requiredAcks">-1 (all, default), 1 (leader) or 0 (none).</param>
    /// <param name="ackTimeout">Milliseconds the broker may take to acknowledge (kiel's default 500).</param>
    /// <param name="transactionalId">Makes the producer transactional (not in kiel; <see cref="KielProducerOptions.TransactionalId"/>):
    /// call <see cref="InitTransactionsAsync"/> once, then produce only inside <see cref="BeginTransaction"/> and
    /// <see cref="CommitTransactionAsync"/> or <see cref="AbortTransactionAsync"/>. Needs <paramref name="requiredAcks"/> -1. Default none.</param>
    public Producer(IReadOnlyList<string> brokers, ISerializer<TMessage>? serializer = null, Func<TMessage, object?>? keyMaker = null,
        Func<object?, IReadOnlyList<int>, int>? partitioner = null, int batchSize = 1, CompressionType compression = CompressionType.None,
        short requiredAcks = -1, int ackTimeout = 500, string? transactionalId = null)
        : this(null, brokers, serializer, keyMaker, partitioner, batchSize, compression, requiredAcks, ackTimeout, transactionalId)
    {
    }

    internal Producer(Func<KielProducerOptions, Kiel.Producing.Internal.IProducerTransport>? transportForTests, IReadOnlyList<string> brokers,
        ISerializer<TMessage>? serializer = null, Func<TMessage, object?>? keyMaker = null,
        Func<object?, IReadOnlyList<int>, int>? partitioner = null, int batchSize = 1, CompressionType compression = CompressionType.None,
        short requiredAcks = -1, int ackTimeout = 500, string? transactionalId = null, Func<KielProducerOptions, KielProducerOptions>? adjustForTests = null)
    {
        if (requiredAcks is not (-1 or 0 or 1))
            throw new ArgumentOutOfRangeException(nameof(requiredAcks), requiredAcks, "requiredAcks must be -1 (all), 0 (none) or 1 (leader).");
        if (ackTimeout <= 0) throw new ArgumentOutOfRangeException(nameof(ackTimeout), ackTimeout, "ackTimeout is in milliseconds and must be positive.");
        if (transactionalId is not null && requiredAcks != -1)
            throw new ArgumentException(
                $"A transactional producer (transactionalId '{transactionalId}') is idempotent and needs requiredAcks -1 (all), not {requiredAcks}; leave requiredAcks at its default.",
                nameof(requiredAcks));
        var acks = (Acks)requiredAcks;
        var options = new KielProducerOptions
        {
            BootstrapServers = brokers is null ? "" : string.Join(',', brokers),
            Acks = acks,
            Linger = batchSize <= 1 ? TimeSpan.Zero : TimeSpan.FromMilliseconds(5),
            Compression = compression,
            RequestTimeout = TimeSpan.FromMilliseconds(ackTimeout),
            DeliveryTimeout = TimeSpan.FromSeconds(120) + TimeSpan.FromMilliseconds(ackTimeout),
            TransactionalId = transactionalId,
        };
        // Idempotence stays at its default with acks=all (off with a warning on brokers before 0.11, as kiel had none).
        if (acks != Acks.All) options = options with { EnableIdempotence = false };
        if (adjustForTests is not null) options = adjustForTests(options);
        var valueSerializer = serializer ?? Serializers.Json<TMessage>(KielJson);
        _producer = transportForTests is null
            ? new KielProducer<byte[], TMessage>(options, Serializers.Bytes, valueSerializer)
            : new KielProducer<byte[], TMessage>(options, Serializers.Bytes, valueSerializer, transportForTests);
        _keyMaker = keyMaker;
        _partitioner = partitioner;
    }

    private static readonly JsonSerializerOptions KielJson = new() { WriteIndented = false };

    /// <summary>Produces one message; completes with where it was written, or throws a <see cref="ProduceException"/> that says why not.</summary>
    public async Task<DeliveryReport> ProduceAsync(string topic, TMessage message, CancellationToken cancellationToken = default)
    {
        var rawKey = _keyMaker?.Invoke(message);
        var key = rawKey switch
        {
            null => null,
            byte[] b => b,
            string s => Encoding.UTF8.GetBytes(s),
            _ => Encoding.UTF8.GetBytes(Convert.ToString(rawKey, System.Globalization.CultureInfo.InvariantCulture) ?? ""),
        };
        int? partition = null;
        if (_partitioner is not null)
        {
            // Every partition in id order, whatever their leaders' state, so a key keeps its partition through outages (kiel: L24).
            var count = await _producer.GetPartitionCountAsync(topic, cancellationToken).ConfigureAwait(false);
            int[] list;
            lock (_partitionLists)
                if (!_partitionLists.TryGetValue(count, out list!))
                    _partitionLists[count] = list = Enumerable.Range(0, count).ToArray();
            var chosen = _partitioner(rawKey, list);
            if (chosen < 0 || chosen >= count)
                throw new ProduceException($"The partitioner returned {chosen}, which is not one of the {count} partitions of '{topic}'.");
            partition = chosen;
        }
        return await _producer.ProduceAsync(topic, key, message, null, partition, null, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Gets the producer id and epoch for the producer's transactional id (the constructor's <c>transactionalId</c>),
    /// fencing older instances with that id; call it once before the first <see cref="BeginTransaction"/>. As
    /// <see cref="KielProducer{TKey, TValue}.InitTransactionsAsync"/>.
    /// </summary>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <exception cref="InvalidOperationException">The producer was made without a <c>transactionalId</c>.</exception>
    /// <exception cref="TransactionException">Called twice, or the coordinator refused.</exception>
    public Task InitTransactionsAsync(CancellationToken cancellationToken = default) => _producer.InitTransactionsAsync(cancellationToken);

    /// <summary>Opens a transaction: messages produced from now on, and offsets sent with <see cref="SendOffsetsToTransactionAsync"/>,
    /// commit or abort together. As <see cref="KielProducer{TKey, TValue}.BeginTransaction"/>.</summary>
    /// <exception cref="InvalidOperationException">The producer was made without a <c>transactionalId</c>.</exception>
    /// <exception cref="TransactionException">Not initialized, a transaction is already open, or the producer is fenced.</exception>
    public void BeginTransaction() => _producer.BeginTransaction();

    /// <summary>
    /// Adds consumed input offsets (the next offset to read, per partition) to the open transaction, committed for the
    /// group only if the transaction commits. As <see cref="KielProducer{TKey, TValue}.SendOffsetsToTransactionAsync"/>.
    /// </summary>
    /// <param name="offsets">The next offset to consume, per input partition.</param>
    /// <param name="groupMetadata">The consumer group: <c>new ConsumerGroupMetadata(groupId)</c>, or a Kafka group member's <see cref="Consuming.KielConsumer{TKey, TValue}.GroupMetadata"/>.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <exception cref="TransactionException">No transaction is open, or the coordinator refused (<see cref="TransactionException.RequiresAbort"/> or <see cref="TransactionException.IsFatal"/>).</exception>
    public Task SendOffsetsToTransactionAsync(IEnumerable<KeyValuePair<TopicPartition, long>> offsets, ConsumerGroupMetadata groupMetadata,
        CancellationToken cancellationToken = default) => _producer.SendOffsetsToTransactionAsync(offsets, groupMetadata, cancellationToken);

    /// <summary>Commits the open transaction once every message produced in it is acknowledged. As <see cref="KielProducer{TKey, TValue}.CommitTransactionAsync"/>.</summary>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <exception cref="TransactionException">No transaction is open, or a message or the coordinator failed: <see cref="TransactionException.RequiresAbort"/>
    /// (call <see cref="AbortTransactionAsync"/>) or <see cref="TransactionException.IsFatal"/> (fenced: dispose the producer).</exception>
    public Task CommitTransactionAsync(CancellationToken cancellationToken = default) => _producer.CommitTransactionAsync(cancellationToken);

    /// <summary>Aborts the open transaction: messages still queued fail, and nothing of it is committed. As <see cref="KielProducer{TKey, TValue}.AbortTransactionAsync"/>.</summary>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <exception cref="TransactionException">No transaction is open, or the producer is fenced (<see cref="TransactionException.IsFatal"/>).</exception>
    public Task AbortTransactionAsync(CancellationToken cancellationToken = default) => _producer.AbortTransactionAsync(cancellationToken);

    /// <summary>Waits until every message produced so far is reported.</summary>
    public Task FlushAsync(CancellationToken cancellationToken = default) => _producer.FlushAsync(cancellationToken);

    /// <summary>kiel's <c>close()</c>: flushes (bounded), then reports what is left as failed.</summary>
    public ValueTask CloseAsync() => _producer.DisposeAsync();

    /// <inheritdoc cref="CloseAsync"/>
    public ValueTask DisposeAsync() => _producer.DisposeAsync();
}

/// <summary>
/// A <see cref="Producer{TMessage}"/> of any message with kiel's default serializer, JSON, as kiel's
/// <c>Producer(brokers)</c>: each message is written as one JSON document.
/// </summary>
public sealed class Producer : Producer<object?>
{
    /// <inheritdoc cref="Producer{TMessage}(IReadOnlyList{string}, ISerializer{TMessage}?, Func{TMessage, object?}?, Func{object?, IReadOnlyList{int}, int}?, int, CompressionType, short, int, string?)"/>
    public Producer(IReadOnlyList<string> brokers, ISerializer<object?>? serializer = null, Func<object?, object?>? keyMaker = null,
        Func<object?, IReadOnlyList<int>, int>? partitioner = null, int batchSize = 1, CompressionType compression = CompressionType.None,
        short requiredAcks = -1, int ackTimeout = 500, string? transactionalId = null)
        : base(brokers, serializer, keyMaker, partitioner, batchSize, compression, requiredAcks, ackTimeout, transactionalId)
    {
    }
}
