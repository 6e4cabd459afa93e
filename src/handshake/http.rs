//! Interop with the `http` crate (feature `http`): validate an `http::Request` with the same
//! rules as [`RequestParser`](super::RequestParser), answer with an `http::Response`, and turn
//! a [`ClientRequest`] into an `http::Request`. This is what a hyper or axum style upgrade
//! needs: the framework parsed the head, this module decides.
//!
//! ```
//! use rfc6455::handshake::{AcceptOptions, http::validate};
//!
//! let req = http::Request::get("/chat")
//!     .header("host", "example.com")
//!     .header("upgrade", "websocket")
//!     .header("connection", "Upgrade")
//!     .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
//!     .header("sec-websocket-version", "13")
//!     .body(())
//!     .unwrap();
//! let response = match validate(&req) {
//!     Ok(handshake) => handshake.accept(&AcceptOptions::new()).unwrap().map(|()| ""),
//!     Err(rejection) => rejection.to_http_response(),
//! };
//! assert_eq!(response.status(), 101);
//! assert_eq!(response.headers()["sec-websocket-accept"], "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
//! ```

extern crate alloc;

use alloc::string::String;

use http::header::{self, HeaderMap, HeaderValue};
use http::{Method, StatusCode, Version};

use super::accept::{AcceptKey, Key};
use super::client::ClientRequest;
use super::error::HandshakeError;
use super::header::{ExtensionIter, ExtensionOffer, ascii_str, list_elements};
use super::server::{AcceptOptions, HttpVersion, check};
use super::write::WriteError;

/// A valid handshake request in `http` form, borrowed from the request's parts.
#[derive(Debug, Clone, Copy)]
pub struct Handshake<'a> {
    headers: &'a HeaderMap,
    key: Key,
    host: &'a str,
    origin: Option<&'a str>,
}

/// Validates a request (the body is ignored) with the rules of RFC 6455 §4.2.1.
pub fn validate<B>(request: &http::Request<B>) -> Result<Handshake<'_>, HandshakeError> {
    validate_head(request.method(), request.version(), request.headers())
}

/// Validates request parts, as a framework's extractor sees them.
pub fn validate_parts(parts: &http::request::Parts) -> Result<Handshake<'_>, HandshakeError> {
    validate_head(&parts.method, parts.version, &parts.headers)
}

fn validate_head<'a>(
    method: &Method,
    version: Version,
    headers: &'a HeaderMap,
) -> Result<Handshake<'a>, HandshakeError> {
    let version = match version {
        Version::HTTP_09 | Version::HTTP_10 => HttpVersion::Http10,
        Version::HTTP_11 => HttpVersion::Http11,
        _ => HttpVersion::Later,
    };
    let checked = check(
        method.as_str(),
        version,
        headers.iter().map(|(n, v)| (n.as_str(), v.as_bytes())),
    )?;
    Ok(Handshake {
        headers,
        key: checked.key,
        host: checked.host,
        origin: checked.origin,
    })
}

impl<'a> Handshake<'a> {
    /// The client's `Sec-WebSocket-Key`.
    pub fn key(&self) -> Key {
        self.key
    }

    /// The `Sec-WebSocket-Accept` value the 101 carries.
    pub fn accept_key(&self) -> AcceptKey {
        self.key.accept()
    }

