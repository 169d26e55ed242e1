using System.Buffers;
using System.Text.Json;

namespace Kiel.Tests.Serialization;

public class SharedTypesTests
{
    /// <summary>A null value (a tombstone) is never a deserialization error for the deserializers that map it to null.</summary>
    [Fact]
    public void A_null_value_is_not_a_deserialization_error()
    {
        var context = new SerializationContext("t", RecordComponent.Value, 0, 7);
        Assert.Null(Deserializers.Json<Dictionary<string, int>>().Deserialize([], isNull: true, context));
        Assert.Null(Deserializers.Utf8.Deserialize([], isNull: true, context));
        Assert.Null(Deserializers.Bytes.Deserialize([], isNull: true, context));
        Assert.Equal(JsonValueKind.Null, Deserializers.JsonElement.Deserialize([], isNull: true, context).ValueKind);
        // The same deserializer refuses bytes that are not JSON: the null above is not an accident of lenience.
        Assert.ThrowsAny<JsonException>(() => Deserializers.Json<Dictionary<string, int>>().Deserialize("not json"u8, isNull: false, context));
    }

    [Fact]
    public void NullHeaderValuesStayNull()
    {
        var headers = new Headers { { "a", (string?)null }, { "b", (byte[]?)null }, { "c", "x" } };
        Assert.Null(headers[0].Value);
        Assert.Null(headers[1].Value);
        Assert.Equal("x", headers[2].ValueAsString());
        Assert.Equal("x", headers.LastOrNull("c")!.Value.ValueAsString());
        Assert.Null(headers.LastOrNull("missing"));
    }

    [Theory]
    [InlineData("t:10", "t", 10)]
    [InlineData("a:b:3", "a:b", 3)]
    public void TopicPartitionParsesKielForm(string text, string topic, int partition)
    {
        var tp = TopicPartition.Parse(text);
        Assert.Equal(new TopicPartition(topic, partition), tp);
        Assert.Equal(text, tp.ToString());
    }

    [Theory]
    [InlineData("t")]
    [InlineData(":1")]
    [InlineData("t:-1")]
    [InlineData("t:x")]
    public void TopicPartitionRejectsOtherForms(string text) => Assert.Throws<FormatException>(() => TopicPartition.Parse(text));

    [Fact]
    public void StartPositionsConvertAndValidate()
    {
        var now = DateTimeOffset.UnixEpoch.AddDays(1);
        StartPosition ago = TimeSpan.FromHours(1);
        StartPosition at = now;
        Assert.Equal(StartPositionKind.Timestamp, ago.Kind);
        Assert.Equal(now.AddHours(-1), ago.Timestamp(now));
        Assert.Equal(now, at.Timestamp(DateTimeOffset.MaxValue));
        Assert.Equal(5, StartPosition.AtOffset(5).Offset);
        Assert.Throws<ArgumentOutOfRangeException>(() => StartPosition.Before(TimeSpan.FromSeconds(-1)));
        Assert.Throws<ArgumentOutOfRangeException>(() => StartPosition.AtOffset(-1));
    }

    [Fact]
    public void JsonRoundTripsThroughSerializerAndKielDefaultDeserializer()
    {
        var buffer = new ArrayBufferWriter<byte>();
        var ctx = new SerializationContext("t", RecordComponent.Value);
        Serializers.Json<object>().Serialize(new { a = 1, b = "x" }, buffer, ctx);
        var element = Deserializers.JsonElement.Deserialize(buffer.WrittenSpan, false, ctx);
        Assert.Equal(1, element.GetProperty("a").GetInt32());
        Assert.Equal(JsonValueKind.Null, Deserializers.JsonElement.Deserialize(default, true, ctx).ValueKind);
        Assert.Null(Deserializers.Utf8.Deserialize(default, true, ctx));
    }
}
