namespace Kiel.Consuming;

/// <summary>Deserializes a raw record into a <see cref="ConsumeResult{TKey, TValue}"/>; a failing deserializer leaves the record unconsumed (L15).</summary>
internal static class RecordConverter
{
    public static ConsumeResult<TKey, TValue> Convert<TKey, TValue>(in RawRecord record, IDeserializer<TKey> keys, IDeserializer<TValue> values, FetchEngine engine)
    {
        var tp = record.TopicPartition;
        var key = Deserialize(record, keys, RecordComponent.Key, engine);
        var value = Deserialize(record, values, RecordComponent.Value, engine);
        Kiel.Diagnostics.ClientMetrics.Consumed(tp.Topic, tp.Partition, record.Key.Length + record.Value.Length);
        return new ConsumeResult<TKey, TValue>
        {
            Topic = tp.Topic,
            Partition = tp.Partition,
            Offset = record.Offset,
            Timestamp = record.Timestamp,
            TimestampType = record.TimestampType,
            Key = key,
            Value = value,
            Headers = record.HeaderCount == 0 ? [] : record.CopyHeaders(),
            LeaderEpoch = record.LeaderEpoch >= 0 ? record.LeaderEpoch : null,
        };
    }

    public static T Deserialize<T>(in RawRecord record, IDeserializer<T> deserializer, RecordComponent component, FetchEngine engine)
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
            // Put the partition back on this record, so that it is neither lost nor skipped.
            try
            {
                engine.Seek(tp, record.Offset);
            }
            catch (InvalidOperationException)
            {
                // Unassigned meanwhile: nothing to keep.
            }
            throw new DeserializationException(tp, record.Offset, component, ex);
        }
    }
}