    /// The `Host` header, trimmed.
    pub fn host(&self) -> &'a str {
        self.host
    }

    /// The `Origin` header, trimmed, if sent.
    pub fn origin(&self) -> Option<&'a str> {
        self.origin
    }

    /// The subprotocols offered, in order.
    pub fn protocols(&self) -> impl Iterator<Item = &'a str> + 'a {
        self.headers
            .get_all(header::SEC_WEBSOCKET_PROTOCOL)
            .iter()
            .flat_map(|v| list_elements(v.as_bytes()))
            .map(ascii_str)
    }

    /// Whether the client offered this subprotocol (exact comparison).
    pub fn offers_protocol(&self, protocol: &str) -> bool {
        self.protocols().any(|p| p == protocol)
    }

    /// The extension offers, in order, with their parameters.
    pub fn extensions(&self) -> impl Iterator<Item = ExtensionOffer<'a>> + 'a {
        ExtensionIter::new(
            self.headers
                .get_all(header::SEC_WEBSOCKET_EXTENSIONS)
                .iter()
                .map(HeaderValue::as_bytes),
        )
    }

    /// The 101 response, checked like [`Request::write_accept`](super::Request::write_accept).
    pub fn accept(&self, options: &AcceptOptions<'_>) -> Result<http::Response<()>, WriteError> {
        options.check(
            |p| self.offers_protocol(p),
            |e| self.extensions().any(|o| o.name().eq_ignore_ascii_case(e)),
        )?;
        let mut response = http::Response::builder()
            .status(StatusCode::SWITCHING_PROTOCOLS)
            .version(Version::HTTP_11)
            .header(header::UPGRADE, "websocket")
            .header(header::CONNECTION, "Upgrade")
            .header(header::SEC_WEBSOCKET_ACCEPT, self.accept_key().as_str());
        if let Some(p) = options.protocol {
            response = response.header(header::SEC_WEBSOCKET_PROTOCOL, p);
        }
        if let Some(e) = options.extensions {
            response = response.header(header::SEC_WEBSOCKET_EXTENSIONS, e.trim());
        }
        for (name, value) in options.headers {
            response = response.header(*name, *value);
        }
        response.body(()).map_err(|_| WriteError::InvalidHeader)
    }
}

impl HandshakeError {
    /// The rejection as an `http::Response` whose body is the one-line reason (with its
    /// newline), with the same headers as [`write_response`](Self::write_response). Map the
    /// body into the framework's body type.
    pub fn to_http_response(&self) -> http::Response<&'static str> {
        let mut response = http::Response::new(self.body());
        *response.status_mut() =
            StatusCode::from_u16(self.status()).unwrap_or(StatusCode::BAD_REQUEST);
        let headers = response.headers_mut();
        for (name, value) in self.extra_headers() {
            headers.append(*name, HeaderValue::from_static(value));
        }
        headers.insert(
            header::CONNECTION,
            HeaderValue::from_static(self.connection()),
        );
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(self.body().len()));
        response
    }
}

impl ClientRequest<'_> {
    /// The request as an `http::Request` (origin-form target, `Host` header, HTTP/1.1).
    pub fn to_http_request(&self) -> Result<http::Request<()>, WriteError> {
        self.validate()?;
        let mut host = [0u8; 300];
        let host = self.host_value(&mut host)?;
        let (slash, path) = self.target_parts();
        let mut target = String::with_capacity(slash.len() + path.len());
        target.push_str(slash);
        target.push_str(path);
        let (origin, protocols, extensions, headers) =
            (self.origin, self.protocols, self.extensions, self.headers);
        let mut request = http::Request::builder()
            .method(Method::GET)
            .uri(target)
            .version(Version::HTTP_11)
            .header(
                header::HOST,
                HeaderValue::from_bytes(host).map_err(|_| WriteError::InvalidHost)?,
            )
            .header(header::UPGRADE, "websocket")
            .header(header::CONNECTION, "Upgrade")
            .header(header::SEC_WEBSOCKET_KEY, self.key().as_str())
            .header(header::SEC_WEBSOCKET_VERSION, "13");
        if let Some(origin) = origin {
            request = request.header(header::ORIGIN, origin);
        }
        if !protocols.is_empty() {
            request = request.header(header::SEC_WEBSOCKET_PROTOCOL, protocols.join(", "));
        }
        if let Some(e) = extensions {
            request = request.header(header::SEC_WEBSOCKET_EXTENSIONS, e.trim());
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.body(()).map_err(|_| WriteError::InvalidPath)
    }
}
