//! WebSockets over HTTP/2 (RFC 8441): the extended CONNECT handshake.
//!
//! The HTTP/2 library (h2, hyper, …) owns the connection, the streams and HPACK; this module
//! checks an extended CONNECT request's pseudo-headers and headers, and says which fields the
//! answer carries. After a 2xx, run a [`Connection`](crate::Connection) over the stream's DATA
//! bytes exactly as over a TCP connection (RFC 8441 §5): same frames, masking included; the
//! stream's END_STREAM plays the part of TCP's FIN ([`Connection::receive_eof`]), and
//! `is_terminated` says when to end the stream.
//!
//! What changes from HTTP/1.1 (§4, §5): the request is `:method = CONNECT` with
//! `:protocol = websocket` and `:scheme`, `:path`, `:authority`, instead of `GET` with
//! `Upgrade`; there is no `Sec-WebSocket-Key` / `Sec-WebSocket-Accept`; success is any 2xx
//! (normally 200), not 101. `Origin`, `Sec-WebSocket-Version`, `Sec-WebSocket-Protocol` and
//! `Sec-WebSocket-Extensions` keep their RFC 6455 meaning. A server must first advertise
//! [`SETTINGS_ENABLE_CONNECT_PROTOCOL`] = 1 (with hyper: `enable_connect_protocol()`), and a
//! client sends the extended CONNECT only after its SETTINGS said so
//! ([`check_connect_protocol_enabled`]). `examples/h2` runs it all over the `h2` crate.
//!
//! ```
//! use rfc6455::h2::{self, ExtendedConnect};
//! use rfc6455::handshake::Header;
//!
//! let pseudo = ExtendedConnect {
//!     method: "CONNECT",
//!     protocol: Some("websocket"),
//!     scheme: Some("https"),
//!     path: Some("/chat"),
//!     authority: Some("example.com"),
//! };
//! let headers = [
//!     Header { name: "sec-websocket-version", value: b"13" },
//!     Header { name: "sec-websocket-protocol", value: b"chat, superchat" },
//!     Header { name: "origin", value: b"https://example.com" },
//! ];
//! let request = h2::validate(&pseudo, &headers).unwrap();
//! assert_eq!(request.path(), "/chat");
//! let response = request.accept(Some("chat"), None).unwrap();
//! assert_eq!(response.status(), 200);
//! assert_eq!(response.headers().collect::<Vec<_>>(), [("sec-websocket-protocol", "chat")]);
//! ```
//!
//! [`Connection::receive_eof`]: crate::Connection::receive_eof

use core::fmt;

use crate::handshake::{ExtensionOffer, Header, WriteError};
use crate::handshake::{
    header::{ExtensionIter, is_token, is_visible_ascii, list_elements, trim_ows},
    header_values,
};

/// The HTTP/2 setting a server sends (value 1) to allow extended CONNECT (RFC 8441 §3).
pub const SETTINGS_ENABLE_CONNECT_PROTOCOL: u16 = 0x8;

/// The `:protocol` value for WebSockets (RFC 8441 §4, IANA "HTTP Upgrade Token").
pub const PROTOCOL: &str = "websocket";

/// The pseudo-headers of a request, as the HTTP/2 library hands them over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExtendedConnect<'a> {
    /// `:method`.
    pub method: &'a str,
    /// `:protocol` (the extended CONNECT pseudo-header).
    pub protocol: Option<&'a str>,
    /// `:scheme`.
    pub scheme: Option<&'a str>,
    /// `:path`.
    pub path: Option<&'a str>,
    /// `:authority`.
    pub authority: Option<&'a str>,
}

/// Why a server refuses an extended CONNECT request. [`status`](Self::status) is the HTTP
/// status to answer with; a refused stream is then ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum H2HandshakeError {
    /// `:method` is not CONNECT. 405.
    NotConnect,
    /// A CONNECT without `:protocol`: a plain tunnel request, not a WebSocket. 400.
    MissingProtocol,
    /// `:protocol` is not `websocket`. 400.
    UnsupportedProtocol,
    /// `:scheme`, `:path` or `:authority` is missing or empty (RFC 8441 §4). 400.
    MissingPseudoHeader,
    /// No `sec-websocket-version` header. 400, with `sec-websocket-version: 13`.
    MissingVersion,
    /// `sec-websocket-version` is not 13 (or repeated). 400, with `sec-websocket-version: 13`.
    UnsupportedVersion,
    /// A `sec-websocket-protocol` element that is not a token. 400.
    InvalidProtocolList,
    /// A `sec-websocket-extensions` value that breaks RFC 6455 §9.1's grammar. 400.
    InvalidExtensions,
    /// More than one `origin`, or one outside visible ASCII. 400.
    InvalidOrigin,
    /// A connection-specific header (`connection`, `upgrade`, `keep-alive`,
    /// `proxy-connection`, `transfer-encoding`): malformed in HTTP/2 (RFC 9113 §8.2.2). 400.
    ConnectionSpecificHeader,
}

