"""Interop peer on the PyPI package `websockets` (its asyncio API), for tests/interop/run.sh.

    python peer.py client URL     run the fixed client script against an interop echo server
    python peer.py server         serve on 127.0.0.1 (any port), print `listening on ws://ADDR`

The client prints `PASS|FAIL|NOTE FEATURE detail` lines (the same features as
examples/interop_client.rs) and exits 1 on any FAIL. The server echoes, obeys `!ping P` and
`!close CODE REASON`, and prints `interop PATH EVENT ...` lines (like examples/echo_server.rs
--interop). Both use websockets' defaults for permessage-deflate. Every wait is bounded.
"""

import asyncio
import os
import sys

import websockets
from websockets.asyncio.client import ClientConnection, connect
from websockets.asyncio.server import ServerConnection, serve
from websockets.frames import Opcode

WAIT = 10
MIB = 1 << 20
TEXT = "héllo wörld ✓ 𝄞 😀 👍🏽 🇺🇦"  # 4-byte UTF-8 among 2- and 3-byte sequences


class CountingTransport:
    """Delegates to the real transport, counting bytes written."""

    def __init__(self, transport, conn):
        self._transport = transport
        self._conn = conn

    def write(self, data):
        self._conn.bytes_written += len(data)
        return self._transport.write(data)

    def writelines(self, chunks):
        for chunk in chunks:
            self.write(chunk)

    def __getattr__(self, name):
        return getattr(self._transport, name)


class Counting:
    """Mixin: count bytes on the wire both ways, record the pings received."""

    def connection_made(self, transport):
        self.bytes_read = 0
        self.bytes_written = 0
        self.pings = []
        super().connection_made(CountingTransport(transport, self))

    def data_received(self, data):
        self.bytes_read += len(data)
        super().data_received(data)

    def process_event(self, event):
        if getattr(event, "opcode", None) is Opcode.PING:
            self.pings.append(bytes(event.data))
        super().process_event(event)


class CountingClient(Counting, ClientConnection):
    pass


class CountingServer(Counting, ServerConnection):
    pass


FAILED = 0


def line(verdict, feature, detail):
    global FAILED
    if verdict == "FAIL":
        FAILED += 1
    print(f"{verdict} {feature} {detail}", flush=True)


def check(feature, ok, good, bad):
    line("PASS" if ok else "FAIL", feature, good if ok else bad)


def compressible(n):
    parts, size, i = [], 0, 0
    while size < n:
        s = f"The quick brown fox jumps over the lazy dog {i}. "
        parts.append(s)
        size += len(s)
        i += 1
    return "".join(parts)[:n]


def kind(m):
    return "text" if isinstance(m, str) else "binary"


async def echo(ws, feature, message):
    await ws.send(message)
    back = await asyncio.wait_for(ws.recv(), WAIT)
    size = lambda m: len(m.encode()) if isinstance(m, str) else len(m)
    check(feature, back == message,
          f"{size(message)} bytes echoed identical ({kind(message)})",
          f"sent {size(message)} bytes ({kind(message)}), got {size(back)} ({kind(back)}) that differ")


def dial(url):
    return connect(url, create_connection=CountingClient, max_size=64 * MIB,
                   ping_interval=None, open_timeout=WAIT, close_timeout=WAIT)


async def data_checks(base):
    async with dial(base + "/data") as ws:
        ext = ws.response.headers.get("Sec-WebSocket-Extensions", "")
        names = [e.name for e in ws.protocol.extensions]
        check("deflate-negotiated", "permessage-deflate" in names,
              f"Sec-WebSocket-Extensions: {ext}", f"not negotiated: {ext!r}")
        await echo(ws, "text-utf8", TEXT)
        await echo(ws, "binary", bytes(range(256)))
        # Text in three frames, split inside 4-byte characters (𝄞 at byte 18, 😀 at 23 of
        # TEXT), the first frame over ws's 1 KiB compression threshold.
        whole = (TEXT * 100).encode()
        x, y = 30 * len(TEXT.encode()) + 18 + 2, 70 * len(TEXT.encode()) + 23 + 1
        w0 = ws.bytes_written
        await ws.send([whole[:x], whole[x:y], whole[y:]], text=True)
        sent = ws.bytes_written - w0
        back = await asyncio.wait_for(ws.recv(), WAIT)
        check("fragmented", back == whole.decode(),
              f"{len(whole)} bytes in 3 frames split at {x} and {y} ({sent} bytes on the wire), echoed identical",
              f"echo differs: {back!r:.80}")
        await echo(ws, "1MiB", os.urandom(MIB))

        pong = await ws.ping(b"client-ping-1")  # resolves only on a pong with this payload
        try:
            await asyncio.wait_for(pong, WAIT)
            line("PASS", "ping-by-client", "pong with the same payload")
        except (asyncio.TimeoutError, websockets.ConnectionClosed) as e:
            line("FAIL", "ping-by-client", f"no matching pong: {e!r}")

        ws.pings.clear()
        await ws.send("!ping server-ping-1")
        back = await asyncio.wait_for(ws.recv(), WAIT)
        check("ping-by-server", b"server-ping-1" in ws.pings and back == "pong server-ping-1",
              "ping seen, server got our pong", f"pings seen {ws.pings}, server said {back!r}")

        text = compressible(MIB)
        r0, w0 = ws.bytes_read, ws.bytes_written
        await echo(ws, "deflate-roundtrip", text)
        wire("deflate-wire-c2s", "we sent", ws.bytes_written - w0, ext)
        wire("deflate-wire-s2c", "we received", ws.bytes_read - r0, ext)


