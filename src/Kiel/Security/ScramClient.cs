using System.Security.Cryptography;
using System.Text;

namespace Kiel.Security;

/// <summary>
/// The client side of one SCRAM exchange (RFC 5802, RFC 7677): client-first, the server-first checks (nonce, salt,
/// iteration count), client-final with the proof, and the server-final signature check. No channel binding
/// (<c>n,,</c>), as Kafka uses it. Every malformed or refused server message is a <see cref="SaslFailureException"/>.
/// </summary>
internal sealed class ScramClient
{
    private const int MaxMessageLength = 8192;
    private readonly ScramAlgorithm _algorithm;
    private readonly string _password;
    private readonly string _clientNonce;
    private readonly string _clientFirstBare;
    private byte[]? _expectedServerSignature;
    private int _step;

    /// <summary>Starts an exchange for <paramref name="username"/>.</summary>
    /// <param name="algorithm">The hash.</param>
    /// <param name="username">The user name (escaped here as RFC 5802 says: <c>=</c> as <c>=3D</c>, <c>,</c> as <c>=2C</c>).</param>
    /// <param name="password">The password; it stays in this object and is never in a message.</param>
    /// <param name="clientNonce">The client nonce; null (the default) takes 24 random bytes, base64. Tests pass the RFC's.</param>
    public ScramClient(ScramAlgorithm algorithm, string username, string password, string? clientNonce = null)
    {
        _algorithm = algorithm;
        _password = password;
        _clientNonce = clientNonce ?? Convert.ToBase64String(RandomNumberGenerator.GetBytes(24));
        _clientFirstBare = $"n={EscapeName(username)},r={_clientNonce}";
    }

    /// <summary>True once the server's signature has been verified.</summary>
    public bool IsComplete => _step == 3;

    /// <summary>RFC 5802's saslname: <c>=</c> and <c>,</c> escaped.</summary>
    public static string EscapeName(string name) => name.Replace("=", "=3D", StringComparison.Ordinal).Replace(",", "=2C", StringComparison.Ordinal);

    /// <summary>The client-first message, <c>n,,n=user,r=nonce</c>.</summary>
    public byte[] CreateClientFirst()
    {
        if (_step != 0) throw new InvalidOperationException("client-first was already sent.");
        _step = 1;
        return Encoding.UTF8.GetBytes("n,," + _clientFirstBare);
    }

