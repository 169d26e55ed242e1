using Kiel.Protocol;

namespace Kiel.Tests.Protocol;

/// <summary>
/// Checks shared by the tests of the clients' in-place answer decoders (Produce, Fetch), which must read what the
/// generated decoder reads and refuse what it refuses.
/// </summary>
internal static class InPlaceDecoders
{
    /// <summary>The body of <paramref name="message"/> at <paramref name="version"/>, as the generated encoder writes it.</summary>
    public static byte[] Encode(IKafkaMessage message, short version)
    {
        using var buffer = new PooledBufferWriter();
        var writer = new KafkaWriter(buffer);
        message.Write(ref writer, version);
        writer.Flush();
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>
    /// Every cut of <paramref name="body"/>, and <paramref name="mutations"/> copies with one to three random bytes
    /// changed: where <paramref name="generated"/> refuses the input with a <see cref="KafkaProtocolException"/>,
    /// <paramref name="inPlace"/> must refuse it too; where it reads it, <paramref name="inPlace"/> must read the same
    /// (both give their reading as a comparable text).
    /// </summary>
    public static void AgreeOnCutsAndMutations(byte[] body, Func<byte[], string> generated, Func<byte[], string> inPlace, Random random, int mutations)
    {
        for (var length = 0; length < body.Length; length++) Agree(body[..length], generated, inPlace);
        for (var i = 0; i < mutations; i++)
        {
            var mutated = (byte[])body.Clone();
            for (var m = random.Next(1, 4); m > 0; m--) mutated[random.Next(mutated.Length)] = (byte)random.Next(256);
            Agree(mutated, generated, inPlace);
        }
    }

    private static void Agree(byte[] input, Func<byte[], string> generated, Func<byte[], string> inPlace)
    {
        string expected;
        try { expected = generated(input); }
        catch (KafkaProtocolException)
        {
            Assert.Throws<KafkaProtocolException>(() => inPlace(input));
            return;
        }
        Assert.Equal(expected, inPlace(input));
    }
}
