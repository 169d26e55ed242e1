"""Decodes a record set file with kafka-python's own readers and prints one JSON object per record.

Usage: kafka_python_decode.py FILE
kafka-python picks DefaultRecordBatch (magic 2) or LegacyRecordBatch (magic 0/1) by the magic byte and checks the
CRC of each batch (magic 2) or message (magic 0/1, including the wrapper of a compressed set).
"""
import json
import sys
from kafka.record.default_records import DefaultRecordBatch
from kafka.record.memory_records import MemoryRecords


def hexornull(b):
    return None if b is None else bytes(b).hex()


records = MemoryRecords(open(sys.argv[1], "rb").read())
while records.has_next():
    batch = records.next_batch()
    if not batch.validate_crc():
        print(json.dumps({"error": "crc"}))
        sys.exit(2)
    for rec in batch:
        print(json.dumps({
            "magic": batch.magic if isinstance(batch, DefaultRecordBatch) else batch._magic,
            "offset": rec.offset,
            "timestamp": rec.timestamp,
            "key": hexornull(rec.key),
            "value": hexornull(rec.value),
            "headers": [[k, hexornull(v)] for k, v in (rec.headers or [])],
        }))
