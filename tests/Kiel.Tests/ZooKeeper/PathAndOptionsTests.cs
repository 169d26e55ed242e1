using FsCheck;
using FsCheck.Fluent;
using Kiel.ZooKeeper;
using Kiel.ZooKeeper.Recipes;

namespace Kiel.Tests.ZooKeeper;

public sealed class PathAndOptionsTests
{
    [Theory]
    [InlineData("/")]
    [InlineData("/a")]
    [InlineData("/kiel/groups/g1/members/host:123")]
    [InlineData("/a/.b/c..d/...")]
    public void Valid_paths_pass(string path) => Assert.Null(ZooKeeperPath.Check(path));

    [Theory]
    [InlineData("", "empty")]
    [InlineData("a/b", "start with '/'")]
    [InlineData("/a/", "end with '/'")]
    [InlineData("/a//b", "empty segment")]
    [InlineData("/a/\0", "NUL")]
    [InlineData("/a/./b", "'.'")]
    [InlineData("/a/..", "'.'")]
    [InlineData("/a\u0001", "invalid character")]
    [InlineData("/a\ud800", "invalid character")]
    public void Invalid_paths_are_refused_with_the_reason(string path, string reason)
    {
        var e = Assert.Throws<ArgumentException>(() => ZooKeeperPath.Validate(path));
        Assert.Contains(reason, e.Message);
    }

    [Fact]
    public void A_sequential_create_may_end_with_a_slash()
    {
        Assert.Null(ZooKeeperPath.Check("/queue/", sequential: true));
        Assert.NotNull(ZooKeeperPath.Check("/queue/", sequential: false));
    }

    [Fact]
    public void Paths_built_from_plain_segments_are_valid() =>
        Prop.ForAll(Gen.NonEmptyListOf(Gen.Elements("a", "b", "zk", "kiel", "0", "x-y", "host:1")).ToArbitrary(),
            segments => ZooKeeperPath.Check("/" + string.Join('/', segments)) is null).QuickCheckThrowOnFailure();

    [Fact]
    public void Connect_strings_parse_hosts_ports_and_chroot()
    {
        var cs = ConnectString.Parse("h1:2181, h2 ,[::1]:2182/app/sub");
        Assert.Equal([("h1", 2181), ("h2", 2181), ("::1", 2182)], cs.Hosts);
        Assert.Equal("/app/sub", cs.Chroot);
        Assert.Null(ConnectString.Parse("127.0.0.1:1/").Chroot);
        Assert.Throws<ArgumentException>(() => ConnectString.Parse(""));
        Assert.Throws<ArgumentException>(() => ConnectString.Parse("h:99999"));
        Assert.Throws<ArgumentException>(() => ConnectString.Parse("h:1/bad/"));
        Assert.Throws<ArgumentException>(() => ConnectString.Parse(",/x"));
    }

    [Fact]
    public void Options_validate_names_the_setting()
    {
        Assert.Contains("ConnectString", Assert.Throws<ArgumentException>(() => new ZooKeeperClientOptions().Validate()).Message);
        Assert.Contains("SessionTimeout", Assert.Throws<ArgumentException>(() =>
            new ZooKeeperClientOptions { ConnectString = "h:1", SessionTimeout = TimeSpan.Zero }.Validate()).Message);
        Assert.Contains("MaxDataSize", Assert.Throws<ArgumentException>(() =>
            new ZooKeeperClientOptions { ConnectString = "h:1", MaxDataSize = 0 }.Validate()).Message);
        new ZooKeeperClientOptions { ConnectString = "h:1,h2:2/c" }.Validate();
    }

    [Fact]
    public void Tls_options_validate_their_files_and_never_print_the_key_password()
    {
        var missing = Path.Combine(Path.GetTempPath(), $"kiel-no-such-{Guid.NewGuid():N}.pem");
        Assert.Contains("SslCaLocation", Assert.Throws<ArgumentException>(() =>
            new ZooKeeperClientOptions { ConnectString = "h:1", Tls = new ZooKeeperTlsOptions { SslCaLocation = missing } }.Validate()).Message);
        Assert.Contains("SslCertificateLocation", Assert.Throws<ArgumentException>(() =>
            new ZooKeeperTlsOptions { SslCertificateLocation = missing }.Validate()).Message);
        Assert.Contains("SslKeyLocation", Assert.Throws<ArgumentException>(() =>
            new ZooKeeperTlsOptions { SslKeyLocation = missing }.Validate()).Message);
        var tls = new ZooKeeperTlsOptions { SslKeyPassword = "pfx-secret-42" };
        tls.Validate();
        Assert.DoesNotContain("pfx-secret-42", tls.ToString(), StringComparison.Ordinal);
        Assert.Contains("SslKeyPassword = ***", tls.ToString(), StringComparison.Ordinal);
        var options = new ZooKeeperClientOptions { ConnectString = "h:1", Tls = tls, Auth = [ZooKeeperAuth.Digest("u", "digest-secret-7")] };
        Assert.DoesNotContain("pfx-secret-42", options.ToString(), StringComparison.Ordinal);
        Assert.DoesNotContain("digest-secret-7", options.ToString(), StringComparison.Ordinal);
        Assert.True(tls.SslEndpointIdentification);
    }

    [Fact]
    public void Digest_acl_id_matches_the_server_hash()
    {
        // The server's DigestAuthenticationProvider: base64(sha1("user:password")).
        Assert.Equal("super:D/InIHSb7yEEbrWz8b9l71RjZJU=", ZooKeeperAcl.Digest("super", "test").Id);
    }

    [Fact]
    public void Lock_contenders_sort_like_kazoo_by_sequence_text()
    {
        var children = new[]
        {
            "bbb__lock__0000000003", "aaa__lock__0000000010", "lease_holder", "ccc__rlock__0000000001", "ddd__lock__-2147483647", "eee__lock__0000000002",
        };
        var order = ZooKeeperLock.Order(children, out var found, "aaa__lock__0000000010").Select(x => x.Name).ToList();
        Assert.True(found);
        Assert.Equal(["ddd__lock__-2147483647", "eee__lock__0000000002", "bbb__lock__0000000003", "aaa__lock__0000000010"], order);
    }

    [Fact]
    public void Shared_set_encoding_is_a_json_array_of_strings()
    {
        Assert.Equal("[\"a:0\",\"b:1\"]", System.Text.Encoding.UTF8.GetString(SharedSet.Encode(["b:1", "a:0", "a:0"])));
        Assert.Equal(new HashSet<string> { "x", "y" }, SharedSet.Decode("[\"x\", \"y\", \"x\"]"u8));
        Assert.Empty(SharedSet.Decode([]));
        Assert.Empty(SharedSet.Decode("  "u8));
        Assert.Throws<FormatException>(() => SharedSet.Decode("{}"u8));
        Assert.Throws<FormatException>(() => SharedSet.Decode("[1]"u8));
        Assert.Throws<FormatException>(() => SharedSet.Decode("[null]"u8));
    }
}
