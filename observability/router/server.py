"""uvicorn's httptools protocol, sending each response in one write instead of two.

uvicorn writes a response's head when the app sends ``http.response.start`` and its body on
``http.response.body``: two ``send`` system calls, and with uvloop each runs holding the GIL.
In ingest profiles under load those two calls were 40% of the event loop's time, more than
validating and storing the alert. Here the writes made during one step of the event loop are
joined and sent once, at the end of that step (``call_soon``): the head and the body of a
response leave together, a few microseconds later than the head would have.
"""

from __future__ import annotations

import asyncio
from typing import Any, cast

try:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
except ImportError:  # pragma: no cover - httptools is part of uvicorn[standard]
    HttpToolsProtocol = None  # type: ignore[assignment,misc]


class CoalescingTransport:
    """A transport whose writes within one event-loop step go out as one."""

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._pending: list[bytes] = []

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not self._pending:
            self._loop.call_soon(self._flush)
        self._pending.append(bytes(data))

    def writelines(self, lines: Any) -> None:
        for data in lines:
            self.write(data)

    def _flush(self) -> None:
        if not self._pending:
            return
        data = b"".join(self._pending)
        self._pending.clear()
        if not self._transport.is_closing():
            self._transport.write(data)

    def get_write_buffer_size(self) -> int:
        return self._transport.get_write_buffer_size() + sum(map(len, self._pending))

    def close(self) -> None:
        self._flush()
        self._transport.close()

    def abort(self) -> None:
        self._pending.clear()
        self._transport.abort()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


if HttpToolsProtocol is not None:

    class CoalescingHttpToolsProtocol(HttpToolsProtocol):
        """Also closes a connection whose request headers take longer than
        ``header_timeout`` seconds to arrive (uvicorn has no such limit: a slowloris client
        holding partial headers kept its connection, and file descriptor, forever)."""

        header_timeout: float = 10.0
        _header_deadline: asyncio.TimerHandle | None = None

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            wrapped = CoalescingTransport(transport, self.loop)
            super().connection_made(cast(asyncio.Transport, wrapped))
            self._arm_header_deadline()

        def on_message_begin(self) -> None:
            super().on_message_begin()
            self._arm_header_deadline()

        def on_headers_complete(self) -> None:
            self._disarm_header_deadline()
            super().on_headers_complete()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm_header_deadline()
            super().connection_lost(exc)

        def _arm_header_deadline(self) -> None:
            self._disarm_header_deadline()
            self._header_deadline = self.loop.call_later(self.header_timeout, self._too_slow)

        def _disarm_header_deadline(self) -> None:
            if self._header_deadline is not None:
                self._header_deadline.cancel()
                self._header_deadline = None

        def _too_slow(self) -> None:
            self._header_deadline = None
            if not self.transport.is_closing():
                self.transport.close()


def http_protocol(header_timeout: float) -> Any:
    """What to give ``uvicorn.run(http=...)``: the coalescing protocol with this header-read
    timeout, or uvicorn's choice."""
    if HttpToolsProtocol is None:
        return "auto"
    return type(
        "RouterHttpProtocol", (CoalescingHttpToolsProtocol,), {"header_timeout": header_timeout}
    )
