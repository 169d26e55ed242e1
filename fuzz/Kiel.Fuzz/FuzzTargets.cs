using System.Buffers;
using Kiel.Consuming;
using Kiel.Protocol;
using Kiel.Protocol.Records;
using Kiel.ZooKeeper;
using Kiel.ZooKeeper.Protocol;

namespace Kiel.Fuzz;

/// <summary>
/// The fuzz targets: each feeds arbitrary bytes to a decoder exactly as production calls it. A target may throw only the
/// documented exceptions for bad input (<see cref="IsDocumented"/>); anything else, a hang or an allocation beyond the
/// stated bounds is a finding. Shared by the afl++ harness (Program.cs) and the replay tests in Kiel.Tests.
/// </summary>
internal static class FuzzTargets
{
    /// <summary>The targets by name, as <c>fuzz/run.sh TARGET</c> takes them.</summary>
    public static IReadOnlyDictionary<string, Action<byte[]>> All { get; } = new Dictionary<string, Action<byte[]>>
    {
        ["records"] = Records,
        ["responses"] = Responses,
        ["zookeeper"] = ZooKeeperReplies,
        ["sasl"] = Sasl,
    };

    /// <summary>The cap on decompressed bytes a fuzzed batch may ask for (production's is 64 MiB; a smaller one keeps runs fast).</summary>
    public const int MaxDecompressedBytes = 1 << 20;

    /// <summary>The exceptions a decoder documents for malformed input.</summary>
    public static bool IsDocumented(Exception e) =>
        e is KafkaProtocolException or CorruptRecordException or ZooKeeperProtocolException or Kiel.Security.SaslFailureException;

    /// <summary>The RFC 5802/7677 client nonces the SCRAM seeds extend.</summary>
    private const string Sha1Nonce = "fyko+d2lbbFgONRv9qkxdawL", Sha256Nonce = "rOprNGfwEbeRWgbNEkqO";

    /// <summary>
    /// The client's parsers of the server's SASL messages. The first byte picks the exchange: 0 SCRAM-SHA-256,
    /// 1 SCRAM-SHA-512, 2 SCRAM-SHA-1 (the RFC 5802 vector), 3 ZooKeeper's DIGEST-MD5; the rest is the server's first
    /// message, a zero byte, and the server's final message (server-first then server-final for SCRAM; the
    /// digest-challenge then the rspauth message for DIGEST-MD5).
    /// </summary>
    public static void Sasl(byte[] input)
    {
        if (input.Length == 0) return;
        var rest = input.AsSpan(1);
        var split = rest.IndexOf((byte)0);
        var first = split < 0 ? rest : rest[..split];
        var final = split < 0 ? [] : rest[(split + 1)..];
        switch (input[0] % 4)
        {
            case 3:
                {
                    var digest = new DigestMd5("user", "pencil");
                    GC.KeepAlive(digest.Respond(first, "OA6MHXh6VqTrRk"));
                    GC.KeepAlive(digest.VerifyServer(final));
                    break;
                }
            default:
                {
                    var (algorithm, nonce) = (input[0] % 4) switch
                    {
                        0 => (Kiel.Security.ScramAlgorithm.Sha256, Sha256Nonce),
                        1 => (Kiel.Security.ScramAlgorithm.Sha512, Sha256Nonce),
                        _ => (Kiel.Security.ScramAlgorithm.Sha1, Sha1Nonce),
                    };
                    var client = new Kiel.Security.ScramClient(algorithm, "user", "pencil", nonce);
                    client.CreateClientFirst();
                    GC.KeepAlive(client.CreateClientFinal(first));
                    client.VerifyServerFinal(final);
                    break;
                }
        }
    }

