//! A browser chat on axum 0.8 and `rfc6455::hyper`.
//!
//! ```text
//! cargo run --example chat            # http://127.0.0.1:8080/
//! cargo run --example chat -- 127.0.0.1:9000
//! ```
//!
//! `GET /` is the page (`examples/chat.html`, self-contained); `/ws` is the chat: every text a
//! browser sends goes to every connected browser, with join and leave notices. A browser's
//! first text is its name (control characters dropped, at most 32 characters, server-side);
//! the page shows names and messages with `textContent`, never as HTML. A request to `/ws`
//! that is not a valid upgrade gets the core's precise refusal (`curl -i
//! http://127.0.0.1:8080/ws`: 426), any other path 404.
//!
//! Server to browser, every message is one text: `kind\nname\ntext` with kind `join`, `leave`
//! or `msg`, and `here\n\n` + the names present, one per line, to a browser that just joined.
//!
//! Fan-out is a tokio broadcast channel: sending never waits for a browser. Each browser's
//! queue is bounded (the channel keeps the last 64 messages for it); a browser that falls
//! further behind, or does not take a message within 10 s, is dropped, so one slow browser
//! never stalls the others.

#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)]

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::response::Html;
use axum::routing::{any, get};
use http::{Response, StatusCode};
use rfc6455::tokio::{Accept, Error};
use rfc6455::{CloseCode, Config, Keepalive, Limits, Message};
use tokio::sync::broadcast;
use tokio::time::timeout;

const PAGE: &str = include_str!("chat.html");
/// The longest name, in characters.
const MAX_NAME: usize = 32;
/// How many messages a browser may be behind before it is dropped.
const QUEUE: usize = 64;
/// How long a browser may take to accept one message before it is dropped.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);

struct Chat {
    messages: broadcast::Sender<Message>,
    /// Who is here, by connection number.
    members: Mutex<BTreeMap<u64, String>>,
    next_id: AtomicU64,
}

impl Chat {
    fn members(&self) -> MutexGuard<'_, BTreeMap<u64, String>> {
        // A panic while holding the lock leaves the map as consistent as any: keep going.
        self.members.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn post(&self, kind: &str, name: &str, text: &str) {
        // An error only means that nobody is listening.
        let _ = self.messages.send(format!("{kind}\n{name}\n{text}").into());
    }
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args().nth(1);
    let listener =
        tokio::net::TcpListener::bind(addr.as_deref().unwrap_or("127.0.0.1:8080")).await?;
    println!("chat on http://{}/", listener.local_addr()?);
    let chat = Arc::new(Chat {
        messages: broadcast::channel(QUEUE).0,
        members: Mutex::default(),
        next_id: AtomicU64::new(0),
    });
    let app = Router::new()
        .route("/", get(|| async { Html(PAGE) }))
        .route("/ws", any(upgrade))
        .fallback(|| async { (StatusCode::NOT_FOUND, "not found\n") })
        .with_state(chat);
    axum::serve(listener, app).await
}

async fn upgrade(
    State(chat): State<Arc<Chat>>,
    mut request: Request,
) -> Result<Response<String>, Response<String>> {
    // Messages up to 1 MiB; a browser that stops answering pings is dropped after a minute.
    let config = Config::DEFAULT
        .with_limits(Limits::DEFAULT.with_max_message_size(1 << 20))
        .with_keepalive(Some(Keepalive {
            interval: Duration::from_secs(30),
            timeout: Duration::from_secs(30),
        }));
    let (response, upgrading) =
        rfc6455::hyper::upgrade_with(&mut request, config, |_| Ok(Accept::new()))?;
    tokio::spawn(async move {
        let id = chat.next_id.fetch_add(1, Ordering::Relaxed);
        // Subscribed before the upgrade completes: nothing posted from now on is missed.
        let queue = chat.messages.subscribe();
        let result = match upgrading.await {
            Ok(ws) => member(ws, id, queue, &chat).await,
            Err(e) => Err(e),
        };
        let left = chat.members().remove(&id);
        if let Some(name) = left {
            chat.post("leave", &name, "");
        }
        if let Err(e) = result {
            eprintln!("connection {id}: {e}");
        }
    });
    Ok(response)
}

/// One browser: its texts in (the first is its name), everyone's messages out.
async fn member(
    mut ws: rfc6455::hyper::WebSocket,
    id: u64,
    mut queue: broadcast::Receiver<Message>,
    chat: &Chat,
) -> Result<(), Error> {
    let mut name: Option<String> = None;
    loop {
        tokio::select! {
            incoming = ws.recv() => match incoming? {
                None => return Ok(()),
                Some(Message::Text(text)) => match &name {
                    Some(name) => chat.post("msg", name, text.as_str()),
                    None => {
                        let chosen = clean_name(text.as_str());
                        let here: Vec<String> = {
                            let mut members = chat.members();
                            let here = members.values().cloned().collect();
                            members.insert(id, chosen.clone());
                            here
                        };
                        let here = format!("here\n\n{}", here.join("\n"));
                        match timeout(SEND_TIMEOUT, ws.send(here)).await {
                            Ok(sent) => sent?,
                            Err(_) => return Err(slow("did not take the member list within 10 s")),
                        }
                        chat.post("join", &chosen, "");
                        name = Some(chosen);
                    }
                },
                Some(Message::Binary(_)) => {}
            },
            outgoing = queue.recv() => match outgoing {
                Ok(message) => match timeout(SEND_TIMEOUT, ws.send(message)).await {
                    Ok(sent) => sent?,
                    Err(_) => return Err(slow("did not take a message within 10 s")),
                },
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    let close = ws.close(CloseCode::POLICY_VIOLATION, "too slow");
                    let _ = timeout(Duration::from_secs(1), close).await;
                    return Err(slow(&format!("fell {missed} messages behind")));
                }
                Err(broadcast::error::RecvError::Closed) => return Ok(()),
            },
        }
    }
}

fn slow(why: &str) -> Error {
    Error::Io(std::io::Error::new(
        std::io::ErrorKind::TimedOut,
        format!("dropped a slow browser: it {why}"),
    ))
}

/// A name without control characters (so no line breaks), trimmed, at most [`MAX_NAME`]
/// characters; "anonymous" if nothing is left.
fn clean_name(wanted: &str) -> String {
    let visible: String = wanted.chars().filter(|c| !c.is_control()).collect();
    let name: String = visible.trim().chars().take(MAX_NAME).collect();
    match name.trim_end() {
        "" => "anonymous".to_string(),
        name => name.to_string(),
    }
}
