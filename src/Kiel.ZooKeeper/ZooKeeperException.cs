namespace Kiel.ZooKeeper;

/// <summary>The root of every error the ZooKeeper client raises for a server result or a session problem.</summary>
public class ZooKeeperException : Exception
{
    /// <summary>Creates the exception.</summary>
    /// <param name="code">The ZooKeeper result code.</param>
    /// <param name="path">The path the request named (as the caller wrote it), or null.</param>
    /// <param name="message">Text; null builds one from the code and path.</param>
    /// <param name="inner">The cause, if any.</param>
    public ZooKeeperException(ZooKeeperErrorCode code, string? path, string? message = null, Exception? inner = null)
        : base(message ?? (path is null ? $"ZooKeeper error {code} ({(int)code})" : $"ZooKeeper error {code} ({(int)code}) for {path}"), inner)
    {
        Code = code;
        Path = path;
    }

    /// <summary>The ZooKeeper result code.</summary>
    public ZooKeeperErrorCode Code { get; }

    /// <summary>The path of the failed request, or null.</summary>
    public string? Path { get; }

    /// <summary>Builds the most specific exception for <paramref name="code"/>.</summary>
    public static ZooKeeperException Create(ZooKeeperErrorCode code, string? path) => code switch
    {
        ZooKeeperErrorCode.NoNode => new NoNodeException(path),
        ZooKeeperErrorCode.NodeExists => new NodeExistsException(path),
        ZooKeeperErrorCode.BadVersion => new BadVersionException(path),
        ZooKeeperErrorCode.NotEmpty => new NotEmptyException(path),
        ZooKeeperErrorCode.SessionExpired => new SessionExpiredException(path),
        ZooKeeperErrorCode.ConnectionLoss => new ConnectionLossException(path),
        ZooKeeperErrorCode.NoAuth => new NoAuthException(path),
        ZooKeeperErrorCode.AuthFailed => new AuthFailedException(path),
        ZooKeeperErrorCode.NoChildrenForEphemerals => new NoChildrenForEphemeralsException(path),
        _ => new ZooKeeperException(code, path),
    };
}

/// <summary>The node does not exist.</summary>
/// <param name="path">The path.</param>
public sealed class NoNodeException(string? path) : ZooKeeperException(ZooKeeperErrorCode.NoNode, path);

/// <summary>The node already exists.</summary>
/// <param name="path">The path.</param>
public sealed class NodeExistsException(string? path) : ZooKeeperException(ZooKeeperErrorCode.NodeExists, path);

/// <summary>The version given does not match the node's version.</summary>
/// <param name="path">The path.</param>
public sealed class BadVersionException(string? path) : ZooKeeperException(ZooKeeperErrorCode.BadVersion, path);

/// <summary>The node has children and cannot be deleted.</summary>
/// <param name="path">The path.</param>
public sealed class NotEmptyException(string? path) : ZooKeeperException(ZooKeeperErrorCode.NotEmpty, path);

/// <summary>Ephemeral nodes cannot have children.</summary>
/// <param name="path">The path.</param>
public sealed class NoChildrenForEphemeralsException(string? path) : ZooKeeperException(ZooKeeperErrorCode.NoChildrenForEphemerals, path);

/// <summary>The session has expired: its ephemeral nodes and watches are gone.</summary>
/// <param name="path">The path of the request, or null.</param>
public sealed class SessionExpiredException(string? path) : ZooKeeperException(ZooKeeperErrorCode.SessionExpired, path);

/// <summary>The connection dropped (or none came up in time); the request may or may not have been applied.</summary>
public sealed class ConnectionLossException : ZooKeeperException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="path">The path of the request, or null.</param>
    /// <param name="message">Text, or null for the default.</param>
    /// <param name="inner">The cause.</param>
    public ConnectionLossException(string? path, string? message = null, Exception? inner = null)
        : base(ZooKeeperErrorCode.ConnectionLoss, path, message, inner)
    {
    }
}

/// <summary>The session is not authorized for the operation.</summary>
/// <param name="path">The path.</param>
public sealed class NoAuthException(string? path) : ZooKeeperException(ZooKeeperErrorCode.NoAuth, path);

/// <summary>Authentication failed.</summary>
/// <param name="path">The path, or null.</param>
public sealed class AuthFailedException(string? path) : ZooKeeperException(ZooKeeperErrorCode.AuthFailed, path);

/// <summary>The client was closed.</summary>
/// <param name="path">The path of the request, or null.</param>
public sealed class ClientClosedException(string? path)
    : ZooKeeperException(ZooKeeperErrorCode.ConnectionLoss, path, "The ZooKeeper client is closed" + (path is null ? "." : $" (request for {path})."));

/// <summary>One operation of a multi failed, so none was applied.</summary>
public sealed class MultiOperationException : ZooKeeperException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="code">The code of the first failing operation.</param>
    /// <param name="failedIndex">The index of the first failing operation.</param>
    /// <param name="path">The path of that operation.</param>
    /// <param name="results">The result of every operation (error codes).</param>
    public MultiOperationException(ZooKeeperErrorCode code, int failedIndex, string? path, IReadOnlyList<OpResult> results)
        : base(code, path, $"Multi operation {failedIndex} ({path}) failed with {code}; no operation was applied.")
    {
        FailedIndex = failedIndex;
        Results = results;
    }

    /// <summary>The index of the first failing operation.</summary>
    public int FailedIndex { get; }

    /// <summary>Per-operation results (each an <see cref="OpResult.Error"/>).</summary>
    public IReadOnlyList<OpResult> Results { get; }
}
