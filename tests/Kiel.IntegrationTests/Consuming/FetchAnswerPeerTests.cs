using Kiel.Consuming;
using Kiel.Network;
using Kiel.Protocol;
using Kiel.Protocol.Messages;
using Kiel.Testing;

namespace Kiel.IntegrationTests.Consuming;

/// <summary>
/// The consumers' in-place Fetch decoder (<see cref="FetchAnswer"/>) against answers a real broker sent: the librdkafka
/// mock's Fetch responses, at every version from 4 to 12, to records Confluent.Kafka produced, must read as the
/// generated decoder reads them.
/// </summary>
public sealed class FetchAnswerPeerTests
{
    [Fact]
    public async Task The_mocks_Fetch_answers_read_as_the_generated_decoder_reads_them_at_every_version()
    {
        using var bounded = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await using var kafka = await EmbeddedKafkaCluster.StartAsync(new EmbeddedKafkaOptions { Brokers = 1 }, bounded.Token);
        const string topic = "fetch-answers";
        kafka.CreateTopic(topic, 2, 1);
        await ConsumingHelpers.ProduceAsync(kafka.BootstrapServers, topic, 20, partition: 0);
        await ConsumingHelpers.ProduceAsync(kafka.BootstrapServers, topic, 5, Confluent.Kafka.CompressionType.Lz4, partition: 1);

        await using var connection = await BrokerConnection.ConnectAsync(BrokerEndpoint.Parse(kafka.BootstrapServers, 1),
            new ConnectionOptions { ConnectTimeout = TimeSpan.FromSeconds(5), RequestTimeout = TimeSpan.FromSeconds(10) }, "test", bounded.Token);
        var checkedVersions = 0;
        for (short version = 4; version <= FetchAnswer.MaxVersion; version++)
        {
            var request = new FetchRequest
            {
                ReplicaId = -1, MaxWaitMs = 0, MinBytes = 0, MaxBytes = 1 << 20, IsolationLevel = 1, SessionId = 0, SessionEpoch = -1,
                Topics =
                [
                    new FetchRequest.FetchTopic
                    {
                        Topic = topic,
                        Partitions =
                        [
                            new FetchRequest.FetchPartition { Partition = 0, FetchOffset = 3, PartitionMaxBytes = 1 << 20, CurrentLeaderEpoch = -1, LogStartOffset = -1 },
                            new FetchRequest.FetchPartition { Partition = 1, FetchOffset = 0, PartitionMaxBytes = 1 << 20, CurrentLeaderEpoch = -1, LogStartOffset = -1 },
                            new FetchRequest.FetchPartition { Partition = 9, FetchOffset = 0, PartitionMaxBytes = 1 << 20, CurrentLeaderEpoch = -1, LogStartOffset = -1 },
                        ],
                    },
                ],
                ForgottenTopicsData = [],
            };
            using var frame = await connection.SendRawAsync(request, version, bounded.Token);
            var known = new[] { new string(topic.ToCharArray()) };
            var results = new List<FetchPartitionResponse>();
            var inPlace = Kiel.Tests.Consuming.FetchAnswerRows.InPlace(frame.Body, version, known, results);
            var generated = Kiel.Tests.Consuming.FetchAnswerRows.Generated(frame.Body, version);
            Assert.Equal(generated.Rows, inPlace.Rows);
            Assert.Equal((generated.ErrorCode, generated.SessionId), (inPlace.ErrorCode, inPlace.SessionId));
            Assert.Equal([0, 1, 9], results.Select(r => r.TopicPartition.Partition));
            Assert.All(results, r => Assert.Same(known[0], r.TopicPartition.Topic));
            Assert.Equal((short)0, results[0].ErrorCode);
            Assert.Equal(20, results[0].HighWatermark);
            Assert.False(results[0].Records.IsEmpty);
            Assert.False(results[1].Records.IsEmpty);
            Assert.NotEqual((short)0, results[2].ErrorCode); // the partition does not exist
            // The records the in-place decoder points at are the peer's batches: they scan whole, from the asked offset on.
            var scan = Kiel.Protocol.Records.RecordSetScanner.Scan(results[0].Records.Span, 3, true, topic, 0);
            Assert.Null(scan.Error);
            Assert.Equal(20, scan.NextOffset);
            checkedVersions++;
        }
        Assert.Equal(9, checkedVersions);
    }
}
