namespace Kiel.ZooKeeper.Protocol;

/// <summary>The server's answer to the connect handshake.</summary>
internal readonly record struct ConnectResponse(int ProtocolVersion, int TimeoutMs, long SessionId, byte[] Password, bool ReadOnly)
{
    internal static ConnectResponse Read(ref JuteReader r)
    {
        var version = r.ReadInt("protocolVersion");
        var timeout = r.ReadInt("timeOut");
        var session = r.ReadLong("sessionId");
        var password = r.ReadBuffer("passwd") ?? [];
        // Servers before 3.4 do not send the read-only flag.
        var readOnly = r.Remaining > 0 && r.ReadBool("readOnly");
        return new ConnectResponse(version, timeout, session, password, readOnly);
    }

    /// <summary>Encodes the connect request frame (with its length prefix).</summary>
    internal static void WriteRequest(JuteWriter w, long lastZxidSeen, int timeoutMs, long sessionId, ReadOnlySpan<byte> password, bool readOnly)
    {
        w.BeginFrame();
        w.WriteInt(0); // protocol version
        w.WriteLong(lastZxidSeen);
        w.WriteInt(timeoutMs);
        w.WriteLong(sessionId);
        w.WriteBuffer(password);
        w.WriteBool(readOnly);
        w.FinishFrame();
    }
}
