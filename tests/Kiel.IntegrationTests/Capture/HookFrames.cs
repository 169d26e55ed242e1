using System.Buffers;
using Kiel.Protocol;

namespace Kiel.IntegrationTests.Capture;

/// <summary>
/// Frame helpers for <see cref="RecordingProxy.RequestHook"/> implementations (frames without the size prefix): read a
/// request's correlation id and body, and build a response (or any) frame to answer with.
/// </summary>
internal static class HookFrames
{
    public delegate T ReadBody<T>(ref KafkaReader reader, short version);

    public delegate void WriteBody(ref KafkaWriter writer, short version);

    public delegate void WriteFrame(ref KafkaWriter writer);

    /// <summary>Reads a request frame (header first): its correlation id and its body at <paramref name="version"/>.</summary>
    public static (int CorrelationId, T Body) Read<T>(byte[] frame, ReadBody<T> read, short version)
    {
        var reader = new KafkaReader(frame.AsMemory());
        var header = KafkaHeaders.ReadRequestHeader(ref reader);
        return (header.CorrelationId, read(ref reader, version));
    }

    /// <summary>A response frame: the response header of <paramref name="key"/> at <paramref name="version"/>, then the body.</summary>
    public static byte[] Response(ApiKey key, short version, int correlationId, WriteBody write) => Frame((ref KafkaWriter w) =>
    {
        KafkaHeaders.WriteResponseHeader(ref w, key, version, correlationId);
        write(ref w, version);
    });

    /// <summary>The bytes <paramref name="write"/> writes, as one frame.</summary>
    public static byte[] Frame(WriteFrame write)
    {
        var output = new ArrayBufferWriter<byte>();
        var writer = new KafkaWriter(output);
        write(ref writer);
        writer.Flush();
        return output.WrittenSpan.ToArray();
    }
}
