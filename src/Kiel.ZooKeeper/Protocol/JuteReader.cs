using System.Buffers.Binary;
using System.Text;

namespace Kiel.ZooKeeper.Protocol;

/// <summary>
/// Reads jute's big-endian encoding from one received frame. Every read is bounds-checked and every length
/// is checked against what is left, so a hostile length fails with <see cref="ZooKeeperProtocolException"/>
/// instead of allocating.
/// </summary>
internal ref struct JuteReader
{
    private readonly ReadOnlySpan<byte> _data;
    private readonly string _message;
    private int _position;

    internal JuteReader(ReadOnlySpan<byte> data, string message)
    {
        _data = data;
        _message = message;
        _position = 0;
    }

    internal readonly int Remaining => _data.Length - _position;
    internal readonly int Position => _position;

    private ReadOnlySpan<byte> Take(int count, string field)
    {
        if (count < 0 || count > Remaining)
            throw new ZooKeeperProtocolException(_message, field, $"needs {count} bytes but {Remaining} are left");
        var span = _data.Slice(_position, count);
        _position += count;
        return span;
    }

    internal int ReadInt(string field) => BinaryPrimitives.ReadInt32BigEndian(Take(4, field));
    internal long ReadLong(string field) => BinaryPrimitives.ReadInt64BigEndian(Take(8, field));

    internal bool ReadBool(string field)
    {
        var b = Take(1, field)[0];
        return b switch
        {
            0 => false,
            1 => true,
            _ => throw new ZooKeeperProtocolException(_message, field, $"boolean byte is {b}"),
        };
    }

    internal string? ReadString(string field)
    {
        var length = ReadInt(field);
        if (length == -1) return null;
        if (length < -1) throw new ZooKeeperProtocolException(_message, field, $"negative length {length}");
        return Encoding.UTF8.GetString(Take(length, field));
    }

    internal string ReadRequiredString(string field)
        => ReadString(field) ?? throw new ZooKeeperProtocolException(_message, field, "null where a string is required");

    internal byte[]? ReadBuffer(string field)
    {
        var length = ReadInt(field);
        if (length == -1) return null;
        if (length < -1) throw new ZooKeeperProtocolException(_message, field, $"negative length {length}");
        return Take(length, field).ToArray();
    }

    /// <summary>Reads a vector length, refusing counts that cannot fit in what is left (each element is at least <paramref name="minElementSize"/> bytes).</summary>
    internal int ReadCount(string field, int minElementSize)
    {
        var count = ReadInt(field);
        if (count == -1) return 0;
        if (count < -1) throw new ZooKeeperProtocolException(_message, field, $"negative count {count}");
        if ((long)count * minElementSize > Remaining)
            throw new ZooKeeperProtocolException(_message, field, $"count {count} cannot fit in the {Remaining} bytes left");
        return count;
    }

    internal List<string> ReadStrings(string field)
    {
        var count = ReadCount(field, 4);
        var list = new List<string>(count);
        for (var i = 0; i < count; i++) list.Add(ReadRequiredString(field));
        return list;
    }

    internal List<ZooKeeperAcl> ReadAcls(string field)
    {
        var count = ReadCount(field, 12);
        var list = new List<ZooKeeperAcl>(count);
        for (var i = 0; i < count; i++)
        {
            var perms = (ZooKeeperPermissions)ReadInt(field);
            list.Add(new ZooKeeperAcl(perms, ReadRequiredString(field), ReadRequiredString(field)));
        }
        return list;
    }

    internal ZooKeeperStat ReadStat() => new(
        Czxid: ReadLong("stat.czxid"),
        Mzxid: ReadLong("stat.mzxid"),
        Ctime: ReadLong("stat.ctime"),
        Mtime: ReadLong("stat.mtime"),
        Version: ReadInt("stat.version"),
        Cversion: ReadInt("stat.cversion"),
        Aversion: ReadInt("stat.aversion"),
        EphemeralOwner: ReadLong("stat.ephemeralOwner"),
        DataLength: ReadInt("stat.dataLength"),
        NumChildren: ReadInt("stat.numChildren"),
        Pzxid: ReadLong("stat.pzxid"));
}
