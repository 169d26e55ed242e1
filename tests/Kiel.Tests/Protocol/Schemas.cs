using System.Buffers;
using System.Reflection;
using Kiel.Protocol;
using Kiel.ProtocolGen;

namespace Kiel.Tests.Protocol;

/// <summary>Finds the schemas and the committed generated code, and offers reflection helpers over generated types.</summary>
internal static class Schemas
{
    public delegate IKafkaMessage ReadFn(ref KafkaReader reader, short version);

    private static readonly Lazy<string> Root = new(() =>
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "Kiel.slnx"))) return d.FullName;
        throw new InvalidOperationException("Kiel.slnx not found above " + AppContext.BaseDirectory);
    });

    public static string RepoRoot => Root.Value;

    public static string MessageDir
    {
        get
        {
            var dir = Path.GetFullPath(Path.Combine(RepoRoot, ProtocolGenerator.SchemaFolder));
            if (!Directory.Exists(dir))
                throw new InvalidOperationException($"The Kafka message schemas are expected at {dir} (../shared/kafka-protocol/message next to the repository).");
            return dir;
        }
    }

    public static string OutputDir => Path.Combine(RepoRoot, ProtocolGenerator.OutputFolder);

    private static readonly Lazy<List<MessageSpec>> All = new(() => ProtocolGenerator.LoadAll(MessageDir));

    public static List<MessageSpec> Specs => All.Value;

    public static MessageSpec Spec(string name) => Specs.Single(s => s.Name == name);

    public static Type TypeOf(MessageSpec spec) =>
        typeof(ApiKey).Assembly.GetType("Kiel.Protocol.Messages." + spec.Name, throwOnError: true)!;

    public static Type NestedTypeOf(MessageSpec spec, StructSpec s) =>
        s.IsTop ? TypeOf(spec) : TypeOf(spec).GetNestedType(s.TypeName, BindingFlags.Public) ?? throw new InvalidOperationException($"{spec.Name}.{s.TypeName} not generated");

    private static readonly Dictionary<Type, ReadFn> Readers = [];

    public static ReadFn ReaderOf(Type messageType)
    {
        lock (Readers)
        {
            if (!Readers.TryGetValue(messageType, out var fn))
            {
                var method = messageType.GetMethod("Read", BindingFlags.Public | BindingFlags.Static)!;
                fn = (ReadFn)Delegate.CreateDelegate(typeof(ReadFn), method);
                Readers.Add(messageType, fn);
            }
            return fn;
        }
    }

    public static IEnumerable<short> VersionsOf(MessageSpec spec)
    {
        for (int v = spec.ValidVersions.Low; v <= spec.ValidVersions.High; v++) yield return (short)v;
    }

    public static byte[] Encode(IKafkaMessage message, short version)
    {
        var buffer = new ArrayBufferWriter<byte>();
        var writer = new KafkaWriter(buffer);
        message.Write(ref writer, version);
        writer.Flush();
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>Decodes from memory (zero-copy slices) and returns the message and the bytes left unread.</summary>
    public static IKafkaMessage Decode(Type messageType, ReadOnlyMemory<byte> bytes, short version, out int remaining)
    {
        var reader = new KafkaReader(bytes);
        var message = ReaderOf(messageType)(ref reader, version);
        remaining = reader.Remaining;
        return message;
    }
}
