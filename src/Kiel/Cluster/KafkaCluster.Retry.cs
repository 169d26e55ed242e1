using Kiel.Network;
using Kiel.Protocol;

namespace Kiel.Cluster;

internal sealed partial class KafkaCluster
{
    /// <summary>True when repeating an operation that failed with <paramref name="error"/> may succeed.</summary>
    public static bool IsRetriable(Exception error) => ErrorClassification.IsRetriable(error);

    /// <summary>
    /// Lets the cluster react to an error a client saw: stale-metadata codes and broken connections mark metadata
    /// stale. Clients call it for per-partition error codes too (see <see cref="ReportErrorCode"/>).
    /// </summary>
    public void ReportError(Exception error)
    {
        if (ErrorClassification.GetErrorCode(error) is { } code) ReportErrorCode(code, error.Message);
        else if (error is KafkaConnectionException or BrokerNotAvailableException or NoBrokersException) MarkStale(error.Message);
    }

    /// <summary>Reacts to a broker error code: marks metadata stale when the code says leaders or topics moved.</summary>
    /// <returns>True when the code is retriable.</returns>
    public bool ReportErrorCode(ErrorCode errorCode, string context)
    {
        if (ErrorClassification.MeansStaleMetadata(errorCode)) MarkStale($"{context}: {errorCode.Name()}");
        return errorCode.IsRetriable();
    }

    /// <summary>
    /// Runs <paramref name="attempt"/> until it succeeds, fails with a non-retriable error, or uses up the retry budget
    /// (<see cref="RetryPolicy.MaxAttempts"/>), backing off exponentially with jitter between attempts. The deadline
    /// is the caller's <paramref name="cancellationToken"/>; when it fires during a backoff the
    /// <see cref="OperationCanceledException"/> carries the last error as its inner exception.
    /// </summary>
    /// <param name="operation">A name for logs and errors, for example <c>OffsetCommit(group g)</c>.</param>
    /// <param name="attempt">One attempt; receives the 1-based attempt number.</param>
    /// <param name="cancellationToken">The caller's deadline.</param>
    /// <param name="policy">Overrides <see cref="ClusterOptions.Retry"/>.</param>
    /// <param name="onRetriableError">Called before each backoff, for example to forget a coordinator.</param>
    public async Task<T> ExecuteAsync<T>(string operation, Func<int, CancellationToken, ValueTask<T>> attempt, CancellationToken cancellationToken = default,
        RetryPolicy? policy = null, Action<Exception>? onRetriableError = null)
    {
        ArgumentNullException.ThrowIfNull(attempt);
        policy ??= Options.Retry;
        for (var n = 1; ; n++)
        {
            ThrowIfDisposed();
            try
            {
                return await attempt(n, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (!(e is OperationCanceledException && cancellationToken.IsCancellationRequested))
            {
                if (!IsRetriable(e) || n >= policy.MaxAttempts) throw;
                ReportError(e);
                onRetriableError?.Invoke(e);
                var delay = policy.Delay(n);
                ClusterLog.Retrying(_logger, operation, n, e.Message, delay.TotalMilliseconds);
                try
                {
                    await Task.Delay(delay, _time, cancellationToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    throw new OperationCanceledException($"{operation} was cancelled after {n} attempt(s); the last error was: {e.Message}", e, cancellationToken);
                }
            }
        }
    }

    /// <summary>Runs a request-with-retry against the current leader of a partition (metadata is refreshed between attempts as errors require).</summary>
    public Task<T> ExecuteOnLeaderAsync<T>(string topic, int partition, ConnectionPurpose purpose, Func<BrokerConnection, CancellationToken, ValueTask<T>> request,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        return ExecuteAsync($"{topic}[{partition}]", async (n, ct) =>
        {
            if (n > 1 && IsMetadataStale) await RefreshMetadataAsync(null, ct).ConfigureAwait(false);
            var connection = await GetLeaderConnectionAsync(topic, partition, purpose, ct).ConfigureAwait(false);
            return await request(connection, ct).ConfigureAwait(false);
        }, cancellationToken);
    }

    /// <summary>
    /// Runs a request-with-retry against a coordinator. The coordinator is forgotten and looked up again when the
    /// request fails with NOT_COORDINATOR, COORDINATOR_NOT_AVAILABLE or a connection error.
    /// </summary>
    public Task<T> ExecuteOnCoordinatorAsync<T>(CoordinatorType type, string key, Func<BrokerConnection, CancellationToken, ValueTask<T>> request,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        return ExecuteAsync($"{type} coordinator '{key}'", async (_, ct) =>
        {
            var connection = await GetCoordinatorConnectionCoreAsync(type, key, Options.Retry with { MaxAttempts = 1 }, ct).ConfigureAwait(false);
            return await request(connection, ct).ConfigureAwait(false);
        }, cancellationToken, onRetriableError: e =>
        {
            if (ErrorClassification.GetErrorCode(e) is { } code ? ErrorClassification.MeansCoordinatorMoved(code) : e is KafkaConnectionException or NoBrokersException)
                ForgetCoordinator(type, key, e.Message);
        });
    }

    /// <summary>
    /// Throws a <see cref="KafkaException"/> when <paramref name="errorCode"/> is not 0, after letting the cluster react to
    /// it (a stale-metadata code marks metadata stale).
    /// </summary>
    public void ThrowIfError(short errorCode, string context, string? brokerMessage = null)
    {
        if (errorCode == 0) return;
        ReportErrorCode((ErrorCode)errorCode, context);
        throw new KafkaException((ErrorCode)errorCode, string.IsNullOrEmpty(brokerMessage) ? context : $"{context}: {brokerMessage}");
    }

}
