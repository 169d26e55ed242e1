namespace Kiel.Consuming;

/// <summary>Deserializes a raw record into a <see cref="ConsumeResult{TKey, TValue}"/>; a failing deserializer leaves the record unconsumed (L15).</summary>
internal static class RecordConverter
{
    public static ConsumeResult<TKey, TValue> Convert<TKey, TValue>(in RawRecord record, IDeserializer<TKey> keys, IDeserializer<TValue> values, FetchEngine engine, bool rewind = true)
    {
        var tp = record.TopicPartition;
        var key = Deserialize(record, keys, RecordComponent.Key, engine, rewind);
        var value = Deserialize(record, values, RecordComponent.Value, engine, rewind);
        Kiel.Diagnostics.ClientMetrics.Consumed(tp.Topic, tp.Partition, record.Key.Length + record.Value.Length);
        return new ConsumeResult<TKey, TValue>(tp.Topic, tp.Partition, record.Offset, record.Timestamp, record.TimestampType, key, value,
            record.HeaderCount == 0 ? null : record.CopyHeaders(), record.LeaderEpoch >= 0 ? record.LeaderEpoch : null);
    }

    /// <summary>
    /// Deserializes one component. On failure, with <paramref name="rewind"/> the partition is put back on the record
    /// (see <see cref="Rewind"/>), and the exception carries a copy of the raw record (the failure path alone copies).
    /// </summary>
    public static T Deserialize<T>(in RawRecord record, IDeserializer<T> deserializer, RecordComponent component, FetchEngine engine, bool rewind = true)
    {
        var tp = record.TopicPartition;
        var context = new SerializationContext(tp.Topic, component, tp.Partition, record.Offset);
        try
        {
            return component == RecordComponent.Key
                ? deserializer.Deserialize(record.Key, record.KeyIsNull, context)
                : deserializer.Deserialize(record.Value, record.ValueIsNull, context);
        }
        catch (Exception ex)
        {
            if (rewind) Rewind(engine, tp, record.Offset);
            throw new DeserializationException(tp, record.Offset, component, ex)
            {
                RecordKey = record.KeyIsNull ? null : record.Key.ToArray(),
                RecordValue = record.ValueIsNull ? null : record.Value.ToArray(),
                RecordHeaders = record.HeaderCount == 0 ? null : record.CopyHeaders(),
            };
        }
    }

    /// <summary>Puts the partition back on the record at <paramref name="offset"/>, so that it is neither lost nor skipped.</summary>
    public static void Rewind(FetchEngine engine, TopicPartition tp, long offset)
    {
        try
        {
            engine.Seek(tp, offset);
        }
        catch (InvalidOperationException)
        {
            // Unassigned meanwhile: nothing to keep.
        }
    }

    /// <summary>What the policy says for <paramref name="error"/>: the handler when there is one, else the action.</summary>
    public static DeserializationErrorAction Decide(DeserializationException error, DeserializationErrorAction action, DeserializationErrorHandler? handler) =>
        handler is null ? action : handler(error);
}
