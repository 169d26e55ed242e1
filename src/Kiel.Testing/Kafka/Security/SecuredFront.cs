using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Threading.Channels;
using Kiel.Network;
using Kiel.Protocol;
using Kiel.Protocol.Messages;
using Kiel.Security;
using Microsoft.Extensions.Logging;

namespace Kiel.Testing;

/// <summary>
/// The secured front of the embedded cluster: one listener per mock broker that speaks TLS and/or SASL. It answers
/// SaslHandshake and SaslAuthenticate itself (and the pre-KIP-152 raw token form after SaslHandshake v0), adds them
/// to ApiVersions, forwards every other frame to its mock broker, and rewrites broker addresses in Metadata,
/// FindCoordinator and DescribeCluster responses to its own listeners. Responses go back in request order.
/// </summary>
internal sealed class SecuredFront : IAsyncDisposable
{
    private const int MaxFrame = 64 * 1024 * 1024;
    private readonly EmbeddedSecurityOptions _options;
    private readonly TestCertificates? _certificates;
    private readonly string _password;
    private readonly Dictionary<string, ScramCredential> _scram256 = new(StringComparer.Ordinal);
    private readonly Dictionary<string, ScramCredential> _scram512 = new(StringComparer.Ordinal);
    private readonly FrontListeners _listeners;
    private readonly CancellationTokenSource _stopping = new();
    private readonly ConcurrentDictionary<Task, bool> _tasks = new();
    private readonly ILogger _logger;

