using System.Buffers;
using System.Buffers.Binary;
using System.Text;

namespace Kiel.ZooKeeper.Protocol;

/// <summary>
/// Writes jute's big-endian encoding into a growable pooled buffer; a frame starts with a 4-byte length
/// that <see cref="FinishFrame"/> fills in.
/// </summary>
internal sealed class JuteWriter : IDisposable
{
    private byte[] _buffer;
    private int _length;

    internal JuteWriter(int initialCapacity = 256)
    {
        _buffer = ArrayPool<byte>.Shared.Rent(initialCapacity);
    }

    internal int Length => _length;
    internal ReadOnlyMemory<byte> WrittenMemory => _buffer.AsMemory(0, _length);
    internal ReadOnlySpan<byte> WrittenSpan => _buffer.AsSpan(0, _length);

    private Span<byte> Grow(int size)
    {
        if (_length + size > _buffer.Length)
        {
            var bigger = ArrayPool<byte>.Shared.Rent(Math.Max(_buffer.Length * 2, _length + size));
            _buffer.AsSpan(0, _length).CopyTo(bigger);
            ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = bigger;
        }
        var span = _buffer.AsSpan(_length, size);
        _length += size;
        return span;
    }

    /// <summary>Reserves the length prefix of a frame.</summary>
    internal void BeginFrame() => WriteInt(0);

    /// <summary>Writes the frame length (everything after the prefix) into the prefix at <paramref name="start"/>.</summary>
    internal void FinishFrame(int start = 0) =>
        BinaryPrimitives.WriteInt32BigEndian(_buffer.AsSpan(start, 4), _length - start - 4);

    internal void WriteInt(int value) => BinaryPrimitives.WriteInt32BigEndian(Grow(4), value);
    internal void WriteLong(long value) => BinaryPrimitives.WriteInt64BigEndian(Grow(8), value);
    internal void WriteBool(bool value) => Grow(1)[0] = value ? (byte)1 : (byte)0;

    internal void WriteString(string? value)
    {
        if (value is null) { WriteInt(-1); return; }
        var count = Encoding.UTF8.GetByteCount(value);
        WriteInt(count);
        Encoding.UTF8.GetBytes(value, Grow(count));
    }

    internal void WriteBuffer(ReadOnlySpan<byte> value)
    {
        WriteInt(value.Length);
        value.CopyTo(Grow(value.Length));
    }

    internal void WriteNullBuffer() => WriteInt(-1);

    internal void WriteStrings(IReadOnlyCollection<string> values)
    {
        WriteInt(values.Count);
        foreach (var v in values) WriteString(v);
    }

    internal void WriteAcls(IReadOnlyList<ZooKeeperAcl> acls)
    {
        WriteInt(acls.Count);
        foreach (var acl in acls)
        {
            WriteInt((int)acl.Permissions);
            WriteString(acl.Scheme);
            WriteString(acl.Id);
        }
    }

    internal void Reset() => _length = 0;

    public void Dispose()
    {
        var b = _buffer;
        _buffer = [];
        _length = 0;
        if (b.Length > 0) ArrayPool<byte>.Shared.Return(b);
    }
}
