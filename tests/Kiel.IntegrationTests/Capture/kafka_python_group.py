"""Joins a consumer group with kafka-python so that its JoinGroup and SyncGroup frames can be captured.

Usage: kafka_python_group.py BOOTSTRAP GROUP API_VERSION(e.g. 0,10,1) TOPIC [TOPIC...]
Polls until the member has an assignment (or 30 s pass), prints it as topic:partition lines, and closes.
Exits 2 when no assignment arrived.
"""
import sys
import time
from kafka import KafkaConsumer

bootstrap, group, api = sys.argv[1:4]
topics = sys.argv[4:]
consumer = KafkaConsumer(
    bootstrap_servers=bootstrap,
    group_id=group,
    api_version=tuple(int(x) for x in api.split(",")),
    session_timeout_ms=6000,
    heartbeat_interval_ms=500,
    enable_auto_commit=False,
    auto_offset_reset="earliest",
)
consumer.subscribe(topics)
deadline = time.time() + 30
assigned = set()
while time.time() < deadline and not assigned:
    consumer.poll(timeout_ms=200)
    assigned = consumer.assignment()
for tp in sorted(assigned):
    print("%s:%d" % (tp.topic, tp.partition))
sys.stdout.flush()
consumer.close(autocommit=False)
sys.exit(0 if assigned else 2)
