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

    /// <summary>The scheme of <see cref="Sasl"/> credentials: not sent as <c>addauth</c> but as a SASL DIGEST-MD5 exchange.</summary>
    internal const string SaslScheme = "sasl";

    /// <summary>
    /// SASL DIGEST-MD5 credentials, for a server whose JAAS <c>Server</c> section holds
    /// <c>org.apache.zookeeper.server.auth.DigestLoginModule required user_NAME="PASSWORD";</c> (and
    /// <c>authProvider.1=org.apache.zookeeper.server.auth.SASLAuthenticationProvider</c>). The session authenticates
    /// at every connection before any request, and is then <c>sasl:NAME</c> to ACLs (<c>new ZooKeeperAcl(perms, "sasl", user)</c>).
    /// </summary>
    public static ZooKeeperAuth Sasl(string user, string password)
    {
        ArgumentException.ThrowIfNullOrEmpty(user);
        ArgumentNullException.ThrowIfNull(password);
        if (user.Contains(':', StringComparison.Ordinal)) throw new ArgumentException("A SASL user name cannot contain ':'.", nameof(user));
        return new ZooKeeperAuth(SaslScheme, user + ":" + password);
    }

    /// <summary>The user and password of <see cref="Sasl"/> credentials.</summary>
    internal (string User, string Password) SplitUserPassword()
    {
        var colon = Credentials.IndexOf(':', StringComparison.Ordinal);
        return colon < 0 ? (Credentials, "") : (Credentials[..colon], Credentials[(colon + 1)..]);
    }

    /// <summary>The scheme and, for digest and SASL, the user; never the password.</summary>
    public override string ToString()
    {
        var colon = Credentials?.IndexOf(':', StringComparison.Ordinal) ?? -1;
        return Scheme is "digest" or SaslScheme && colon > 0 ? $"{Scheme} {Credentials![..colon]}:***" : $"{Scheme} ***";
    }
}
