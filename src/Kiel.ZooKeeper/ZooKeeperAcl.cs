using System.Security.Cryptography;
using System.Text;

namespace Kiel.ZooKeeper;

/// <summary>ZooKeeper permission bits.</summary>
[Flags]
public enum ZooKeeperPermissions
{
    /// <summary>No permission.</summary>
    None = 0,
    /// <summary>Read data and list children.</summary>
    Read = 1,
    /// <summary>Set data.</summary>
    Write = 2,
    /// <summary>Create children.</summary>
    Create = 4,
    /// <summary>Delete children.</summary>
    Delete = 8,
    /// <summary>Set the ACL.</summary>
    Admin = 16,
    /// <summary>All of the above.</summary>
    All = 31,
}

/// <summary>One access-control entry: permissions granted to an identity in a scheme.</summary>
/// <param name="Permissions">The permissions granted.</param>
/// <param name="Scheme">The scheme (<c>world</c>, <c>auth</c>, <c>digest</c>, <c>ip</c>…).</param>
/// <param name="Id">The identity within the scheme.</param>
public sealed record ZooKeeperAcl(ZooKeeperPermissions Permissions, string Scheme, string Id)
{
    /// <summary>Everyone may do everything (ZooKeeper's OPEN_ACL_UNSAFE); the default for new nodes.</summary>
    public static IReadOnlyList<ZooKeeperAcl> OpenUnsafe { get; } = [new(ZooKeeperPermissions.All, "world", "anyone")];

    /// <summary>Everyone may read (READ_ACL_UNSAFE).</summary>
    public static IReadOnlyList<ZooKeeperAcl> ReadUnsafe { get; } = [new(ZooKeeperPermissions.Read, "world", "anyone")];

    /// <summary>All permissions for the identities the session authenticated with (CREATOR_ALL_ACL).</summary>
    public static IReadOnlyList<ZooKeeperAcl> CreatorAll { get; } = [new(ZooKeeperPermissions.All, "auth", "")];

    /// <summary>An entry for a digest user: the id is <c>user:base64(sha1(user:password))</c>, as the server computes it.</summary>
    public static ZooKeeperAcl Digest(string user, string password, ZooKeeperPermissions permissions = ZooKeeperPermissions.All)
    {
        ArgumentException.ThrowIfNullOrEmpty(user);
        ArgumentNullException.ThrowIfNull(password);
        var hash = SHA1.HashData(Encoding.UTF8.GetBytes(user + ":" + password));
        return new ZooKeeperAcl(permissions, "digest", user + ":" + Convert.ToBase64String(hash));
    }
}
