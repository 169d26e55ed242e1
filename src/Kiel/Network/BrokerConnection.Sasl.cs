using Kiel.Protocol;
using Kiel.Protocol.Messages;
using Kiel.Security;

namespace Kiel.Network;

/// <summary>
/// SASL on a connection (KIP-43, KIP-152, KIP-368): after ApiVersions, SaslHandshake v0/v1 names the mechanism and
/// SaslAuthenticate v0-v2 carries its messages (or, for brokers without SaslAuthenticate, raw size-prefixed tokens after SaslHandshake v0) (PLAIN, SCRAM-SHA-256/512, OAUTHBEARER). When the broker gives the
/// session a lifetime (SaslAuthenticate v1+), the connection authenticates again before it ends.
/// </summary>
internal partial class BrokerConnection
{
    private ITimer? _reauthTimer;
    private TaskCompletionSource<byte[]>? _rawToken; // set while a pre-KIP-152 raw SASL token is awaited

    /// <summary>Authenticates when the options ask for SASL; a no-op otherwise.</summary>
    /// <exception cref="AuthenticationException">The broker refused the credentials or the mechanism.</exception>
    private async Task AuthenticateAsync(CancellationToken cancellationToken)
    {
        if (_options.Security?.Sasl is not { } sasl) return;
        try
        {
            var lifetime = await SaslExchangeAsync(sasl, cancellationToken).ConfigureAwait(false);
            SecurityLog.Authenticated(_logger, Endpoint, SecurityNames.Of(sasl.Mechanism), Principal(sasl), lifetime);
            ScheduleReauthentication(sasl, lifetime);
        }
        catch (AuthenticationException e)
        {
            SecurityMetrics.AuthenticationFailures.Add(1, _tags);
            SecurityLog.AuthenticationFailed(_logger, Endpoint, e.Mechanism, e.Message);
            throw;
        }
    }

    private static string Principal(SaslSettings sasl) => sasl.Mechanism == SaslMechanism.OAuthBearer ? "(token)" : sasl.Username;

    private AuthenticationException AuthFailure(SaslSettings sasl, string problem, Exception? inner = null) =>
        new(Endpoint.ToString(), SecurityNames.Of(sasl.Mechanism), problem,
            sasl.Mechanism == SaslMechanism.OAuthBearer
                ? "the token from OAuthBearerTokenProvider (expiry, principal, scope) and the broker's OAUTHBEARER settings"
                : $"SaslUsername and SaslPassword, and that the user has {SecurityNames.Of(sasl.Mechanism)} credentials on the broker", inner);

    /// <summary>Runs one SASL exchange and returns the session lifetime the broker gave (0: none).</summary>
    private async Task<long> SaslExchangeAsync(SaslSettings sasl, CancellationToken cancellationToken)
    {
        var mechanism = SecurityNames.Of(sasl.Mechanism);
        if (!_versions.TryChoose(ApiKey.SaslHandshake, 0, 1, out var handshakeVersion))
            throw AuthFailure(sasl, "the broker does not offer SaslHandshake, so its listener is not a SASL one (or predates SASL)");
        // Without SaslAuthenticate (Kafka 0.10.0-0.11.0) the pre-KIP-152 form follows SaslHandshake v0: raw size-prefixed tokens.
        var rawTokens = !_versions.TryChoose(ApiKey.SaslAuthenticate, 0, 2, out var authenticateVersion);
        if (rawTokens) handshakeVersion = 0;

        var handshake = await SendAsync(new SaslHandshakeRequest { Mechanism = mechanism }, handshakeVersion, cancellationToken).ConfigureAwait(false);
        if (handshake.ErrorCode == (short)ErrorCode.UnsupportedSaslMechanism)
            throw new AuthenticationException(Endpoint.ToString(), mechanism,
                $"the broker does not enable {mechanism}; it offers {(handshake.Mechanisms.Count == 0 ? "none" : string.Join(", ", handshake.Mechanisms))}", "SaslMechanism");
        if (handshake.ErrorCode != 0)
            throw AuthFailure(sasl, $"SaslHandshake failed with {Describe(handshake.ErrorCode)}");

        long lifetime = 0;
        async Task<ReadOnlyMemory<byte>> Step(byte[] message)
        {
            if (rawTokens)
            {
                try
                {
                    return await SendRawTokenAsync(message, cancellationToken).ConfigureAwait(false);
                }
                catch (KafkaConnectionException e)
                {
                    // The pre-KIP-152 form has no error reply: the broker closes the connection when it refuses the credentials.
                    throw AuthFailure(sasl, $"the broker closed the connection during the SASL exchange (pre-KIP-152 raw tokens after SaslHandshake v0), which is how it refuses credentials: {e.Problem}", e);
                }
            }
            var response = await SendAsync(new SaslAuthenticateRequest { AuthBytes = message }, authenticateVersion, cancellationToken).ConfigureAwait(false);
            if (response.ErrorCode != 0)
                throw AuthFailure(sasl, $"the broker answered {Describe(response.ErrorCode)}" +
                    (string.IsNullOrEmpty(response.ErrorMessage) ? "" : $" ({ScramClient.Printable(response.ErrorMessage)})"));
            if (authenticateVersion >= 1 && response.SessionLifetimeMs > 0) lifetime = response.SessionLifetimeMs;
            return response.AuthBytes;
        }

        try
        {
            switch (sasl.Mechanism)
            {
                case SaslMechanism.Plain:
                    await Step(SaslMessages.Plain(sasl.Username, sasl.Password)).ConfigureAwait(false);
                    break;
                case SaslMechanism.ScramSha256 or SaslMechanism.ScramSha512:
                {
                    var scram = new ScramClient(ScramAlgorithm.For(sasl.Mechanism)!, sasl.Username, sasl.Password);
                    var serverFirst = await Step(scram.CreateClientFirst()).ConfigureAwait(false);
                    var serverFinal = await Step(scram.CreateClientFinal(serverFirst.Span)).ConfigureAwait(false);
                    scram.VerifyServerFinal(serverFinal.Span);
                    break;
                }
                case SaslMechanism.OAuthBearer:
                {
                    OAuthBearerToken token;
                    try
                    {
                        token = await sasl.TokenProvider!(cancellationToken).ConfigureAwait(false);
                    }
                    catch (Exception e) when (e is not OperationCanceledException)
                    {
                        throw AuthFailure(sasl, $"OAuthBearerTokenProvider threw {e.GetType().Name}: {e.Message}", e);
                    }
                    if (token is null) throw AuthFailure(sasl, "OAuthBearerTokenProvider returned null");
                    var challenge = await Step(SaslMessages.OAuthBearer(token.Value, token.Extensions)).ConfigureAwait(false);
                    if (!challenge.IsEmpty)
                    {
                        // KIP-255: an error arrives as a JSON challenge; the client acknowledges it and the broker then fails the exchange.
                        var error = ScramClient.Printable(System.Text.Encoding.UTF8.GetString(challenge.Span));
                        try
                        {
                            await Step(SaslMessages.OAuthBearerErrorAck).ConfigureAwait(false);
                        }
                        catch (AuthenticationException)
                        {
                        }
                        throw AuthFailure(sasl, $"the broker refused the token ({token}): {error}");
                    }
                    break;
                }
                default:
                    throw AuthFailure(sasl, $"mechanism {sasl.Mechanism} is not supported");
            }
        }
        catch (SaslFailureException e)
        {
            throw AuthFailure(sasl, e.Message, e);
        }
        return lifetime;
    }

