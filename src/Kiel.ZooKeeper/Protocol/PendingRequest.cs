namespace Kiel.ZooKeeper.Protocol;

/// <summary>Decodes a reply body.</summary>
internal delegate T ReplyDecoder<T>(ref JuteReader reader);

/// <summary>A request sent and waiting for its reply.</summary>
internal abstract class PendingRequest
{
    protected PendingRequest(OpCode op, string? path)
    {
        Op = op;
        Path = path;
    }

    internal OpCode Op { get; }

    /// <summary>When the request was queued (a timestamp of the client's <see cref="TimeProvider"/>): its reply proves the session was alive then.</summary>
    internal long QueuedAt { get; set; }

    /// <summary>The path as the caller wrote it, for error messages.</summary>
    internal string? Path { get; }

    /// <summary>Runs on the receive loop before the caller resumes (watch registration must precede later notifications).</summary>
    internal Action<ZooKeeperErrorCode>? OnResult { get; init; }

    internal abstract void Complete(ZooKeeperErrorCode error, ref JuteReader body);

    internal abstract void Fail(Exception error);
}

/// <summary>A pending request whose reply decodes to <typeparamref name="T"/>.</summary>
internal sealed class PendingRequest<T> : PendingRequest
{
    private readonly ReplyDecoder<T> _decoder;
    private readonly Func<ZooKeeperErrorCode, T>? _onError;

    /// <param name="op">The opcode.</param>
    /// <param name="path">The caller's path.</param>
    /// <param name="decoder">Decodes a successful body.</param>
    /// <param name="onError">Turns some error codes into a value (for example NoNode into null for exists); returns default to throw.</param>
    internal PendingRequest(OpCode op, string? path, ReplyDecoder<T> decoder, Func<ZooKeeperErrorCode, T>? onError = null)
        : base(op, path)
    {
        _decoder = decoder;
        _onError = onError;
    }

    internal TaskCompletionSource<T> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Error codes that <see cref="_onError"/> turns into a value.</summary>
    internal ZooKeeperErrorCode[]? ValueOnError { get; init; }

    internal override void Complete(ZooKeeperErrorCode error, ref JuteReader body)
    {
        OnResult?.Invoke(error);
        if (error == ZooKeeperErrorCode.Ok || (Op == OpCode.Multi && body.Remaining > 0))
        {
            // A bad body drops the connection (the caller sees the protocol error); the reply stream is no longer trusted.
            T value;
            try { value = _decoder(ref body); }
            catch (Exception e)
            {
                Completion.TrySetException(e);
                throw;
            }
            Completion.TrySetResult(value);
            return;
        }
        if (_onError is not null && ValueOnError is not null && Array.IndexOf(ValueOnError, error) >= 0)
        {
            Completion.TrySetResult(_onError(error));
            return;
        }
        Completion.TrySetException(ZooKeeperException.Create(error, Path));
    }

    internal override void Fail(Exception error) => Completion.TrySetException(error);
}
