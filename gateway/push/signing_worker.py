"""ES256 signatures made in a child process, so the ECDSA work leaves the event loop's core.

An ECDSA signature is most of what a push costs to sign (about 50 µs, with the GIL held), and
every push attempt needs a fresh one. The event loop builds each token's signing input itself
(cheap) and sends the inputs waiting at that moment to the child in one frame; while the child
signs them, new ones gather for the next frame, so a busy gateway sends large frames and an
idle one sends each input at once. A frame on the child's stdin is `[kid, key DER as hex,
[signing input, ...]]`, its answer on stdout the signatures in order, as hex; each frame is
preceded by its length (4 bytes, big-endian).

If the child dies, what it held is signed in this process, and so is everything after, with a
warning: a push is never held up by its signature.

`python -m gateway.push.signing_worker` is the child.
"""

from __future__ import annotations

import asyncio
import struct
import sys

import orjson
import structlog
from cryptography.hazmat.primitives.asymmetric import ec

from gateway.push.es256 import SigningKey, load_private_key, raw_signature

log = structlog.get_logger(__name__)

_LENGTH = struct.Struct(">I")
_Owed = tuple[SigningKey, bytes, "asyncio.Future[bytes]"]  # key, signing input, its signature


class SigningWorker:
    """The child process and the signatures it owes; `sign` awaits one signature."""

    def __init__(self) -> None:
        self._child: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task[None] | None = None
        self._waiting: list[_Owed] = []  # for the next frame
        self._sent: list[_Owed] = []  # in the frame the child is signing

    async def start(self) -> None:
        self._child = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "gateway.push.signing_worker",
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        self._reader = asyncio.create_task(self._read_answers(), name="signing-worker")

    async def close(self) -> None:
        """End the child (it finishes its frame first); what it still owed is signed here."""
        child, self._child = self._child, None
        if child is not None and child.stdin is not None:
            child.stdin.close()
            await child.wait()
        if self._reader is not None:
            await self._reader
        self._sign_here()

    def sign(self, key: SigningKey, signing_input: bytes) -> asyncio.Future[bytes]:
        """The raw ES256 signature (`r | s`) of `signing_input` with `key`."""
        future = asyncio.get_running_loop().create_future()
        if self._child is None:
            future.set_result(raw_signature(key.private_key, signing_input))
            return future
        self._waiting.append((key, signing_input, future))
        if not self._sent:
            self._send()
        return future

    def _send(self) -> None:
        """One frame of what waits, for one key (after a rotation the rest goes next)."""
        assert self._child is not None and self._child.stdin is not None
        key = self._waiting[0][0]
        self._sent = [owed for owed in self._waiting if owed[0] is key]
        self._waiting = [owed for owed in self._waiting if owed[0] is not key]
        inputs = [signing_input.decode() for _, signing_input, _ in self._sent]
        frame = orjson.dumps([key.kid, key.der.hex(), inputs])
        self._child.stdin.write(_LENGTH.pack(len(frame)) + frame)

    async def _read_answers(self) -> None:
        assert self._child is not None and self._child.stdout is not None
        stdout = self._child.stdout
        try:
            while True:
                (size,) = _LENGTH.unpack(await stdout.readexactly(_LENGTH.size))
                signatures = orjson.loads(await stdout.readexactly(size))
                sent, self._sent = self._sent, []
                for (_, _, future), signature in zip(sent, signatures, strict=True):
                    if not future.done():
                        future.set_result(bytes.fromhex(signature))
                if self._waiting:
                    self._send()
        except (asyncio.IncompleteReadError, ConnectionError, ValueError) as error:
            if self._child is not None:  # lost, not closed
                log.warning("signing_worker_lost", error=type(error).__name__)
                self._child = None
            self._sign_here()

    def _sign_here(self) -> None:
        owed, self._sent, self._waiting = self._sent + self._waiting, [], []
        for key, signing_input, future in owed:
            if not future.done():
                future.set_result(raw_signature(key.private_key, signing_input))


def main() -> None:
    """The child: answer each frame on stdin with its signatures, until stdin ends."""
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    keys: dict[str, ec.EllipticCurvePrivateKey] = {}
    while header := stdin.read(_LENGTH.size):
        (size,) = _LENGTH.unpack(header)
        kid, der_hex, inputs = orjson.loads(stdin.read(size))
        if kid not in keys:
            keys[kid] = load_private_key(bytes.fromhex(der_hex))
        key = keys[kid]
        answer = orjson.dumps([raw_signature(key, item.encode()).hex() for item in inputs])
        stdout.write(_LENGTH.pack(len(answer)) + answer)
        stdout.flush()


if __name__ == "__main__":
    main()
