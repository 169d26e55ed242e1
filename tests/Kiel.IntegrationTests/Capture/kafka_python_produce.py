"""Produces the capture scenario's records with kafka-python pinned to an old api_version (magic 0 or 1).

Usage: kafka_python_produce.py BOOTSTRAP TOPIC API_VERSION(e.g. 0,8,2) CODEC(none|gzip)
The embedded mock refuses compressed legacy wrappers (error 35); the request bytes are what the capture needs,
so send errors are printed, not fatal.
"""
import sys
from kafka import KafkaProducer

bootstrap, topic, api, codec = sys.argv[1:5]
api_version = tuple(int(x) for x in api.split(","))
T0 = 1700000000000
value3 = "".join(chr(ord("a") + i % 26) for i in range(300))
records = [
    ("k0", "value-0", T0),
    (None, "value-1", T0 + 1000),
    ("k2", None, T0 + 2000),
    ("k3", value3, T0 + 3000),
    ("", "", T0 + 4000),
]
producer = KafkaProducer(
    bootstrap_servers=bootstrap,
    api_version=api_version,
    compression_type=None if codec == "none" else codec,
    linger_ms=200,
    retries=0,
    acks=1,
)
futures = []
for key, value, ts in records:
    futures.append(producer.send(
        topic, partition=0,
        key=None if key is None else key.encode("utf-8"),
        value=None if value is None else value.encode("utf-8"),
        timestamp_ms=ts))
producer.flush(20)
for f in futures:
    try:
        f.get(timeout=5)
    except Exception as e:  # the mock answers compressed legacy sets with error 35
        print("send error:", repr(e))
producer.close(5)
