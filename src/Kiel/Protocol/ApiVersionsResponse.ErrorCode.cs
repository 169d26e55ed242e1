using System.Buffers.Binary;

namespace Kiel.Protocol.Messages;

internal sealed partial class ApiVersionsResponse
{
    /// <summary>
    /// Reads the ErrorCode that starts an ApiVersions response body at every version, without decoding the rest.
    /// A broker that does not support the requested version answers UNSUPPORTED_VERSION with a body that may not
    /// decode at the requested version (librdkafka's mock sends one that decodes at no version), so a client
    /// checks this first and retries with v0.
    /// </summary>
    /// <param name="body">The response body, after the (always v0) response header.</param>
    /// <param name="errorCode">The error code, when present.</param>
    /// <returns>False when the body is shorter than two bytes.</returns>
    public static bool TryPeekErrorCode(ReadOnlySpan<byte> body, out global::Kiel.ErrorCode errorCode)
    {
        if (body.Length < 2)
        {
            errorCode = global::Kiel.ErrorCode.None;
            return false;
        }
        errorCode = (global::Kiel.ErrorCode)BinaryPrimitives.ReadInt16BigEndian(body);
        return true;
    }
}
