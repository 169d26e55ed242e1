using System.Text;
using Kiel.ZooKeeper;
using Kiel.ZooKeeper.Protocol;

namespace Kiel.Tests.ZooKeeper;

/// <summary>SASL DIGEST-MD5 (RFC 2831) as the ZooKeeper client speaks it.</summary>
public sealed class DigestMd5Tests
{
    // RFC 2831 section 4, the IMAP example.
    private const string RfcChallenge = "realm=\"elwood.innosoft.com\",nonce=\"OA6MG9tEQGm2hh\",qop=\"auth\",algorithm=md5-sess,charset=utf-8";

    [Fact]
    public void The_rfc_2831_example_gives_its_response_and_rspauth()
    {
        var (response, rspauth) = DigestMd5.Compute("chris", "elwood.innosoft.com", "secret", "OA6MG9tEQGm2hh", "OA6MHXh6VqTrRk", "00000001",
            "imap/elwood.innosoft.com", utf8: true);
        Assert.Equal("d388dad90d4bbd760a152321f2143af7", response);
        Assert.Equal("ea40f60335c427b5527b84dbabcdfffd", rspauth);
    }

    [Fact]
    public void The_client_answers_the_rfc_challenge_and_checks_the_servers_rspauth()
    {
        var digest = new DigestMd5("chris", "secret", "imap/elwood.innosoft.com");
        var answer = Encoding.UTF8.GetString(digest.Respond(Encoding.UTF8.GetBytes(RfcChallenge), "OA6MHXh6VqTrRk"));
        var directives = DigestMd5.ParseDirectives(Encoding.UTF8.GetBytes(answer));
        Assert.Equal("chris", directives["username"]);
        Assert.Equal("elwood.innosoft.com", directives["realm"]);
        Assert.Equal("OA6MG9tEQGm2hh", directives["nonce"]);
        Assert.Equal("00000001", directives["nc"]);
        Assert.Equal("imap/elwood.innosoft.com", directives["digest-uri"]);
        Assert.Equal("auth", directives["qop"]);
        Assert.Equal("d388dad90d4bbd760a152321f2143af7", directives["response"]);
        Assert.DoesNotContain("secret", answer, StringComparison.Ordinal);
        Assert.True(digest.VerifyServer("rspauth=ea40f60335c427b5527b84dbabcdfffd"u8));
        Assert.False(digest.VerifyServer("rspauth=ea40f60335c427b5527b84dbabcdfffe"u8));
    }

    [Fact]
    public void Zookeepers_digest_uri_is_used_by_default_and_a_fresh_cnonce_each_time()
    {
        var challenge = "realm=\"zk-sasl-md5\",nonce=\"abc\",charset=utf-8,algorithm=md5-sess"u8.ToArray();
        var first = DigestMd5.ParseDirectives(new DigestMd5("bob", "pw").Respond(challenge));
        var second = DigestMd5.ParseDirectives(new DigestMd5("bob", "pw").Respond(challenge));
        Assert.Equal("zookeeper/zk-sasl-md5", first["digest-uri"]);
        Assert.NotEqual(first["cnonce"], second["cnonce"]);
    }

    [Fact]
    public void Quoted_values_with_escapes_and_commas_parse()
    {
        var d = DigestMd5.ParseDirectives("realm=\"a,b\\\"c\", nonce=\"n\" ,qop=\"auth,auth-int\",stale=true"u8);
        Assert.Equal("a,b\"c", d["realm"]);
        Assert.Equal("n", d["nonce"]);
        Assert.Equal("auth,auth-int", d["qop"]);
        Assert.Equal("true", d["stale"]);
    }

    [Theory]
    [InlineData("")]
    [InlineData("realm=\"unterminated")]
    [InlineData("nonce")]
    [InlineData("=x")]
    [InlineData("nonce=\"a\"junk")]
    [InlineData("realm=\"r\"")] // no nonce
    [InlineData("nonce=\"a\",algorithm=md5")]
    [InlineData("nonce=\"a\",qop=\"auth-conf\"")]
    [InlineData("nonce=\"a\\")]
    public void A_malformed_challenge_is_a_protocol_error(string challenge)
    {
        Assert.Throws<ZooKeeperProtocolException>(() => new DigestMd5("u", "p").Respond(Encoding.UTF8.GetBytes(challenge)));
    }

    [Fact]
    public void An_oversized_or_non_utf8_challenge_is_refused()
    {
        Assert.Throws<ZooKeeperProtocolException>(() => DigestMd5.ParseDirectives(new byte[4096]));
        Assert.Throws<ZooKeeperProtocolException>(() => DigestMd5.ParseDirectives([0xff, 0xfe, 0x3d]));
        var digest = new DigestMd5("u", "p");
        digest.Respond("nonce=\"a\""u8.ToArray());
        Assert.Throws<ZooKeeperProtocolException>(() => digest.VerifyServer("other=1"u8));
    }

    [Fact]
    public void Sasl_credentials_print_the_user_only_and_at_most_one_is_allowed()
    {
        var auth = ZooKeeperAuth.Sasl("bob", "sasl-secret-9");
        Assert.Equal("sasl bob:***", auth.ToString());
        Assert.Throws<ArgumentException>(() => ZooKeeperAuth.Sasl("a:b", "x"));
        Assert.Contains("Sasl", Assert.Throws<ArgumentException>(() =>
            new ZooKeeperClientOptions { ConnectString = "h:1", Auth = [auth, ZooKeeperAuth.Sasl("eve", "x")] }.Validate()).Message);
    }
}