    /// <summary>Checks the server-first message and returns the client-final message with the proof.</summary>
    /// <exception cref="SaslFailureException">The server's message is malformed, reports an error, or its nonce, salt or iteration count is unacceptable.</exception>
    public byte[] CreateClientFinal(ReadOnlySpan<byte> serverFirstBytes)
    {
        if (_step != 1) throw new InvalidOperationException("client-final follows client-first once.");
        _step = 2;
        var serverFirst = DecodeMessage(serverFirstBytes, "server-first");
        var attributes = serverFirst.Split(',');
        if (attributes[0].StartsWith("e=", StringComparison.Ordinal))
            throw new SaslFailureException($"the server refused the client-first message: {Printable(attributes[0][2..])}");
        if (attributes[0].StartsWith("m=", StringComparison.Ordinal))
            throw new SaslFailureException("the server-first message asks for a mandatory extension (m=) that this client does not know");
        if (attributes.Length < 3 || !attributes[0].StartsWith("r=", StringComparison.Ordinal) || !attributes[1].StartsWith("s=", StringComparison.Ordinal)
            || !attributes[2].StartsWith("i=", StringComparison.Ordinal))
            throw new SaslFailureException("the server-first message is malformed: it must start with r=nonce,s=salt,i=iterations");
        var nonce = attributes[0][2..];
        if (!nonce.StartsWith(_clientNonce, StringComparison.Ordinal) || nonce.Length == _clientNonce.Length)
            throw new SaslFailureException("the server-first nonce does not extend the client's nonce (a replayed or forged message)");
        foreach (var c in nonce)
            if (c is < '!' or > '~' or ',')
                throw new SaslFailureException("the server-first nonce holds a character outside printable ASCII");
        byte[] salt;
        try
        {
            salt = Convert.FromBase64String(attributes[1][2..]);
        }
        catch (FormatException)
        {
            throw new SaslFailureException("the server-first salt is not base64");
        }
        if (salt.Length == 0) throw new SaslFailureException("the server-first salt is empty");
        if (!int.TryParse(attributes[2].AsSpan(2), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var iterations)
            || iterations < ScramAlgorithm.MinIterations || iterations > ScramAlgorithm.MaxIterations)
            throw new SaslFailureException($"the server-first iteration count '{Printable(attributes[2][2..])}' is not a number from {ScramAlgorithm.MinIterations} to {ScramAlgorithm.MaxIterations}");

        var withoutProof = "c=biws,r=" + nonce;
        var authMessage = Encoding.UTF8.GetBytes(_clientFirstBare + "," + serverFirst + "," + withoutProof);
        var salted = _algorithm.SaltedPassword(_password, salt, iterations);
        var clientKey = _algorithm.ClientKey(salted);
        var storedKey = _algorithm.H(clientKey);
        var signature = _algorithm.Hmac(storedKey, authMessage);
        var proof = new byte[clientKey.Length];
        for (var i = 0; i < proof.Length; i++) proof[i] = (byte)(clientKey[i] ^ signature[i]);
        _expectedServerSignature = _algorithm.Hmac(_algorithm.ServerKey(salted), authMessage);
        CryptographicOperations.ZeroMemory(salted);
        CryptographicOperations.ZeroMemory(clientKey);
        return Encoding.UTF8.GetBytes(withoutProof + ",p=" + Convert.ToBase64String(proof));
    }

    /// <summary>Checks the server-final message: its signature must be the one the password gives.</summary>
    /// <exception cref="SaslFailureException">The server reports an error, or its signature is missing or does not match.</exception>
    public void VerifyServerFinal(ReadOnlySpan<byte> serverFinalBytes)
    {
        if (_step != 2) throw new InvalidOperationException("server-final follows client-final once.");
        var serverFinal = DecodeMessage(serverFinalBytes, "server-final");
        var first = serverFinal.Split(',')[0];
        if (first.StartsWith("e=", StringComparison.Ordinal))
            throw new SaslFailureException($"the server refused the credentials: {Printable(first[2..])}");
        if (!first.StartsWith("v=", StringComparison.Ordinal))
            throw new SaslFailureException("the server-final message is malformed: it must be v=signature or e=error");
        byte[] signature;
        try
        {
            signature = Convert.FromBase64String(first[2..]);
        }
        catch (FormatException)
        {
            throw new SaslFailureException("the server-final signature is not base64");
        }
        if (!CryptographicOperations.FixedTimeEquals(signature, _expectedServerSignature))
            throw new SaslFailureException("the server's signature does not match: the server does not know the password (a man in the middle or a misconfigured broker)");
        _step = 3;
    }

    private static string DecodeMessage(ReadOnlySpan<byte> bytes, string what)
    {
        if (bytes.Length == 0) throw new SaslFailureException($"the {what} message is empty");
        if (bytes.Length > MaxMessageLength) throw new SaslFailureException($"the {what} message is {bytes.Length} bytes, more than the {MaxMessageLength} allowed");
        try
        {
            return new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(bytes);
        }
        catch (DecoderFallbackException)
        {
            throw new SaslFailureException($"the {what} message is not UTF-8");
        }
    }

    /// <summary>A server-supplied value cut to 100 printable characters, safe to put in a message.</summary>
    internal static string Printable(string value)
    {
        var sb = new StringBuilder(Math.Min(value.Length, 100));
        foreach (var c in value)
        {
            if (sb.Length == 100) break;
            sb.Append(c is >= ' ' and <= '~' ? c : '?');
        }
        return sb.ToString();
    }
}
