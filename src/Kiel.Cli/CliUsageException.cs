namespace Kiel.Cli;

/// <summary>The user asked for something that cannot work; the message says what to change. Exit code 2.</summary>
internal sealed class CliUsageException(string message, Exception? inner = null) : Exception(message, inner);