    /// <summary>
    /// A fetched partition's bytes through the consumer's path: <see cref="RecordSetScanner"/> on arrival (framing, CRCs,
    /// next offset), then a <see cref="FetchedChunk"/> over the complete batches, every field of every record touched.
    /// The first byte chooses CRC checking and read_committed with an aborted transaction (producer 1..4 from offset 0..3).
    /// </summary>
    public static void Records(byte[] input)
    {
        if (input.Length == 0) return;
        var mode = input[0];
        var set = input.AsSpan(1);
        var checkCrcs = (mode & 1) != 0;
        var readCommitted = (mode & 2) != 0;
        IReadOnlyList<AbortedTransaction>? aborted = readCommitted ? [new AbortedTransaction(1 + ((mode >> 2) & 3), (mode >> 4) & 3)] : null;
        var scan = RecordSetScanner.Scan(set, 0, checkCrcs, "fuzz", 0);
        if (scan.Error is { } error) throw error;
        var state = new PartitionState(new TopicPartition("fuzz", 0), 0, 1 << 20);
        using var chunk = new FetchedChunk(state, state.Version, null, set[..scan.Bytes].ToArray(), 0, scan.NextOffset,
            aborted, readCommitted, checkCrcs, MaxDecompressedBytes);
        var touched = 0L;
        var records = 0;
        while (chunk.TryReadNext(out var r))
        {
            touched += r.Offset + r.TimestampMs + r.Key.Length + r.Value.Length + r.HeaderCount;
            foreach (var h in r.Headers) touched += h.Key.Length + h.Value.Length;
            // A batch cannot hold more records than its bytes allow; a decoder that invents records loops forever.
            if (++records > set.Length + 1) throw new InvalidOperationException($"{records} records out of {set.Length} bytes");
        }
        GC.KeepAlive(touched);
    }

    /// <summary>
    /// Every response Kiel decodes, at every version it negotiates: the first byte picks the API (from the table Kiel
    /// speaks), the second the version within Kiel's range, the rest is the body as the connection hands it to the decoder.
    /// </summary>
    public static void Responses(byte[] input)
    {
        if (input.Length < 2) return;
        var (key, version) = Pick(input[0], input[1]);
        if (key == ApiKey.Produce)
        {
            // The producer reads Produce answers with its own in-place decoder, not the generated one: both run.
            try { Producing.Internal.ProduceWire.ReadAnswer(input.AsSpan(2), version, produceRequest.Value, []); }
            catch (KafkaProtocolException) { } // a documented refusal; the generated decoder gets the same input below
        }
        if (key == ApiKey.Fetch && version <= Consuming.FetchAnswer.MaxVersion)
        {
            // The consumers read Fetch answers with their own in-place decoder too.
            try { Consuming.FetchAnswer.Read(input.AsMemory(2), version, fetchTopics, []); }
            catch (KafkaProtocolException) { }
        }
        var reader = new KafkaReader(input.AsMemory(2), key.ToString(), version);
        GC.KeepAlive(MessageReaders.ReadResponse(key, ref reader, version));
    }

    /// <summary>The topic names an in-place Fetch answer is matched against.</summary>
    private static readonly string[] fetchTopics = ["capture", "orders"];

    /// <summary>The request whose topic names an in-place Produce answer is matched against (lazy, as <see cref="Apis"/>).</summary>
    private static readonly Lazy<Protocol.Messages.ProduceRequest> produceRequest = new(() => new Protocol.Messages.ProduceRequest
    {
        TopicData = [new() { Name = "capture", PartitionData = [] }, new() { Name = "orders", PartitionData = [] }],
    });

    /// <summary>
    /// The APIs Kiel sends, in a fixed order, with the versions it negotiates. Lazy: under afl no instrumented code may
    /// run before SharpFuzz has mapped afl's shared memory, and a static initializer would run it at start-up.
    /// </summary>
    public static IReadOnlyList<(ApiKey Key, ApiVersionRange Range)> Apis => apis.Value;

    private static readonly Lazy<IReadOnlyList<(ApiKey Key, ApiVersionRange Range)>> apis = new(() =>
        Network.KielApiVersions.All.OrderBy(p => (short)p.Key).Select(p => (p.Key, p.Value)).ToList());

    /// <summary>The API and version that the first two input bytes choose.</summary>
    public static (ApiKey Key, short Version) Pick(byte api, byte version)
    {
        var (key, range) = Apis[api % Apis.Count];
        return (key, (short)(range.Min + version % (range.Max - range.Min + 1)));
    }

