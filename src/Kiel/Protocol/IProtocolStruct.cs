namespace Kiel.Protocol;

/// <summary>
/// A nested structure of a generated message. Its codec is reached through <see cref="ProtocolSupport"/>, which keeps
/// the generated code short; the interface is internal so nested structures do not widen the public API.
/// </summary>
internal interface IProtocolStruct<TSelf> where TSelf : IProtocolStruct<TSelf>
{
    void Write(ref KafkaWriter writer, short version);

    static abstract TSelf Read(ref KafkaReader reader, short version);
}
