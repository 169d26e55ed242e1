namespace Kiel.Cli;

/// <summary>Process exit codes of the kiel tool.</summary>
internal static class ExitCodes
{
    /// <summary>Done, or stopped cleanly by Ctrl-C/SIGTERM after starting.</summary>
    public const int Ok = 0;

    /// <summary>A runtime failure (a peer unreachable, a native library missing, ...).</summary>
    public const int Failure = 1;

    /// <summary>Bad command line or option value.</summary>
    public const int Usage = 2;

    /// <summary>Interrupted before the command got going (128 + SIGINT).</summary>
    public const int Interrupted = 130;
}