impl H2HandshakeError {
    /// The HTTP status code to answer with.
    pub const fn status(&self) -> u16 {
        match self {
            H2HandshakeError::NotConnect => 405,
            _ => 400,
        }
    }

    /// A one-line explanation, for the response body or a log.
    pub const fn reason(&self) -> &'static str {
        match self {
            H2HandshakeError::NotConnect => "WebSockets over HTTP/2 need :method CONNECT",
            H2HandshakeError::MissingProtocol => "missing :protocol pseudo-header",
            H2HandshakeError::UnsupportedProtocol => ":protocol is not websocket",
            H2HandshakeError::MissingPseudoHeader => "missing :scheme, :path or :authority",
            H2HandshakeError::MissingVersion => "missing sec-websocket-version header",
            H2HandshakeError::UnsupportedVersion => {
                "unsupported sec-websocket-version, 13 required"
            }
            H2HandshakeError::InvalidProtocolList => "invalid sec-websocket-protocol header",
            H2HandshakeError::InvalidExtensions => "invalid sec-websocket-extensions header",
            H2HandshakeError::InvalidOrigin => "invalid origin header",
            H2HandshakeError::ConnectionSpecificHeader => {
                "connection-specific header in an HTTP/2 request"
            }
        }
    }

    /// Headers the answer must carry (RFC 6455 §4.4: the versions we speak).
    pub const fn headers(&self) -> &'static [(&'static str, &'static str)] {
        match self {
            H2HandshakeError::MissingVersion | H2HandshakeError::UnsupportedVersion => {
                &[("sec-websocket-version", "13")]
            }
            _ => &[],
        }
    }
}

impl fmt::Display for H2HandshakeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.reason(), self.status())
    }
}

impl core::error::Error for H2HandshakeError {}

/// A valid extended CONNECT request for a WebSocket.
#[derive(Debug, Clone, Copy)]
pub struct H2Request<'a> {
    scheme: &'a str,
    path: &'a str,
    authority: &'a str,
    headers: &'a [Header<'a>],
}

/// Check an extended CONNECT request (RFC 8441 §4, §5; RFC 6455 §4.2.1 for the rest).
pub fn validate<'a>(
    pseudo: &ExtendedConnect<'a>,
    headers: &'a [Header<'a>],
) -> Result<H2Request<'a>, H2HandshakeError> {
    if pseudo.method != "CONNECT" {
        return Err(H2HandshakeError::NotConnect);
    }
    match pseudo.protocol {
        None => return Err(H2HandshakeError::MissingProtocol),
        Some(p) if !p.eq_ignore_ascii_case(PROTOCOL) => {
            return Err(H2HandshakeError::UnsupportedProtocol);
        }
        Some(_) => {}
    }
    let (Some(scheme), Some(path), Some(authority)) =
        (pseudo.scheme, pseudo.path, pseudo.authority)
    else {
        return Err(H2HandshakeError::MissingPseudoHeader);
    };
    if scheme.is_empty() || path.is_empty() || authority.is_empty() {
        return Err(H2HandshakeError::MissingPseudoHeader);
    }
    const FORBIDDEN: [&str; 5] = [
        "connection",
        "upgrade",
        "keep-alive",
        "proxy-connection",
        "transfer-encoding",
    ];
    if headers
        .iter()
        .any(|h| FORBIDDEN.iter().any(|f| h.name.eq_ignore_ascii_case(f)))
    {
        return Err(H2HandshakeError::ConnectionSpecificHeader);
    }
    let mut versions = header_values(headers, "sec-websocket-version");
    match (versions.next(), versions.next()) {
        (None, _) => return Err(H2HandshakeError::MissingVersion),
        (Some(v), None) if trim_ows(v) == b"13" => {}
        _ => return Err(H2HandshakeError::UnsupportedVersion),
    }
    for value in header_values(headers, "sec-websocket-protocol") {
        if !list_elements(value).all(|e| e.is_empty() || is_token(e)) {
            return Err(H2HandshakeError::InvalidProtocolList);
        }
    }
    let extensions = header_values(headers, "sec-websocket-extensions");
    if !extensions
        .into_iter()
        .all(crate::handshake::header::valid_extension_list)
    {
        return Err(H2HandshakeError::InvalidExtensions);
    }
    let mut origins = header_values(headers, "origin");
    match (origins.next(), origins.next()) {
        (Some(o), None) if o.is_empty() || !is_visible_ascii(o) => {
            return Err(H2HandshakeError::InvalidOrigin);
        }
        (Some(_), Some(_)) => return Err(H2HandshakeError::InvalidOrigin),
        _ => {}
    }
    Ok(H2Request {
        scheme,
        path,
        authority,
        headers,
    })
}

