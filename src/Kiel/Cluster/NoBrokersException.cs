
namespace Kiel;

/// <summary>What happened when one broker address was tried.</summary>
/// <param name="Broker">The address tried.</param>
/// <param name="Outcome">What it answered, or why it could not answer.</param>
public sealed record BrokerAttempt(string Broker, string Outcome);

/// <summary>
/// No broker could be reached or none answered usefully. The message lists every broker tried and what each
/// one answered. Retriable: brokers may come back.
/// </summary>
public sealed class NoBrokersException : KielException
{
    /// <summary>Creates the exception.</summary>
    internal NoBrokersException(string operation, IReadOnlyList<BrokerAttempt> attempts, Exception? lastError = null)
        : base(Format(operation, attempts), lastError)
    {
        Attempts = attempts;
    }

    /// <summary>Every broker tried, in order, with its outcome.</summary>
    public IReadOnlyList<BrokerAttempt> Attempts { get; }

    /// <inheritdoc />
    public override bool IsRetriable => true;

    private static string Format(string operation, IReadOnlyList<BrokerAttempt> attempts) =>
        attempts.Count == 0
            ? $"{operation}: no broker to try (the bootstrap list is empty and metadata names no broker)."
            : $"{operation}: none of {attempts.Count} broker(s) answered: " + string.Join("; ", attempts.Select(a => $"{a.Broker}: {a.Outcome}"));
}
