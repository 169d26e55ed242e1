"""Produces COUNT records with kafka-python through the secured front, then reads them back by partition.

Usage: kafka_python_secured.py BOOTSTRAP PROTOCOL MECHANISM USER PASSWORD CAFILE TOPIC COUNT
Prints "consumed N" on success. OAUTHBEARER uses an unsecured JWS (alg none) for USER.
"""
import base64
import json
import sys
import time

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.oauth.abstract import AbstractTokenProvider

bootstrap, protocol, mechanism, user, password, cafile, topic, count = sys.argv[1:9]
count = int(count)


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


class UnsecuredJws(AbstractTokenProvider):
    def token(self):
        now = int(time.time())
        claims = {"sub": user, "iat": now, "exp": now + 3600}
        return b64url(b'{"alg":"none"}') + "." + b64url(json.dumps(claims).encode("utf-8")) + "."


common = dict(
    bootstrap_servers=bootstrap,
    security_protocol=protocol,
    sasl_mechanism=mechanism,
    api_version=(2, 0, 0),
    request_timeout_ms=20000,
)
if mechanism == "OAUTHBEARER":
    common["sasl_oauth_token_provider"] = UnsecuredJws()
else:
    common["sasl_plain_username"] = user
    common["sasl_plain_password"] = password
if protocol == "SASL_SSL":
    common["ssl_cafile"] = cafile
    common["ssl_check_hostname"] = True

producer = KafkaProducer(acks="all", linger_ms=5, **common)
futures = [producer.send(topic, key=b"k%d" % i, value=b"v%d" % i) for i in range(count)]
producer.flush(30)
for f in futures:
    f.get(timeout=10)
producer.close(10)

consumer = KafkaConsumer(consumer_timeout_ms=2000, enable_auto_commit=False, **common)
partitions = consumer.partitions_for_topic(topic)
consumer.assign([TopicPartition(topic, p) for p in partitions])
consumer.seek_to_beginning()
seen = set()
deadline = time.time() + 30
while len(seen) < count and time.time() < deadline:
    for records in consumer.poll(timeout_ms=500).values():
        for r in records:
            seen.add((r.key, r.value))
consumer.close()
expected = {(b"k%d" % i, b"v%d" % i) for i in range(count)}
if seen != expected:
    print("missing %d, unexpected %d" % (len(expected - seen), len(seen - expected)))
    sys.exit(1)
print("consumed %d" % len(seen))