impl<'a> H2Request<'a> {
    /// `:scheme` (`https` or `http`).
    pub fn scheme(&self) -> &'a str {
        self.scheme
    }

    /// `:path`: the resource, with its query.
    pub fn path(&self) -> &'a str {
        self.path
    }

    /// `:authority`: host and port.
    pub fn authority(&self) -> &'a str {
        self.authority
    }

    /// The `origin` header, if any.
    pub fn origin(&self) -> Option<&'a str> {
        header_values(self.headers, "origin")
            .next()
            .and_then(|v| core::str::from_utf8(v).ok())
    }

    /// The offered subprotocols, in order.
    pub fn protocols(&self) -> impl Iterator<Item = &'a str> + 'a {
        header_values(self.headers, "sec-websocket-protocol")
            .flat_map(list_elements)
            .filter(|e| !e.is_empty())
            .filter_map(|e| core::str::from_utf8(e).ok())
    }

    /// Whether the client offered `protocol`.
    pub fn offers_protocol(&self, protocol: &str) -> bool {
        self.protocols().any(|p| p == protocol)
    }

    /// The extension offers, with their parameters (e.g. for
    /// `DeflateConfig::accept` with the `deflate` feature).
    pub fn extensions(&self) -> impl Iterator<Item = ExtensionOffer<'a>> + 'a {
        ExtensionIter::new(header_values(self.headers, "sec-websocket-extensions"))
    }

    /// All headers.
    pub fn headers(&self) -> &'a [Header<'a>] {
        self.headers
    }

    /// Accept, with a subprotocol the client offered and an extensions answer. The response
    /// is a 200 with these fields and nothing else WebSocket-specific.
    pub fn accept(
        &self,
        protocol: Option<&'a str>,
        extensions: Option<&'a str>,
    ) -> Result<H2Response<'a>, WriteError> {
        if let Some(p) = protocol
            && !self.offers_protocol(p)
        {
            return Err(WriteError::UnofferedProtocol);
        }
        if let Some(e) = extensions {
            for accepted in ExtensionIter::new(core::iter::once(e.as_bytes())) {
                if !self
                    .extensions()
                    .any(|o| o.name().eq_ignore_ascii_case(accepted.name()))
                {
                    return Err(WriteError::UnofferedExtension);
                }
            }
        }
        Ok(H2Response {
            protocol,
            extensions,
        })
    }
}

/// The answer to an accepted extended CONNECT: status 200 and these header fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct H2Response<'a> {
    protocol: Option<&'a str>,
    extensions: Option<&'a str>,
}

impl<'a> H2Response<'a> {
    /// The status: 200.
    pub fn status(&self) -> u16 {
        200
    }

    /// The header fields to send (lower-case names, as HTTP/2 requires).
    pub fn headers(&self) -> impl Iterator<Item = (&'static str, &'a str)> + 'a {
        let protocol = self.protocol.map(|p| ("sec-websocket-protocol", p));
        let extensions = self.extensions.map(|e| ("sec-websocket-extensions", e));
        protocol.into_iter().chain(extensions)
    }
}

/// Why a client refuses a server's answer to its extended CONNECT.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum H2ClientError {
    /// Not a 2xx: the server refused (the status is given).
    Rejected(u16),
    /// The server chose a subprotocol that was not offered, or more than one.
    UnofferedProtocol,
    /// The server accepted an extension that was not offered, or sent an invalid list.
    UnofferedExtension,
    /// The server has not sent `SETTINGS_ENABLE_CONNECT_PROTOCOL = 1`: the extended CONNECT
    /// must not be sent on this connection (RFC 8441 §3). Try another connection, or
    /// WebSockets over HTTP/1.1.
    ConnectProtocolNotEnabled,
}

impl fmt::Display for H2ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            H2ClientError::Rejected(status) => write!(f, "server answered {status}"),
            H2ClientError::UnofferedProtocol => f.write_str("server chose a protocol not offered"),
            H2ClientError::UnofferedExtension => {
                f.write_str("server accepted an extension not offered")
            }
            H2ClientError::ConnectProtocolNotEnabled => {
                f.write_str("server did not enable SETTINGS_ENABLE_CONNECT_PROTOCOL")
            }
        }
    }
}

