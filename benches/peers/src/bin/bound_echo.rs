//! The end-to-end benchmark's bound: the least work an echo over this runtime can do, the same
//! CLI contract as the crate's examples:
//!
//! ```text
//! cargo run --release -p rfc6455-peers --bin bound_echo -- 127.0.0.1:9019
//! ```
//!
//! **Not a WebSocket server.** After the upgrade (rfc6455's `accept`, once per connection) it
//! only does what every server must do for each message of `echo_load`: one read into a buffer
//! it keeps, the frame's length read from its header, the payload unmasked in place, and the
//! reply (an unmasked server header written over the end of the client's header, the payload
//! where it is) sent with one write: no copy, no allocation, no check of any rule (opcodes,
//! RSV bits, UTF-8, control frames, limits). What a real server adds to that (the library, its
//! checks, its buffers) is what the ratio `rfc6455 / bound` of `e2e.sh` shows: the headroom any
//! WebSocket library on the same runtime and kernel has left. Same runtime as every server of
//! `e2e.sh` (`#[tokio::main]`), one task per connection, `TCP_NODELAY`. A close frame gets its
//! echo and ends the connection; so does the end of the stream or anything it cannot parse.

use rfc6455::mask::apply_mask;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The largest frame it echoes (header included): the e2e rows go up to 16 KiB, `echo_load`
/// up to whatever `--size` says; anything longer ends the connection.
const BUF: usize = 1 << 20;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    rfc6455_peers::serve_each(echo).await
}

/// A complete client frame at the start of `input`: (opcode, header length, payload length).
fn frame(input: &[u8]) -> Option<(u8, usize, usize)> {
    let [b0, b1, ..] = *input else { return None };
    let (ext, len) = match b1 & 0x7f {
        126 => (
            2,
            u16::from_be_bytes(input.get(2..4)?.try_into().ok()?) as usize,
        ),
        127 => (
            8,
            usize::try_from(u64::from_be_bytes(input.get(2..10)?.try_into().ok()?)).ok()?,
        ),
        n => (0, n as usize),
    };
    let header: usize = 2 + ext + 4; // client frames are masked
    (input.len() >= header.checked_add(len)?).then_some((b0 & 0x0f, header, len))
}

async fn echo(stream: TcpStream) -> Result<(), Box<dyn std::error::Error>> {
    stream.set_nodelay(true)?;
    let ws = rfc6455::tokio::accept(stream).await?;
    let (mut stream, conn) = ws.into_parts();
    if conn.buffered_receive() > 0 {
        return Err("input after the upgrade request arrived with it (not handled here)".into());
    }
    let mut buf = vec![0u8; BUF];
    let mut filled = 0;
    loop {
        let n = stream.read(&mut buf[filled..]).await?;
        if n == 0 {
            return Ok(());
        }
        filled += n;
        let mut pos = 0;
        while let Some((opcode, header, len)) = frame(&buf[pos..filled]) {
            let ext = header - 6;
            let key: [u8; 4] = buf[pos + header - 4..pos + header].try_into()?;
            let payload = pos + header..pos + header + len;
            apply_mask(&mut buf[payload.clone()], key, 0);
            // The server's header (2 + ext bytes, FIN and the opcode, no mask bit) ends where the
            // client's did, so the reply is one contiguous slice. The extended length moves
            // first: when it is 8 bytes, the new first two bytes land on part of the old.
            let start = payload.start - 2 - ext;
            let b1 = buf[pos + 1] & 0x7f;
            buf.copy_within(pos + 2..pos + 2 + ext, start + 2);
            buf[start] = 0x80 | opcode;
            buf[start + 1] = b1;
            stream.write_all(&buf[start..payload.end]).await?;
            if opcode == 0x8 {
                return Ok(());
            }
            pos = payload.end;
        }
        if pos > 0 {
            buf.copy_within(pos..filled, 0);
            filled -= pos;
        }
        if filled == BUF {
            return Err("a frame longer than the buffer".into());
        }
    }
}
