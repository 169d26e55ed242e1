using System.Collections.Concurrent;
using Kiel.Protocol;
using Kiel.Protocol.Messages;
using Microsoft.Extensions.Logging;

namespace Kiel.Network;

/// <summary>
/// Telling a broker that predates ApiVersions (0.8.x, 0.9.x) apart with no setting: such a broker either closes the
/// connection on ApiVersions (a real one: an unknown API key) or answers it with UNSUPPORTED_VERSION at v0. One probe
/// then decides: Heartbeat v0, which 0.9 knows (it answers with an error for the unknown group) and 0.8.x does not
/// (it closes the connection). The probe changes nothing on the broker.
/// </summary>
internal partial class BrokerConnection
{
    /// <summary>The release assumed when the probe is answered: the first with the group APIs.</summary>
    internal const string DetectedGroupRelease = "0.9.0";

    /// <summary>The release assumed when the probe closes the connection: the last without the group APIs, the oldest kiel supported.</summary>
    internal const string DetectedLegacyRelease = "0.8.2";

    /// <summary>The group id the probe heartbeats for; no such group exists, so every broker that knows Heartbeat refuses it.</summary>
    internal const string ProbeGroupId = "kiel-broker-version-probe";

    /// <summary>
    /// Finds the release of a broker that did not answer ApiVersions. <paramref name="open"/> is the connection
    /// ApiVersions was refused on, still usable, or null when the broker closed it (then ApiVersions is asked once more
    /// on a new connection first). Returns a connection whose versions are the detected release's, or the negotiated
    /// ones when the second ApiVersions is answered.
    /// </summary>
    private static async Task<BrokerConnection> DetectOldBrokerAsync(BrokerConnection? open, BrokerEndpoint endpoint, ConnectionOptions options,
        string purpose, long started, ILogger logger, string reason, CancellationToken cancellationToken)
    {
        var connection = open;
        if (connection is null)
        {
            // A closed connection may be a modern broker's passing trouble: ask once more on a new connection, and
            // probe only when that is closed too (a real 0.8/0.9 broker closes on ApiVersions every time).
            using var reconnect = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            reconnect.CancelAfter(options.ConnectTimeout);
            connection = await OpenAsync(endpoint, options, purpose, null, started, logger, reconnect.Token).ConfigureAwait(false);
            try
            {
                if (await connection.NegotiateAsync(reconnect.Token).ConfigureAwait(false))
                {
                    NetworkLog.VersionsNegotiated(logger, endpoint, connection._versions.Source, connection._versions);
                    return connection;
                }
                reason = "UNSUPPORTED_VERSION at v0";
            }
            catch (KafkaConnectionException)
            {
                await connection.DisposeAsync().ConfigureAwait(false);
                connection = await OpenAsync(endpoint, options, purpose, null, started, logger, reconnect.Token).ConfigureAwait(false);
            }
            catch
            {
                await connection.DisposeAsync().ConfigureAwait(false);
                throw;
            }
        }
        try
        {
            using var probe = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            probe.CancelAfter(options.ConnectTimeout);
            using (await connection.SendRawAsync(new HeartbeatRequest { GroupId = ProbeGroupId, GenerationId = -1, MemberId = "" }, 0, probe.Token, options.ConnectTimeout).ConfigureAwait(false))
            {
            }
            connection._versions = DetectedTable(endpoint, DetectedGroupRelease);
            LogDetected(options, logger, endpoint, DetectedGroupRelease, reason, "it answered Heartbeat v0");
            return connection;
        }
        catch (KafkaConnectionException)
        {
            // The broker closed the connection on an API it does not know: the group APIs came with 0.9.
            await connection.DisposeAsync().ConfigureAwait(false);
        }
        catch
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw;
        }
        using var retry = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        retry.CancelAfter(options.ConnectTimeout);
        var legacy = await OpenAsync(endpoint, options, purpose, DetectedTable(endpoint, DetectedLegacyRelease), started, logger, retry.Token).ConfigureAwait(false);
        LogDetected(options, logger, endpoint, DetectedLegacyRelease, reason, "it closed the connection on Heartbeat v0");
        return legacy;
    }

    private static ApiVersionTable DetectedTable(BrokerEndpoint endpoint, string release) =>
        new(BrokerVersionFallback.Get(release), endpoint, "detected " + release);

    private static void LogDetected(ConnectionOptions options, ILogger logger, BrokerEndpoint endpoint, string release, string reason, string evidence)
    {
        if (options.DetectedReleases is { } seen && seen.TryGetValue(endpoint.ToString(), out var known) && known == release) return;
        options.DetectedReleases?.AddOrUpdate(endpoint.ToString(), release, (_, _) => release);
        NetworkLog.OldBrokerDetected(logger, endpoint, reason, release, evidence);
    }
}

/// <summary>The release detected per broker address, so that it is logged once per broker (and again only when it changes).</summary>
internal sealed class DetectedBrokerReleases : ConcurrentDictionary<string, string>
{
    public DetectedBrokerReleases() : base(StringComparer.Ordinal)
    {
    }
}
