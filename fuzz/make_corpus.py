#!/usr/bin/env python3
"""Writes the hand-made seed corpus under fuzz/corpus/<target>/ (run from anywhere).

Each target's input layout is documented in src/fuzz.rs; the leading bytes are settings.
"""
import os
import struct

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
KEY = [0x37, 0xFA, 0x21, 0x3D]


def mask(payload, key=KEY):
    return bytes(b ^ key[i % 4] for i, b in enumerate(payload))


def frame(opcode, payload=b"", fin=True, rsv=0, key=None, form=None, declared=None):
    n = len(payload) if declared is None else declared
    b0 = (0x80 if fin else 0) | (rsv << 4) | opcode
    m = 0x80 if key else 0
    if form is None:
        form = "short" if n < 126 else "medium" if n <= 0xFFFF else "long"
    if form == "short":
        head = bytes([b0, m | (n & 0x7F)])
    elif form == "medium":
        head = bytes([b0, m | 126]) + struct.pack(">H", n & 0xFFFF)
    else:
        head = bytes([b0, m | 127]) + struct.pack(">Q", n)
    if key:
        return head + bytes(key) + mask(payload, key)
    return head + payload


def close(code, reason=b""):
    return struct.pack(">H", code) + reason


def write(target, name, data):
    d = os.path.join(ROOT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


# RFC 6455 §5.7 examples.
HELLO = frame(1, b"Hello")
MASKED_HELLO = frame(1, b"Hello", key=KEY)
FRAG = frame(1, b"Hel", fin=False) + frame(0, b"lo")
PING = frame(9, b"Hello")
MASKED_PONG = frame(10, b"Hello", key=KEY)
BIN256 = frame(2, bytes(256))
BIN64K_HEAD = bytes([0x82, 0x7F, 0, 0, 0, 0, 0, 1, 0, 0])

# ---------------------------------------------------------------- frame_header
fh = {
    "rfc_hello": HELLO[:2],
    "rfc_masked_hello": MASKED_HELLO[:6],
    "rfc_256": BIN256[:4],
    "rfc_64k": BIN64K_HEAD,
    "medium_nonminimal": frame(1, b"hi", form="medium")[:4],
    "long_nonminimal": frame(1, b"hi", form="long")[:10],
    "long_masked_max": bytes([0x82, 0xFF]) + struct.pack(">Q", 2**63 - 1) + bytes(KEY),
    "long_top_bit": bytes([0x82, 0x7F]) + struct.pack(">Q", 2**63),
    "partial_medium": bytes([0x82, 0x7E, 0x01]),
    "rsv_reserved_opcode": bytes([0xF3, 0x00]),
    "ping_125_masked": bytes([0x89, 0xFD]) + bytes(KEY),
}
for k, v in fh.items():
    write("frame_header", k, v)

# ---------------------------------------------------------------- frame_decoder
# Layout: flags (bit0 server role, bit1 tiny limits, bit2 RSV1 allowed, bit3 no UTF-8
# check), two limit bytes, three chunking bytes, then the stream.
def dec(flags, stream, limits=(16, 32), chunks=(3, 200, 1)):
    return bytes([flags, *limits, *chunks]) + stream

fd = {
    "client_rfc_examples": dec(0, HELLO + FRAG + PING + BIN256 + frame(8, close(1000, b"bye"))),
    "server_rfc_examples": dec(1, MASKED_HELLO + MASKED_PONG + frame(8, close(1001), key=KEY)),
    "client_ping_between_fragments": dec(0, frame(1, b"frag", fin=False) + PING + frame(0, b"ment")),
    "client_utf8_split": dec(0, frame(1, "κό".encode()[:3], fin=False) + frame(0, "κό".encode()[3:])),
    "client_invalid_utf8": dec(0, frame(1, b"\xce\xba\xff")),
    "client_empty_frames": dec(0, frame(1, b"", fin=False) + frame(0, b"", fin=False) + frame(0, b"")),
    "client_masked_frame": dec(0, MASKED_HELLO),
    "server_unmasked_frame": dec(1, HELLO),
    "client_reserved_opcode": dec(0, frame(3, b"") + frame(0xB, b"")),
    "client_rsv1_allowed": dec(4, frame(1, b"\xff\x00", rsv=4) + frame(2, b"x", rsv=4)),
    "client_control_126": dec(0, frame(9, bytes(126))),
    "client_close_1_byte": dec(0, frame(8, b"\x03")),
    "client_close_1005": dec(0, frame(8, close(1005))),
    "client_close_bad_reason": dec(0, frame(8, close(1000, b"\xc3\x28"))),
    "client_continuation_first": dec(0, frame(0, b"x")),
    "client_text_inside_fragmented": dec(0, frame(1, b"a", fin=False) + frame(1, b"b")),
    "client_tiny_limits_frame": dec(2, frame(2, bytes(40))),
    "client_tiny_limits_fragments": dec(2, b"".join(frame(2 if i == 0 else 0, b"ab", fin=False) for i in range(20))),
    "client_huge_length_stall": dec(0, bytes([0x82, 0x7F, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]) + b"abc"),
    "client_64k_header_stall": dec(0, BIN64K_HEAD + bytes(range(200))),
    "server_nonminimal_lengths": dec(1, frame(1, b"hi", key=KEY, form="long") + frame(2, b"x", key=KEY, form="medium")),
    "client_no_utf8_check": dec(8, frame(1, b"\xff\xfe")),
}
for k, v in fd.items():
    write("frame_decoder", k, v)

# ---------------------------------------------------------------- handshake_server
# Layout: flags (bit0 tiny limits), two chunking bytes, then the request.
RFC_REQUEST = (b"GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\n"
               b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
               b"Origin: http://example.com\r\nSec-WebSocket-Protocol: chat, superchat\r\n"
               b"Sec-WebSocket-Version: 13\r\n\r\n")
CHROMIUM = (b"GET /socket?room=1 HTTP/1.1\r\nHost: localhost:8080\r\nConnection: Upgrade\r\n"
            b"Pragma: no-cache\r\nCache-Control: no-cache\r\n"
            b"User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36\r\n"
            b"Upgrade: websocket\r\nOrigin: http://localhost:8080\r\nSec-WebSocket-Version: 13\r\n"
            b"Accept-Encoding: gzip, deflate, br, zstd\r\nAccept-Language: en-US,en;q=0.9\r\n"
            b"Sec-WebSocket-Key: x3JJHMbDL1EzLkh9GBhXDw==\r\n"
            b"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n")
CURL = (b"GET / HTTP/1.1\r\nHost: localhost:9001\r\nUser-Agent: curl/8.5.0\r\nAccept: */*\r\n"
        b"Connection: Upgrade\r\nUpgrade: websocket\r\n\r\n")
hs = {
    "rfc_request": RFC_REQUEST,
    "chromium": CHROMIUM,
    "chromium_with_frame": CHROMIUM + MASKED_HELLO,
    "curl_probe": CURL,
    "plain_get": b"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
    "http10": RFC_REQUEST.replace(b"HTTP/1.1", b"HTTP/1.0"),
    "http2_preface": b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
    "post": RFC_REQUEST.replace(b"GET", b"POST"),
    "version_8": RFC_REQUEST.replace(b": 13", b": 8"),
    "bad_key": RFC_REQUEST.replace(b"dGhlIHNhbXBsZSBub25jZQ==", b"short=="),
    "ipv6_host": RFC_REQUEST.replace(b"server.example.com", b"[::1]:9001"),
    "lf_only": RFC_REQUEST.replace(b"\r\n", b"\n"),
    "leading_crlf": b"\r\n\r\n" + RFC_REQUEST,
    "content_length": RFC_REQUEST.replace(b"\r\n\r\n", b"\r\nContent-Length: 5\r\n\r\nhello"),
    "ext_params": RFC_REQUEST.replace(b"\r\n\r\n", b"\r\nSec-WebSocket-Extensions: x-a; p=\"q\", x-b ;y\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n"),
    "obs_fold": RFC_REQUEST.replace(b"Upgrade: websocket\r\n", b"Upgrade:\r\n websocket\r\n"),
    "tiny_limits": RFC_REQUEST,
}
for k, v in hs.items():
    prefix = bytes([1, 4, 3]) if k == "tiny_limits" else bytes([0, 5, 200])
    write("handshake_server", k, prefix + v)

# ---------------------------------------------------------------- handshake_client
# Layout: flags (bit0 tiny limits), two chunking bytes, then the response. The request
# offered "chat, superchat" and "permessage-deflate; client_max_window_bits, x-test" with
# the RFC 6455 sample key, so the accept value is s3pPLMBiTxaQ9kYGzzhZRbK+xOo=.
OK101 = (b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n")
hc = {
    "rfc_101": OK101 + b"\r\n",
    "101_with_frame": OK101 + b"\r\n" + HELLO,
    "101_protocol": OK101 + b"Sec-WebSocket-Protocol: chat\r\n\r\n",
    "101_unoffered_protocol": OK101 + b"Sec-WebSocket-Protocol: other\r\n\r\n",
    "101_deflate": OK101 + b"Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover\r\n\r\n",
    "101_bad_accept": OK101.replace(b"s3pP", b"AAAA") + b"\r\n",
    "101_no_upgrade": OK101.replace(b"Upgrade: websocket\r\n", b"") + b"\r\n",
    "302_redirect": b"HTTP/1.1 302 Found\r\nLocation: ws://elsewhere/\r\nContent-Length: 0\r\n\r\n",
    "400_bad_request": b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\n\r\nmissing Sec-WebSocket-Key header",
    "http10_101": OK101.replace(b"HTTP/1.1", b"HTTP/1.0") + b"\r\n",
    "garbage": b"SSH-2.0-OpenSSH_9.6\r\n\r\n",
}
for k, v in hc.items():
    write("handshake_client", k, bytes([0, 7, 130]) + v)

# ---------------------------------------------------------------- connection
# Layout: mode (bit0 single connection, bit1 server role when single), then two config
# pairs (flags, size), then operations (see src/fuzz.rs `connection` and `command`).
TEXT, BINARY, FRAGMENT, PINGOP, PONGOP, CLOSEOP, TIME, POLL, TRANSMIT = range(18, 27)
SERVER = 0x80


def blob(b):
    return bytes([len(b)]) + b


pair = {
    "pair_echo_close": bytes([0, 0, 0, 0, 0])
    + bytes([TEXT]) + blob(b"hello")
    + bytes([TRANSMIT, 255, SERVER | 0, 255, SERVER | POLL])
    + bytes([SERVER | BINARY]) + blob(b"\x00\x01\x02")
    + bytes([SERVER | TRANSMIT, 255, 0, 255, POLL])
    + bytes([CLOSEOP]) + b"\x03\xe8" + blob(b"bye")
    + bytes([TRANSMIT, 255, SERVER | 0, 255, SERVER | POLL, SERVER | TRANSMIT, 255, 0, 255, POLL]),
    "pair_fragments_and_pings": bytes([0, 8, 5, 8, 5])
    + bytes([FRAGMENT, 0, 1]) + blob("κόσμε".encode())
    + bytes([PINGOP]) + blob(b"p1")
    + bytes([FRAGMENT, 0, 0]) + blob(b" end")
    + bytes([TRANSMIT, 7, SERVER | 0, 3, SERVER | 0, 255, SERVER | POLL, SERVER | POLL, SERVER | TRANSMIT, 255]),
    "pair_tiny_limits": bytes([0, 1, 10, 1, 10])
    + bytes([BINARY]) + blob(bytes(64))
    + bytes([TRANSMIT, 255, SERVER | 0, 255, SERVER | POLL, SERVER | TRANSMIT, 255, 0, 255, POLL]),
    "pair_keepalive_timeout": bytes([0, 16, 2, 16, 2])
    + bytes([TIME, 0, 200, TRANSMIT, 255, TIME, 1, 0, POLL, SERVER | TIME, 2, 0]),
    "pair_big_server_message_partial_writes": bytes([0, 0, 0, 0, 0])
    + bytes([SERVER | BINARY]) + blob(b"\xff\x20xyz") + bytes([SERVER | TRANSMIT, 100, PINGOP]) + blob(b"p")
    + bytes([TRANSMIT, 255, SERVER | 0, 255, SERVER | POLL, SERVER | TRANSMIT, 255, SERVER | TRANSMIT, 255, 0, 255, POLL, POLL]),
    # data[2] odd: written through (`send_with`), the transport taking 6 bytes (the 4-byte
    # header and 2 of the payload); the rest by reference, a ping after it, all delivered.
    "pair_big_server_message_written_through": bytes([0, 0, 0, 0, 0])
    + bytes([SERVER | BINARY]) + blob(b"\xff\x20\x01yz") + b"\x00\x03" + bytes([SERVER | PINGOP]) + blob(b"p")
    + bytes([SERVER | TRANSMIT, 255] * 4 + [0, 255] * 110 + [POLL, POLL, POLL]),
    "pair_eof": bytes([0, 0, 0, 0, 0]) + bytes([TEXT]) + blob(b"x") + bytes([SERVER | 16, POLL, SERVER | POLL]),
    "pair_corrupt": bytes([0, 0, 0, 0, 0]) + bytes([SERVER | 17]) + blob(b"\x81\x05hello") + bytes([SERVER | POLL, SERVER | TRANSMIT, 255]),
}
single = {
    "client_rfc_stream": bytes([1, 0, 0, 0, 0]) + bytes([0]) + blob(HELLO + FRAG + PING + frame(8, close(1000))),
    "client_invalid_utf8": bytes([1, 0, 0, 0, 0]) + bytes([0]) + blob(frame(1, b"\xff")),
    "client_send_poll_transmit": bytes([1, 0, 0, 0, 0]) + bytes([7]) + blob(b"hi") + bytes([15, 3, 15, 255])
    + bytes([0]) + blob(frame(8, close(1000))) + bytes([14, 15, 255]),
    "client_bad_close": bytes([1, 0, 0, 0, 0]) + bytes([0]) + blob(frame(8, b"\x03")),
    "client_control_126": bytes([1, 0, 0, 0, 0]) + bytes([0]) + blob(frame(9, bytes(126))),
    "client_huge_declared": bytes([1, 1, 40, 0, 0]) + bytes([0]) + blob(bytes([0x82, 0x7F, 0, 0, 0, 1, 0, 0, 0, 0])),
    "server_masked_stream": bytes([3, 0, 0, 0, 0]) + bytes([0]) + blob(MASKED_HELLO + MASKED_PONG)
    + bytes([0]) + blob(frame(8, close(1000, b"ok"), key=KEY)),
    "server_unmasked": bytes([3, 0, 0, 0, 0]) + bytes([0]) + blob(HELLO),
    "server_send_then_garbage": bytes([3, 0, 0, 0, 0]) + bytes([7]) + blob(b"hi")
    + bytes([0]) + blob(b"\xff\xff\xff\xff"),
}
for k, v in {**pair, **single}.items():
    write("connection", k, v)

# ---------------------------------------------------------------- round_trip
# Layout: flags (bit0 server sends, bit1 streaming, bit2 split frames), frame size, three
# chunking bytes, then items: 0 text, 1 binary, 2 fragmented (kind, text, 2 chunk bytes),
# 3 ping (length, bytes).
rt = {
    "client_text_binary": bytes([0, 0, 3, 1, 200]) + b"\x00" + blob(b"Hello") + b"\x01" + blob(bytes(range(200))),
    "server_streaming_split": bytes([7, 5, 1, 2, 3]) + b"\x00" + blob("κόσμε κόσμε".encode()) + b"\x03\x04ping",
    "client_fragmented_text": bytes([4, 3, 2, 9, 130]) + b"\x02\x00" + blob("日本語テキスト".encode()) + b"\x01\x02" + b"\x03\x00",
    "server_empty_messages": bytes([1, 0, 1, 1, 1]) + b"\x00\x00\x01\x00\x02\x01\x00\x00\x00",
    "server_big_owned_and_ping": bytes([1, 0, 0, 7, 255]) + b"\x01" + blob(b"\xff\x10abc") + b"\x03\x02hi" + b"\x00" + blob(b"after"),
    "client_many_pings": bytes([0, 0, 5, 5, 5]) + b"".join(b"\x03\x03p" + bytes([48 + i]) + b"x" for i in range(12)),
    # flags bit3: permessage-deflate on both sides (settings from the frame-size byte).
    "client_deflate": bytes([8, 0x10, 3, 1, 200]) + b"\x00" + blob(b"Hello Hello Hello Hello") + b"\x01" + blob(bytes(200)),
    "server_deflate_split_reset": bytes([13, 0x13, 2, 5, 9]) + b"\x00" + blob("κόσμε κόσμε κόσμε".encode()) + b"\x03\x02hi",
}
for k, v in rt.items():
    write("round_trip", k, v)

# ---------------------------------------------------------------- deflate
# Layout: flags (bit0 streaming), limit/64, settings byte, four chunking bytes, then items:
# kind (bit0: a valid message from our compressor, its payload repeated kind>>4 + 1 times;
# bit1 text; bit2 RSV1 off), length, payload bytes.
HELLO_DEFLATE = bytes([0xF2, 0x48, 0xCD, 0xC9, 0xC9, 0x07, 0x00])  # RFC 7692 §7.2.3.1
dfl = {
    "rfc7692_hello_text": bytes([0, 4, 0, 0, 0, 0, 0]) + bytes([2, len(HELLO_DEFLATE)]) + HELLO_DEFLATE,
    "valid_then_garbage": bytes([0, 16, 0, 3, 1, 200, 7]) + bytes([1, 5]) + b"hello" + bytes([0, 4]) + b"\xff\xff\xff\xff",
    "bomb_small_limit": bytes([0, 1, 0, 0, 0, 0, 0]) + bytes([0xF1, 200]) + bytes(200),
    "stored_invalid_utf8": bytes([1, 4, 3, 1, 1, 1, 1]) + bytes([2, 6, 0x00, 0x01, 0x00, 0xFE, 0xFF, 0xFF]),
    "plain_text_with_deflate": bytes([0, 4, 0, 0, 0, 0, 0]) + bytes([6, 2]) + b"ok",
    "no_context_takeover_small_window": bytes([1, 255, 0x83, 2, 9, 2, 9]) + bytes([0x31, 40]) + b"abcdefgh" * 5 + bytes([0x31, 40]) + b"abcdefgh" * 5,
}
for k, v in dfl.items():
    write("deflate", k, v)

# ---------------------------------------------------------------- fixed
# Layout: flags (bit0 client, bit1 small limits, bit2 streaming, bit3 no auto-pong, bit4 a
# small write buffer: 131 + (the u16 >> 5) % 270 bytes), read buffer size above the minimum
# (u16, mod 2048), [with bit1: max frame size / 8, max message size (u16), max fragments],
# eight chunking bytes, then the peer's bytes as they arrive.
WHOLE = bytes(8)
SMALL_READS = bytes([3, 200, 1, 7, 90, 2, 5, 130])
big = bytes(range(256)) * 2
fx = {
    "server_messages_pings_close": bytes([0, 0, 0]) + WHOLE
    + frame(1, b"Hello", key=KEY) + frame(9, b"ping", key=KEY)
    + frame(2, big[:200], fin=False, key=KEY) + frame(9, b"", key=KEY)
    + frame(0, big[200:400], fin=False, key=KEY) + frame(0, big[400:], key=KEY)
    + frame(8, close(1000, b"bye"), key=KEY),
    "client_streamed_small_reads": bytes([1, 0, 20]) + SMALL_READS
    + frame(1, ("κόσμε" * 40).encode()) + frame(10, b"pong") + frame(2, big) + frame(8, close(4000)),
    "server_limits_1009": bytes([2, 0, 0, 4, 0, 200, 3]) + WHOLE
    + frame(2, big[:20], key=KEY) + frame(2, big[:100], key=KEY),
    "server_streaming_bad_utf8": bytes([4, 0, 0]) + SMALL_READS
    + frame(1, b"valid ", fin=False, key=KEY) + frame(0, b"\xce\xba\xff", key=KEY),
    "client_protocol_errors": bytes([9, 1, 0]) + WHOLE
    + frame(9, b"x" * 10) + frame(0, b"orphan") + frame(1, b"never"),
    # 131-byte write buffers (u16 8640), 579-byte read buffers: pongs of pings read together wait
    # for room and coalesce.
    "server_ping_flood_small_write": bytes([16, 0x21, 0xC0]) + WHOLE
    + b"".join(frame(9, bytes([i]) * 125, key=KEY) for i in range(6))
    + frame(8, close(1000, b"bye"), key=KEY),
    "client_ping_flood_small_write": bytes([17, 0x21, 0xC0]) + SMALL_READS
    + b"".join(frame(9, bytes([i]) * (120 + i)) for i in range(6)) + frame(0, b"orphan"),
}
for k, v in fx.items():
    write("fixed", k, v)

for t in sorted(os.listdir(ROOT)):
    files = os.listdir(os.path.join(ROOT, t))
    size = sum(os.path.getsize(os.path.join(ROOT, t, f)) for f in files)
    print(f"{t}: {len(files)} files, {size} bytes")
