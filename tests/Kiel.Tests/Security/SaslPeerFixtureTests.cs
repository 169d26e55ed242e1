using System.Buffers;
using System.Text;
using Kiel.Protocol;
using Kiel.Protocol.Messages;
using Kiel.Security;

namespace Kiel.Tests.Security;

/// <summary>
/// The SASL exchanges real peers had with the secured front (<c>Fixtures/sasl-peers.txt</c>, see Fixtures/README.md):
/// Confluent.Kafka 2.16 with PLAIN and SCRAM-SHA-512 (SaslHandshake v1 + SaslAuthenticate), and kafka-python 2.0.2's raw
/// PLAIN token after SaslHandshake v0. Kiel's generated messages decode and re-encode every frame byte-exact, cut or
/// mutated copies fail with <see cref="KafkaProtocolException"/>, the tokens have the layout Kiel's own client builds, and
/// Kiel's SCRAM client, given Confluent's nonce, answers the captured server-first with Confluent's exact client-final and
/// accepts the captured server-final. Credentials are throwaway test values (user <c>kiel</c>).
/// </summary>
public sealed class SaslPeerFixtureTests
{
    private const string Password = "kiel-fixture-password";

    internal sealed record Frame(string Scenario, bool IsRequest, ApiKey? Key, short Version, byte[] Bytes)
    {
        public override string ToString() => $"{Scenario} {(IsRequest ? "request" : "response")} {(Key is { } k ? $"{k} v{Version}" : "raw token")} ({Bytes.Length} B)";
    }

    internal static IReadOnlyList<Frame> Frames { get; } = File.ReadAllLines(Path.Combine(AppContext.BaseDirectory, "Fixtures", "sasl-peers.txt"))
        .Where(l => l.Length > 0)
        .Select(l => l.Split(' '))
        .Select(p => new Frame(p[0], p[1] == "request", p[2] == "token" ? null : (ApiKey)short.Parse(p[2], System.Globalization.CultureInfo.InvariantCulture),
            short.Parse(p[3], System.Globalization.CultureInfo.InvariantCulture), Convert.FromHexString(p[4])))
        .ToList();

    public static TheoryData<int> ProtocolFrames()
    {
        var data = new TheoryData<int>();
        for (var i = 0; i < Frames.Count; i++)
            // Not the mock's answer to ApiVersions v3 (valid at no version; CapturedFrameTests covers it): Kiel peeks its error code.
            if (Frames[i].Key is not null && !(Frames[i].Key == ApiKey.ApiVersions && !Frames[i].IsRequest && Frames[i].Version >= 3)) data.Add(i);
        return data;
    }

    private static List<Frame> Of(string scenario) => Frames.Where(f => f.Scenario == scenario).ToList();

    private static object Body(Frame frame)
    {
        var reader = new KafkaReader(frame.Bytes.AsMemory());
        object body;
        if (frame.IsRequest)
        {
            KafkaHeaders.ReadRequestHeader(ref reader);
            body = MessageReaders.ReadRequest(frame.Key!.Value, ref reader, frame.Version);
        }
        else
        {
            KafkaHeaders.ReadResponseHeader(ref reader, frame.Key!.Value, frame.Version);
            body = MessageReaders.ReadResponse(frame.Key!.Value, ref reader, frame.Version);
        }
        Assert.True(reader.End, $"{frame}: {reader.Remaining} byte(s) left");
        return body;
    }

    private static T Single<T>(string scenario, ApiKey key, bool request, int index = 0) =>
        Assert.IsType<T>(Body(Of(scenario).Where(f => f.Key == key && f.IsRequest == request).ElementAt(index)));