impl core::error::Error for H2ClientError {}

/// Client: may an extended CONNECT be sent on this HTTP/2 connection? Only after the server's
/// SETTINGS carried [`SETTINGS_ENABLE_CONNECT_PROTOCOL`] = 1 (RFC 8441 §3): a server that does
/// not know the setting would take `:protocol` for a malformed request. `enabled` is what the
/// HTTP/2 library reports once the server's SETTINGS arrived (h2:
/// `SendRequest::is_extended_connect_protocol_enabled`).
pub fn check_connect_protocol_enabled(enabled: bool) -> Result<(), H2ClientError> {
    if enabled {
        Ok(())
    } else {
        Err(H2ClientError::ConnectProtocolNotEnabled)
    }
}

/// Client: the pseudo-headers for an extended CONNECT to `authority` and `path`
/// (`scheme` is `https` or `http`). Send them with the headers `sec-websocket-version: 13`
/// and any `sec-websocket-protocol`, `sec-websocket-extensions` and `origin` offers.
pub fn client_request<'a>(
    scheme: &'a str,
    authority: &'a str,
    path: &'a str,
) -> ExtendedConnect<'a> {
    ExtendedConnect {
        method: "CONNECT",
        protocol: Some(PROTOCOL),
        scheme: Some(scheme),
        path: Some(path),
        authority: Some(authority),
    }
}

