namespace Kiel.Testing.ZooKeeper;

/// <summary>Where the Java runtime and the ZooKeeper 3.8 jars are, and whether they are usable.</summary>
public static class ZooKeeperInstallation
{
    /// <summary>The jar that Debian's <c>libzookeeper-java</c> installs; its manifest names every dependency.</summary>
    public const string DefaultServerJar = "/usr/share/java/zookeeper.jar";

    /// <summary>SLF4J's simple binding; without it ZooKeeper logs nothing at all.</summary>
    public const string DefaultLoggingJar = "/usr/share/java/slf4j-simple.jar";

    /// <summary>
    /// The Netty jars that the server's Netty connection factory (needed for TLS) uses beyond those the server jar's
    /// manifest names: Debian's <c>libnetty-java</c> (a dependency of <c>libzookeeper-java</c>) ships them.
    /// </summary>
    internal static readonly string[] NettyExtraJars = ["/usr/share/java/netty-codec.jar", "/usr/share/java/netty-resolver.jar"];

    /// <summary>True when both <c>java</c> and the server jar can be found.</summary>
    public static bool IsAvailable => TryFindJava(null) is not null && File.Exists(DefaultServerJar);

    /// <summary>Finds <c>java</c>: an explicit path, then <c>JAVA_HOME</c>, then <c>PATH</c>.</summary>
    /// <param name="explicitPath">A path given by the caller, or null.</param>
    /// <returns>The full path of the java executable, or null when none exists.</returns>
    public static string? TryFindJava(string? explicitPath)
    {
        if (!string.IsNullOrEmpty(explicitPath)) return File.Exists(explicitPath) ? explicitPath : null;
        var exe = OperatingSystem.IsWindows() ? "java.exe" : "java";
        var home = Environment.GetEnvironmentVariable("JAVA_HOME");
        if (!string.IsNullOrEmpty(home))
        {
            var candidate = Path.Combine(home, "bin", exe);
            if (File.Exists(candidate)) return candidate;
        }
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator))
        {
            if (dir.Length == 0) continue;
            var candidate = Path.Combine(dir, exe);
            if (File.Exists(candidate)) return candidate;
        }
        return null;
    }

    /// <summary>Resolves java and the class path, or throws <see cref="ZooKeeperNotInstalledException"/>.</summary>
    internal static (string Java, string ClassPath) Resolve(string? javaPath, string serverJar, bool netty = false)
    {
        var java = TryFindJava(javaPath)
            ?? throw new ZooKeeperNotInstalledException(
                javaPath is null ? "no `java` on PATH or under JAVA_HOME" : $"java not found at '{javaPath}'");
        if (!File.Exists(serverJar))
            throw new ZooKeeperNotInstalledException($"the ZooKeeper server jar '{serverJar}' does not exist");
        var classPath = File.Exists(DefaultLoggingJar)
            ? serverJar + Path.PathSeparator + DefaultLoggingJar
            : serverJar;
        if (netty)
        {
            foreach (var jar in NettyExtraJars)
            {
                if (!File.Exists(jar))
                    throw new ZooKeeperNotInstalledException($"TLS needs the server's Netty connection factory, and '{jar}' does not exist (install libnetty-java)");
                classPath += Path.PathSeparator + jar;
            }
        }
        return (java, classPath);
    }
}
