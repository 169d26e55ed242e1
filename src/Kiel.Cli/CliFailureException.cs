namespace Kiel.Cli;

/// <summary>A peer or resource the command needs is missing or refused: one line on stderr saying what to fix, exit code 1.</summary>
internal sealed class CliFailureException(string message, Exception? inner = null) : Exception(message, inner);
