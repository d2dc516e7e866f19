"""kafka_roundtrip: produce and consume one record through the exposed Kafka addresses (issue 25).

Per bootstrap address (the kafka probe's targets): CreateTopics of a canary topic (1 partition, 1 replica)
through the bootstrap, Metadata until the partition has a leader, Produce (acks=all) and Fetch of one
record on a connection to the leader by its advertised name (its SNI), then DeleteTopics through the
bootstrap, in a ``finally``: also when the run is cancelled (Ctrl-C, SIGTERM, the deadline). It creates
and deletes a topic, so it is ``mutates`` and runs only with ``--allow-mutations`` (the runner skips it,
saying so, without). The topic name carries a per-run nonce; it is evidence, the result's subject is the
bootstrap address. The protocol is kafka-python's protocol classes over ``Net.framed``.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from typing import Any

from kafka.protocol.admin import (
    CreateTopicsRequest,
    CreateTopicsResponse,
    DeleteTopicsRequest,
    DeleteTopicsResponse,
)
from kafka.protocol.consumer import FetchRequest, FetchResponse
from kafka.protocol.metadata import MetadataRequest, MetadataResponse
from kafka.protocol.producer import ProduceRequest, ProduceResponse
from kafka.record.memory_records import MemoryRecords, MemoryRecordsBuilder

from ..net import Attempt, where
from ..results import Severity, Step
from ._contract import CheckSpec, Probe, ProbeContext, Scope
from ._stream import not_completed
from .kafka import CLIENT_ID, METADATA_V, Bootstrap, bootstraps

CREATE_V = 5
DELETE_V = 5
PRODUCE_V = 8
FETCH_V = 11
TOPIC_PREFIX = "ingresscheck-canary-"
LEADER_WAIT_S = 15.0


def _encode(message: Any, correlation_id: int) -> bytes:
    message.with_header(correlation_id=correlation_id, client_id=CLIENT_ID)
    return bytes(message.encode(header=True))


def create_topic_request(topic: str) -> bytes:
    creatable = CreateTopicsRequest.CreatableTopic(
        name=topic, num_partitions=1, replication_factor=1, assignments=[], configs=[]
    )
    return _encode(CreateTopicsRequest[CREATE_V](topics=[creatable], timeout_ms=10000, validate_only=False), 11)


def delete_topic_request(topic: str) -> bytes:
    return _encode(DeleteTopicsRequest[DELETE_V](topic_names=[topic], timeout_ms=10000), 12)


def topic_metadata_request(topic: str) -> bytes:
    return _encode(
        MetadataRequest[METADATA_V](
            topics=[MetadataRequest.MetadataRequestTopic(name=topic)],
            allow_auto_topic_creation=False,
            include_topic_authorized_operations=False,
        ),
        13,
    )


def produce_request(topic: str, value: bytes) -> bytes:
    builder = MemoryRecordsBuilder(magic=2, compression_type=0, batch_size=1 << 16)
    builder.append(timestamp=int(time.time() * 1000), key=None, value=value, headers=[])
    builder.close()
    records = bytes(builder.buffer())
    partition = ProduceRequest.TopicProduceData.PartitionProduceData(index=0, records=records)
    data = ProduceRequest.TopicProduceData(name=topic, partition_data=[partition])
    return _encode(ProduceRequest[PRODUCE_V](transactional_id=None, acks=-1, timeout_ms=10000, topic_data=[data]), 14)


def fetch_request(topic: str, offset: int) -> bytes:
    partition = FetchRequest.FetchTopic.FetchPartition(
        partition=0, current_leader_epoch=-1, fetch_offset=offset, log_start_offset=-1, partition_max_bytes=1 << 20
    )
    return _encode(
        FetchRequest[FETCH_V](
            replica_id=-1,
            max_wait_ms=2000,
            min_bytes=1,
            max_bytes=1 << 20,
            isolation_level=0,
            session_id=0,
            session_epoch=-1,
            topics=[FetchRequest.FetchTopic(topic=topic, partitions=[partition])],
            forgotten_topics_data=[],
            rack_id="",
        ),
        15,
    )


def fetched_values(answer: Any) -> tuple[int, list[bytes]]:
    """The first partition's error code and the values of its records."""
    for topic in answer.responses:
        for p in topic.partitions:
            values: list[bytes] = []
            if p.records:
                records = MemoryRecords(bytes(p.records))
                while (batch := records.next_batch()) is not None:
                    values += [bytes(r.value) for r in batch if r.value is not None]
            return p.error_code, values
    return -1, []


