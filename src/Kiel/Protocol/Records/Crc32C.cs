using System.Buffers.Binary;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;

namespace Kiel.Protocol.Records;

/// <summary>
/// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum of record batches. Uses the SSE4.2 or ARMv8
/// CRC instructions where present, and a slicing-by-8 table elsewhere.
/// </summary>
internal static class Crc32C
{
    private const uint Polynomial = 0x82F63B78;
    private static readonly uint[] s_table = BuildTable();

    /// <summary>True when the hardware instructions are used.</summary>
    public static bool IsHardwareAccelerated => Sse42.X64.IsSupported || Crc32.Arm64.IsSupported;

    /// <summary>The CRC-32C of <paramref name="data"/>.</summary>
    public static uint Compute(ReadOnlySpan<byte> data) => ~Update(0xFFFFFFFF, data);

    /// <summary>Continues a running CRC; start with 0xFFFFFFFF and invert the final value.</summary>
    public static uint Update(uint crc, ReadOnlySpan<byte> data) =>
        IsHardwareAccelerated ? UpdateHardware(crc, data) : UpdateSoftware(crc, data);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static uint UpdateHardware(uint crc, ReadOnlySpan<byte> data)
    {
        ref var p = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(data);
        var i = 0;
        var n = data.Length;
        // The CRC instruction has a latency of several cycles but issues every cycle: three independent streams over
        // adjacent blocks, joined by shifting the earlier CRCs past the later blocks, keep it busy.
        if (n >= 3 * Block)
        {
            var shift = ShiftTable.Value;
            for (; i + 3 * Block <= n; i += 3 * Block)
            {
                uint a = crc, b = 0, c = 0;
                for (var k = 0; k < Block; k += 8)
                {
                    a = BitOperations.Crc32C(a, Unsafe.ReadUnaligned<ulong>(ref Unsafe.Add(ref p, i + k)));
                    b = BitOperations.Crc32C(b, Unsafe.ReadUnaligned<ulong>(ref Unsafe.Add(ref p, i + Block + k)));
                    c = BitOperations.Crc32C(c, Unsafe.ReadUnaligned<ulong>(ref Unsafe.Add(ref p, i + 2 * Block + k)));
                }
                crc = ShiftPastBlock(shift, ShiftPastBlock(shift, a) ^ b) ^ c;
            }
        }
        for (; i + 8 <= n; i += 8)
            crc = BitOperations.Crc32C(crc, Unsafe.ReadUnaligned<ulong>(ref Unsafe.Add(ref p, i)));
        for (; i < n; i++)
            crc = BitOperations.Crc32C(crc, Unsafe.Add(ref p, i));
        return crc;
    }

    private const int Block = 4096;

    // Appending Block zero bytes to a raw CRC state is linear in the state, so it is four table lookups.
    private static readonly Lazy<uint[]> ShiftTable = new(BuildShiftTable);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static uint ShiftPastBlock(uint[] t, uint x) =>
        t[x & 0xFF] ^ t[256 + ((x >> 8) & 0xFF)] ^ t[512 + ((x >> 16) & 0xFF)] ^ t[768 + (x >> 24)];

    private static uint[] BuildShiftTable()
    {
        var zeros = new byte[Block];
        var basis = new uint[32];
        for (var bit = 0; bit < 32; bit++) basis[bit] = UpdateSoftware(1u << bit, zeros);
        var t = new uint[4 * 256];
        for (var j = 0; j < 4; j++)
            for (var v = 0; v < 256; v++)
            {
                uint r = 0;
                for (var k = 0; k < 8; k++)
                    if ((v & (1 << k)) != 0) r ^= basis[8 * j + k];
                t[j * 256 + v] = r;
            }
        return t;
    }

    /// <summary>The table-driven path, exposed so tests can check it against the hardware path.</summary>
    internal static uint UpdateSoftware(uint crc, ReadOnlySpan<byte> data)
    {
        var t = s_table;
        while (data.Length >= 8)
        {
            var lo = BinaryPrimitives.ReadUInt32LittleEndian(data) ^ crc;
            var hi = BinaryPrimitives.ReadUInt32LittleEndian(data[4..]);
            crc = t[7 * 256 + (lo & 0xFF)] ^ t[6 * 256 + ((lo >> 8) & 0xFF)] ^ t[5 * 256 + ((lo >> 16) & 0xFF)] ^ t[4 * 256 + (lo >> 24)]
                ^ t[3 * 256 + (hi & 0xFF)] ^ t[2 * 256 + ((hi >> 8) & 0xFF)] ^ t[1 * 256 + ((hi >> 16) & 0xFF)] ^ t[hi >> 24];
            data = data[8..];
        }
        foreach (var b in data) crc = t[(crc ^ b) & 0xFF] ^ (crc >> 8);
        return crc;
    }

    private static uint[] BuildTable()
    {
        var t = new uint[8 * 256];
        for (uint i = 0; i < 256; i++)
        {
            var c = i;
            for (var k = 0; k < 8; k++) c = (c & 1) != 0 ? (c >> 1) ^ Polynomial : c >> 1;
            t[i] = c;
        }
        for (var s = 1; s < 8; s++)
            for (var i = 0; i < 256; i++)
                t[s * 256 + i] = (t[(s - 1) * 256 + i] >> 8) ^ t[t[(s - 1) * 256 + i] & 0xFF];
        return t;
    }
}
