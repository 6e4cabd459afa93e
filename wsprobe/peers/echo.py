"""Echo server on the PyPI package `websockets` (asyncio API) with the library's defaults
(permessage-deflate on, max_size 1 MiB), for wsprobe/compare.sh.

    python echo.py [SECONDS]    serve on 127.0.0.1 (any port), print `listening on ws://ADDR`

Keepalive pings are turned off so they do not interleave with the cases' replies.
"""

import asyncio
import sys

import websockets
from websockets.asyncio.server import serve


async def echo(ws):
    try:
        async for message in ws:
            await ws.send(message)
    except websockets.ConnectionClosed:
        pass


async def main(lifetime):
    async with serve(echo, "127.0.0.1", 0, ping_interval=None) as srv:
        host, port = srv.sockets[0].getsockname()[:2]
        print(f"listening on ws://{host}:{port}", flush=True)
        await asyncio.sleep(lifetime)


if __name__ == "__main__":
    asyncio.run(main(float(sys.argv[1]) if len(sys.argv) > 1 else 600))
