//! Upgrade a hyper 1.x (or axum 0.8) request to a [`tokio::WebSocket`](crate::tokio::WebSocket)
//! (feature `hyper`).
//!
//! The HTTP server parsed the request; [`upgrade`] / [`upgrade_with`] decide it with the core's
//! handshake rules ([`handshake::http`](crate::handshake::http)) and give back either the
//! `101 Switching Protocols` response and an [`Upgrading`] future that resolves to the
//! [`WebSocket`] once hyper hands over the connection, or the precise refusal as a response:
//! `400` naming the missing header, `426` with `Sec-WebSocket-Version: 13` (or
//! `Upgrade: websocket` for a plain `GET`), `405` with `Allow: GET`, …. Return whichever
//! response you get from the handler; spawn the future.
//!
//! An axum 0.8 handler (`axum::extract::Request` is an `http::Request`; axum serves its
//! connections with upgrades enabled):
//!
//! ```no_run
//! use http::Response;
//!
//! // axum sends an `Err` as it sends an `Ok`: the refusal goes out as is.
//! async fn ws(mut request: axum::extract::Request) -> Result<Response<String>, Response<String>> {
//!     let (response, upgrading) = rfc6455::hyper::upgrade(&mut request)?;
//!     tokio::spawn(async move {
//!         let mut ws = upgrading.await?;
//!         while let Some(message) = ws.recv().await? {
//!             ws.send(message).await?;
//!         }
//!         Ok::<_, rfc6455::tokio::Error>(())
//!     });
//!     Ok(response)
//! }
//! ```
//!
//! With plain hyper the same handler runs inside `service_fn`; serve the connection with
//! `hyper::server::conn::http1::Builder::serve_connection(…).with_upgrades()`, or hyper never
//! hands the connection over (see `examples/hyper.rs`).
//!
//! The response bodies are `String`s, which are `http_body::Body`s: hyper and axum take
//! `http::Response<String>` as they are; `.map(Into::into)` gives another body type.
//!
//! Only I/O lives here: validation, the refusals, the subprotocol check and the
//! permessage-deflate negotiation are the same code as
//! [`tokio::accept_with`](crate::tokio::accept_with)'s. [`Options::handshake_timeout`] and
//! [`Options::linger`] do not apply (the HTTP server read the request, so its own timeouts
//! do); the rest of [`Options`] does.

// The std layer: std paths are the point here.
#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)]

use std::format;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::string::String;
use std::task::{Context, Poll, ready};

use ::http::header::{self, HeaderValue};
use ::http::{Response, StatusCode};
use ::hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;

use crate::adapter::{negotiate, rejection_body};
use crate::connection::{Config, Connection};
use crate::handshake::http::{Handshake, validate};
use crate::role::Role;
use crate::tokio::{Accept, Error, Options, Reject};

/// The WebSocket an upgraded hyper connection becomes: the tokio adapter's
/// [`WebSocket`](crate::tokio::WebSocket) over hyper's [`Upgraded`](::hyper::upgrade::Upgraded)
/// connection.
pub type WebSocket = crate::tokio::WebSocket<TokioIo<::hyper::upgrade::Upgraded>>;

/// Upgrade `request` with the default [`Options`], accepting any path with no subprotocol and
/// no extension: `Ok((101 response, future WebSocket))`, or `Err(refusal)` for a request that
/// is not a valid opening handshake. Return the response either way.
// The refusal is as large as the answer: both are what the handler returns.
#[allow(clippy::result_large_err)]
pub fn upgrade<B>(
    request: &mut ::http::Request<B>,
) -> Result<(Response<String>, Upgrading), Response<String>> {
    upgrade_with(request, Options::DEFAULT, |_| Ok(Accept::new()))
}

