using System.Buffers.Binary;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;

namespace Kiel.Protocol.Records;

/// <summary>
/// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum of record batches. Uses the SSE4.2 or ARMv8
/// CRC instructions where present, and a slicing-by-8 table elsewhere; long inputs are folded with 512-bit carry-less
/// multiplication (VPCLMULQDQ) where the machine has it and .NET accelerates 512-bit vectors.
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

    /// <summary>True when long inputs are folded 256 bytes a step with 512-bit carry-less multiplication.</summary>
    internal static bool IsFoldAccelerated => Pclmulqdq.V512.IsSupported && Vector512.IsHardwareAccelerated && Sse42.X64.IsSupported;

    /// <summary>From this length on, folding is used (the `crc` bench runner compares the two paths).</summary>
    internal const int FoldMinimum = 1024;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static uint UpdateHardware(uint crc, ReadOnlySpan<byte> data)
    {
        if (data.Length >= FoldMinimum && IsFoldAccelerated) return UpdateFolded(crc, data);
        return UpdateCrcInstruction(crc, data);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static uint UpdateCrcInstruction(uint crc, ReadOnlySpan<byte> data)
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

    // Folding. A 128-bit lane A of the message, read little-endian, is a polynomial of degree < 128 in the reflected
    // order (bit 0 of byte 0 is the x^127 coefficient): A = Q0·x^64 + Q1, Q0 in the low 64 bits. Moving it D bits
    // further into the message is A·x^D mod P, which is Q0·(x^(D+64) mod P) + Q1·(x^D mod P) up to a multiple of P,
    // a product of degree < 96. Carry-less multiplication of reflected operands leaves a product 32 degrees above the
    // 128-bit reading, hence the constants x^(D+32) and x^(D-32), reflected and shifted up by one. The crc being
    // continued is XORed into the first four bytes; what is left at the end is one 128-bit lane, whose 16 bytes and
    // the tail then go through the CRC instruction from 0.
    private static readonly Vector128<ulong> Fold128 = FoldConstants(128);
    private static readonly Vector512<ulong> Fold512 = Vector512.Create(Vector256.Create(FoldConstants(512)));
    private static readonly Vector512<ulong> Fold2048 = Vector512.Create(Vector256.Create(FoldConstants(2048)));

    private static Vector128<ulong> FoldConstants(int distance) =>
        Vector128.Create(ReflectedShifted(distance + 32), ReflectedShifted(distance - 32));

    /// <summary>x^<paramref name="n"/> mod P, bit-reflected and shifted up by one.</summary>
    private static ulong ReflectedShifted(int n)
    {
        const uint normal = 0x1EDC6F41; // P without its x^32 term
        uint r = 1;
        for (var i = 0; i < n; i++) r = (r & 0x80000000) != 0 ? (r << 1) ^ normal : r << 1;
        uint reflected = 0;
        for (var bit = 0; bit < 32; bit++)
            if ((r & (1u << bit)) != 0) reflected |= 1u << (31 - bit);
        return (ulong)reflected << 1;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<ulong> Fold(Vector128<ulong> a, Vector128<ulong> k) =>
        Pclmulqdq.CarrylessMultiply(a, k, 0x00) ^ Pclmulqdq.CarrylessMultiply(a, k, 0x11);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<ulong> Fold(Vector512<ulong> a, Vector512<ulong> k) =>
        Pclmulqdq.V512.CarrylessMultiply(a, k, 0x00) ^ Pclmulqdq.V512.CarrylessMultiply(a, k, 0x11);

    /// <summary>The folding path, exposed so tests can check it against the table-driven path (needs <see cref="IsFoldAccelerated"/> and 256 bytes or more).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static uint UpdateFolded(uint crc, ReadOnlySpan<byte> data)
    {
        ref var p = ref MemoryMarshal.GetReference(data);
        var n = (nuint)data.Length;
        // Four 512-bit accumulators over 256 bytes a step, each folded 2048 bits ahead.
        var y0 = Vector512.LoadUnsafe(ref p).AsUInt64() ^ Vector512.CreateScalar((ulong)crc);
        var y1 = Vector512.LoadUnsafe(ref p, 64).AsUInt64();
        var y2 = Vector512.LoadUnsafe(ref p, 128).AsUInt64();
        var y3 = Vector512.LoadUnsafe(ref p, 192).AsUInt64();
        nuint i = 256;
        for (; i + 256 <= n; i += 256)
        {
            y0 = Fold(y0, Fold2048) ^ Vector512.LoadUnsafe(ref p, i).AsUInt64();
            y1 = Fold(y1, Fold2048) ^ Vector512.LoadUnsafe(ref p, i + 64).AsUInt64();
            y2 = Fold(y2, Fold2048) ^ Vector512.LoadUnsafe(ref p, i + 128).AsUInt64();
            y3 = Fold(y3, Fold2048) ^ Vector512.LoadUnsafe(ref p, i + 192).AsUInt64();
        }
        // Into one accumulator (each 512 bits ahead of the one before), then its four lanes into one (128 bits apart).
        y1 ^= Fold(y0, Fold512);
        y2 ^= Fold(y1, Fold512);
        y3 ^= Fold(y2, Fold512);
        var a = y3.GetLower().GetLower();
        a = Fold(a, Fold128) ^ y3.GetLower().GetUpper();
        a = Fold(a, Fold128) ^ y3.GetUpper().GetLower();
        a = Fold(a, Fold128) ^ y3.GetUpper().GetUpper();
        for (; i + 16 <= n; i += 16) a = Fold(a, Fold128) ^ Vector128.LoadUnsafe(ref p, i).AsUInt64();
        var r = (uint)BitOperations.Crc32C(0u, a.GetElement(0));
        r = BitOperations.Crc32C(r, a.GetElement(1));
        return UpdateCrcInstruction(r, data[(int)i..]);
    }

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
