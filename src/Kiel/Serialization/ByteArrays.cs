namespace Kiel;

/// <summary>Copies of record bytes handed to the application.</summary>
internal static class ByteArrays
{
    /// <summary>
    /// A new array holding <paramref name="data"/>. The array is allocated without being zeroed first (it is
    /// overwritten at once): for values of kilobytes, zeroing was as costly as the copy itself.
    /// </summary>
    public static byte[] CopyOf(ReadOnlySpan<byte> data)
    {
        if (data.IsEmpty) return [];
        var copy = GC.AllocateUninitializedArray<byte>(data.Length);
        data.CopyTo(copy);
        return copy;
    }
}
