using System.Diagnostics;

namespace Kiel.IntegrationTests.Groups;

/// <summary>Runs a short kazoo script with /usr/bin/python3, bounded in time; the script gets the connect string as argv[1].</summary>
internal static class Kazoo
{
    public static bool Available => File.Exists("/usr/bin/python3");

    public static async Task<string> RunAsync(string connectString, string script, params string[] args)
    {
        var psi = new ProcessStartInfo("/usr/bin/python3") { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true };
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add("import sys\nfrom kazoo.client import KazooClient\nzk = KazooClient(hosts=sys.argv[1])\nzk.start(timeout=15)\ntry:\n"
            + string.Join("\n", script.Split('\n').Select(l => "    " + l)) + "\nfinally:\n    zk.stop()\n    zk.close()\n");
        psi.ArgumentList.Add(connectString);
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        try { await p.WaitForExitAsync(cts.Token); }
        catch (OperationCanceledException) { p.Kill(entireProcessTree: true); throw new TimeoutException("kazoo script did not finish in 30 s"); }
        if (p.ExitCode != 0) throw new InvalidOperationException($"kazoo script failed ({p.ExitCode}): {await stderr}");
        return (await stdout).Trim();
    }
}
