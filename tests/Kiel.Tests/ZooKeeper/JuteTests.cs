using Kiel.ZooKeeper;
using Kiel.ZooKeeper.Protocol;

namespace Kiel.Tests.ZooKeeper;

public sealed class JuteTests
{
    private static byte[] Bytes(Action<JuteWriter> write)
    {
        using var w = new JuteWriter(4);
        write(w);
        return w.WrittenSpan.ToArray();
    }

    [Fact]
    public void Primitives_are_big_endian_with_length_prefixes()
    {
        Assert.Equal(new byte[] { 0x01, 0x02, 0x03, 0x04 }, Bytes(w => w.WriteInt(0x01020304)));
        Assert.Equal(new byte[] { 0xff, 0xff, 0xff, 0xfe }, Bytes(w => w.WriteInt(-2)));
        Assert.Equal(new byte[] { 0, 0, 0, 0, 0, 0, 0x01, 0x00 }, Bytes(w => w.WriteLong(256)));
        Assert.Equal(new byte[] { 1 }, Bytes(w => w.WriteBool(true)));
        Assert.Equal(new byte[] { 0, 0, 0, 2, (byte)'/', (byte)'a' }, Bytes(w => w.WriteString("/a")));
        Assert.Equal(new byte[] { 0xff, 0xff, 0xff, 0xff }, Bytes(w => w.WriteString(null)));
        Assert.Equal(new byte[] { 0, 0, 0, 2, 0xc3, 0xa9 }, Bytes(w => w.WriteString("é")));
        Assert.Equal(new byte[] { 0, 0, 0, 0 }, Bytes(w => w.WriteBuffer([])));
        Assert.Equal(new byte[] { 0, 0, 0, 1, 0, 0, 0, 31, 0, 0, 0, 5, (byte)'w', (byte)'o', (byte)'r', (byte)'l', (byte)'d', 0, 0, 0, 6, (byte)'a', (byte)'n', (byte)'y', (byte)'o', (byte)'n', (byte)'e' },
            Bytes(w => w.WriteAcls(ZooKeeperAcl.OpenUnsafe)));
    }

    [Fact]
    public void Writer_grows_past_its_first_buffer()
    {
        var data = Enumerable.Range(0, 10_000).Select(i => (byte)i).ToArray();
        var bytes = Bytes(w => w.WriteBuffer(data));
        Assert.Equal(10_004, bytes.Length);
        Assert.Equal(data, bytes[4..]);
    }

    [Fact]
    public void Connect_request_frame_has_the_documented_layout()
    {
        var password = Enumerable.Range(1, 16).Select(i => (byte)i).ToArray();
        var frame = Bytes(w => ConnectResponse.WriteRequest(w, lastZxidSeen: 0x0102, timeoutMs: 10_000, sessionId: 0x7f, password, readOnly: false));
        var expected = new List<byte>();
        expected.AddRange([0, 0, 0, 45]);              // frame length
        expected.AddRange([0, 0, 0, 0]);               // protocol version
        expected.AddRange([0, 0, 0, 0, 0, 0, 1, 2]);   // last zxid seen
        expected.AddRange([0, 0, 0x27, 0x10]);         // timeout 10000
        expected.AddRange([0, 0, 0, 0, 0, 0, 0, 0x7f]); // session id
        expected.AddRange([0, 0, 0, 16]);
        expected.AddRange(password);
        expected.Add(0);                               // read-only
        Assert.Equal(expected.ToArray(), frame);
    }

    [Fact]
    public void Connect_response_decodes_with_and_without_the_read_only_flag()
    {
        var body = Bytes(w => { w.WriteInt(0); w.WriteInt(6000); w.WriteLong(0x1234); w.WriteBuffer(new byte[16]); w.WriteBool(true); });
        var r = new JuteReader(body, "ConnectResponse");
        var response = ConnectResponse.Read(ref r);
        Assert.Equal(6000, response.TimeoutMs);
        Assert.Equal(0x1234, response.SessionId);
        Assert.Equal(16, response.Password.Length);
        Assert.True(response.ReadOnly);

        var old = body[..^1];
        var r2 = new JuteReader(old, "ConnectResponse");
        Assert.False(ConnectResponse.Read(ref r2).ReadOnly);
    }

    [Fact]
    public void Stat_decodes_field_by_field()
    {
        var body = Bytes(w =>
        {
            w.WriteLong(1); w.WriteLong(2); w.WriteLong(3); w.WriteLong(4);
            w.WriteInt(5); w.WriteInt(6); w.WriteInt(7);
            w.WriteLong(8); w.WriteInt(9); w.WriteInt(10); w.WriteLong(11);
        });
        Assert.Equal(ZooKeeperStat.Size, body.Length);
        var r = new JuteReader(body, "Stat");
        Assert.Equal(new ZooKeeperStat(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11), r.ReadStat());
        Assert.Equal(0, r.Remaining);
    }

