using System.Text;
using Kiel.Security;

namespace Kiel.Tests.Security;

public sealed class ScramTests
{
    private static byte[] B(string s) => Encoding.UTF8.GetBytes(s);
    private static string S(byte[] b) => Encoding.UTF8.GetString(b);

    [Fact]
    public void Rfc5802_sha1_test_vector()
    {
        var client = new ScramClient(ScramAlgorithm.Sha1, "user", "pencil", "fyko+d2lbbFgONRv9qkxdawL");
        Assert.Equal("n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL", S(client.CreateClientFirst()));
        var final = client.CreateClientFinal(B("r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096"));
        Assert.Equal("c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=", S(final));
        client.VerifyServerFinal(B("v=rmF9pqV8S7suAoZWja4dJRkFsKQ="));
        Assert.True(client.IsComplete);
    }

    [Fact]
    public void Rfc7677_sha256_test_vector()
    {
        var client = new ScramClient(ScramAlgorithm.Sha256, "user", "pencil", "rOprNGfwEbeRWgbNEkqO");
        Assert.Equal("n,,n=user,r=rOprNGfwEbeRWgbNEkqO", S(client.CreateClientFirst()));
        var final = client.CreateClientFinal(B("r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"));
        Assert.Equal("c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=", S(final));
        client.VerifyServerFinal(B("v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="));
        Assert.True(client.IsComplete);
    }

    [Fact]
    public void Rfc7677_server_side_produces_the_same_messages()
    {
        var credential = ScramCredential.Create(ScramAlgorithm.Sha256, "pencil", 4096, Convert.FromBase64String("W22ZaJ0SNY7soEsUEjb6gQ=="));
        var server = new ScramServer(ScramAlgorithm.Sha256, u => u == "user" ? credential : null, "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0");
        Assert.Equal("r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096", S(server.HandleClientFirst(B("n,,n=user,r=rOprNGfwEbeRWgbNEkqO"))));
        Assert.Equal("v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=",
            S(server.HandleClientFinal(B("c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="))));
        Assert.Equal("user", server.User);
    }

    [Theory]
    [InlineData("SCRAM-SHA-256")]
    [InlineData("SCRAM-SHA-512")]
    public void Client_and_server_agree_and_a_wrong_password_is_refused(string mechanism)
    {
        var algorithm = ScramAlgorithm.ForName(mechanism)!;
        var credential = ScramCredential.Create(algorithm, "s3cret,=pw");
        ScramCredential? Lookup(string u) => u == "al=ice,x" ? credential : null;

        var client = new ScramClient(algorithm, "al=ice,x", "s3cret,=pw");
        var server = new ScramServer(algorithm, Lookup);
        var first = client.CreateClientFirst();
        Assert.Contains("n=al=3Dice=2Cx,", S(first));
        var final = client.CreateClientFinal(server.HandleClientFirst(first));
        client.VerifyServerFinal(server.HandleClientFinal(final));
        Assert.True(client.IsComplete);
        Assert.True(server.IsComplete);

        var wrong = new ScramClient(algorithm, "al=ice,x", "not-it");
        var server2 = new ScramServer(algorithm, Lookup);
        var wrongFinal = wrong.CreateClientFinal(server2.HandleClientFirst(wrong.CreateClientFirst()));
        var e = Assert.Throws<SaslFailureException>(() => server2.HandleClientFinal(wrongFinal));
        Assert.DoesNotContain("not-it", e.Message);

        Assert.Throws<SaslFailureException>(() => new ScramServer(algorithm, Lookup).HandleClientFirst(new ScramClient(algorithm, "bob", "x").CreateClientFirst()));
    }

    [Fact]
    public void A_server_signature_that_does_not_match_is_refused()
    {
        var client = new ScramClient(ScramAlgorithm.Sha256, "user", "pencil", "rOprNGfwEbeRWgbNEkqO");
        client.CreateClientFirst();
        client.CreateClientFinal(B("r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"));
        var e = Assert.Throws<SaslFailureException>(() => client.VerifyServerFinal(B("v=7rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=")));
        Assert.Contains("signature does not match", e.Message);
        Assert.False(client.IsComplete);
    }

