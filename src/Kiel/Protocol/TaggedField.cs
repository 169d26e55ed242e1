namespace Kiel.Protocol;

/// <summary>
/// A tagged field that the schema snapshot does not know, kept as its raw value so that re-encoding a decoded message
/// sends it on unchanged.
/// </summary>
/// <param name="Tag">The field's tag.</param>
/// <param name="Value">The encoded value (without tag and size).</param>
internal readonly record struct TaggedField(uint Tag, ReadOnlyMemory<byte> Value);
