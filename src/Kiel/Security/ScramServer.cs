using System.Security.Cryptography;
using System.Text;

namespace Kiel.Security;

/// <summary>A user's stored SCRAM credential, as a broker keeps it: salt, iterations, StoredKey and ServerKey (never the password).</summary>
internal sealed class ScramCredential
{
    private ScramCredential(ScramAlgorithm algorithm, byte[] salt, int iterations, byte[] storedKey, byte[] serverKey)
    {
        Algorithm = algorithm;
        Salt = salt;
        Iterations = iterations;
        StoredKey = storedKey;
        ServerKey = serverKey;
    }

    public ScramAlgorithm Algorithm { get; }
    public byte[] Salt { get; }
    public int Iterations { get; }
    public byte[] StoredKey { get; }
    public byte[] ServerKey { get; }

    /// <summary>Salts and hashes <paramref name="password"/> with a fresh random salt.</summary>
    public static ScramCredential Create(ScramAlgorithm algorithm, string password, int iterations = ScramAlgorithm.MinIterations, byte[]? salt = null)
    {
        salt ??= RandomNumberGenerator.GetBytes(16);
        var salted = algorithm.SaltedPassword(password, salt, iterations);
        return new ScramCredential(algorithm, salt, iterations, algorithm.H(algorithm.ClientKey(salted)), algorithm.ServerKey(salted));
    }
}

/// <summary>
/// The server side of one SCRAM exchange, for the embedded cluster's secured front and for tests: it parses
/// client-first, answers server-first with its own nonce, checks the client's proof against the stored
/// credential, and answers server-final with its signature. Failures are <see cref="SaslFailureException"/>s.
/// </summary>
internal sealed class ScramServer
{
    private readonly ScramAlgorithm _algorithm;
    private readonly Func<string, ScramCredential?> _lookup;
    private readonly string _serverNonce;
    private ScramCredential? _credential;
    private string? _clientFirstBare;
    private string? _serverFirst;
    private string? _nonce;
    private int _step;

    /// <summary>Creates the server.</summary>
    /// <param name="algorithm">The hash of the mechanism the client chose.</param>
    /// <param name="lookup">Finds a user's credential by name; null for an unknown user.</param>
    /// <param name="serverNonce">The server's nonce part; null takes random bytes. Tests pass the RFC's.</param>
    public ScramServer(ScramAlgorithm algorithm, Func<string, ScramCredential?> lookup, string? serverNonce = null)
    {
        _algorithm = algorithm;
        _lookup = lookup;
        _serverNonce = serverNonce ?? Convert.ToBase64String(RandomNumberGenerator.GetBytes(18));
    }

    /// <summary>The authenticated user, once the exchange has succeeded.</summary>
    public string? User { get; private set; }

    /// <summary>True once the client's proof has been verified.</summary>
    public bool IsComplete => _step == 2;

    /// <summary>Reads client-first and returns server-first.</summary>
    public byte[] HandleClientFirst(ReadOnlySpan<byte> message)
    {
        if (_step != 0) throw new SaslFailureException("client-first was already received");
        var text = Decode(message);
        // gs2-header: n or y, then an optional a=authzid, then the bare message.
        if (!(text.StartsWith("n,", StringComparison.Ordinal) || text.StartsWith("y,", StringComparison.Ordinal)))
            throw new SaslFailureException("client-first must start with n, (channel binding is not supported)");
        var second = text.IndexOf(',', 2);
        if (second < 0) throw new SaslFailureException("client-first has no gs2 header");
        var authzid = text[2..second];
        _clientFirstBare = text[(second + 1)..];
        var parts = _clientFirstBare.Split(',');
        if (parts.Length < 2 || !parts[0].StartsWith("n=", StringComparison.Ordinal) || !parts[1].StartsWith("r=", StringComparison.Ordinal))
            throw new SaslFailureException("client-first must be n=user,r=nonce");
        var user = Unescape(parts[0][2..]);
        if (authzid.Length > 0 && authzid != "a=" + ScramClient.EscapeName(user))
            throw new SaslFailureException("the authorization id differs from the user name");
        var clientNonce = parts[1][2..];
        if (clientNonce.Length == 0) throw new SaslFailureException("the client nonce is empty");
        _credential = _lookup(user);
        if (_credential is null || _credential.Algorithm != _algorithm) throw new SaslFailureException("unknown user or wrong password");
        User = user;
        _nonce = clientNonce + _serverNonce;
        _serverFirst = $"r={_nonce},s={Convert.ToBase64String(_credential.Salt)},i={_credential.Iterations}";
        _step = 1;
        return Encoding.UTF8.GetBytes(_serverFirst);
    }

    /// <summary>Reads client-final, verifies the proof and returns server-final.</summary>
    public byte[] HandleClientFinal(ReadOnlySpan<byte> message)
    {
        if (_step != 1) throw new SaslFailureException("client-final came before client-first");
        var text = Decode(message);
        var proofAt = text.LastIndexOf(",p=", StringComparison.Ordinal);
        if (proofAt < 0) throw new SaslFailureException("client-final has no proof");
        var withoutProof = text[..proofAt];
        var parts = withoutProof.Split(',');
        if (parts.Length < 2 || (parts[0] != "c=biws" && parts[0] != "c=eSws"))
            throw new SaslFailureException($"client-final has the wrong channel binding ('{ScramClient.Printable(parts[0])}')");
        // Kafka's broker checks that the nonce ends with the server-first nonce (not equality), and librdkafka 2.0.x
        // relies on it: it sends its own nonce twice. The proof still covers exactly what the client sent.
        if (!parts[1].StartsWith("r=", StringComparison.Ordinal) || !parts[1].EndsWith(_nonce!, StringComparison.Ordinal))
            throw new SaslFailureException($"client-final has the wrong nonce ('{ScramClient.Printable(parts[1])}', expected 'r={_nonce}')");
        byte[] proof;
        try
        {
            proof = Convert.FromBase64String(text[(proofAt + 3)..]);
        }
        catch (FormatException)
        {
            throw new SaslFailureException("the proof is not base64");
        }
        var authMessage = Encoding.UTF8.GetBytes(_clientFirstBare + "," + _serverFirst + "," + withoutProof);
        var signature = _algorithm.Hmac(_credential!.StoredKey, authMessage);
        if (proof.Length != signature.Length) throw new SaslFailureException("unknown user or wrong password");
        var clientKey = new byte[proof.Length];
        for (var i = 0; i < proof.Length; i++) clientKey[i] = (byte)(proof[i] ^ signature[i]);
        if (!CryptographicOperations.FixedTimeEquals(_algorithm.H(clientKey), _credential.StoredKey))
            throw new SaslFailureException("unknown user or wrong password");
        _step = 2;
        return Encoding.UTF8.GetBytes("v=" + Convert.ToBase64String(_algorithm.Hmac(_credential.ServerKey, authMessage)));
    }

    private static string Unescape(string name) => name.Replace("=2C", ",", StringComparison.Ordinal).Replace("=3D", "=", StringComparison.Ordinal);

    private static string Decode(ReadOnlySpan<byte> message)
    {
        if (message.Length is 0 or > 8192) throw new SaslFailureException("the SCRAM message is empty or too long");
        try
        {
            return new UTF8Encoding(false, true).GetString(message);
        }
        catch (DecoderFallbackException)
        {
            throw new SaslFailureException("the SCRAM message is not UTF-8");
        }
    }
}
