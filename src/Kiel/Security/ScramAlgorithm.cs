using System.Security.Cryptography;

namespace Kiel.Security;

/// <summary>One SCRAM hash (RFC 5802 with SHA-1 for its test vectors, RFC 7677 SHA-256, and SHA-512 as Kafka uses it): the formulas every SCRAM step needs.</summary>
internal sealed class ScramAlgorithm
{
    private ScramAlgorithm(string name, HashAlgorithmName hash, int size)
    {
        Name = name;
        Hash = hash;
        Size = size;
    }

    /// <summary>SCRAM-SHA-1: only for the RFC 5802 test vectors; Kafka does not offer it.</summary>
    public static ScramAlgorithm Sha1 { get; } = new("SCRAM-SHA-1", HashAlgorithmName.SHA1, 20);

    /// <summary>SCRAM-SHA-256 (RFC 7677).</summary>
    public static ScramAlgorithm Sha256 { get; } = new("SCRAM-SHA-256", HashAlgorithmName.SHA256, 32);

    /// <summary>SCRAM-SHA-512.</summary>
    public static ScramAlgorithm Sha512 { get; } = new("SCRAM-SHA-512", HashAlgorithmName.SHA512, 64);

    /// <summary>The SASL mechanism name.</summary>
    public string Name { get; }

    /// <summary>The hash.</summary>
    public HashAlgorithmName Hash { get; }

    /// <summary>The hash's output size in bytes.</summary>
    public int Size { get; }

    /// <summary>The fewest iterations accepted from a server (Kafka's minimum, and RFC 7677's recommendation).</summary>
    public const int MinIterations = 4096;

    /// <summary>The most iterations accepted from a server, so that a hostile one cannot make the client compute for minutes.</summary>
    public const int MaxIterations = 1_000_000;

    /// <summary>Hi(password, salt, i): PBKDF2 with HMAC of this hash, one block.</summary>
    public byte[] SaltedPassword(string password, ReadOnlySpan<byte> salt, int iterations) =>
        Rfc2898DeriveBytes.Pbkdf2(System.Text.Encoding.UTF8.GetBytes(password), salt, iterations, Hash, Size);

    /// <summary>HMAC(key, text).</summary>
    public byte[] Hmac(ReadOnlySpan<byte> key, ReadOnlySpan<byte> data) => CryptographicOperations.HmacData(Hash, key, data);

    /// <summary>HMAC(key, UTF-8 text).</summary>
    public byte[] Hmac(ReadOnlySpan<byte> key, string text) => Hmac(key, System.Text.Encoding.UTF8.GetBytes(text));

    /// <summary>H(data).</summary>
    public byte[] H(ReadOnlySpan<byte> data) => CryptographicOperations.HashData(Hash, data);

    /// <summary>ClientKey := HMAC(SaltedPassword, "Client Key").</summary>
    public byte[] ClientKey(ReadOnlySpan<byte> saltedPassword) => Hmac(saltedPassword, "Client Key");

    /// <summary>ServerKey := HMAC(SaltedPassword, "Server Key").</summary>
    public byte[] ServerKey(ReadOnlySpan<byte> saltedPassword) => Hmac(saltedPassword, "Server Key");

    /// <summary>The mechanism for a Kafka SASL mechanism, or null for a non-SCRAM one.</summary>
    public static ScramAlgorithm? For(SaslMechanism mechanism) => mechanism switch
    {
        SaslMechanism.ScramSha256 => Sha256,
        SaslMechanism.ScramSha512 => Sha512,
        _ => null,
    };

    /// <summary>The mechanism for a SASL name (<c>SCRAM-SHA-256</c>, <c>SCRAM-SHA-512</c>), or null.</summary>
    public static ScramAlgorithm? ForName(string name) => name switch
    {
        "SCRAM-SHA-256" => Sha256,
        "SCRAM-SHA-512" => Sha512,
        _ => null,
    };
}

/// <summary>A SASL exchange went wrong: the peer's message is malformed or refused, or the credentials do not match. The message never holds a secret.</summary>
internal sealed class SaslFailureException(string message) : Exception(message);
