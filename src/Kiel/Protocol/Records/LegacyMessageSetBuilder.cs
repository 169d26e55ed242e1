using Kiel.Protocol.Compression;

namespace Kiel.Protocol.Records;

/// <summary>
/// Builds a legacy message set (magic 0 or 1) in pooled buffers, for brokers whose Produce version predates record
/// batches. Compressed sets are one wrapper message around the compressed inner set, written as the Java client
/// wrote them: inner offsets relative (magic 1) or absolute (magic 0), the wrapper carrying the last offset, snappy in
/// xerial framing and, for magic 0, lz4 with its historical header checksum.
/// </summary>
internal sealed class LegacyMessageSetBuilder : IDisposable
{
    private readonly PooledBufferWriter _inner = new(4096);
    private PooledBufferWriter? _wrapper;
    private ReadOnlyMemory<byte> _sealed;
    private bool _isSealed;

    /// <summary>Creates a builder for <paramref name="magic"/> 0 or 1.</summary>
    public LegacyMessageSetBuilder(byte magic, CompressionType compression = CompressionType.None, int? compressionLevel = null)
    {
        if (magic > 1) throw new ArgumentOutOfRangeException(nameof(magic), magic, "Legacy message sets have magic 0 or 1.");
        if (compression > CompressionType.Lz4) throw new ArgumentOutOfRangeException(nameof(compression), compression, "Legacy message sets support gzip, snappy and lz4 only.");
        if (compressionLevel is { } l && CompressionCodec.ValidateLevel(compression, l) is { } problem)
            throw new ArgumentOutOfRangeException(nameof(compressionLevel), l, problem);
        Magic = magic;
        Compression = compression;
        CompressionLevel = compressionLevel;
    }

    /// <summary>0 or 1.</summary>
    public byte Magic { get; }

    /// <summary>The codec of the wrapper, or none.</summary>
    public CompressionType Compression { get; }

    /// <summary>The codec's level, or null for its default.</summary>
    public int? CompressionLevel { get; }

    /// <summary>The offset given to the first message (producers write 0; the broker assigns).</summary>
    public long BaseOffset { get; set; }

    /// <summary>The number of messages appended.</summary>
    public int Count { get; private set; }

    /// <summary>The uncompressed size so far.</summary>
    public int SizeInBytes => _inner.WrittenCount;

    private long MaxTimestamp { get; set; } = -1;

    /// <summary>The size of one message entry with these lengths (-1 for null).</summary>
    public static int SizeOfEntry(byte magic, int keyLength, int valueLength) => RecordBatchWriter.LegacyEntrySize(magic, keyLength, valueLength);

    /// <summary>Empties the builder, keeping its buffers.</summary>
    public void Reset()
    {
        _inner.Clear();
        _wrapper?.Clear();
        _sealed = default;
        _isSealed = false;
        Count = 0;
        MaxTimestamp = -1;
    }

    /// <summary>Appends a message. Magic 0 has no timestamp, so <paramref name="timestamp"/> is then ignored.</summary>
    public void Append(long timestamp, ReadOnlySpan<byte> key, ReadOnlySpan<byte> value, bool keyIsNull = false, bool valueIsNull = false)
    {
        if (_isSealed) throw new InvalidOperationException("The message set is sealed; call Reset to build another.");
        // Magic 1 inner messages of a compressed set count from 0; everything else carries its own offset.
        var offset = Magic == 1 && Compression != CompressionType.None ? Count : BaseOffset + Count;
        WriteEntry(_inner, offset, Magic, 0, timestamp, key, keyIsNull ? -1 : key.Length, value, valueIsNull ? -1 : value.Length);
        if (timestamp > MaxTimestamp) MaxTimestamp = timestamp;
        Count++;
    }

    /// <summary>Finishes the set: for a compressed set, builds the wrapper message. Calling it again returns the same bytes.</summary>
    public ReadOnlyMemory<byte> Seal()
    {
        if (_isSealed) return _sealed;
        if (Compression == CompressionType.None || Count == 0)
        {
            _sealed = _inner.WrittenMemory;
        }
        else
        {
            using var compressed = new PooledBufferWriter(_inner.WrittenCount / 2 + 64);
            CompressionCodec.Compress(Compression, _inner.WrittenSpan, compressed, CompressionLevel, Magic);
            var wrapper = _wrapper ??= new PooledBufferWriter(compressed.WrittenCount + 64);
            wrapper.Clear();
            WriteEntry(wrapper, BaseOffset + Count - 1, Magic, (byte)Compression, MaxTimestamp, default, -1, compressed.WrittenSpan, compressed.WrittenCount);
            _sealed = wrapper.WrittenMemory;
        }
        _isSealed = true;
        return _sealed;
    }

    private static void WriteEntry(PooledBufferWriter output, long offset, byte magic, byte attributes, long timestamp,
        ReadOnlySpan<byte> key, int keyLength, ReadOnlySpan<byte> value, int valueLength) =>
        RecordBatchWriter.WriteLegacyEntry(output, offset, magic, attributes, timestamp, key, keyLength, value, valueLength);

    /// <summary>Returns the buffers to the pool.</summary>
    public void Dispose()
    {
        _inner.Dispose();
        _wrapper?.Dispose();
        _sealed = default;
    }
}
