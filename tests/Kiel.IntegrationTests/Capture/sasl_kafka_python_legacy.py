"""Authenticates once with kafka-python 2.0.2 over SASL_PLAINTEXT/PLAIN as a 0.10.1 client (SaslHandshake v0, then
raw size-prefixed tokens, no SaslAuthenticate) and asks for the topic list. Used by SaslCaptureTests.

Usage: sasl_kafka_python_legacy.py BOOTSTRAP USER PASSWORD
Prints the number of topics the broker listed.
"""
import sys

from kafka import KafkaConsumer

bootstrap, user, password = sys.argv[1:4]
consumer = KafkaConsumer(
    bootstrap_servers=bootstrap,
    security_protocol="SASL_PLAINTEXT",
    sasl_mechanism="PLAIN",
    sasl_plain_username=user,
    sasl_plain_password=password,
    api_version=(0, 10, 1),
    request_timeout_ms=20000,
)
print(len(consumer.topics()))
consumer.close()
