"""Length-prefixed request/response exchanges over one connection (TCP, or TLS with SNI): the framing of
Kafka's protocol (and of others that send a 4-byte big-endian size before each message).

The caller builds and reads the messages with the protocol's own library (kafka-python's protocol classes
for Kafka); this module only dials through the network layer (per-address slot, deadline, TLS facts of the
connection) and moves frames: every payload is sent with its size, and one sized frame is read back per
payload, in order. A peer that closes early, sends a frame larger than the limit or stalls past the
deadline is an outcome naming its address and how many answers had come, never an exception.
"""

from __future__ import annotations

import asyncio
import struct
import time
from typing import TYPE_CHECKING

from ._attempt import Attempt, Outcome, Subject
from ._wire import WireError

if TYPE_CHECKING:
    from ._net import Net

MAX_FRAME = 16 << 20  # Kafka's default socket.request.max.bytes is 100 MiB; a probe's answers are small


async def exchange(
    net: Net,
    address: str,
    port: int,
    payloads: list[bytes],
    *,
    tls: bool,
    sni: str | None,
    max_frame: int = MAX_FRAME,
) -> Attempt:
    """Send each payload framed, read one frame per payload. ok: every answer came (``messages``)."""
    subject = Subject(address, port, sni=sni if tls else None, host=sni)
    timings: dict[str, float] = {}
    answers: list[bytes] = []
    async with net._slots[address]:
        try:
            channel = await net._dial(address, port, sni, net.context() if tls else None, timings)
        except WireError as exc:
            return Attempt("framed", subject, exc.outcome, exc.reason, exc.phase, timings)
        started = time.perf_counter()
        buffer = b""
        try:
            async with asyncio.timeout(net.timeout):
                for payload in payloads:
                    await channel.send(struct.pack(">i", len(payload)) + payload)
                    while True:
                        if len(buffer) >= 4:
                            size = struct.unpack(">i", buffer[:4])[0]
                            if size < 0 or size > max_frame:
                                raise WireError(
                                    Outcome.PROTOCOL_ERROR,
                                    "transfer",
                                    f"{channel.where} answered a frame of {size} bytes (limit {max_frame}): "
                                    f"not this protocol",
                                )
                            if len(buffer) >= 4 + size:
                                answers.append(buffer[4 : 4 + size])
                                buffer = buffer[4 + size :]
                                break
                        data = await channel.recv()
                        if not data:
                            raise WireError(
                                Outcome.RESET,
                                "wait",
                                f"{channel.where} closed the connection after {len(answers)} of "
                                f"{len(payloads)} answers",
                            )
                        buffer += data
        except TimeoutError:
            channel.close()
            timings["exchange"] = (time.perf_counter() - started) * 1000
            return Attempt(
                "framed",
                subject,
                Outcome.TIMEOUT,
                f"{channel.where} sent {len(answers)} of {len(payloads)} answers within {net.timeout:g} s",
                "wait",
                timings,
                tls=channel.tls,
                messages=tuple(answers),
            )
        except WireError as exc:
            channel.close()
            timings["exchange"] = (time.perf_counter() - started) * 1000
            return Attempt(
                "framed", subject, exc.outcome, exc.reason, exc.phase, timings, tls=channel.tls, messages=tuple(answers)
            )
    channel.close()
    timings["exchange"] = (time.perf_counter() - started) * 1000
    return Attempt("framed", subject, Outcome.OK, timings=timings, tls=channel.tls, messages=tuple(answers))
