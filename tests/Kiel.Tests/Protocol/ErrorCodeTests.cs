using Kiel.Protocol;

namespace Kiel.Tests.Protocol;

public class ErrorCodeTests
{
    [Fact]
    public void TableListsEveryCodeFromMinusOneTo133InOrder()
    {
        Assert.Equal(135, ErrorCodes.All.Count);
        for (var i = 0; i < ErrorCodes.All.Count; i++)
        {
            var info = ErrorCodes.All[i];
            Assert.Equal(i - 1, (short)info.Code);
            Assert.True(Enum.IsDefined(info.Code));
            Assert.Equal(info.Name.Replace("_", ""), info.Code.ToString().ToUpperInvariant());
            Assert.False(string.IsNullOrWhiteSpace(info.Message));
            Assert.False(info.IsUnknown);
        }
        Assert.Equal(135, Enum.GetValues<ErrorCode>().Length);
    }

    [Theory]
    [InlineData(-1, "UNKNOWN_SERVER_ERROR", false)]
    [InlineData(0, "NONE", false)]
    [InlineData(1, "OFFSET_OUT_OF_RANGE", false)]
    [InlineData(2, "CORRUPT_MESSAGE", true)]
    [InlineData(3, "UNKNOWN_TOPIC_OR_PARTITION", true)]
    [InlineData(5, "LEADER_NOT_AVAILABLE", true)]
    [InlineData(6, "NOT_LEADER_OR_FOLLOWER", true)]
    [InlineData(7, "REQUEST_TIMED_OUT", true)]
    [InlineData(14, "COORDINATOR_LOAD_IN_PROGRESS", true)]
    [InlineData(15, "COORDINATOR_NOT_AVAILABLE", true)]
    [InlineData(16, "NOT_COORDINATOR", true)]
    [InlineData(22, "ILLEGAL_GENERATION", false)]
    [InlineData(25, "UNKNOWN_MEMBER_ID", false)]
    [InlineData(27, "REBALANCE_IN_PROGRESS", false)]
    [InlineData(29, "TOPIC_AUTHORIZATION_FAILED", false)]
    [InlineData(35, "UNSUPPORTED_VERSION", false)]
    [InlineData(36, "TOPIC_ALREADY_EXISTS", false)]
    [InlineData(47, "INVALID_PRODUCER_EPOCH", false)]
    [InlineData(51, "CONCURRENT_TRANSACTIONS", true)]
    [InlineData(74, "FENCED_LEADER_EPOCH", true)]
    [InlineData(89, "THROTTLING_QUOTA_EXCEEDED", true)]
    [InlineData(100, "UNKNOWN_TOPIC_ID", true)]
    [InlineData(128, "INVALID_REGULAR_EXPRESSION", false)]
    [InlineData(129, "REBOOTSTRAP_REQUIRED", false)]
    [InlineData(133, "SHARE_SESSION_LIMIT_REACHED", false)]
    public void KnownCodesHaveKafkasNameAndRetriableFlag(short code, string name, bool retriable)
    {
        var info = ErrorCodes.Info(code);
        Assert.Equal(name, info.Name);
        Assert.Equal(retriable, info.IsRetriable);
        Assert.Equal(retriable, ((ErrorCode)code).IsRetriable());
    }

    [Theory]
    [InlineData(134)]
    [InlineData(short.MaxValue)]
    [InlineData(-2)]
    [InlineData(short.MinValue)]
    public void UnknownCodesGetAGenericEntryAndNeverThrow(short code)
    {
        var info = ErrorCodes.Info(code);
        Assert.True(info.IsUnknown);
        Assert.False(info.IsRetriable);
        Assert.Equal("UNKNOWN_ERROR_CODE_" + code, info.Name);
        var e = new KafkaException((ErrorCode)code, "topic t partition 0");
        Assert.Equal((ErrorCode)code, e.ErrorCode);
        Assert.Contains(code.ToString(), e.Message);
        Assert.Contains("topic t partition 0", e.Message);
    }

    [Fact]
    public void KafkaExceptionCarriesCodeNameAndRetriable()
    {
        var e = Assert.Throws<KafkaException>(() => KafkaException.ThrowIfError((short)6, "foo-0"));
        Assert.IsAssignableFrom<KielException>(e);
        Assert.Equal(ErrorCode.NotLeaderOrFollower, e.ErrorCode);
        Assert.Equal("NOT_LEADER_OR_FOLLOWER", e.Name);
        Assert.True(e.IsRetriable);
        Assert.StartsWith("NOT_LEADER_OR_FOLLOWER (6): ", e.Message);
        KafkaException.ThrowIfError((short)0);
        KafkaException.ThrowIfError(ErrorCode.None);
        Assert.False(new KafkaException(ErrorCode.TopicAuthorizationFailed).IsRetriable);
    }
}
