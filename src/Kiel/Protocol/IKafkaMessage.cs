namespace Kiel.Protocol;

/// <summary>A protocol structure that can be written at a given version.</summary>
internal interface IKafkaMessage
{
    /// <summary>Writes the body at <paramref name="version"/> (no size prefix, no header).</summary>
    void Write(ref KafkaWriter writer, short version);
}

/// <summary>A request body; its header is written by the connection.</summary>
internal interface IRequestMessage : IKafkaMessage
{
    /// <summary>The API this request belongs to.</summary>
    ApiKey ApiKey { get; }
}

/// <summary>A request whose reply decodes as <typeparamref name="TResponse"/>.</summary>
internal interface IRequestMessage<TResponse> : IRequestMessage
    where TResponse : IResponseMessage<TResponse>
{
}

/// <summary>A response body that can be decoded at a given version.</summary>
internal interface IResponseMessage<TSelf> : IKafkaMessage
    where TSelf : IResponseMessage<TSelf>
{
    /// <summary>Reads the body at <paramref name="version"/> (the header has been consumed).</summary>
    static abstract TSelf Read(ref KafkaReader reader, short version);
}
