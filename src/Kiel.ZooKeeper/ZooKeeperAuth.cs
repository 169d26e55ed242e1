namespace Kiel.ZooKeeper;

/// <summary>
/// Credentials a ZooKeeper session presents (<c>addauth SCHEME CREDENTIALS</c>), for example digest
/// <c>user:password</c>. Sent at every connection, before any request. <see cref="ToString"/> masks the secret.
/// </summary>
/// <param name="Scheme">The scheme, for example <c>digest</c>.</param>
/// <param name="Credentials">The credentials in the scheme's form (digest: <c>user:password</c>). A secret.</param>
public sealed record ZooKeeperAuth(string Scheme, string Credentials)
{
    /// <summary>Digest credentials <c>user:password</c>; pair with <see cref="ZooKeeperAcl.Digest"/> for the ACL.</summary>
    public static ZooKeeperAuth Digest(string user, string password)
    {
        ArgumentException.ThrowIfNullOrEmpty(user);
        ArgumentNullException.ThrowIfNull(password);
        if (user.Contains(':', StringComparison.Ordinal)) throw new ArgumentException("A digest user name cannot contain ':'.", nameof(user));
        return new ZooKeeperAuth("digest", user + ":" + password);
    }

    /// <summary>The scheme and, for digest, the user; never the password.</summary>
    public override string ToString()
    {
        var colon = Credentials?.IndexOf(':', StringComparison.Ordinal) ?? -1;
        return Scheme == "digest" && colon > 0 ? $"{Scheme} {Credentials![..colon]}:***" : $"{Scheme} ***";
    }
}
