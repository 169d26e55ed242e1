using Kiel.Protocol;

namespace Kiel.Tests.Network;

/// <summary>The body bytes a scripted broker answers with: one generated message at one version.</summary>
internal static class MessageBytes
{
    public static byte[] Encode(IKafkaMessage message, short version)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        var writer = new KafkaWriter(buffer);
        message.Write(ref writer, version);
        writer.Flush();
        return buffer.WrittenSpan.ToArray();
    }
}
