using System.Text;
using Kiel.ZooKeeper;

namespace Kiel.IntegrationTests.ZooKeeper;

/// <summary>Digest authentication and digest, world and ip ACLs on the real ZooKeeper server, and kazoo reading what Kiel wrote.</summary>
public sealed class ZooKeeperSecurityTests(StandaloneZooKeeperFixture zk) : IClassFixture<StandaloneZooKeeperFixture>
{
    private const string User = "kiel-app";
    private const string Secret = "s3cret-digest";

    private Task<ZooKeeperClient> ConnectAsync(ZooKeeperAuth? auth = null, IReadOnlyList<ZooKeeperAcl>? acl = null) =>
        StandaloneZooKeeperFixture.ConnectAsync(new ZooKeeperClientOptions
        {
            ConnectString = zk.ConnectString,
            SessionTimeout = TimeSpan.FromSeconds(6),
            Auth = auth is null ? [] : [auth],
            DefaultAcl = acl,
        });

    [Fact]
    public async Task A_digest_acl_refuses_an_unauthenticated_session_and_serves_an_authenticated_one()
    {
        var path = StandaloneZooKeeperFixture.UniqueRoot("digest");
        await using (var writer = await ConnectAsync(ZooKeeperAuth.Digest(User, Secret), [ZooKeeperAcl.Digest(User, Secret)]))
        {
            // The client's DefaultAcl applies to a create without an ACL.
            await writer.CreateAsync(path, "guarded"u8.ToArray());
            var (acl, _) = await writer.GetAclAsync(path);
            Assert.Equal([ZooKeeperAcl.Digest(User, Secret)], acl);
        }

        await using (var anonymous = await ConnectAsync())
        {
            await Assert.ThrowsAsync<NoAuthException>(() => anonymous.GetDataAsync(path));
            await Assert.ThrowsAsync<NoAuthException>(() => anonymous.SetDataAsync(path, "x"u8.ToArray()));
        }

        await using (var wrong = await ConnectAsync(ZooKeeperAuth.Digest(User, "not-it")))
            await Assert.ThrowsAsync<NoAuthException>(() => wrong.GetDataAsync(path));

        await using (var reader = await ConnectAsync(ZooKeeperAuth.Digest(User, Secret)))
        {
            Assert.Equal("guarded", Encoding.UTF8.GetString((await reader.GetDataAsync(path)).Data));
            await reader.DeleteAsync(path);
        }
    }

    [Fact]
    public async Task Kazoo_with_the_same_credentials_reads_what_kiel_wrote_and_without_them_is_refused()
    {
        Assert.True(KazooProcess.IsAvailable, "install python3-kazoo");
        var path = StandaloneZooKeeperFixture.UniqueRoot("kazoo-digest");
        await using var writer = await ConnectAsync(ZooKeeperAuth.Digest(User, Secret));
        await writer.CreateAsync(path, "from kiel"u8.ToArray(), acl: [ZooKeeperAcl.Digest(User, Secret, ZooKeeperPermissions.Read | ZooKeeperPermissions.Admin)]);
        var lines = await KazooProcess.RunAfterAnonymousReadAsync("""
            zk = KazooClient(hosts=sys.argv[1], timeout=10, auth_data=[("digest", sys.argv[3])])
            zk.start(timeout=15)
            data, stat = zk.get(sys.argv[2])
            print(data.decode())
            acl, _ = zk.get_acls(sys.argv[2])
            print(acl[0].id.scheme + " " + acl[0].id.id + " " + str(acl[0].perms))
            try:
                zk.set(sys.argv[2], b"x")
                print("write allowed")
            except NoAuthError:
                print("write refused")
            zk.stop()
            """, zk.ConnectString, path, $"{User}:{Secret}");
        Assert.Equal("anonymous refused", lines[0]);
        Assert.Equal("from kiel", lines[1]);
        Assert.Equal($"digest {ZooKeeperAcl.Digest(User, Secret).Id} 17", lines[2]);
        Assert.Equal("write refused", lines[3]);
        await writer.SetAclAsync(path, ZooKeeperAcl.OpenUnsafe);
        await writer.DeleteAsync(path);
    }

    [Fact]
    public async Task World_read_only_and_ip_acls_are_enforced()
    {
        var root = StandaloneZooKeeperFixture.UniqueRoot("world-ip");
        await using var owner = await ConnectAsync(ZooKeeperAuth.Digest(User, Secret));
        await using var anonymous = await ConnectAsync();
        await owner.CreateAsync(root);

        // world:anyone read, the owner everything: anyone reads, nobody else writes.
        var readOnly = root + "/read-only";
        await owner.CreateAsync(readOnly, "public"u8.ToArray(), acl: [.. ZooKeeperAcl.ReadUnsafe, ZooKeeperAcl.Digest(User, Secret)]);
        Assert.Equal("public", Encoding.UTF8.GetString((await anonymous.GetDataAsync(readOnly)).Data));
        await Assert.ThrowsAsync<NoAuthException>(() => anonymous.SetDataAsync(readOnly, "x"u8.ToArray()));
        await owner.SetDataAsync(readOnly, "changed"u8.ToArray());

        // ip: the loopback address every session here comes from is served; another address is not.
        var loopback = root + "/loopback";
        await owner.CreateAsync(loopback, "local"u8.ToArray(), acl: [new ZooKeeperAcl(ZooKeeperPermissions.All, "ip", "127.0.0.1")]);
        Assert.Equal("local", Encoding.UTF8.GetString((await anonymous.GetDataAsync(loopback)).Data));
        var elsewhere = root + "/elsewhere";
        await owner.CreateAsync(elsewhere, "remote"u8.ToArray(), acl: [new ZooKeeperAcl(ZooKeeperPermissions.All, "ip", "10.11.12.0/24")]);
        await Assert.ThrowsAsync<NoAuthException>(() => anonymous.GetDataAsync(elsewhere));
        await Assert.ThrowsAsync<NoAuthException>(() => owner.GetDataAsync(elsewhere));
        // Reading the ACL needs READ or ADMIN too (ZooKeeper 3.6+).
        await Assert.ThrowsAsync<NoAuthException>(() => owner.GetAclAsync(elsewhere));

        await owner.DeleteAsync(readOnly);
        await owner.DeleteAsync(loopback);
        await owner.DeleteAsync(elsewhere);
        await owner.DeleteAsync(root);
    }

    [Fact]
    public void Auth_prints_no_secret()
    {
        var auth = ZooKeeperAuth.Digest(User, Secret);
        Assert.DoesNotContain(Secret, auth.ToString());
        Assert.Contains(User, auth.ToString());
        var options = new GroupedConsumerOptions { Group = "g", ZooKeeperAuth = auth, ZooKeeperAcl = [ZooKeeperAcl.Digest(User, Secret)] };
        Assert.DoesNotContain(Secret, options.ToString());
        Assert.Contains("ZooKeeperAuth = digest kiel-app:***", options.ToString());
    }
}