/// Client: check the server's answer. Returns the chosen subprotocol, if any.
pub fn check_response<'a>(
    status: u16,
    headers: &'a [Header<'a>],
    offered_protocols: &[&str],
    offered_extensions: &str,
) -> Result<Option<&'a str>, H2ClientError> {
    if !(200..300).contains(&status) {
        return Err(H2ClientError::Rejected(status));
    }
    let mut chosen = header_values(headers, "sec-websocket-protocol");
    let protocol = match (chosen.next(), chosen.next()) {
        (None, _) => None,
        (Some(p), None) => {
            let p =
                core::str::from_utf8(trim_ows(p)).map_err(|_| H2ClientError::UnofferedProtocol)?;
            if !offered_protocols.contains(&p) {
                return Err(H2ClientError::UnofferedProtocol);
            }
            Some(p)
        }
        _ => return Err(H2ClientError::UnofferedProtocol),
    };
    let offered = || ExtensionIter::new(core::iter::once(offered_extensions.as_bytes()));
    for value in header_values(headers, "sec-websocket-extensions") {
        if !crate::handshake::header::valid_extension_list(value) {
            return Err(H2ClientError::UnofferedExtension);
        }
        for accepted in ExtensionIter::new(core::iter::once(value)) {
            if !offered().any(|o| o.name().eq_ignore_ascii_case(accepted.name())) {
                return Err(H2ClientError::UnofferedExtension);
            }
        }
    }
    Ok(protocol)
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::vec::Vec;

    const VERSION: Header<'static> = Header {
        name: "sec-websocket-version",
        value: b"13",
    };

    fn pseudo() -> ExtendedConnect<'static> {
        client_request("https", "example.com", "/chat")
    }

    #[test]
    fn a_valid_request_and_its_answer() {
        let headers = [
            VERSION,
            Header {
                name: "sec-websocket-protocol",
                value: b"chat, superchat",
            },
            Header {
                name: "sec-websocket-extensions",
                value: b"permessage-deflate; client_max_window_bits",
            },
        ];
        let request = validate(&pseudo(), &headers).unwrap();
        assert_eq!(
            (request.scheme(), request.authority(), request.path()),
            ("https", "example.com", "/chat")
        );
        assert_eq!(
            request.protocols().collect::<Vec<_>>(),
            ["chat", "superchat"]
        );
        assert_eq!(
            request.extensions().next().unwrap().name(),
            "permessage-deflate"
        );
        let response = request
            .accept(Some("superchat"), Some("permessage-deflate"))
            .unwrap();
        let mut fields = response.headers();
        assert_eq!(fields.next(), Some(("sec-websocket-protocol", "superchat")));
        assert_eq!(
            fields.next(),
            Some(("sec-websocket-extensions", "permessage-deflate"))
        );
        assert_eq!(
            request.accept(Some("other"), None),
            Err(WriteError::UnofferedProtocol)
        );
        assert_eq!(
            request.accept(None, Some("x-other")),
            Err(WriteError::UnofferedExtension)
        );
    }

    #[test]
    fn each_rule_has_its_error_and_status() {
        let plain_connect = ExtendedConnect {
            protocol: None,
            ..pseudo()
        };
        let get = ExtendedConnect {
            method: "GET",
            ..pseudo()
        };
        let other = ExtendedConnect {
            protocol: Some("webtransport"),
            ..pseudo()
        };
        let no_path = ExtendedConnect {
            path: None,
            ..pseudo()
        };
        let empty_authority = ExtendedConnect {
            authority: Some(""),
            ..pseudo()
        };
        let v8 = [Header {
            name: "sec-websocket-version",
            value: b"8",
        }];
        let twice = [VERSION, VERSION];
        let upgrade = [
            VERSION,
            Header {
                name: "upgrade",
                value: b"websocket",
            },
        ];
        let bad_protocols = [
            VERSION,
            Header {
                name: "sec-websocket-protocol",
                value: b"a b",
            },
        ];
        let bad_extensions = [
            VERSION,
            Header {
                name: "sec-websocket-extensions",
                value: b";",
            },
        ];
        let two_origins = [
            VERSION,
            Header {
                name: "origin",
                value: b"a",
            },
            Header {
                name: "origin",
                value: b"b",
            },
        ];
        let cases: [(&ExtendedConnect<'_>, &[Header<'_>], H2HandshakeError, u16); 11] = [
            (&get, &[VERSION], H2HandshakeError::NotConnect, 405),
            (
                &plain_connect,
                &[VERSION],
                H2HandshakeError::MissingProtocol,
                400,
            ),
            (
                &other,
                &[VERSION],
                H2HandshakeError::UnsupportedProtocol,
                400,
            ),
            (
                &no_path,
                &[VERSION],
                H2HandshakeError::MissingPseudoHeader,
                400,
            ),
            (
                &empty_authority,
                &[VERSION],
                H2HandshakeError::MissingPseudoHeader,
                400,
            ),
            (&pseudo(), &[], H2HandshakeError::MissingVersion, 400),
            (&pseudo(), &v8, H2HandshakeError::UnsupportedVersion, 400),
            (&pseudo(), &twice, H2HandshakeError::UnsupportedVersion, 400),
            (
                &pseudo(),
                &upgrade,
                H2HandshakeError::ConnectionSpecificHeader,
                400,
            ),
            (
                &pseudo(),
                &bad_protocols,
                H2HandshakeError::InvalidProtocolList,
                400,
            ),
            (
                &pseudo(),
                &bad_extensions,
                H2HandshakeError::InvalidExtensions,
                400,
            ),
        ];
        for (p, h, error, status) in cases {
            assert_eq!(validate(p, h).map(|_| ()), Err(error), "{p:?} {h:?}");
            assert_eq!(error.status(), status);
            assert!(!error.reason().is_empty());
        }
        assert_eq!(
            validate(&pseudo(), &two_origins).map(|_| ()),
            Err(H2HandshakeError::InvalidOrigin)
        );
        assert_eq!(
            H2HandshakeError::UnsupportedVersion.headers(),
            &[("sec-websocket-version", "13")]
        );
    }

    #[test]
    fn client_checks_the_answer() {
        let chat = [Header {
            name: "sec-websocket-protocol",
            value: b"chat",
        }];
        assert_eq!(check_response(200, &chat, &["chat"], ""), Ok(Some("chat")));
        assert_eq!(check_response(200, &[], &["chat"], ""), Ok(None));
        assert_eq!(
            check_response(404, &[], &[], ""),
            Err(H2ClientError::Rejected(404))
        );
        assert_eq!(
            check_response(200, &chat, &["other"], ""),
            Err(H2ClientError::UnofferedProtocol)
        );
        let ext = [Header {
            name: "sec-websocket-extensions",
            value: b"permessage-deflate",
        }];
        assert_eq!(
            check_response(200, &ext, &[], "permessage-deflate; client_max_window_bits"),
            Ok(None)
        );
        assert_eq!(
            check_response(200, &ext, &[], ""),
            Err(H2ClientError::UnofferedExtension)
        );
    }

    #[test]
    fn client_waits_for_the_setting() {
        // RFC 8441 §3: no extended CONNECT before SETTINGS_ENABLE_CONNECT_PROTOCOL = 1.
        assert_eq!(check_connect_protocol_enabled(true), Ok(()));
        assert_eq!(
            check_connect_protocol_enabled(false),
            Err(H2ClientError::ConnectProtocolNotEnabled)
        );
    }
}
