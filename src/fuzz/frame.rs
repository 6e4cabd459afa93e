//! Targets `frame_header` and `frame_decoder`: the frame layer.

use super::*;

// ------------------------------------------------------------------------------------------
// frame_header

/// `FrameHeader::decode`: lengths add up, and encode ∘ decode is the identity on headers.
pub fn frame_header(data: &[u8]) {
    let decoded = FrameHeader::decode(data);
    // The length the header's own first two bytes announce.
    let needed = match data {
        [_, b1, ..] => {
            2 + match b1 & 0x7F {
                126 => 2,
                127 => 8,
                _ => 0,
            } + if b1 & 0x80 != 0 { 4 } else { 0 }
        }
        _ => 2,
    };
    match decoded {
        Err(e) => {
            assert_eq!(e, ProtocolError::InvalidLength);
            assert_eq!(data[1] & 0x7F, 127);
            assert!(data[2] & 0x80 != 0);
            assert!(is_close_code_for_errors(e.close_code()));
        }
        Ok(Status::Partial) => {
            assert!(
                data.len() < needed,
                "partial with {} of {needed}",
                data.len()
            );
        }
        Ok(Status::Complete((header, consumed))) => {
            assert_eq!(consumed, needed);
            assert!(consumed <= data.len());
            assert!(header.rsv <= 0b111);
            assert!(header.payload_len >> 63 == 0);
            assert_eq!(header.fin, data[0] & 0x80 != 0);
            assert_eq!(header.opcode.get(), data[0] & 0x0F);
            let minimal = match data[1] & 0x7F {
                126 => header.payload_len >= 126,
                127 => header.payload_len > 0xFFFF,
                _ => true,
            };
            // Re-encode in the minimal form.
            let (bytes, len) = header.to_bytes();
            assert_eq!(len, header.encoded_len());
            assert!(len <= consumed);
            if minimal {
                assert_eq!(consumed, header.encoded_len());
                assert_eq!(
                    &bytes[..len],
                    &data[..consumed],
                    "minimal form re-encodes exactly"
                );
            } else {
                assert!(len < consumed, "a non-minimal form is longer");
            }
            assert_eq!(
                FrameHeader::decode(&bytes[..len]),
                Ok(Status::Complete((header, len)))
            );
            // Every strict prefix is partial, and the encoder refuses short buffers.
            for k in 0..len {
                assert_eq!(FrameHeader::decode(&bytes[..k]), Ok(Status::Partial));
                let mut short = [0u8; 14];
                assert_eq!(header.encode(&mut short[..k]), None);
            }
            for k in 0..consumed {
                assert_eq!(FrameHeader::decode(&data[..k]), Ok(Status::Partial));
            }
        }
    }
}

// ------------------------------------------------------------------------------------------
// frame_decoder

