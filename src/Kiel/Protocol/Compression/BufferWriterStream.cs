using System.Buffers;

namespace Kiel.Protocol.Compression;

/// <summary>A write-only stream that appends to an <see cref="IBufferWriter{T}"/>, so stream-based encoders write into pooled buffers.</summary>
internal sealed class BufferWriterStream(IBufferWriter<byte> destination) : Stream
{
    public long Written { get; private set; }

    public override bool CanRead => false;
    public override bool CanSeek => false;
    public override bool CanWrite => true;
    public override long Length => Written;
    public override long Position { get => Written; set => throw new NotSupportedException(); }

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        buffer.CopyTo(destination.GetSpan(buffer.Length));
        destination.Advance(buffer.Length);
        Written += buffer.Length;
    }

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));
    public override void WriteByte(byte value) => Write([value]);
    public override void Flush() { }
    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
}
