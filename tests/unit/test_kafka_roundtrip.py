"""kafka.roundtrip's requests, encoded with kafka-python's protocol classes, decode back to what was meant."""

from __future__ import annotations

from kafka.protocol.producer import ProduceRequest
from kafka.record.memory_records import MemoryRecords

from ingresscheck.probes import registry
from ingresscheck.probes.kafka_roundtrip import PRODUCE_V, KafkaRoundtripProbe, produce_request


def test_the_produce_request_carries_one_record_with_the_value() -> None:
    # Given a produce request for one canary record, When it is decoded as Kafka would
    raw = produce_request("ingresscheck-canary-abc", b"hello")
    request = ProduceRequest.decode(raw, version=PRODUCE_V, header=True)
    (topic,) = request.topic_data
    (partition,) = topic.partition_data
    batch = MemoryRecords(bytes(partition.records)).next_batch()
    # Then it names the topic, partition 0, acks=all, and holds exactly the value
    assert topic.name == "ingresscheck-canary-abc" and partition.index == 0 and request.acks == -1
    assert [bytes(r.value) for r in batch] == [b"hello"]


def test_the_round_trip_is_a_registered_mutating_probe() -> None:
    # Given the registry, Then the round trip is in it and runs only with --allow-mutations
    assert KafkaRoundtripProbe in registry().values() and KafkaRoundtripProbe.mutates
    assert {c.id for c in KafkaRoundtripProbe.checks} == {"kafka.roundtrip", "kafka.roundtrip.cleanup"}