    [Theory]
    [InlineData(new byte[] { 0, 0, 0, 9, (byte)'a' })]             // string longer than the frame
    [InlineData(new byte[] { 0x7f, 0xff, 0xff, 0xff })]             // 2 GiB string
    [InlineData(new byte[] { 0xff, 0xff, 0xff, 0xfb })]             // negative length other than -1
    [InlineData(new byte[] { 0, 0 })]                               // truncated length
    public void Hostile_string_lengths_are_rejected(byte[] frame)
    {
        var e = Assert.Throws<ZooKeeperProtocolException>(() => { var r = new JuteReader(frame, "GetDataResponse"); r.ReadString("data"); });
        Assert.Equal("GetDataResponse", e.MessageName);
        Assert.Equal("data", e.Field);
    }

    [Fact]
    public void Hostile_vector_counts_are_rejected_before_allocating()
    {
        var frame = new byte[] { 0x40, 0, 0, 0, 0, 0, 0, 1 }; // a billion children in 4 bytes
        var e = Assert.Throws<ZooKeeperProtocolException>(() => { var r = new JuteReader(frame, "GetChildrenResponse"); r.ReadStrings("children"); });
        Assert.Contains("cannot fit", e.Message);
        Assert.Throws<ZooKeeperProtocolException>(() => { var r = new JuteReader(new byte[] { 0, 0, 0, 1, 2 }, "x"); r.ReadInt("a"); r.ReadBool("b"); });
    }

    [Fact]
    public void Null_vectors_read_as_empty_and_buffers_as_null()
    {
        var r = new JuteReader(new byte[] { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff }, "x");
        Assert.Empty(r.ReadStrings("children"));
        Assert.Null(r.ReadBuffer("data"));
    }

    [Fact]
    public void Multi_request_encodes_headers_ops_and_the_closing_header()
    {
        var bytes = Bytes(w => ZooKeeperClient.WriteMulti(w, [ZooKeeperOp.Check("/a", 3), ZooKeeperOp.Delete("/b", -1)], p => "/root" + p));
        byte[] expected =
        [
            0, 0, 0, 13, 0, 0xff, 0xff, 0xff, 0xff,                         // check, not done, err -1
            0, 0, 0, 7, (byte)'/', (byte)'r', (byte)'o', (byte)'o', (byte)'t', (byte)'/', (byte)'a', 0, 0, 0, 3,
            0, 0, 0, 2, 0, 0xff, 0xff, 0xff, 0xff,                          // delete
            0, 0, 0, 7, (byte)'/', (byte)'r', (byte)'o', (byte)'o', (byte)'t', (byte)'/', (byte)'b', 0xff, 0xff, 0xff, 0xff,
            0xff, 0xff, 0xff, 0xff, 1, 0xff, 0xff, 0xff, 0xff,              // type -1, done, err -1
        ];
        Assert.Equal(expected, bytes);
    }

    [Fact]
    public void Multi_response_decodes_results_and_errors()
    {
        var body = Bytes(w =>
        {
            w.WriteInt(1); w.WriteBool(false); w.WriteInt(0); w.WriteString("/root/x0000000001");
            w.WriteInt(-1); w.WriteBool(false); w.WriteInt(-103); w.WriteInt(-103);
            w.WriteInt(-1); w.WriteBool(true); w.WriteInt(-1);
        });
        var r = new JuteReader(body, "MultiResponse");
        var results = ZooKeeperClient.ReadMulti(ref r, p => p["/root".Length..]);
        Assert.Equal(new OpResult.Create("/x0000000001"), results[0]);
        Assert.Equal(new OpResult.Error(ZooKeeperErrorCode.BadVersion), results[1]);

        var truncated = body[..^9];
        Assert.Throws<ZooKeeperProtocolException>(() => { var t = new JuteReader(truncated, "MultiResponse"); ZooKeeperClient.ReadMulti(ref t, p => p); });
        var badType = Bytes(w => { w.WriteInt(77); w.WriteBool(false); w.WriteInt(0); });
        Assert.Throws<ZooKeeperProtocolException>(() => { var t = new JuteReader(badType, "MultiResponse"); ZooKeeperClient.ReadMulti(ref t, p => p); });
    }

    [Fact]
    public void Error_codes_map_to_specific_exceptions_carrying_the_path()
    {
        Assert.IsType<NoNodeException>(ZooKeeperException.Create(ZooKeeperErrorCode.NoNode, "/a"));
        Assert.IsType<NodeExistsException>(ZooKeeperException.Create(ZooKeeperErrorCode.NodeExists, "/a"));
        Assert.IsType<BadVersionException>(ZooKeeperException.Create(ZooKeeperErrorCode.BadVersion, "/a"));
        Assert.IsType<NotEmptyException>(ZooKeeperException.Create(ZooKeeperErrorCode.NotEmpty, "/a"));
        Assert.IsType<SessionExpiredException>(ZooKeeperException.Create(ZooKeeperErrorCode.SessionExpired, "/a"));
        Assert.IsType<ConnectionLossException>(ZooKeeperException.Create(ZooKeeperErrorCode.ConnectionLoss, "/a"));
        Assert.IsType<NoAuthException>(ZooKeeperException.Create(ZooKeeperErrorCode.NoAuth, "/a"));
        var other = ZooKeeperException.Create(ZooKeeperErrorCode.Throttled, "/p");
        Assert.Equal(ZooKeeperErrorCode.Throttled, other.Code);
        Assert.Equal("/p", other.Path);
        Assert.Contains("/p", other.Message);
    }
}
