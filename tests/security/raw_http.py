"""HTTP/1.1 spoken byte by byte over a socket: requests no well-behaved client would send, and answers
read exactly as the server framed them, so that a test knows whether the connection survived."""

from __future__ import annotations

import contextlib
import socket
import time
from dataclasses import dataclass

from tests.security.conftest import RawResponse

Header = tuple[bytes, bytes]


@dataclass(frozen=True)
class RawRequest:
    """One request as bytes: the target is sent as it is, percent-encoding errors and all."""

    method: str
    target: bytes
    headers: tuple[Header, ...] = ()
    body: bytes | None = None

    def encode(self) -> bytes:
        names = {name.lower() for name, _ in self.headers}
        lines = [self.method.encode() + b" " + self.target + b" HTTP/1.1", b"Host: 127.0.0.1"]
        lines += [name + b": " + value for name, value in self.headers]
        if self.body is not None and b"content-length" not in names and b"transfer-encoding" not in names:
            lines.append(b"Content-Length: " + str(len(self.body)).encode())
        return b"\r\n".join(lines) + b"\r\n\r\n" + (self.body or b"")


class ConnectionClosed(Exception):
    """The server closed the connection before (or instead of) a complete answer."""


class RawConnection:
    """One keep-alive connection to 127.0.0.1:`port`."""

    def __init__(self, port: int, timeout_s: float = 15.0) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout_s)
        self._buffer = b""

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> RawConnection:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def send(self, data: bytes) -> None:
        """Send `data`; a server that answered and closed midway is not an error here (the answer is read
        next), as a client that keeps sending after a 413 would find."""
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.sock.sendall(data)

    def exchange(self, request: RawRequest) -> RawResponse:
        self.send(request.encode())
        return self.read_response(request.method)

    def _fill(self) -> None:
        try:
            chunk = self.sock.recv(65536)
        except ConnectionResetError:
            chunk = b""
        if not chunk:
            raise ConnectionClosed(f"closed by the server; unread: {self._buffer[:200]!r}")
        self._buffer += chunk

    def _take_until(self, marker: bytes) -> bytes:
        while marker not in self._buffer:
            self._fill()
        taken, _, self._buffer = self._buffer.partition(marker)
        return taken

    def _take(self, size: int) -> bytes:
        while len(self._buffer) < size:
            self._fill()
        taken, self._buffer = self._buffer[:size], self._buffer[size:]
        return taken

    def read_head(self) -> tuple[int, dict[str, str]]:
        """The status and headers of the next answer (1xx answers skipped)."""
        while True:
            head = self._take_until(b"\r\n\r\n").decode("latin-1")
            status_line, *header_lines = head.split("\r\n")
            status = int(status_line.split(" ", 2)[1])
            headers: dict[str, str] = {}
            for line in header_lines:
                name, _, value = line.partition(":")
                key = name.strip().lower()
                headers[key] = f"{headers[key]}, {value.strip()}" if key in headers else value.strip()
            if status >= 200:
                return status, headers

    def read_response(self, method: str = "GET") -> RawResponse:
        status, headers = self.read_head()
        return RawResponse(status, headers, self.read_body(method, status, headers))

    def read_body(self, method: str, status: int, headers: dict[str, str]) -> bytes:
        """The body of the answer whose head was just read, framed as the head says."""
        if method == "HEAD" or status in (204, 304):
            return b""
        if "chunked" in headers.get("transfer-encoding", ""):
            return self._read_chunked()
        if "content-length" in headers:
            return self._take(int(headers["content-length"]))
        return self._read_to_close()

    def _read_chunked(self) -> bytes:
        body = bytearray()
        while True:
            size = int(self._take_until(b"\r\n").split(b";")[0], 16)
            if size == 0:
                self._take_until(b"\r\n")
                return bytes(body)
            body += self._take(size)
            self._take(2)

    def _read_to_close(self) -> bytes:
        with_close = self._buffer
        try:
            while True:
                self._fill()
        except ConnectionClosed:
            with_close = self._buffer
        self._buffer = b""
        return with_close

    def _peek(self, wait_s: float) -> bytes | None:
        """What the server has sent and is not read yet (b"" once it closed), or None after `wait_s`."""
        if self._buffer:
            return self._buffer
        deadline = time.monotonic() + wait_s
        self.sock.settimeout(0.05)
        try:
            while True:
                try:
                    return self.sock.recv(65536, socket.MSG_PEEK)
                except TimeoutError:
                    if time.monotonic() >= deadline:
                        return None
                except ConnectionResetError:
                    return b""
        finally:
            self.sock.settimeout(15.0)

    def is_closed_by_server(self, wait_s: float = 0.0) -> bool:
        """Whether the server closes its side (nothing left to read, then EOF) within `wait_s`."""
        return self._peek(wait_s) == b""

    def answered(self, wait_s: float) -> bool:
        """Whether the server has started an answer within `wait_s`."""
        return bool(self._peek(wait_s))
