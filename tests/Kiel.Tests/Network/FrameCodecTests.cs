using System.Buffers.Binary;
using Kiel.Network;
using Kiel.Protocol;

namespace Kiel.Tests.Network;

public sealed class FrameCodecTests
{
    private static byte[] Frame(ApiKey key, short version, int correlationId, string? clientId, byte[] body)
    {
        using var buffer = new PooledBufferWriter();
        FrameCodec.WriteRequest(buffer, new TestRequest(key, body), version, correlationId, clientId);
        return buffer.WrittenSpan.ToArray();
    }

    [Fact]
    public void Request_header_v0_has_no_client_id()
    {
        Assert.Equal(0, ApiKeys.RequestHeaderVersion(ApiKey.ControlledShutdown, 0));
        var frame = Frame(ApiKey.ControlledShutdown, 0, 0x01020304, "ignored", [0xAA]);
        Assert.Equal(new byte[] { 0, 0, 0, 9, 0, 7, 0, 0, 1, 2, 3, 4, 0xAA }, frame);
    }

    [Fact]
    public void Request_header_v1_carries_an_int16_client_id()
    {
        Assert.Equal(1, ApiKeys.RequestHeaderVersion(ApiKey.Metadata, 1));
        var frame = Frame(ApiKey.Metadata, 1, 7, "ab", [0xBB, 0xCC]);
        Assert.Equal(new byte[] { 0, 0, 0, 14, 0, 3, 0, 1, 0, 0, 0, 7, 0, 2, (byte)'a', (byte)'b', 0xBB, 0xCC }, frame);
    }

    [Fact]
    public void Request_header_v1_writes_a_null_client_id_as_length_minus_one()
    {
        var frame = Frame(ApiKey.Metadata, 1, 7, null, []);
        Assert.Equal(new byte[] { 0, 0, 0, 10, 0, 3, 0, 1, 0, 0, 0, 7, 0xFF, 0xFF }, frame);
    }

    [Fact]
    public void Request_header_v2_keeps_the_int16_client_id_and_adds_empty_tagged_fields()
    {
        Assert.Equal(2, ApiKeys.RequestHeaderVersion(ApiKey.Metadata, 12));
        var frame = Frame(ApiKey.Metadata, 12, 0x7FFFFFFF, "k", [0x01]);
        Assert.Equal(new byte[] { 0, 0, 0, 13, 0, 3, 0, 12, 0x7F, 0xFF, 0xFF, 0xFF, 0, 1, (byte)'k', 0, 0x01 }, frame);
    }

    [Fact]
    public void Correlation_id_is_patched_in_place_in_every_header_version()
    {
        foreach (var (key, version) in new[] { (ApiKey.ControlledShutdown, (short)0), (ApiKey.Metadata, (short)1), (ApiKey.Metadata, (short)12) })
        {
            var frame = Frame(key, version, 0, "client", [9, 9]);
            var before = frame.ToArray();
            FrameCodec.PatchCorrelationId(frame, 123456789);
            Assert.Equal(123456789, BinaryPrimitives.ReadInt32BigEndian(frame.AsSpan(8)));
            Assert.Equal(before.AsSpan(0, 8).ToArray(), frame.AsSpan(0, 8).ToArray());
            Assert.Equal(before.AsSpan(12).ToArray(), frame.AsSpan(12).ToArray());
        }
    }

    [Fact]
    public void Response_header_v0_is_the_correlation_id_only()
    {
        byte[] response = [0, 0, 1, 0, 0xEE];
        Assert.Equal(256, FrameCodec.PeekCorrelationId(response));
        Assert.Equal(4, FrameCodec.ReadResponseHeader(response, 0, out var id));
        Assert.Equal(256, id);
    }

    [Fact]
    public void Response_header_v1_skips_its_tagged_fields()
    {
        // correlation id 5, two tagged fields (tag 0 with 3 bytes, tag 5 with none), then the body 0xEE.
        byte[] response = [0, 0, 0, 5, 2, 0, 3, 1, 2, 3, 5, 0, 0xEE];
        Assert.Equal(12, FrameCodec.ReadResponseHeader(response, 1, out var id));
        Assert.Equal(5, id);
        Assert.Equal(5, FrameCodec.ReadResponseHeader([0, 0, 0, 5, 0, 0xEE], 1, out _));
    }

    [Fact]
    public void Malformed_response_headers_are_refused()
    {
        // A tagged field longer than the frame.
        Assert.Throws<KafkaProtocolException>(() => FrameCodec.ReadResponseHeader([0, 0, 0, 5, 1, 0, 9, 1], 1, out _));
        // Truncated correlation ids.
        Assert.Throws<KafkaProtocolException>(() => FrameCodec.ReadResponseHeader([0, 0, 5], 0, out _));
        Assert.Throws<KafkaProtocolException>(() => FrameCodec.PeekCorrelationId([0, 0, 5]));
        // A tag count with no tags after it.
        Assert.Throws<KafkaProtocolException>(() => FrameCodec.ReadResponseHeader([0, 0, 0, 5, 3], 1, out _));
    }
}
