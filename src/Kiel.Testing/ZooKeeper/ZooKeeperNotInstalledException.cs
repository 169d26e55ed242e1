namespace Kiel.Testing.ZooKeeper;

/// <summary>
/// Thrown when Java or the ZooKeeper server jar is missing, so no embedded ZooKeeper can start.
/// The message names the packages to install.
/// </summary>
public sealed class ZooKeeperNotInstalledException : InvalidOperationException
{
    /// <summary>The Debian/Ubuntu command that installs what is missing.</summary>
    public const string InstallCommand =
        "apt-get install -y --no-install-recommends libzookeeper-java openjdk-17-jre-headless";

    /// <summary>Creates the exception for a missing file or program.</summary>
    /// <param name="what">What was looked for and where.</param>
    public ZooKeeperNotInstalledException(string what)
        : base($"Cannot start an embedded ZooKeeper: {what}. Install it with `{InstallCommand}` (as root).")
    {
    }
}
