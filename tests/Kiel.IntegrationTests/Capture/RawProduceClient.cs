using System.Buffers;
using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using Kiel.Protocol;
using Kiel.Protocol.Messages;

namespace Kiel.IntegrationTests.Capture;

/// <summary>
/// Sends one ProduceRequest with bytes that Kiel built, over a plain socket, until the real produce path exists.
/// </summary>
public static class RawProduceClient
{
    public static async Task<long> ProduceAsync(string bootstrap, string topic, int partition, ReadOnlyMemory<byte> records, short version, CancellationToken ct = default)
    {
        var hostPort = bootstrap.Split(',')[0];
        var colon = hostPort.LastIndexOf(':');
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(new IPEndPoint(IPAddress.Parse(hostPort[..colon]), int.Parse(hostPort[(colon + 1)..])), ct);

        var request = new ProduceRequest
        {
            Acks = 1,
            TimeoutMs = 5000,
            TopicData =
            [
                new ProduceRequest.TopicProduceData
                {
                    Name = topic,
                    PartitionData = [new ProduceRequest.PartitionProduceData { Index = partition, Records = records }],
                },
            ],
        };
        var output = new ArrayBufferWriter<byte>();
        output.GetSpan(4);
        output.Advance(4);
        var writer = new KafkaWriter(output);
        KafkaHeaders.WriteRequestHeader(ref writer, ApiKey.Produce, version, 7, "kiel-cross-decode");
        request.Write(ref writer, version);
        writer.Flush();
        var frame = output.WrittenMemory.ToArray();
        BinaryPrimitives.WriteInt32BigEndian(frame, frame.Length - 4);
        await socket.SendAsync(frame, SocketFlags.None, ct);

        var size = new byte[4];
        await ReceiveExactlyAsync(socket, size, ct);
        var body = new byte[BinaryPrimitives.ReadInt32BigEndian(size)];
        await ReceiveExactlyAsync(socket, body, ct);
        var reader = new KafkaReader(body.AsMemory());
        Assert.Equal(7, KafkaHeaders.ReadResponseHeader(ref reader, ApiKey.Produce, version));
        var response = ProduceResponse.Read(ref reader, version);
        var p = Assert.Single(Assert.Single(response.Responses).PartitionResponses);
        Assert.True(p.ErrorCode == 0, $"Produce v{version} failed with error {p.ErrorCode} {p.ErrorMessage}");
        return p.BaseOffset;
    }

    private static async Task ReceiveExactlyAsync(Socket socket, Memory<byte> buffer, CancellationToken ct)
    {
        for (var read = 0; read < buffer.Length;)
        {
            var n = await socket.ReceiveAsync(buffer[read..], SocketFlags.None, ct);
            if (n == 0) throw new IOException("The broker closed the connection.");
            read += n;
        }
    }
}
