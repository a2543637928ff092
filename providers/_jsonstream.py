"""A streaming walker over one large JSON document, for files too big to ``json.load``.

Why not ``ijson``: the only document we stream is the AWS bulk offer file, whose shape is a few
huge objects (``products``, ``terms``) of many small records. Walking the big objects member by
member and decoding each small record with the C-accelerated ``json`` decoder keeps memory at
one read chunk plus one record, runs at ``json`` speed, and needs no extra dependency.
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Iterator
from typing import IO, Any

_WHITESPACE = re.compile(r"[ \t\n\r]*")
_NUMBER_END = frozenset(",]} \t\n\r")


class JsonStreamError(ValueError):
    """The document is truncated, malformed or not shaped as the caller expects."""


class JsonStream:
    """Pull-style access to a JSON document read from ``stream`` in chunks.

    ``members()`` iterates the keys of the object at the cursor; after each key the caller must
    consume its value with ``value()`` (decode it), ``members()``/``items()`` (descend) or
    ``skip()`` (discard, streaming through containers).
    """

    def __init__(self, stream: IO[bytes] | IO[str], *, chunk_size: int = 1 << 16,
                 max_value_chars: int = 32 << 20) -> None:
        self._read = stream.read
        self._decoder = codecs.getincrementaldecoder("utf-8")()
        self._chunk_size = chunk_size
        self._max_value_chars = max_value_chars
        self._buf = ""
        self._pos = 0
        self._consumed = 0  # characters dropped from the front of the buffer
        self._eof = False
        self._json = json.JSONDecoder()

    @property
    def offset(self) -> int:
        """Character offset of the cursor in the document (for error messages)."""
        return self._consumed + self._pos

    def _fill(self) -> bool:
        if self._eof:
            return False
        chunk = self._read(self._chunk_size)
        text = self._decoder.decode(chunk, final=not chunk) if isinstance(chunk, bytes) else chunk
        if not chunk:
            self._eof = True
        if self._pos:
            self._consumed += self._pos
            self._buf = self._buf[self._pos:]
            self._pos = 0
        self._buf += text
        return bool(chunk) or bool(text)

    def _skip_ws(self) -> None:
        while True:
            match = _WHITESPACE.match(self._buf, self._pos)
            self._pos = match.end() if match else self._pos
            if self._pos < len(self._buf) or not self._fill():
                return

    def peek(self) -> str:
        """The next non-blank character, or '' at the end of the document."""
        self._skip_ws()
        return self._buf[self._pos:self._pos + 1]

    def _expect(self, char: str) -> None:
        found = self.peek()
        if found != char:
            what = repr(found) if found else "the end of the data (truncated?)"
            raise JsonStreamError(f"expected {char!r} at character {self.offset}, found {what}")
        self._pos += 1

    def value(self) -> Any:
        """Decode the value at the cursor (keep these small: it is held in memory whole)."""
        self._skip_ws()
        while True:
            try:
                obj, end = self._json.raw_decode(self._buf, self._pos)
            except json.JSONDecodeError as exc:
                if len(self._buf) - self._pos > self._max_value_chars:
                    raise JsonStreamError(
                        f"invalid JSON at character {self._consumed + exc.pos}: {exc.msg}") from None
                if self._fill():
                    continue
                raise JsonStreamError(
                    f"truncated or invalid JSON at character {self._consumed + exc.pos}: {exc.msg}") from None
            # A number is only complete once a delimiter follows it: "250" may be "2500.0" after
            # the next chunk (strings, containers and literals end unambiguously).
            is_number = isinstance(obj, int | float) and not isinstance(obj, bool)
            if (is_number and (end >= len(self._buf) or self._buf[end] not in _NUMBER_END)
                    and not self._eof and self._fill()):
                continue
            self._pos = end
            return obj

    def members(self) -> Iterator[str]:
        """Keys of the object at the cursor, one at a time."""
        self._expect("{")
        if self.peek() == "}":
            self._pos += 1
            return
        while True:
            key = self.value()
            if not isinstance(key, str):
                raise JsonStreamError(f"expected an object key at character {self.offset}")
            self._expect(":")
            start = self.offset
            yield key
            if self.offset == start:
                raise JsonStreamError(f"the value of {key!r} was not consumed")  # a caller bug
            separator = self.peek()
            if separator == ",":
                self._pos += 1
                continue
            if separator == "}":
                self._pos += 1
                return
            what = repr(separator) if separator else "the end of the data (truncated?)"
            raise JsonStreamError(f"expected ',' or '}}' at character {self.offset}, found {what}")

    def items(self) -> Iterator[None]:
        """Positions the cursor on each element of the array at the cursor in turn."""
        self._expect("[")
        if self.peek() == "]":
            self._pos += 1
            return
        while True:
            yield None
            separator = self.peek()
            if separator == ",":
                self._pos += 1
                continue
            if separator == "]":
                self._pos += 1
                return
            what = repr(separator) if separator else "the end of the data (truncated?)"
            raise JsonStreamError(f"expected ',' or ']' at character {self.offset}, found {what}")

    def skip(self) -> None:
        """Discard the value at the cursor without holding a large container in memory."""
        char = self.peek()
        if char == "{":
            for _ in self.members():
                self.skip()
        elif char == "[":
            for _ in self.items():
                self.skip()
        else:
            self.value()

    def end(self) -> None:
        """Require that nothing but whitespace follows the document."""
        rest = self.peek()
        if rest:
            raise JsonStreamError(f"unexpected data after the document at character {self.offset}")
