using Kiel.Testing.ZooKeeper;

namespace Kiel.IntegrationTests.Fixtures;

/// <summary>
/// A fact that needs java and the ZooKeeper jar. Skipped with the install command when they are missing,
/// except when CI is "true": there it must fail rather than hide behind a skip.
/// </summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class ZooKeeperFactAttribute : FactAttribute
{
    public ZooKeeperFactAttribute()
    {
        if (!ZooKeeperInstallation.IsAvailable && !ExternalTools.IsCi)
        {
            Skip = $"java or {ZooKeeperInstallation.DefaultServerJar} is missing; install with: {ZooKeeperNotInstalledException.InstallCommand} (with CI=true this test fails instead).";
        }
    }
}