    [Fact]
    public void TheFixtureHoldsEachPeersExchange()
    {
        Assert.Equal(["confluent-plain", "confluent-scram-sha-512", "kafka-python-plain"], Frames.Select(f => f.Scenario).Distinct().Order(StringComparer.Ordinal));
        // Confluent: SaslHandshake v1, then SaslAuthenticate (one round for PLAIN, two for SCRAM); ApiVersions first.
        foreach (var (scenario, rounds) in new[] { ("confluent-plain", 1), ("confluent-scram-sha-512", 2) })
        {
            var requests = Of(scenario).Where(f => f.IsRequest).ToList();
            Assert.Equal(ApiKey.ApiVersions, requests[0].Key);
            Assert.Equal([ApiKey.SaslHandshake, .. Enumerable.Repeat(ApiKey.SaslAuthenticate, rounds)], requests.Skip(1).SkipWhile(f => f.Key == ApiKey.ApiVersions).Select(f => f.Key!.Value));
            Assert.Equal(1, requests.Single(f => f.Key == ApiKey.SaslHandshake).Version);
        }
        // kafka-python as a 0.10.1 client: SaslHandshake v0, then one raw PLAIN token and the broker's empty raw reply.
        var python = Of("kafka-python-plain");
        Assert.Equal([(true, ApiKey.SaslHandshake), (false, ApiKey.SaslHandshake), (true, null), (false, null)], python.Select(f => (f.IsRequest, f.Key)).Where(p => p.Item2 != ApiKey.ApiVersions));
        Assert.Equal(0, python.First(f => f.Key == ApiKey.SaslHandshake).Version);
        Assert.Empty(python.Last().Bytes);
    }

    [Theory]
    [MemberData(nameof(ProtocolFrames))]
    public void CapturedSaslFrameDecodesAndReencodesToTheSameBytes(int index)
    {
        var frame = Frames[index];
        var key = frame.Key!.Value;
        var reader = new KafkaReader(frame.Bytes.AsMemory());
        var output = new ArrayBufferWriter<byte>();
        var writer = new KafkaWriter(output);
        if (frame.IsRequest)
        {
            var header = KafkaHeaders.ReadRequestHeader(ref reader);
            Assert.Equal(((short)key, frame.Version), (header.RequestApiKey, header.RequestApiVersion));
            var body = MessageReaders.ReadRequest(key, ref reader, frame.Version);
            Assert.True(reader.End, $"{frame}: {reader.Remaining} byte(s) left");
            header.Write(ref writer, ApiKeys.RequestHeaderVersion(key, frame.Version));
            body.Write(ref writer, frame.Version);
        }
        else
        {
            var correlationId = KafkaHeaders.ReadResponseHeader(ref reader, key, frame.Version);
            var body = MessageReaders.ReadResponse(key, ref reader, frame.Version);
            Assert.True(reader.End, $"{frame}: {reader.Remaining} byte(s) left");
            KafkaHeaders.WriteResponseHeader(ref writer, key, frame.Version, correlationId);
            body.Write(ref writer, frame.Version);
        }
        writer.Flush();
        Assert.Equal(Convert.ToHexString(frame.Bytes), Convert.ToHexString(output.WrittenSpan));
    }

    [Theory]
    [MemberData(nameof(ProtocolFrames))]
    public void TruncatedAndMutatedSaslFramesFailCleanly(int index)
    {
        var frame = Frames[index];
        var rng = new Random(index);
        var truncationsRefused = 0;
        for (var n = 0; n < frame.Bytes.Length + 300; n++)
        {
            byte[] input;
            if (n < frame.Bytes.Length) input = frame.Bytes[..n];
            else
            {
                input = (byte[])frame.Bytes.Clone();
                for (var i = rng.Next(1, 4); i > 0; i--) input[rng.Next(input.Length)] = (byte)rng.Next(256);
            }
            try
            {
                var reader = new KafkaReader(input.AsMemory());
                if (frame.IsRequest)
                {
                    var header = KafkaHeaders.ReadRequestHeader(ref reader);
                    MessageReaders.ReadRequest((ApiKey)header.RequestApiKey, ref reader, header.RequestApiVersion);
                }
                else
                {
                    KafkaHeaders.ReadResponseHeader(ref reader, frame.Key!.Value, frame.Version);
                    MessageReaders.ReadResponse(frame.Key!.Value, ref reader, frame.Version);
                }
            }
            catch (KafkaProtocolException)
            {
                if (n < frame.Bytes.Length) truncationsRefused++;
            }
            catch (Exception e)
            {
                throw new Xunit.Sdk.XunitException($"{frame}: {e.GetType().Name} for {Convert.ToHexString(input)}: {e}");
            }
        }
        // A cut frame can only decode when what is cut is an empty trailing part (e.g. a flexible message's tagged
        // fields); every cut through the fields themselves is refused.
        Assert.True(truncationsRefused >= frame.Bytes.Length - 2, $"{frame}: only {truncationsRefused} of {frame.Bytes.Length} truncations refused");
    }

