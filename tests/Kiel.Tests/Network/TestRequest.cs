using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using Kiel.Network;
using Kiel.Protocol;

namespace Kiel.Tests.Network;

/// <summary>A test request whose body is opaque bytes, sent under any API key.</summary>
internal sealed class TestRequest(ApiKey apiKey, byte[]? payload = null) : IRequestMessage<TestResponse>
{
    public ApiKey ApiKey { get; } = apiKey;

    public byte[] Payload { get; } = payload ?? [];

    public void Write(ref KafkaWriter writer, short version) => writer.WriteRaw(Payload);
}

/// <summary>The body of a response to a <see cref="TestRequest"/>, as bytes.</summary>
internal sealed class TestResponse : IResponseMessage<TestResponse>
{
    public byte[] Body { get; init; } = [];

    public static TestResponse Read(ref KafkaReader reader, short version) => new() { Body = reader.ReadSpan(reader.Remaining).ToArray() };

    public void Write(ref KafkaWriter writer, short version) => writer.WriteRaw(Body);
}