/// A decoder event, owned and normalised so that different chunkings compare equal.
#[derive(Debug, Clone, PartialEq, Eq)]
enum DecEv {
    Message {
        opcode: OpCode,
        rsv: u8,
        data: Vec<u8>,
        frames: u32,
    },
    /// A control frame, with how many bytes of the current message had arrived before it.
    Ping(Vec<u8>, usize),
    Pong(Vec<u8>, usize),
    Close(Option<(u16, String)>, usize),
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct DecTrace {
    events: Vec<DecEv>,
    error: Option<ProtocolError>,
    /// The unfinished message's bytes (compared only when there was no error).
    partial: Vec<u8>,
}

/// Decode `chunks` with [`FrameDecoder::decode`], or with [`FrameDecoder::decode_in_place`]
/// (`in_place`), carrying what it leaves unconsumed into the next chunk.
fn run_decoder(config: DecoderConfig, role: Role, chunks: &[&[u8]], in_place: bool) -> DecTrace {
    let limits = config.limits;
    let mut decoder = FrameDecoder::with_config(role, config);
    let mut trace = DecTrace {
        events: Vec::new(),
        error: None,
        partial: Vec::new(),
    };
    let mut current: Option<(OpCode, u8, u32)> = None;
    let (mut bytes_in, mut bytes_out) = (0usize, 0usize);
    let mut carry = Vec::new();
    'chunks: for chunk in chunks {
        let mut buf = core::mem::take(&mut carry);
        buf.extend_from_slice(chunk);
        bytes_in += chunk.len();
        let mut pos = 0;
        loop {
            let rest = buf.len() - pos;
            let base = buf[pos..].as_ptr() as usize;
            let result = if in_place {
                decoder.decode_in_place(&mut buf[pos..])
            } else {
                decoder.decode(&mut buf[pos..])
            };
            let decoded = match result {
                Ok(d) => d,
                Err(e) => {
                    assert!(
                        is_close_code_for_errors(e.close_code()),
                        "{e:?} has close code {}",
                        e.close_code()
                    );
                    assert_eq!(decoder.error(), Some(e));
                    // Failed stays failed.
                    assert_eq!(decoder.decode(&mut [0x81, 0x00]).err(), Some(e));
                    trace.error = Some(e);
                    break 'chunks;
                }
            };
            let consumed = decoded.consumed;
            assert!(consumed <= rest, "consumed {consumed} of {rest}");
            let Some(event) = decoded.event else {
                if in_place {
                    // At most the start of a header and a control payload is left.
                    carry = buf[pos + consumed..].to_vec();
                    assert!(carry.len() < MAX_HEADER_LEN + MAX_CONTROL_PAYLOAD);
                } else {
                    assert_eq!(consumed, rest, "no event but input left over");
                }
                break;
            };
            assert!(consumed > 0, "an event without progress");
            match event {
                FrameEvent::Data(chunk) => {
                    let len = chunk.data.len();
                    // The chunk is the tail of input[..consumed], unmasked in place.
                    assert_eq!(chunk.data.as_ptr() as usize, base + consumed - len);
                    bytes_out += len;
                    assert!(bytes_out <= bytes_in, "more payload out than bytes in");
                    assert!(chunk.opcode == OpCode::TEXT || chunk.opcode == OpCode::BINARY);
                    assert_eq!(chunk.rsv & !config.allowed_rsv, 0);
                    assert_eq!(chunk.message_start, current.is_none());
                    let (opcode, rsv, frames) = current.get_or_insert((chunk.opcode, chunk.rsv, 0));
                    assert_eq!((*opcode, *rsv), (chunk.opcode, chunk.rsv));
                    trace.partial.extend_from_slice(chunk.data);
                    assert!(trace.partial.len() as u64 <= limits.max_message_size);
                    if chunk.frame_end {
                        *frames += 1;
                        assert!(*frames <= limits.max_fragments);
                    }
                    if chunk.message_end {
                        assert!(chunk.frame_end);
                        let (opcode, rsv, frames) = (*opcode, *rsv, *frames);
                        let data = core::mem::take(&mut trace.partial);
                        if opcode == OpCode::TEXT && rsv == 0 && config.validate_utf8 {
                            assert!(core::str::from_utf8(&data).is_ok(), "text is UTF-8");
                        }
                        trace.events.push(DecEv::Message {
                            opcode,
                            rsv,
                            data,
                            frames,
                        });
                        current = None;
                    }
                }
                FrameEvent::Ping(p) => {
                    assert!(p.len() <= MAX_CONTROL_PAYLOAD);
                    trace
                        .events
                        .push(DecEv::Ping(p.to_vec(), trace.partial.len()));
                }
                FrameEvent::Pong(p) => {
                    assert!(p.len() <= MAX_CONTROL_PAYLOAD);
                    trace
                        .events
                        .push(DecEv::Pong(p.to_vec(), trace.partial.len()));
                }
                FrameEvent::Close(c) => {
                    let owned = match c {
                        ClosePayload::Empty => None,
                        ClosePayload::Code(code, reason) => {
                            assert!(code.is_valid_on_wire());
                            assert!(reason.len() <= 123);
                            Some((code.get(), String::from(reason)))
                        }
                    };
                    trace.events.push(DecEv::Close(owned, trace.partial.len()));
                }
            }
            pos += consumed;
        }
    }
    if current.is_some() {
        // (The decoder is in a message as soon as its first header is read, before any
        // chunk of it is reported, so only this direction holds.)
        assert!(decoder.in_message());
    }
    trace
}

/// `FrameDecoder`, both roles, tiny and default limits, any chunking.
pub fn frame_decoder(data: &[u8]) {
    let [flags, l0, l1, c0, c1, c2, rest @ ..] = data else {
        return;
    };
    let role = if flags & 1 == 0 {
        Role::Client
    } else {
        Role::Server
    };
    let limits = if flags & 2 != 0 {
        Limits::DEFAULT
            .with_max_frame_size(u64::from(*l0))
            .with_max_message_size(u64::from(*l0) + u64::from(*l1))
            .with_max_fragments(u32::from(l1 % 16))
    } else {
        Limits::DEFAULT
    };
    let config = DecoderConfig::DEFAULT
        .with_limits(limits)
        .with_allowed_rsv(if flags & 4 != 0 { RSV1 } else { 0 })
        .with_validate_utf8(flags & 8 == 0);
    let whole = run_decoder(config, role, &[rest], false);
    let seed = [*c0, *c1, *c2];
    let chunks = Chunker::new(&seed).split(rest);
    // Both ways of decoding, in any chunking, agree.
    for in_place in [false, true] {
        compare_traces(&whole, &run_decoder(config, role, &chunks, in_place));
        if in_place {
            compare_traces(&whole, &run_decoder(config, role, &[rest], true));
        }
        if rest.len() <= 512 {
            let bytewise = run_decoder(config, role, &Chunker::new(&[1]).split(rest), in_place);
            compare_traces(&whole, &bytewise);
        }
    }
}

fn compare_traces(a: &DecTrace, b: &DecTrace) {
    assert_eq!(a.error, b.error, "whole and chunked disagree on the error");
    assert_eq!(
        a.events, b.events,
        "whole and chunked disagree on the events"
    );
    if a.error.is_none() {
        assert_eq!(a.partial, b.partial);
    }
}