def wire(feature, what, n, ext):
    detail = f"{what} {n} bytes on the wire for a 1048576-byte compressible message"
    line("PASS" if n < MIB // 4 else "FAIL", feature, detail)


async def close_by_client(base):
    async with dial(base + "/close-by-client") as ws:
        await ws.close(4000, "bye")
        rcvd, sent = ws.protocol.close_rcvd, ws.protocol.close_sent
        check("close-by-client", rcvd is not None and sent is not None,
              f"clean; server answered {rcvd.code if rcvd else None} {rcvd.reason if rcvd else None!r}",
              f"not clean: sent {sent}, received {rcvd}")


async def close_by_server(base):
    async with dial(base + "/close-by-server") as ws:
        await ws.send("!close 4000 bye")
        try:
            extra = await asyncio.wait_for(ws.recv(), WAIT)
            line("FAIL", "close-by-server", f"a message instead of the close: {extra!r}")
            return
        except websockets.ConnectionClosed:
            pass
        await asyncio.wait_for(ws.wait_closed(), WAIT)
        rcvd, sent = ws.protocol.close_rcvd, ws.protocol.close_sent
        ok = rcvd is not None and sent is not None and rcvd.code == 4000 and rcvd.reason == "bye"
        check("close-by-server", ok, f"clean, got {rcvd.code} {rcvd.reason!r}" if ok else "",
              f"want clean 4000 'bye', got received {rcvd}, sent {sent}")


async def client(url):
    base = url.rstrip("/")
    for name, stage in (("data", data_checks), ("close-by-client", close_by_client),
                        ("close-by-server", close_by_server)):
        try:
            await asyncio.wait_for(stage(base), 6 * WAIT)
        except Exception as e:  # report, go on with the next stage
            line("FAIL", f"{name}-connection", repr(e))
    return 1 if FAILED else 0


async def handler(ws):
    path = ws.request.path
    ext = ws.response.headers.get("Sec-WebSocket-Extensions", "-")
    print(f"interop {path} open deflate={ext}", flush=True)
    try:
        async for message in ws:
            if isinstance(message, str) and message.startswith("!ping "):
                payload = message[len("!ping "):]
                pong = await ws.ping(payload.encode())
                await asyncio.wait_for(pong, WAIT)
                print(f"interop {path} pong {payload}", flush=True)
                await ws.send(f"pong {payload}")
            elif isinstance(message, str) and message.startswith("!close "):
                code, _, reason = message[len("!close "):].partition(" ")
                await ws.close(int(code), reason)
            else:
                await ws.send(message)
    except websockets.ConnectionClosed:
        pass
    for p in ws.pings:
        print(f"interop {path} ping {p.decode(errors='replace')}", flush=True)
    rcvd, sent = ws.protocol.close_rcvd, ws.protocol.close_sent
    if rcvd is not None:
        print(f"interop {path} closed {rcvd.code} {rcvd.reason} clean={str(sent is not None).lower()}", flush=True)
    else:
        print(f"interop {path} closed 1006  clean=False", flush=True)


async def server(lifetime):
    port = int(os.environ.get("INTEROP_PORT", "0"))  # 0: any
    async with serve(handler, "127.0.0.1", port, create_connection=CountingServer,
                     max_size=64 * MIB, ping_interval=None, close_timeout=WAIT) as srv:
        host, port = srv.sockets[0].getsockname()[:2]
        print(f"listening on ws://{host}:{port}", flush=True)
        await asyncio.sleep(lifetime)  # bounded: the script kills it sooner
    return 0


def main():
    if len(sys.argv) >= 3 and sys.argv[1] == "client":
        sys.exit(asyncio.run(client(sys.argv[2])))
    if len(sys.argv) >= 2 and sys.argv[1] == "server":
        sys.exit(asyncio.run(server(float(sys.argv[2]) if len(sys.argv) > 2 else 600)))
    print(__doc__, file=sys.stderr)
    sys.exit(2)


if __name__ == "__main__":
    main()
