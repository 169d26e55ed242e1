namespace Kiel.Groups;

/// <summary>Makes member names that are unique per consumer instance.</summary>
internal static class MemberName
{
    private static int s_instances;

    // Kiel used "<hostname>:<object id>". The process id and a per-process counter make the name unique on
    // one host; the random part keeps two containers that share a host name and pid 1 apart.
    public static string Create()
    {
        var n = Interlocked.Increment(ref s_instances);
        var random = Random.Shared.Next(0x1000000);
        return $"{Environment.MachineName}:{Environment.ProcessId}-{n}-{random:x6}";
    }
}