class KafkaRoundtripProbe(Probe):
    name = "kafka_roundtrip"
    scope = Scope.CLUSTER
    mutates = True  # creates and deletes a canary topic
    checks = (
        CheckSpec(
            "kafka.roundtrip",
            Step.BACKEND,
            Severity.CRITICAL,
            "one record produced to a canary topic through the exposed addresses is consumed back; the topic is "
            "deleted afterwards (only with --allow-mutations)",
            "A record that is produced but cannot be consumed, or a topic that cannot be created, points at the "
            "named broker's route or its listener: check kafka.broker_route and the broker's advertised.listeners.",
        ),
        CheckSpec(
            "kafka.roundtrip.cleanup",
            Step.BACKEND,
            Severity.MAJOR,
            "the round trip's canary topic is deleted afterwards, also on Ctrl-C",
            "Delete the leftover topic (its name is in the evidence; prefix ingresscheck-canary-) with "
            "kafka-topics.sh --delete.",
        ),
    )

    async def run(self, ctx: ProbeContext) -> None:
        await asyncio.gather(*(self._roundtrip(ctx, b) for b in bootstraps(ctx)))

    async def _roundtrip(self, ctx: ProbeContext, b: Bootstrap) -> None:
        check, subject = "kafka.roundtrip", b.label
        addresses, source = await ctx.net.addresses_for(b.host, b.port)
        if not addresses:
            ctx.errored(check, f"{b.label}: no address for the bootstrap ({source})", subject=subject)
            return
        at = addresses[0]
        topic = f"{TOPIC_PREFIX}{secrets.token_hex(6)}"
        value = f"ingresscheck {topic}".encode()
        evidence: dict[str, Any] = {"topic": topic, "bootstrap": where(at, b.port)}
        try:  # from CreateTopics on a topic may exist: the finally deletes it
            if await self._create(ctx, b, at, topic, evidence):
                await self._produce_and_fetch(ctx, b, at, topic, value, evidence)
        finally:
            # also after a cancellation (Ctrl-C): this task was cancelled once, so it may still await
            deleted = await self._delete(ctx, b, at, topic)
            evidence["deleted"] = deleted
            if deleted not in ("deleted", "nothing to delete"):
                ctx.failed(
                    "kafka.roundtrip.cleanup",
                    f"{b.label}: canary topic {topic} was not deleted: {deleted}",
                    evidence=evidence,
                    subject=subject,
                )
            elif created_ok(ctx, subject):
                ctx.passed(
                    "kafka.roundtrip.cleanup",
                    f"{b.label}: the canary topic was deleted",
                    evidence=evidence,
                    subject=subject,
                )

    async def _call(self, ctx: ProbeContext, b: Bootstrap, address: str, host: str, payload: bytes) -> Attempt:
        return await ctx.net.framed(address, b.port, [payload], tls=b.tls, sni=host)

    async def _create(self, ctx: ProbeContext, b: Bootstrap, at: str, topic: str, evidence: dict[str, Any]) -> bool:
        attempt = await self._call(ctx, b, at, b.host, create_topic_request(topic))
        if not attempt.ok:
            not_completed(
                ctx, "kafka.roundtrip", attempt, subject=b.label, what=f"{b.label}: CreateTopics", evidence=evidence
            )
            return False
        answer = CreateTopicsResponse.decode(attempt.messages[0], version=CREATE_V, header=True)
        result = answer.topics[0]
        if result.error_code != 0:
            ctx.failed(
                "kafka.roundtrip",
                f"{b.label}: CreateTopics of the canary topic failed: error {result.error_code} "
                f"({result.error_message or 'no message'})",
                evidence=evidence,
                subject=b.label,
            )
            # no produce after a failed create (a pass would then contradict this fail); even error 36
            # (TOPIC_ALREADY_EXISTS: ours, by its nonce) leaves the topic to the caller's finally, which deletes it
            return False
        return True

    async def _leader(self, ctx: ProbeContext, b: Bootstrap, at: str, topic: str) -> tuple[int, str, int] | None:
        """(node id, advertised host, port) of partition 0's leader, once the metadata names one."""
        give_up = time.monotonic() + LEADER_WAIT_S
        while True:
            attempt = await self._call(ctx, b, at, b.host, topic_metadata_request(topic))
            if attempt.ok:
                answer = MetadataResponse.decode(attempt.messages[0], version=METADATA_V, header=True)
                brokers = {x.node_id: (x.host.lower(), x.port) for x in answer.brokers}
                for t in answer.topics:
                    for p in t.partitions:
                        if t.error_code == 0 and p.error_code == 0 and p.leader_id in brokers:
                            return (p.leader_id, *brokers[p.leader_id])
            if time.monotonic() > give_up:
                return None
            await asyncio.sleep(0.3)

    async def _produce_and_fetch(
        self, ctx: ProbeContext, b: Bootstrap, at: str, topic: str, value: bytes, evidence: dict[str, Any]
    ) -> None:
        check = "kafka.roundtrip"
        leader = await self._leader(ctx, b, at, topic)
        if leader is None:
            ctx.errored(
                check,
                f"{b.label}: the canary topic has no partition leader after {LEADER_WAIT_S:g} s",
                evidence=evidence,
                subject=b.label,
            )
            return
        node, host, port = leader
        broker = f"broker {node} ({host}:{port})"
        evidence["leader"] = broker
        addresses, _ = await ctx.net.addresses_for(host, port)
        if not addresses:
            ctx.failed(check, f"{b.label}: the leader {broker} does not resolve", evidence=evidence, subject=b.label)
            return
        dial = addresses[0]
        evidence["leader_at"] = where(dial, port)
        produced = await ctx.net.framed(dial, port, [produce_request(topic, value)], tls=b.tls, sni=host)
        if not produced.ok:
            not_completed(
                ctx, check, produced, subject=b.label, what=f"{b.label}: Produce to {broker}", evidence=evidence
            )
            return
        answer = ProduceResponse.decode(produced.messages[0], version=PRODUCE_V, header=True)
        part = answer.responses[0].partition_responses[0]
        if part.error_code != 0:
            ctx.failed(
                check,
                f"{b.label}: Produce to the leader {broker} failed: error {part.error_code}",
                evidence=evidence,
                subject=b.label,
            )
            return
        evidence["offset"] = part.base_offset
        fetched = await ctx.net.framed(dial, port, [fetch_request(topic, part.base_offset)], tls=b.tls, sni=host)
        values: list[bytes] = []
        error = -1
        if fetched.ok:
            try:
                error, values = fetched_values(FetchResponse.decode(fetched.messages[0], version=FETCH_V, header=True))
            except Exception as exc:  # noqa: BLE001 - any decoding failure: not consumed
                evidence["fetch_decode_error"] = f"{type(exc).__name__}: {exc}"
        evidence["fetch_error"] = error
        if value in values:
            ctx.passed(
                check,
                f"{b.label}: one record produced to and consumed from the canary topic on the leader {broker} "
                f"(offset {part.base_offset})",
                evidence={**_without_messages(fetched), **evidence},
                subject=b.label,
            )
        else:
            why = fetched.reason if not fetched.ok else f"Fetch error {error}, {len(values)} record(s)"
            ctx.failed(
                check,
                f"{b.label}: a record was produced to the leader {broker} (offset {part.base_offset}) but could "
                f"not be consumed from it: {why}",
                evidence={**_without_messages(fetched), **evidence},
                subject=b.label,
            )

    async def _delete(self, ctx: ProbeContext, b: Bootstrap, at: str, topic: str) -> str:
        attempt = await self._call(ctx, b, at, b.host, delete_topic_request(topic))
        if not attempt.ok:
            return attempt.reason or attempt.outcome.value
        answer = DeleteTopicsResponse.decode(attempt.messages[0], version=DELETE_V, header=True)
        code = answer.responses[0].error_code
        return {0: "deleted", 3: "nothing to delete"}.get(code, f"DeleteTopics error {code}")


def created_ok(ctx: ProbeContext, subject: str) -> bool:
    """Whether the round trip got as far as a verdict (a cleanup row belongs next to it)."""
    return any(r.check == "kafka.roundtrip" and r.subject == subject for r in ctx.results)


def _without_messages(attempt: Attempt) -> dict[str, Any]:
    """The attempt's evidence without the raw answers (the record batch is not for a report)."""
    return {k: v for k, v in attempt.evidence().items() if k != "messages"}
