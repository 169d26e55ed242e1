using Microsoft.Extensions.Logging;

/// <summary>
/// With KIEL_DIAG_DIR set, every log line of the member (Debug and up) goes to DIR/member-PID.log, each stamped with
/// Stopwatch.GetTimestamp (the monotonic clock the tests compare across processes), so a failed run can be read back.
/// </summary>
internal sealed class DiagnosticLog : ILoggerFactory, ILogger
{
    private readonly StreamWriter _out;
    private readonly Lock _gate = new();

    private DiagnosticLog(string path) => _out = new StreamWriter(path, append: true) { AutoFlush = true };

    public static DiagnosticLog? FromEnvironment()
    {
        var dir = Environment.GetEnvironmentVariable("KIEL_DIAG_DIR");
        if (string.IsNullOrEmpty(dir)) return null;
        Directory.CreateDirectory(dir);
        return new DiagnosticLog(Path.Combine(dir, $"member-{Environment.ProcessId}.log"));
    }

    public void Write(string line)
    {
        lock (_gate) _out.WriteLine($"{System.Diagnostics.Stopwatch.GetTimestamp()} {line}");
    }

    public ILogger CreateLogger(string categoryName) => this;

    public void AddProvider(ILoggerProvider provider) { }

    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Debug;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        => Write($"{logLevel} {eventId.Id} {formatter(state, exception)}{(exception is null ? "" : " | " + exception.GetType().Name + ": " + exception.Message)}");

    public void Dispose()
    {
        lock (_gate) _out.Dispose();
    }
}