    [Fact]
    public void ThePlainTokensAreWhatKielsClientSends()
    {
        var kiel = SaslMessages.Plain("kiel", Password);
        var confluent = Single<SaslAuthenticateRequest>("confluent-plain", ApiKey.SaslAuthenticate, request: true).AuthBytes.ToArray();
        var python = Of("kafka-python-plain").Single(f => f.IsRequest && f.Key is null).Bytes;
        // Field by field (RFC 4616): authorization id, NUL, user, NUL, password. librdkafka and Kiel leave the
        // authorization id empty; kafka-python 2.0.2 repeats the user there (a broker accepts both: an authorization id
        // equal to the user is no impersonation).
        Assert.Equal(["", "kiel", Password], Encoding.UTF8.GetString(kiel).Split('\0'));
        Assert.Equal(["", "kiel", Password], Encoding.UTF8.GetString(confluent).Split('\0'));
        Assert.Equal(["kiel", "kiel", Password], Encoding.UTF8.GetString(python).Split('\0'));
        Assert.Equal(Convert.ToHexString(kiel), Convert.ToHexString(confluent));
        Assert.Equal(Convert.ToHexString(kiel), Convert.ToHexString(python.AsSpan(4)));
        Assert.Equal(("kiel", Password), SaslMessages.ReadPlain(python));
        Assert.Equal(("kiel", Password), SaslMessages.ReadPlain(confluent));
        Assert.Equal("PLAIN", Single<SaslHandshakeRequest>("confluent-plain", ApiKey.SaslHandshake, request: true).Mechanism);
        Assert.Equal("PLAIN", Assert.IsType<SaslHandshakeRequest>(Body(Of("kafka-python-plain").First(f => f.IsRequest && f.Key == ApiKey.SaslHandshake))).Mechanism);
    }

    [Fact]
    public void KielParsesTheResponsesConfluentAccepted()
    {
        foreach (var scenario in new[] { "confluent-plain", "confluent-scram-sha-512", "kafka-python-plain" })
        {
            var handshake = Assert.IsType<SaslHandshakeResponse>(Body(Of(scenario).First(f => !f.IsRequest && f.Key == ApiKey.SaslHandshake)));
            Assert.Equal(0, handshake.ErrorCode);
            Assert.Contains("PLAIN", handshake.Mechanisms);
            Assert.Contains("SCRAM-SHA-512", handshake.Mechanisms);
        }
        var plain = Single<SaslAuthenticateResponse>("confluent-plain", ApiKey.SaslAuthenticate, request: false);
        Assert.Equal(0, plain.ErrorCode);
        Assert.True(string.IsNullOrEmpty(plain.ErrorMessage), plain.ErrorMessage);
        Assert.True(plain.AuthBytes.IsEmpty);
    }

