using System.Runtime.InteropServices;
using Kiel.Cli.Demo;

namespace Kiel.Cli.Chaos;

/// <summary>SIGSTOP and SIGCONT for member processes (Linux numbering; a no-op elsewhere or on a process that is gone).</summary>
internal static class Signals
{
    private const int SigCont = 18;
    private const int SigStop = 19;

    public static void Stop(DemoMemberProcess member) => Send(member, SigStop);

    public static void Continue(DemoMemberProcess member) => Send(member, SigCont);

    private static void Send(DemoMemberProcess member, int signal)
    {
        if (!OperatingSystem.IsLinux() || member.HasExited)
        {
            return;
        }

        _ = Kill(member.Pid, signal);
    }

    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int Kill(int pid, int signal);
}