/// Upgrade `request` with `options` and a callback that sees the validated handshake (origin,
/// offered subprotocols and extensions; read the path from the request before calling) and
/// returns an [`Accept`] (subprotocol, extra headers, permessage-deflate with feature
/// `deflate`) or a [`Reject`] (sent as that status with the reason as the body).
///
/// `Err` is the response to send instead of the 101: the precise refusal of an invalid
/// request, the callback's [`Reject`], or `500` when the [`Accept`] cannot be sent (a
/// subprotocol the client did not offer, an invalid header) or when `request` carries no
/// hyper upgrade (the connection was not served `with_upgrades()`).
///
/// ```no_run
/// use rfc6455::hyper::upgrade_with;
/// use rfc6455::tokio::{Accept, Options, Reject};
///
/// fn answer(request: &mut http::Request<()>) -> http::Response<String> {
///     let chat = request.uri().path() == "/chat";
///     let upgrade = upgrade_with(request, Options::default(), |handshake| {
///         if !chat {
///             return Err(Reject::new(404, "no WebSocket here: try /chat"));
///         }
///         match handshake.offers_protocol("chat.v1") {
///             true => Ok(Accept::new().protocol("chat.v1")),
///             false => Err(Reject::new(400, "subprotocol chat.v1 required")),
///         }
///     });
///     match upgrade {
///         Ok((response, upgrading)) => {
///             tokio::spawn(async move {
///                 let ws = upgrading.await?;
///                 // … use ws
///                 # drop(ws);
///                 Ok::<_, rfc6455::tokio::Error>(())
///             });
///             response
///         }
///         Err(refusal) => refusal,
///     }
/// }
/// ```
#[allow(clippy::result_large_err)]
pub fn upgrade_with<B, F>(
    request: &mut ::http::Request<B>,
    options: impl Into<Options>,
    decide: F,
) -> Result<(Response<String>, Upgrading), Response<String>>
where
    F: FnOnce(&Handshake<'_>) -> Result<Accept, Reject>,
{
    let options = options.into();
    let (response, config) = {
        let handshake = validate(request).map_err(|e| e.to_http_response().map(String::from))?;
        let accept = decide(&handshake).map_err(|r| refusal(r.status, &r.reason))?;
        negotiate(&accept, handshake.extensions(), options.config, |o| {
            handshake.accept(o)
        })
        .map_err(|e| refusal(500, &format!("the server built an invalid response: {e}")))?
    };
    let on_upgrade = request
        .extensions_mut()
        .remove::<OnUpgrade>()
        .ok_or_else(|| {
            refusal(
                500,
                "this connection cannot be upgraded (hyper: serve it with .with_upgrades())",
            )
        })?;
    let upgrading = Upgrading {
        on_upgrade,
        config,
        options,
    };
    Ok((response.map(|()| String::new()), upgrading))
}

/// A refusal with `status` (500 unless it is a client or server error: a 101 would make hyper
/// attempt the upgrade, a 2xx would claim success) and `reason` as the body.
fn refusal(status: u16, reason: &str) -> Response<String> {
    let status = if (400..=599).contains(&status) {
        status
    } else {
        500
    };
    let body = rejection_body(reason);
    let length = HeaderValue::from(body.len());
    let mut response = Response::new(body);
    *response.status_mut() =
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    headers.insert(header::CONTENT_LENGTH, length);
    headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

/// The accepted upgrade: resolves to the [`WebSocket`] once hyper has sent the 101 and handed
/// over the connection (so return the response before awaiting this, e.g. from a spawned
/// task), or to [`Error::Io`] if the connection ended first.
#[derive(Debug)]
#[must_use = "the WebSocket exists only once this future is awaited"]
pub struct Upgrading {
    on_upgrade: OnUpgrade,
    config: Config,
    options: Options,
}

impl Upgrading {
    /// The connection's config, with the permessage-deflate settings negotiated (if any).
    pub fn config(&self) -> &Config {
        &self.config
    }
}

impl Future for Upgrading {
    type Output = Result<WebSocket, Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let upgraded = ready!(Pin::new(&mut self.on_upgrade).poll(cx)).map_err(io::Error::other)?;
        let conn = Connection::new(Role::Server, self.config);
        Poll::Ready(Ok(crate::tokio::WebSocket::from_connection(
            TokioIo::new(upgraded),
            conn,
            &self.options,
        )))
    }
}
