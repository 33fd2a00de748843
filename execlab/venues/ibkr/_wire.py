"""The TWS API text protocol's framing and handshake, as the local venue speaks it.

Every message in both directions is a 4-byte big-endian length followed by a body of fields, each field terminated
by a NUL byte. The client opens with the magic ``API\\0`` and one framed ``v<min>..<max>[ <options>]``; the server
answers with exactly two fields, its version and its connection time, and only then may anything else be sent.
Field text follows the server conventions seen in real recordings: unset doubles as ``1.7976931348623157E308``,
unset integers as ``2147483647``, booleans as ``0``/``1``.
"""

from __future__ import annotations

import math
import re
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

__all__ = [
    "DEFAULT_SERVER_VERSION",
    "MAGIC",
    "MAX_MESSAGE_BYTES",
    "SUPPORTED_SERVER_VERSIONS",
    "UNSET_DOUBLE_TEXT",
    "UNSET_INTEGER",
    "UNSET_INTEGER_TEXT",
    "FrameReader",
    "Handshake",
    "HandshakeError",
    "connection_time",
    "field_text",
    "frame",
    "handshake_reply",
    "negotiate_version",
    "parse_handshake",
]

#: What a client sends before its first framed message.
MAGIC: Final = b"API\0"
#: The server version answered by default (what production negotiates with ib_async 2.1, whose range is 157..178).
DEFAULT_SERVER_VERSION: Final = 178
#: Server versions the venue can speak. 158 is left out on purpose: ib_async decodes an openOrder's ``duration``
#: from 159 while the official API sends it from 158. Nothing from 201 on (protobuf bodies).
SUPPORTED_SERVER_VERSIONS: Final = frozenset({157, 176, 178})
#: A frame longer than this is refused (the real gateway's limit is 16 MB as well).
MAX_MESSAGE_BYTES: Final = 16 * 1024 * 1024
UNSET_INTEGER: Final = 2**31 - 1
UNSET_INTEGER_TEXT: Final = str(UNSET_INTEGER)
UNSET_DOUBLE_TEXT: Final = "1.7976931348623157E308"

_LENGTH: Final = struct.Struct(">I")
_VERSION_RANGE: Final = re.compile(r"v(\d+)(?:\.\.(\d+))?(?: (.*))?", re.DOTALL)


class HandshakeError(ValueError):
    """The client's opening is not the TWS API handshake, or no version both sides speak."""


@dataclass(frozen=True, slots=True)
class Handshake:
    """What the client offered: its version range and connect options (e.g. ``+PACEAPI``)."""

    min_version: int
    max_version: int
    options: str = ""


def field_text(value: object) -> str:
    """One field as the server writes it: bools as 0/1, None as empty, inf as ``Infinite``, ints and text as
    they are, floats in their shortest round-trip form (``1.0``, ``0.25``)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        if math.isinf(value):
            return "Infinite" if value > 0 else "-Infinite"
        return repr(value)
    return str(value)


def frame(fields: Iterable[object]) -> bytes:
    """One message: the length prefix and the NUL-terminated fields."""
    body = "".join(field_text(f) + "\0" for f in fields).encode()
    return _LENGTH.pack(len(body)) + body


def _frame_body(body: bytes) -> bytes:
    return _LENGTH.pack(len(body)) + body


class FrameReader:
    """Splits a byte stream into messages (lists of field texts); feed it bytes as they arrive."""

    def __init__(self, max_bytes: int = MAX_MESSAGE_BYTES) -> None:
        self._buffer = bytearray()
        self._max = max_bytes

    def feed(self, data: bytes) -> list[list[str]]:
        """Add ``data``; return every message now complete, in order.

        Raises:
            ValueError: a frame announces more than the allowed length.
        """
        self._buffer += data
        out: list[list[str]] = []
        while len(self._buffer) >= 4:
            (size,) = _LENGTH.unpack_from(self._buffer)
            if size > self._max:
                raise ValueError(f"a frame of {size} bytes is longer than the allowed {self._max}")
            if len(self._buffer) < 4 + size:
                break
            body = bytes(self._buffer[4:4 + size])
            del self._buffer[:4 + size]
            out.append(split_fields(body))
        return out

    @property
    def pending(self) -> bytes:
        """Bytes received but not yet a whole message."""
        return bytes(self._buffer)


def split_fields(body: bytes) -> list[str]:
    """The fields of one message body (the text before each NUL; a missing final NUL keeps the tail)."""
    fields = body.decode(errors="backslashreplace").split("\0")
    if fields and fields[-1] == "":
        fields.pop()
    return fields


def parse_handshake(data: bytes) -> tuple[Handshake, bytes] | None:
    """The client's opening from the start of the stream, and the bytes after it; None while incomplete.

    Raises:
        HandshakeError: the stream does not start with ``API\\0`` or the version text is not ``v<min>..<max>``.
    """
    if len(data) < len(MAGIC):
        if not MAGIC.startswith(data):
            raise HandshakeError("the client did not open with the TWS API magic 'API\\0'")
        return None
    if not data.startswith(MAGIC):
        raise HandshakeError("the client did not open with the TWS API magic 'API\\0'")
    rest = data[len(MAGIC):]
    if len(rest) < 4:
        return None
    (size,) = _LENGTH.unpack_from(rest)
    if size > 1024:
        raise HandshakeError(f"the version message announces {size} bytes")
    if len(rest) < 4 + size:
        return None
    text = rest[4:4 + size].decode(errors="replace").rstrip("\0")
    match = _VERSION_RANGE.fullmatch(text)
    if match is None:
        raise HandshakeError(f"the version message {text!r} is not 'v<min>..<max>'")
    low = int(match.group(1))
    high = int(match.group(2) or low)
    if low > high:
        raise HandshakeError(f"the version range {low}..{high} is empty")
    return Handshake(low, high, match.group(3) or ""), rest[4 + size:]


def negotiate_version(offer: Handshake, preferred: int = DEFAULT_SERVER_VERSION,
                      supported: Sequence[int] | frozenset[int] = SUPPORTED_SERVER_VERSIONS) -> int:
    """The version to answer: ``preferred`` when the client's range holds it, else the highest supported one
    inside the range.

    Raises:
        HandshakeError: no supported version lies in the client's range.
    """
    if offer.min_version <= preferred <= offer.max_version and preferred in supported:
        return preferred
    inside = [v for v in supported if offer.min_version <= v <= offer.max_version]
    if not inside:
        raise HandshakeError(f"the client speaks {offer.min_version}..{offer.max_version}; this venue speaks "
                             f"{sorted(supported)}")
    return max(inside)


def connection_time(now: datetime | None = None) -> str:
    """The connection time as TWS writes it: ``YYYYMMDD HH:MM:SS UTC``."""
    now = (now or datetime.now(UTC)).astimezone(UTC)
    return now.strftime("%Y%m%d %H:%M:%S") + " UTC"


def handshake_reply(version: int, now: datetime | None = None) -> bytes:
    """The server's answer to the opening: exactly two fields, version and connection time."""
    return _frame_body(f"{version}\0{connection_time(now)}\0".encode())
