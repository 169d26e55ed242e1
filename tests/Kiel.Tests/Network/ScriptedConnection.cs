using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using Kiel.Network;
using Kiel.Protocol;

namespace Kiel.Tests.Network;

public sealed record ScriptedRequest(short ApiKey, short Version, int CorrelationId, string? ClientId, byte[] Frame, int BodyOffset)
{
    public ReadOnlySpan<byte> Body => Frame.AsSpan(BodyOffset);
}

internal sealed class ScriptedConnection : IDisposable
{
    private readonly Socket _socket;
    private readonly ScriptedBroker _broker;

    public ScriptedConnection(Socket socket, ScriptedBroker broker, CancellationToken token)
    {
        _socket = socket;
        _broker = broker;
        Token = token;
    }

    public CancellationToken Token { get; }

    /// <summary>Reads one request frame, or null when the client closed the socket.</summary>
    public async Task<ScriptedRequest?> ReadRequestAsync()
    {
        var size = new byte[4];
        if (!await ReadExactlyAsync(size)) return null;
        var n = BinaryPrimitives.ReadInt32BigEndian(size);
        var frame = new byte[n];
        if (!await ReadExactlyAsync(frame)) return null;
        var key = BinaryPrimitives.ReadInt16BigEndian(frame);
        var version = BinaryPrimitives.ReadInt16BigEndian(frame.AsSpan(2));
        var corr = BinaryPrimitives.ReadInt32BigEndian(frame.AsSpan(4));
        var idLength = BinaryPrimitives.ReadInt16BigEndian(frame.AsSpan(8));
        var offset = 10 + Math.Max(0, (int)idLength);
        var clientId = idLength < 0 ? null : System.Text.Encoding.UTF8.GetString(frame, 10, idLength);
        if (IsFlexible(key, version)) offset += 1; // empty tagged fields in request header v2
        return new ScriptedRequest(key, version, corr, clientId, frame, offset);
    }

    private static bool IsFlexible(short key, short version) => key switch
    {
        18 => version >= 3,
        // Every other key as the schemas say (request header v2 from the first flexible version).
        _ => Kiel.Protocol.ApiKeys.TryGetInfo((Kiel.Protocol.ApiKey)key, out var info) && info.IsFlexible(version),
    };

    private async Task<bool> ReadExactlyAsync(byte[] buffer)
    {
        var total = 0;
        while (total < buffer.Length)
        {
            var n = await _socket.ReceiveAsync(buffer.AsMemory(total), SocketFlags.None, Token);
            if (n == 0)
            {
                _broker.ClientClosed.TrySetResult();
                return false;
            }
            total += n;
        }
        return true;
    }

    public async Task WriteRawAsync(byte[] bytes) => await _socket.SendAsync(bytes, SocketFlags.None, Token);

    /// <summary>Writes a response frame: size, correlation id, optional empty tagged fields (header v1), body.</summary>
    public Task RespondAsync(int correlationId, ReadOnlySpan<byte> body, bool headerV1 = false)
    {
        var frame = new byte[4 + 4 + (headerV1 ? 1 : 0) + body.Length];
        BinaryPrimitives.WriteInt32BigEndian(frame, frame.Length - 4);
        BinaryPrimitives.WriteInt32BigEndian(frame.AsSpan(4), correlationId);
        body.CopyTo(frame.AsSpan(8 + (headerV1 ? 1 : 0)));
        return WriteRawAsync(frame);
    }

    /// <summary>Answers an ApiVersions request at its version with the given ranges.</summary>
    public Task AnswerApiVersionsAsync(ScriptedRequest request, (short Key, short Min, short Max)[]? ranges = null, short errorCode = 0, bool encodeAsV0 = false)
    {
        ranges ??= ScriptedBroker.DefaultRanges;
        var buffer = new PooledBody();
        var writer = new KafkaWriter(buffer.Writer);
        var version = encodeAsV0 ? (short)0 : request.Version;
        var flexible = version >= 3;
        writer.WriteInt16(errorCode);
        writer.WriteArrayLength(ranges.Length, flexible);
        foreach (var (key, min, max) in ranges)
        {
            writer.WriteInt16(key);
            writer.WriteInt16(min);
            writer.WriteInt16(max);
            if (flexible) writer.WriteUnsignedVarInt(0);
        }
        if (version >= 1) writer.WriteInt32(0);
        if (flexible) writer.WriteUnsignedVarInt(0);
        writer.Flush();
        return RespondAsync(request.CorrelationId, buffer.Writer.WrittenSpan);
    }

    /// <summary>Reads the ApiVersions request every connection starts with and answers it.</summary>
    public async Task<ScriptedRequest?> HandshakeAsync((short Key, short Min, short Max)[]? ranges = null)
    {
        var request = await ReadRequestAsync();
        if (request is null) return null;
        Assert.Equal(18, request.ApiKey);
        await AnswerApiVersionsAsync(request, ranges);
        return request;
    }

    public void Close()
    {
        try { _socket.Shutdown(SocketShutdown.Both); } catch (Exception) { }
        _socket.Close();
    }

    /// <summary>Waits until the client closes its end (reads return 0), bounded.</summary>
    public async Task<bool> WaitForClientCloseAsync(TimeSpan timeout)
    {
        var buffer = new byte[4096];
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(Token);
        cts.CancelAfter(timeout);
        try
        {
            while (true)
            {
                var n = await _socket.ReceiveAsync(buffer, SocketFlags.None, cts.Token);
                if (n == 0)
                {
                    _broker.ClientClosed.TrySetResult();
                    return true;
                }
            }
        }
        catch (OperationCanceledException) { return false; }
        catch (SocketException) { _broker.ClientClosed.TrySetResult(); return true; }
    }

    public void Dispose() => _socket.Dispose();
}

internal sealed class PooledBody
{
    public System.Buffers.ArrayBufferWriter<byte> Writer { get; } = new();
}
