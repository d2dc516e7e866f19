"""kafka.roundtrip's requests, encoded with kafka-python's protocol classes, decode back to what was meant; its
verdicts against a small real broker (real sockets, real TLS via trustme)."""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

import trustme
from kafka.protocol.admin import CreateTopicsRequest, CreateTopicsResponse, DeleteTopicsRequest, DeleteTopicsResponse
from kafka.protocol.producer import ProduceRequest
from kafka.record.memory_records import MemoryRecords

from ingresscheck.probes import registry
from ingresscheck.probes.kafka_roundtrip import PRODUCE_V, KafkaRoundtripProbe, produce_request
from ingresscheck.profile import KafkaTarget, Resolve
from ingresscheck.results import Status

from .helpers import by_check, run_probes
from .test_tcp_kafka import _profile, tls_server


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


def test_a_create_topics_error_fails_once_produces_nothing_and_still_deletes_the_topic(tmp_path: Path) -> None:
    """Given a broker whose CreateTopics answers error 36 (TOPIC_ALREADY_EXISTS) for the canary topic, then
    kafka.roundtrip fails once naming the error, no Produce is sent (a pass would contradict the fail), and
    DeleteTopics is still sent for the topic, the cleanup row passing beside the fail."""
    ca = trustme.CA()
    seen: list[int] = []

    def answer(frame: bytes) -> bytes:
        api_key, version, correlation = struct.unpack(">hhi", frame[:8])
        seen.append(api_key)
        message: Any
        if api_key == 19:  # CreateTopics
            asked = CreateTopicsRequest.decode(frame, version=version, header=True).topics[0].name
            message = CreateTopicsResponse[version](
                throttle_time_ms=0,
                topics=[
                    CreateTopicsResponse.CreatableTopicResult(
                        name=asked,
                        error_code=36,
                        error_message=f"Topic '{asked}' already exists.",
                        topic_config_error_code=0,
                        num_partitions=-1,
                        replication_factor=-1,
                        configs=[],
                    )
                ],
            )
        elif api_key == 20:  # DeleteTopics
            asked = DeleteTopicsRequest.decode(frame, version=version, header=True).topic_names[0]
            message = DeleteTopicsResponse[version](
                throttle_time_ms=0,
                responses=[DeleteTopicsResponse.DeletableTopicResult(name=asked, error_code=0)],
            )
        else:
            raise AssertionError(f"unexpected request {api_key}")
        message.with_header(correlation_id=correlation)
        return bytes(message.encode(header=True))

    with tls_server(ca, ("bootstrap.kafka.test",), answer) as boot:
        profile = _profile(
            ca,
            tmp_path,
            [Resolve("bootstrap.kafka.test", boot, ("127.0.0.1",))],
            kafka=(KafkaTarget("bootstrap.kafka.test", boot, True, None),),
        )
        report = run_probes(["kafka_roundtrip"], profile, [], run={"allow_mutations": True})
    rows = [(r.check, r.status) for r in report.results if r.check.startswith("kafka.roundtrip")]
    assert rows.count(("kafka.roundtrip", Status.FAIL)) == 1 and ("kafka.roundtrip", Status.PASS) not in rows
    (fail,) = by_check(report, "kafka.roundtrip")
    assert "CreateTopics of the canary topic failed: error 36" in fail.message
    assert 0 not in seen and 1 not in seen, seen  # no Produce, no Fetch
    assert seen == [19, 20], seen
    (cleanup,) = by_check(report, "kafka.roundtrip.cleanup")
    assert cleanup.status is Status.PASS and cleanup.evidence["deleted"] == "deleted"