    public static TheoryData<string, string> BadServerFirst => new()
    {
        { "", "empty" },
        { "e=other-error", "refused" },
        { "m=ext,r=abcDEF,s=QSXCR+Q6sek8bf92,i=4096", "mandatory extension" },
        { "r=otherNonce123,s=QSXCR+Q6sek8bf92,i=4096", "does not extend" },
        { "r=abc,s=QSXCR+Q6sek8bf92,i=4096", "does not extend" },
        { "r=abcDEF,s=!!notbase64,i=4096", "not base64" },
        { "r=abcDEF,s=,i=4096", "salt is empty" },
        { "r=abcDEF,s=QSXCR+Q6sek8bf92,i=1", "iteration count" },
        { "r=abcDEF,s=QSXCR+Q6sek8bf92,i=999999999", "iteration count" },
        { "r=abcDEF,s=QSXCR+Q6sek8bf92,i=-4096", "iteration count" },
        { "r=abcDEF,s=QSXCR+Q6sek8bf92", "malformed" },
        { "s=QSXCR+Q6sek8bf92,r=abcDEF,i=4096", "malformed" },
        { "r=abc\u0007DEF,s=QSXCR+Q6sek8bf92,i=4096", "printable" },
    };

    [Theory]
    [MemberData(nameof(BadServerFirst))]
    public void Malformed_server_first_is_a_clear_error(string serverFirst, string expected)
    {
        var client = new ScramClient(ScramAlgorithm.Sha256, "user", "pencil", "abc");
        client.CreateClientFirst();
        var e = Assert.Throws<SaslFailureException>(() => client.CreateClientFinal(B(serverFirst)));
        Assert.Contains(expected, e.Message);
        Assert.DoesNotContain("pencil", e.Message);
    }

    [Fact]
    public void Invalid_utf8_and_oversized_server_messages_are_refused()
    {
        var client = new ScramClient(ScramAlgorithm.Sha256, "user", "pencil", "abc");
        client.CreateClientFirst();
        Assert.Contains("not UTF-8", Assert.Throws<SaslFailureException>(() => client.CreateClientFinal([0xff, 0xfe, 0x41])).Message);
        var client2 = new ScramClient(ScramAlgorithm.Sha256, "user", "pencil", "abc");
        client2.CreateClientFirst();
        Assert.Contains("allowed", Assert.Throws<SaslFailureException>(() => client2.CreateClientFinal(new byte[100_000])).Message);
    }

    [Theory]
    [InlineData("e=invalid-proof", "refused the credentials")]
    [InlineData("x=abc", "malformed")]
    [InlineData("v=%%%", "not base64")]
    [InlineData("", "empty")]
    public void Malformed_server_final_is_a_clear_error(string serverFinal, string expected)
    {
        var client = new ScramClient(ScramAlgorithm.Sha256, "user", "pencil", "rOprNGfwEbeRWgbNEkqO");
        client.CreateClientFirst();
        client.CreateClientFinal(B("r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"));
        Assert.Contains(expected, Assert.Throws<SaslFailureException>(() => client.VerifyServerFinal(B(serverFinal))).Message);
    }

    private static bool SameSignature(byte[] a, byte[] b)
    {
        try
        {
            return Convert.FromBase64String(S(a)[2..]).AsSpan().SequenceEqual(Convert.FromBase64String(S(b)[2..]));
        }
        catch (FormatException)
        {
            return false;
        }
    }