    [Fact]
    public void KielsScramClientWithConfluentsNonceSendsConfluentsExactMessages()
    {
        const string scenario = "confluent-scram-sha-512";
        Assert.Equal("SCRAM-SHA-512", Single<SaslHandshakeRequest>(scenario, ApiKey.SaslHandshake, request: true).Mechanism);
        var clientFirst = Encoding.UTF8.GetString(Single<SaslAuthenticateRequest>(scenario, ApiKey.SaslAuthenticate, request: true, 0).AuthBytes.Span);
        var clientFinal = Single<SaslAuthenticateRequest>(scenario, ApiKey.SaslAuthenticate, request: true, 1).AuthBytes.ToArray();
        var serverFirst = Single<SaslAuthenticateResponse>(scenario, ApiKey.SaslAuthenticate, request: false, 0);
        var serverFinal = Single<SaslAuthenticateResponse>(scenario, ApiKey.SaslAuthenticate, request: false, 1);
        Assert.Equal((0, 0), (serverFirst.ErrorCode, serverFinal.ErrorCode));

        // The client-first message's shape: no channel binding, no authzid, the user, a nonce.
        var fields = clientFirst.Split(',');
        Assert.Equal(4, fields.Length);
        Assert.Equal(("n", "", "n=kiel"), (fields[0], fields[1], fields[2]));
        Assert.StartsWith("r=", fields[3], StringComparison.Ordinal);
        var nonce = fields[3][2..];
        Assert.True(nonce.Length >= 16 && nonce.All(c => c is > ' ' and < (char)0x7F && c != ','), nonce);

        // Kiel's client, given Confluent's nonce, builds the same client-first, and from the captured server-first the
        // same client-final (channel binding, combined nonce, proof), then accepts the captured server signature.
        var kiel = new ScramClient(ScramAlgorithm.Sha512, "kiel", Password, nonce);
        Assert.Equal(clientFirst, Encoding.UTF8.GetString(kiel.CreateClientFirst()));
        Assert.Equal(Encoding.UTF8.GetString(clientFinal), Encoding.UTF8.GetString(kiel.CreateClientFinal(serverFirst.AuthBytes.Span)));
        kiel.VerifyServerFinal(serverFinal.AuthBytes.Span);
        Assert.True(kiel.IsComplete);

        // With another password the proof differs and the captured server signature is refused.
        var wrong = new ScramClient(ScramAlgorithm.Sha512, "kiel", "not-the-password", nonce);
        wrong.CreateClientFirst();
        Assert.NotEqual(clientFinal, wrong.CreateClientFinal(serverFirst.AuthBytes.Span));
        Assert.Throws<SaslFailureException>(() => wrong.VerifyServerFinal(serverFinal.AuthBytes.Span));
    }

    [Fact]
    public void EveryTruncationOfTheCapturedServerFirstIsRefused()
    {
        const string scenario = "confluent-scram-sha-512";
        var clientFirst = Encoding.UTF8.GetString(Single<SaslAuthenticateRequest>(scenario, ApiKey.SaslAuthenticate, request: true, 0).AuthBytes.Span);
        var serverFirst = Single<SaslAuthenticateResponse>(scenario, ApiKey.SaslAuthenticate, request: false, 0).AuthBytes.ToArray();
        var iterations = Encoding.UTF8.GetString(serverFirst).Split(',').Single(a => a.StartsWith("i=", StringComparison.Ordinal));
        Assert.True(int.Parse(iterations[2..], System.Globalization.CultureInfo.InvariantCulture) >= ScramAlgorithm.MinIterations);
        // Cuts that leave at least four digits of a 4-digit+ count can still be a valid (smaller) count; every cut before is refused.
        var iterationsStart = serverFirst.Length - iterations.Length + 2;
        for (var n = 0; n < iterationsStart + 3; n++)
        {
            var client = new ScramClient(ScramAlgorithm.Sha512, "kiel", Password, clientFirst.Split(",r=")[1]);
            client.CreateClientFirst();
            Assert.Throws<SaslFailureException>(() => client.CreateClientFinal(serverFirst.AsSpan(0, n)));
        }
    }
}