    /// <summary>
    /// Sends one pre-KIP-152 SASL token (a 4-byte size, then the bytes, no request header) and returns the broker's
    /// token, which the read loop hands over instead of dispatching it as a response.
    /// </summary>
    private async Task<ReadOnlyMemory<byte>> SendRawTokenAsync(byte[] token, CancellationToken cancellationToken)
    {
        var reply = new TaskCompletionSource<byte[]>(TaskCreationOptions.RunContinuationsAsynchronously);
        var buffer = new PooledBufferWriter(token.Length + FrameCodec.SizePrefixLength);
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(buffer.GetSpan(FrameCodec.SizePrefixLength), token.Length);
        buffer.Advance(FrameCodec.SizePrefixLength);
        buffer.Write(token);
        bool startWriter;
        lock (_pending)
        {
            if (_state != 0)
            {
                buffer.Dispose();
                throw ClosedException();
            }
            if (_pending.Count > 0 || _rawToken is not null)
            {
                buffer.Dispose();
                throw new InvalidOperationException("a raw SASL token can only be sent when no request is in flight");
            }
            Volatile.Write(ref _rawToken, reply);
            _sendQueue.Add(buffer);
            startWriter = !_writing;
            if (startWriter) _writing = true;
        }
        if (startWriter) _ = WriteQueuedAsync();
        return await reply.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    private static string Describe(short code) => $"{((ErrorCode)code).Name()} ({code})";

    /// <summary>Arms a one-shot timer that re-authenticates at 85-95% of the session lifetime (as Kafka's Java client does).</summary>
    private void ScheduleReauthentication(SaslSettings sasl, long lifetimeMs)
    {
        if (lifetimeMs <= 0 || !IsOpen) return;
        var due = TimeSpan.FromMilliseconds(lifetimeMs * (0.85 + Random.Shared.NextDouble() * 0.10));
        var previous = Interlocked.Exchange(ref _reauthTimer, _time.CreateTimer(
            static s => { var (c, settings) = ((BrokerConnection, SaslSettings))s!; _ = c.ReauthenticateAsync(settings); },
            (this, sasl), due, Timeout.InfiniteTimeSpan));
        previous?.Dispose();
        if (previous is null)
            _ = Completion.ContinueWith(static (_, s) => Interlocked.Exchange(ref ((BrokerConnection)s!)._reauthTimer, null)?.Dispose(),
                this, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }

    private async Task ReauthenticateAsync(SaslSettings sasl)
    {
        if (!IsOpen) return;
        try
        {
            using var deadline = new CancellationTokenSource(_options.RequestTimeout, _time);
            var lifetime = await SaslExchangeAsync(sasl, deadline.Token).ConfigureAwait(false);
            SecurityMetrics.Reauthentications.Add(1, _tags);
            SecurityLog.Reauthenticated(_logger, Endpoint, Purpose, SecurityNames.Of(sasl.Mechanism), lifetime);
            ScheduleReauthentication(sasl, lifetime);
        }
        catch (Exception e)
        {
            if (!IsOpen) return;
            if (e is AuthenticationException) SecurityMetrics.AuthenticationFailures.Add(1, _tags);
            SecurityLog.ReauthenticationFailed(_logger, Endpoint, Purpose, e.Message);
            Fail(new KafkaConnectionException(Endpoint, $"re-authentication failed: {e.Message}", e));
        }
    }
}