    [Fact]
    public void Every_single_byte_mutation_of_the_server_messages_fails_cleanly_or_changes_nothing()
    {
        // Flip each byte of a valid server-first and server-final; the client must throw SaslFailureException
        // (never another exception, never accept a changed signature).
        var serverFirst = B("r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096");
        var serverFinal = B("v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=");
        for (var i = 0; i < serverFinal.Length; i++)
        {
            var client = new ScramClient(ScramAlgorithm.Sha256, "user", "pencil", "rOprNGfwEbeRWgbNEkqO");
            client.CreateClientFirst();
            client.CreateClientFinal(serverFirst);
            var mutated = (byte[])serverFinal.Clone();
            mutated[i] ^= 0x01;
            if (SameSignature(mutated, serverFinal)) continue; // a flipped base64 padding bit decodes to the same bytes
            Assert.Throws<SaslFailureException>(() => client.VerifyServerFinal(mutated));
        }
        for (var i = 0; i < serverFirst.Length; i += 3)
        {
            var client = new ScramClient(ScramAlgorithm.Sha256, "user", "pencil", "rOprNGfwEbeRWgbNEkqO");
            client.CreateClientFirst();
            var mutated = (byte[])serverFirst.Clone();
            mutated[i] ^= 0x01;
            try
            {
                client.CreateClientFinal(mutated);
                // Accepted (for example a changed server nonce part or salt): the original signature must not verify.
                Assert.Throws<SaslFailureException>(() => client.VerifyServerFinal(serverFinal));
            }
            catch (SaslFailureException)
            {
            }
        }
    }
}

public sealed class SaslMessageTests
{
    [Fact]
    public void Plain_message_round_trips_and_accepts_kafka_python_authzid()
    {
        var message = SaslMessages.Plain("alice", "pw");
        Assert.Equal("\0alice\0pw"u8.ToArray(), message);
        Assert.Equal(("alice", "pw"), SaslMessages.ReadPlain(message));
        Assert.Equal(("alice", "pw"), SaslMessages.ReadPlain("alice\0alice\0pw"u8));
        Assert.Null(SaslMessages.ReadPlain("bob\0alice\0pw"u8));
        Assert.Null(SaslMessages.ReadPlain("alice\0pw"u8));
        Assert.Null(SaslMessages.ReadPlain([0xff, 0, 0x41, 0, 0x42]));
    }

    [Fact]
    public void OAuthBearer_client_message_has_the_kip255_layout()
    {
        var message = SaslMessages.OAuthBearer("tok.en.", new Dictionary<string, string> { ["traceId"] = "42" });
        Assert.Equal("n,,\u0001auth=Bearer tok.en.\u0001traceId=42\u0001\u0001", Encoding.UTF8.GetString(message));
        Assert.Equal("tok.en.", SaslMessages.ReadOAuthBearer(message));
        Assert.Null(SaslMessages.ReadOAuthBearer("n,,auth=Bearer x"u8));
    }

    [Fact]
    public void Unsecured_token_is_an_alg_none_jws_with_sub_and_exp_and_hides_its_value()
    {
        var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(DateTimeOffset.FromUnixTimeSeconds(1_700_000_000));
        var token = OAuthBearerToken.CreateUnsecured("alice", TimeSpan.FromMinutes(5), time, "read write");
        var parts = token.Value.Split('.');
        Assert.Equal(3, parts.Length);
        Assert.Equal("", parts[2]);
        Assert.Equal("{\"alg\":\"none\"}", Encoding.UTF8.GetString(SaslMessages.Base64UrlDecode(parts[0])));
        var payload = Encoding.UTF8.GetString(SaslMessages.Base64UrlDecode(parts[1]));
        Assert.Contains("\"sub\":\"alice\"", payload);
        Assert.Contains("\"exp\":1700000300", payload);
        Assert.Contains("\"scope\":\"read write\"", payload);
        Assert.Equal(("alice", DateTimeOffset.FromUnixTimeSeconds(1_700_000_300)), SaslMessages.ReadUnsecuredJws(token.Value));
        Assert.DoesNotContain(token.Value, token.ToString());
        Assert.Null(SaslMessages.ReadUnsecuredJws("a.b.c"));
        Assert.Null(SaslMessages.ReadUnsecuredJws("not-a-token"));
    }
}