    public SecuredFront(EmbeddedSecurityOptions options, IReadOnlyList<int> mockPorts, TestCertificates? certificates, ILogger logger)
    {
        _options = options;
        _certificates = certificates;
        _logger = logger;
        _password = options.Password ?? Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(18)).Replace('+', 'x').Replace('/', 'y');
        _scram256[options.Username] = ScramCredential.Create(ScramAlgorithm.Sha256, _password);
        _scram512[options.Username] = ScramCredential.Create(ScramAlgorithm.Sha512, _password);
        _listeners = new FrontListeners(mockPorts);
        _listeners.Accept((i, socket) => ServeAsync(socket, _listeners.UpstreamPort(i)), Track, _stopping.Token);
    }

    public string Password => _password;

    public string BootstrapServers => _listeners.BootstrapServers;

    private bool Tls => _options.Protocol is SecurityProtocol.Ssl or SecurityProtocol.SaslSsl;

    private bool Sasl => _options.Protocol is SecurityProtocol.SaslPlaintext or SecurityProtocol.SaslSsl;

    private void Track(Task task)
    {
        _tasks[task] = true;
        _ = task.ContinueWith(t => _tasks.TryRemove(t, out _), TaskScheduler.Default);
    }

    private async Task ServeAsync(Socket socket, int upstreamPort)
    {
        using var connectionStop = CancellationTokenSource.CreateLinkedTokenSource(_stopping.Token);
        var token = connectionStop.Token;
        Stream client = new NetworkStream(socket, ownsSocket: true);
        Socket? upstreamSocket = null;
        try
        {
            if (Tls)
            {
                var ssl = new SslStream(client, leaveInnerStreamOpen: false);
                client = ssl;
                using var handshakeTimeout = CancellationTokenSource.CreateLinkedTokenSource(token);
                handshakeTimeout.CancelAfter(TimeSpan.FromSeconds(15));
                await ssl.AuthenticateAsServerAsync(new SslServerAuthenticationOptions
                {
                    ServerCertificate = _certificates!.Server,
                    ClientCertificateRequired = _options.RequireClientCertificate,
                    CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
                    RemoteCertificateValidationCallback = (_, certificate, _, errors) => !_options.RequireClientCertificate || CheckClient(certificate),
                }, handshakeTimeout.Token).ConfigureAwait(false);
            }
            upstreamSocket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            await upstreamSocket.ConnectAsync(IPAddress.Loopback, upstreamPort, token).ConfigureAwait(false);
            var upstream = new NetworkStream(upstreamSocket, ownsSocket: false);
            var session = new Session(this, client, upstream, connectionStop);
            await session.RunAsync().ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or ObjectDisposedException
            or System.Security.Authentication.AuthenticationException or InvalidOperationException)
        {
            // A client that goes away, a failed handshake, or the front stopping: the connection ends.
            FrontLog.ConnectionEnded(_logger, e.GetType().Name, e.Message);
        }
        finally
        {
            await connectionStop.CancelAsync().ConfigureAwait(false);
            upstreamSocket?.Dispose();
            await client.DisposeAsync().ConfigureAwait(false);
        }
    }

    private bool CheckClient(X509Certificate? certificate)
    {
        if (certificate is null) return false;
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(_certificates!.Ca);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        using var leaf = X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
        return chain.Build(leaf);
    }

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync().ConfigureAwait(false);
        _listeners.Stop();
        try
        {
            await Task.WhenAll(_tasks.Keys.ToArray()).WaitAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false);
        }
        catch (Exception e) when (e is TimeoutException or OperationCanceledException or IOException or SocketException)
        {
        }
        _stopping.Dispose();
    }

    private static async Task<byte[]?> ReadFrameAsync(Stream stream, CancellationToken token)
    {
        var size = new byte[4];
        try
        {
            await stream.ReadExactlyAsync(size, token).ConfigureAwait(false);
        }
        catch (EndOfStreamException)
        {
            return null;
        }
        var length = BinaryPrimitives.ReadInt32BigEndian(size);
        if (length is < 0 or > MaxFrame) throw new IOException($"frame size {length} is out of range");
        var frame = new byte[length];
        await stream.ReadExactlyAsync(frame, token).ConfigureAwait(false);
        return frame;
    }

    private static byte[] WithSize(ReadOnlySpan<byte> body)
    {
        var frame = new byte[body.Length + 4];
        BinaryPrimitives.WriteInt32BigEndian(frame, body.Length);
        body.CopyTo(frame.AsSpan(4));
        return frame;
    }

    /// <summary>One client connection: its SASL state, the forwarded requests awaiting the mock's answers, and the ordered replies.</summary>
    private sealed class Session(SecuredFront front, Stream client, Stream upstream, CancellationTokenSource stop)
    {
        private readonly ConcurrentDictionary<int, (TaskCompletionSource<byte[]?> Reply, short ApiKey, short Version)> _forwarded = new();
        private readonly Channel<Task<byte[]?>> _replies = Channel.CreateUnbounded<Task<byte[]?>>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
        private bool _authenticated;
        private bool _rawTokens;
        private SaslMechanism? _mechanism;
        private ScramServer? _scram;
        private bool _oauthFailed;
        private long _expiresAt = long.MaxValue;

        public async Task RunAsync()
        {
            var token = stop.Token;
            var writer = WriteRepliesAsync(token);
            var reader = ReadUpstreamAsync(token);
            try
            {
                while (!token.IsCancellationRequested)
                {
                    var frame = await ReadFrameAsync(client, token).ConfigureAwait(false);
                    if (frame is null) break;
                    if (!await HandleAsync(frame, token).ConfigureAwait(false)) break;
                }
            }
            finally
            {
                _replies.Writer.TryComplete();
                // Let replies already queued (an error answer before a close) go out, then stop everything.
                await Task.WhenAny(writer, Task.Delay(TimeSpan.FromSeconds(5), CancellationToken.None)).ConfigureAwait(false);
                await stop.CancelAsync().ConfigureAwait(false);
                foreach (var pending in _forwarded.Values) pending.Reply.TrySetResult(null);
                try
                {
                    await Task.WhenAll(writer, reader).WaitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
                }
                catch (Exception e) when (e is IOException or OperationCanceledException or ObjectDisposedException or TimeoutException or SocketException)
                {
                }
            }
        }

        private void Reply(byte[]? frame) => _replies.Writer.TryWrite(Task.FromResult(frame));

        private async Task WriteRepliesAsync(CancellationToken token)
        {
            await foreach (var next in _replies.Reader.ReadAllAsync(token).ConfigureAwait(false))
            {
                var frame = await next.ConfigureAwait(false);
                if (frame is null)
                {
                    await stop.CancelAsync().ConfigureAwait(false);
                    return;
                }
                await client.WriteAsync(frame, token).ConfigureAwait(false);
                await client.FlushAsync(token).ConfigureAwait(false);
            }
        }

        private async Task ReadUpstreamAsync(CancellationToken token)
        {
            try
            {
                while (!token.IsCancellationRequested)
                {
                    var frame = await ReadFrameAsync(upstream, token).ConfigureAwait(false);
                    if (frame is null || frame.Length < 4) break;
                    var correlationId = BinaryPrimitives.ReadInt32BigEndian(frame);
                    if (!_forwarded.TryRemove(correlationId, out var pending)) continue;
                    byte[] body = frame;
                    try
                    {
                        body = front.Rewrite(pending.ApiKey, pending.Version, frame);
                    }
                    catch (KafkaProtocolException e)
                    {
                        FrontLog.RewriteFailed(front._logger, pending.ApiKey, pending.Version, e.Message);
                    }
                    if (front._options.ResponseHook is { } hook && hook(pending.ApiKey, pending.Version, body) is { } replaced) body = replaced;
                    pending.Reply.TrySetResult(WithSize(body));
                }
            }
            finally
            {
                // The mock closed: every forwarded request ends with the connection.
                foreach (var pending in _forwarded.Values) pending.Reply.TrySetResult(null);
                await stop.CancelAsync().ConfigureAwait(false);
            }
        }

        /// <summary>Handles one client frame; false closes the connection (after queued replies are written).</summary>
        private async Task<bool> HandleAsync(byte[] frame, CancellationToken token)
        {
            if (_rawTokens) return HandleRawToken(frame);
            if (frame.Length < 8) return false;
            var apiKey = BinaryPrimitives.ReadInt16BigEndian(frame);
            var version = BinaryPrimitives.ReadInt16BigEndian(frame.AsSpan(2));
            var correlationId = BinaryPrimitives.ReadInt32BigEndian(frame.AsSpan(4));
            if (front.Sasl && apiKey == (short)ApiKey.SaslHandshake) return HandleHandshake(frame, version, correlationId);
            if (front.Sasl && apiKey == (short)ApiKey.SaslAuthenticate) return HandleAuthenticate(frame, version, correlationId);
            if (front.Sasl && apiKey != (short)ApiKey.ApiVersions)
            {
                // A broker closes a connection that sends requests before authenticating, or after its session expired.
                if (!_authenticated) return false;
                if (Environment.TickCount64 > _expiresAt) return false;
            }
            var reply = new TaskCompletionSource<byte[]?>(TaskCreationOptions.RunContinuationsAsynchronously);
            _forwarded[correlationId] = (reply, apiKey, version);
            _replies.Writer.TryWrite(reply.Task);
            await upstream.WriteAsync(WithSize(frame), token).ConfigureAwait(false);
            await upstream.FlushAsync(token).ConfigureAwait(false);
            return true;
        }

        private static (int BodyStart, short HeaderVersion) RequestBody(byte[] frame, ApiKey apiKey, short version)
        {
            var headerVersion = HeaderVersions.Request(apiKey, version);
            var reader = new KafkaReader(frame, "RequestHeader", headerVersion);
            RequestHeader.Read(ref reader, headerVersion);
            return (reader.Position, headerVersion);
        }

        private static byte[] Response<T>(T message, ApiKey apiKey, short version, int correlationId) where T : IResponseMessage<T>
        {
            using var buffer = new PooledBufferWriter(256);
            var writer = new KafkaWriter(buffer);
            writer.WriteInt32(correlationId);
            if (HeaderVersions.Response(apiKey, version) >= 1) writer.WriteUnsignedVarInt(0);
            message.Write(ref writer, version);
            writer.Flush();
            return WithSize(buffer.WrittenSpan);
        }

        private bool HandleHandshake(byte[] frame, short version, int correlationId)
        {
            var (start, _) = RequestBody(frame, ApiKey.SaslHandshake, version);
            var reader = new KafkaReader(frame.AsMemory(start), "SaslHandshakeRequest", version);
            var request = SaslHandshakeRequest.Read(ref reader, version);
            var enabled = front._options.SaslMechanisms.Select(SecurityNames.Of).ToList();
            var known = SecurityNames.TryParseMechanism(request.Mechanism, out var mechanism) && SecurityNames.Of(mechanism) == request.Mechanism
                && front._options.SaslMechanisms.Contains(mechanism);
            Reply(Response(new SaslHandshakeResponse { ErrorCode = known ? (short)0 : (short)ErrorCode.UnsupportedSaslMechanism, Mechanisms = enabled },
                ApiKey.SaslHandshake, version, correlationId));
            if (!known) return false;
            if (_authenticated && version == 0) return false; // re-authentication needs v1 (KIP-368)
            _mechanism = mechanism;
            _scram = null;
            _oauthFailed = false;
            _rawTokens = version == 0;
            return true;
        }

        private bool HandleAuthenticate(byte[] frame, short version, int correlationId)
        {
            var (start, _) = RequestBody(frame, ApiKey.SaslAuthenticate, version);
            var reader = new KafkaReader(frame.AsMemory(start), "SaslAuthenticateRequest", version);
            var request = SaslAuthenticateRequest.Read(ref reader, version);
            if (_mechanism is null)
            {
                Reply(Response(new SaslAuthenticateResponse { ErrorCode = (short)ErrorCode.IllegalSaslState, ErrorMessage = "SaslAuthenticate before SaslHandshake", AuthBytes = ReadOnlyMemory<byte>.Empty },
                    ApiKey.SaslAuthenticate, version, correlationId));
                return false;
            }
            var (ok, answer, error, done) = Step(request.AuthBytes.Span);
            var response = new SaslAuthenticateResponse { ErrorCode = ok ? (short)0 : (short)ErrorCode.SaslAuthenticationFailed, ErrorMessage = ok ? null : error, AuthBytes = answer ?? [] };
            if (ok && done && front._options.SessionLifetime is { } lifetime && version >= 1) response.SessionLifetimeMs = (long)lifetime.TotalMilliseconds;
            Reply(Response(response, ApiKey.SaslAuthenticate, version, correlationId));
            if (!ok) return false;
            if (done) Authenticated();
            return true;
        }

        private bool HandleRawToken(byte[] token)
        {
            // The pre-KIP-152 form (after SaslHandshake v0): size-prefixed tokens both ways; a failure closes the connection.
            var (ok, answer, _, done) = Step(token);
            if (!ok) return false;
            Reply(WithSize(answer ?? []));
            if (done)
            {
                _rawTokens = false;
                Authenticated();
            }
            return true;
        }

        private void Authenticated()
        {
            _authenticated = true;
            _expiresAt = front._options.SessionLifetime is { } lifetime ? Environment.TickCount64 + (long)lifetime.TotalMilliseconds : long.MaxValue;
        }

        /// <summary>One step of the chosen mechanism: success, the bytes to answer, an error for the client, and whether the exchange is complete.</summary>
        private (bool Ok, byte[]? Answer, string? Error, bool Done) Step(ReadOnlySpan<byte> message)
        {
            var options = front._options;
            switch (_mechanism)
            {
                case SaslMechanism.Plain:
                {
                    var credentials = SaslMessages.ReadPlain(message);
                    if (credentials is { } c && c.User == options.Username && c.Password == front._password) return (true, null, null, true);
                    return (false, null, "Authentication failed: Invalid username or password", true);
                }
                case SaslMechanism.ScramSha256 or SaslMechanism.ScramSha512:
                    try
                    {
                        if (_scram is null)
                        {
                            var store = _mechanism == SaslMechanism.ScramSha256 ? front._scram256 : front._scram512;
                            _scram = new ScramServer(ScramAlgorithm.For(_mechanism.Value)!, u => store.GetValueOrDefault(u));
                            return (true, _scram.HandleClientFirst(message), null, false);
                        }
                        var final = _scram.HandleClientFinal(message);
                        return (true, final, null, true);
                    }
                    catch (SaslFailureException e)
                    {
                        return (false, null, "Authentication failed during authentication due to invalid credentials with SASL mechanism " + SecurityNames.Of(_mechanism.Value) + ": " + e.Message, true);
                    }
                case SaslMechanism.OAuthBearer:
                {
                    if (_oauthFailed) return (false, null, "Authentication failed: the OAUTHBEARER token was refused", true);
                    var token = SaslMessages.ReadOAuthBearer(message);
                    var jws = token is null ? null : SaslMessages.ReadUnsecuredJws(token);
                    string? problem = token is null ? "malformed client message" : jws is null ? "not an unsecured JWS with sub and exp" : jws.Value.Expires <= DateTimeOffset.UtcNow ? "the token expired" : null;
                    if (problem is null) return (true, null, null, true);
                    // KIP-255: the error goes back as a JSON challenge; the client answers %x01 and the exchange fails.
                    _oauthFailed = true;
                    return (true, Encoding.UTF8.GetBytes($"{{\"status\":\"invalid_token\",\"detail\":\"{problem}\"}}"), null, false);
                }
                default:
                    return (false, null, "no mechanism", true);
            }
        }
    }

    /// <summary>Rewrites broker addresses (and adds the SASL APIs to ApiVersions) in a response from the mock; <paramref name="response"/> is header and body.</summary>
    private byte[] Rewrite(short apiKey, short version, byte[] response) =>
        BrokerAddressRewriter.Rewrite(apiKey, version, response, _listeners.Map, message =>
        {
            message.ApiKeys.RemoveAll(k => k.ApiKey is (short)ApiKey.SaslHandshake or (short)ApiKey.SaslAuthenticate);
            if (Sasl)
            {
                message.ApiKeys.Add(new ApiVersionsResponse.ApiVersion { ApiKey = (short)ApiKey.SaslHandshake, MinVersion = 0, MaxVersion = (short)(_options.LegacySasl ? 0 : 1) });
                if (!_options.LegacySasl)
                    message.ApiKeys.Add(new ApiVersionsResponse.ApiVersion { ApiKey = (short)ApiKey.SaslAuthenticate, MinVersion = 0, MaxVersion = 2 });
            }
            message.ApiKeys.Sort((a, b) => a.ApiKey.CompareTo(b.ApiKey));
        });
}

internal static partial class FrontLog
{
    [LoggerMessage(20, LogLevel.Debug, "Secured front: a client connection ended ({Kind}: {Message})")]
    public static partial void ConnectionEnded(ILogger logger, string kind, string message);

    [LoggerMessage(21, LogLevel.Warning, "Secured front: could not rewrite a response of API {ApiKey} v{Version}; passing it on unchanged: {Message}")]
    public static partial void RewriteFailed(ILogger logger, short apiKey, short version, string message);
}