    /// <summary>
    /// ZooKeeper's replies as the client reads them: the first byte picks the decoder (connect response, reply header,
    /// watcher event, stat, data, children, children with stat, ACLs, multi), the rest is the frame body.
    /// </summary>
    public static void ZooKeeperReplies(byte[] input)
    {
        if (input.Length == 0) return;
        var body = input.AsSpan(1);
        var r = new JuteReader(body, "fuzz");
        switch (input[0] % 9)
        {
            case 0: GC.KeepAlive(ConnectResponse.Read(ref r)); break;
            case 1: GC.KeepAlive((r.ReadInt("xid"), r.ReadLong("zxid"), r.ReadInt("err"))); break;
            case 2: GC.KeepAlive(WatcherEventMessage.Read(ref r)); break;
            case 3: GC.KeepAlive(r.ReadStat()); break;
            case 4: GC.KeepAlive(new NodeData(r.ReadBuffer("data") ?? [], r.ReadStat())); break;
            case 5: GC.KeepAlive(r.ReadStrings("children")); break;
            case 6: GC.KeepAlive(new NodeChildren(r.ReadStrings("children"), r.ReadStat())); break;
            case 7: GC.KeepAlive((r.ReadAcls("acl"), r.ReadStat())); break;
            default: GC.KeepAlive(ZooKeeperClient.ReadMulti(ref r, static p => p)); break;
        }
    }

    /// <summary>Valid inputs for a target, written with the production encoders: the start of a corpus.</summary>
    public static IEnumerable<(string Name, byte[] Bytes)> Seeds(string target)
    {
        switch (target)
        {
            case "records":
                foreach (var codec in Enum.GetValues<CompressionType>())
                {
                    using (var b = new RecordBatchBuilder(codec))
                    {
                        b.SetProducerState(1, 0, 0, transactional: true);
                        for (var i = 0; i < 3; i++) b.Append(1_700_000_000_000 + i, "key"u8, "value value value"u8, [new RecordHeader("h", "v"u8.ToArray())]);
                        yield return ($"v2-{codec}", [3, .. b.Seal().Span]);
                    }
                    foreach (byte magic in codec == CompressionType.Zstd ? [] : new byte[] { 0, 1 })
                    {
                        using var l = new LegacyMessageSetBuilder(magic, codec);
                        l.Append(1_700_000_000_000, "key"u8, "legacy value"u8);
                        l.Append(1_700_000_000_001, "key"u8, "legacy value"u8);
                        yield return ($"magic{magic}-{codec}", [1, .. l.Seal().Span]);
                    }
                }
                using (var marker = new RecordBatchBuilder())
                {
                    marker.SetProducerState(1, 0, 3, transactional: true);
                    marker.AppendEndTransactionMarker(ControlRecordType.Abort, 0, 1_700_000_000_010);
                    yield return ("v2-abort-marker", [7, .. marker.Seal().Span]);
                }
                break;
            case "responses":
                for (var i = 0; i < Apis.Count; i++)
                {
                    var (key, range) = Apis[i];
                    for (var v = range.Min; v <= range.Max; v++)
                    {
                        var message = MessageReaders.CreateResponse(key);
                        var output = new ArrayBufferWriter<byte>();
                        var writer = new KafkaWriter(output);
                        message.Write(ref writer, v);
                        writer.Flush();
                        yield return ($"{key}-v{v}", [(byte)i, (byte)(v - range.Min), .. output.WrittenSpan]);
                    }
                }
                break;
            case "zookeeper":
                for (byte kind = 0; kind < 9; kind++)
                    yield return ($"kind{kind}", [kind, .. new byte[64]]);
                break;
            case "sasl":
                // RFC 5802's and RFC 7677's exchanges (a complete, verified one each), one per SHA-2 with a server-first
                // message, and ZooKeeper's DIGEST-MD5 challenge with RFC 2831's rspauth shape.
                yield return ("scram-sha-1-rfc5802", [2, .. "r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096"u8, 0, .. "v=rmF9pqV8S7suAoZWja4dJRkFsKQ="u8]);
                yield return ("scram-sha-256-rfc7677", [0, .. "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"u8, 0, .. "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="u8]);
                yield return ("refused-scram-sha-512-wrong-signature", [1, .. "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"u8, 0, .. "v=AAAA"u8]);
                yield return ("refused-scram-server-error", [0, .. "e=unknown-user"u8, 0]);
                yield return ("digest-md5-zookeeper", [3, .. "realm=\"zk-sasl-md5\",nonce=\"OA6MG9tEQGm2hh\",qop=\"auth\",charset=utf-8,algorithm=md5-sess"u8, 0, .. "rspauth=ea40f60335c427b5527b84dbabcdfffd"u8]);
                break;
            default:
                throw new ArgumentException($"unknown fuzz target '{target}'; the targets are {string.Join(", ", All.Keys)}", nameof(target));
        }
    }
}
