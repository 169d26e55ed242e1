using Kiel.IntegrationTests.Fixtures;
using Kiel.Testing;

namespace Kiel.IntegrationTests.Security;

/// <summary><c>kiel produce</c> and <c>kiel consume</c> through the secured front (SASL_SSL, SCRAM-SHA-512): with <c>--command-config</c>, with the flags and <c>KIEL_SASL_PASSWORD</c>, and a wrong password as one line and exit 1.</summary>
public sealed class SecuredCliTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(90);

    private static Task<EmbeddedKafkaCluster> StartAsync() =>
        SecuredFrontPeerTests.StartAsync(tls: true, new EmbeddedSecurityOptions { SaslMechanisms = [SaslMechanism.ScramSha512] }, brokers: 1);

    private static async Task<(int ExitCode, string StdOut, string StdErr)> KielAsync(IReadOnlyDictionary<string, string?> environment, params string[] args)
    {
        await using var kiel = KielCliProcess.Start(environment, args);
        kiel.StandardInput.Close();
        Assert.True(await kiel.WaitForExitAsync(Bound), $"kiel {string.Join(' ', args)} did not exit: {kiel.StdErr}");
        // Let the output readers drain what the process wrote before it exited.
        await kiel.WaitForExitAsync(TimeSpan.FromSeconds(5));
        return (kiel.ExitCode, string.Join('\n', kiel.StdOutSoFar), kiel.StdErr);
    }

    private static Dictionary<string, string?> Password(string? password) => new() { ["KIEL_SASL_PASSWORD"] = password };

    private static async Task ProduceThenConsumeAsync(EmbeddedKafkaCluster cluster, string topic, Dictionary<string, string?> environment, string[] security)
    {
        cluster.CreateTopic(topic, 2);
        var file = Path.Combine(Path.GetTempPath(), $"kiel-secured-{Guid.NewGuid():N}.txt");
        await File.WriteAllLinesAsync(file, Enumerable.Range(0, 50).Select(i => $"k{i}|v{i}"));
        try
        {
            var produced = await KielAsync(environment, ["produce", topic, "-b", cluster.BootstrapServers, "--key-separator", "|", "--file", file, .. security]);
            Assert.True(produced.ExitCode == 0, produced.StdErr);
            Assert.Contains("produced 50 record(s)", produced.StdErr);
        }
        finally
        {
            File.Delete(file);
        }

        var consumed = await KielAsync(environment, ["consume", topic, "-b", cluster.BootstrapServers, "--count", "50", "--format", "json", .. security]);
        Assert.True(consumed.ExitCode == 0, consumed.StdErr);
        var values = consumed.StdOut.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => System.Text.Json.JsonDocument.Parse(l).RootElement.GetProperty("value").GetString()).Order().ToList();
        Assert.Equal(Enumerable.Range(0, 50).Select(i => $"v{i}").Order(), values);
    }

    [Fact]
    public async Task Produce_and_consume_with_command_config()
    {
        await using var cluster = await StartAsync();
        await ProduceThenConsumeAsync(cluster, "cli-props", Password(null), ["--command-config", cluster.Security!.ClientPropertiesPath]);
    }

    [Fact]
    public async Task Produce_and_consume_with_flags_and_the_password_from_the_environment()
    {
        await using var cluster = await StartAsync();
        var security = cluster.Security!;
        await ProduceThenConsumeAsync(cluster, "cli-flags", Password(security.Password),
            ["--security-protocol", "SASL_SSL", "--sasl-mechanism", "SCRAM-SHA-512", "--sasl-username", security.Username, "--ssl-ca", security.CaPath]);
    }

    [Fact]
    public async Task A_wrong_password_is_one_line_and_exit_1_without_the_password()
    {
        await using var cluster = await StartAsync();
        cluster.CreateTopic("cli-wrong", 1);
        var security = cluster.Security!;
        const string wrong = "not-the-password-42";
        var result = await KielAsync(Password(wrong),
            "consume", "cli-wrong", "-b", cluster.BootstrapServers, "--count", "1",
            "--security-protocol", "SASL_SSL", "--sasl-mechanism", "SCRAM-SHA-512", "--sasl-username", security.Username, "--ssl-ca", security.CaPath);
        Assert.Equal(1, result.ExitCode);
        var line = Assert.Single(result.StdErr.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        Assert.StartsWith("kiel: error: Authentication with broker", line);
        Assert.Contains("SCRAM-SHA-512", line);
        Assert.DoesNotContain(wrong, result.StdErr + result.StdOut);
    }

    [Fact]
    public async Task No_password_and_no_terminal_is_a_usage_error()
    {
        await using var cluster = await StartAsync();
        var security = cluster.Security!;
        var result = await KielAsync(Password(null),
            "topics", "list", "-b", cluster.BootstrapServers,
            "--security-protocol", "SASL_SSL", "--sasl-mechanism", "SCRAM-SHA-512", "--sasl-username", security.Username, "--ssl-ca", security.CaPath);
        Assert.Equal(2, result.ExitCode);
        var line = Assert.Single(result.StdErr.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        Assert.Contains("KIEL_SASL_PASSWORD", line);
    }
}
