using Kiel.Protocol;

namespace Kiel.Network;

/// <summary>A request written (or about to be) and waiting for its response.</summary>
internal sealed class PendingRequest
{
    public PendingRequest(ApiKey apiKey, short version, long startTimestamp, long deadline, TimeSpan timeout)
    {
        ApiKey = apiKey;
        Version = version;
        StartTimestamp = startTimestamp;
        Deadline = deadline;
        Timeout = timeout;
        ResponseHeaderVersion = HeaderVersions.Response(apiKey, version);
    }

    public readonly TaskCompletionSource<ResponseFrame> Completion = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public ApiKey ApiKey { get; }

    public short Version { get; }

    public int CorrelationId { get; set; }

    public long StartTimestamp { get; }

    /// <summary>Timestamp (of the connection's <see cref="TimeProvider"/>) after which the request has timed out.</summary>
    public long Deadline { get; }

    public TimeSpan Timeout { get; }

    public short ResponseHeaderVersion { get; }
}
