//! Split halves: one connection, a reader task and a writer task.
//!
//! Both halves hold the connection behind a `Mutex` that is only held for one synchronous poll
//! (never across an `await`). The stream and the timer are always polled with a waker that
//! wakes *both* halves' tasks: whichever half polled the stream last, the other one still
//! hears that the stream became writable, so a pong queued by the reader goes out while the
//! writer waits for room, and the writer's queue drains while only the reader is polled.

use std::fmt;
use std::future::poll_fn;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Wake, Waker};

use ::tokio::io::{AsyncRead, AsyncWrite};
use bytes::Bytes;

use super::socket::{Inner, WebSocket};
use crate::adapter::Error;
use crate::close::CloseCode;
use crate::event::{CloseInfo, Event, Message};

/// The wakers of the two halves' tasks.
#[derive(Default)]
struct Wakers {
    reader: Mutex<Option<Waker>>,
    writer: Mutex<Option<Waker>>,
}

impl Wake for Wakers {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        for slot in [&self.reader, &self.writer] {
            if let Some(waker) = lock(slot).take() {
                waker.wake();
            }
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while polling leaves nothing half-written that matters here: the connection's
    // own methods keep it consistent between calls.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

struct Shared<S> {
    inner: Mutex<Inner<S>>,
    wakers: Arc<Wakers>,
    /// Wakes both halves; what the stream and the timer are polled with.
    both: Waker,
}

impl<S> Shared<S> {
    /// Register `cx`'s task in `slot`, then run `f` on the connection with the shared waker.
    fn poll<R>(
        &self,
        reader: bool,
        cx: &mut Context<'_>,
        f: impl FnOnce(&mut Inner<S>, &mut Context<'_>) -> Poll<R>,
    ) -> Poll<R> {
        {
            let slot = if reader {
                &self.wakers.reader
            } else {
                &self.wakers.writer
            };
            let mut slot = lock(slot);
            if !slot.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                *slot = Some(cx.waker().clone());
            }
        }
        let mut shared_cx = Context::from_waker(&self.both);
        f(&mut lock(&self.inner), &mut shared_cx)
    }
}

pub(super) fn split<S>(ws: WebSocket<S>) -> (ReadHalf<S>, WriteHalf<S>) {
    let wakers = Arc::new(Wakers::default());
    let shared = Arc::new(Shared {
        inner: Mutex::new(ws.inner),
        both: Waker::from(wakers.clone()),
        wakers,
    });
    (
        ReadHalf {
            shared: shared.clone(),
        },
        WriteHalf { shared },
    )
}

/// The reading half of a split [`WebSocket`]: messages and events.
pub struct ReadHalf<S> {
    shared: Arc<Shared<S>>,
}

/// The writing half of a split [`WebSocket`]: messages, pings and the close.
pub struct WriteHalf<S> {
    shared: Arc<Shared<S>>,
}

impl<S> fmt::Debug for ReadHalf<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReadHalf").finish_non_exhaustive()
    }
}

impl<S> fmt::Debug for WriteHalf<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WriteHalf").finish_non_exhaustive()
    }
}

/// The halves given to `reunite` came from different sockets; here they are back.
pub struct ReuniteError<S>(pub ReadHalf<S>, pub WriteHalf<S>);

impl<S> fmt::Debug for ReuniteError<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ReuniteError(..)")
    }
}

impl<S> fmt::Display for ReuniteError<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the halves belong to different WebSockets")
    }
}

impl<S> std::error::Error for ReuniteError<S> {}

impl<S: AsyncRead + AsyncWrite + Unpin> ReadHalf<S> {
    /// The next whole message; see [`WebSocket::recv`].
    pub async fn recv(&mut self) -> Result<Option<Message>, Error> {
        poll_fn(|cx| self.shared.poll(true, cx, Inner::poll_recv)).await
    }

    /// The next event of any kind; see [`WebSocket::next_event`].
    pub async fn next_event(&mut self) -> Result<Option<Event>, Error> {
        poll_fn(|cx| self.shared.poll(true, cx, Inner::poll_event)).await
    }

    /// How the connection closed, once it has.
    pub fn close_info(&self) -> Option<CloseInfo> {
        lock(&self.shared.inner).close_info().cloned()
    }

    /// Whether `other` is this socket's writing half.
    pub fn is_pair_of(&self, other: &WriteHalf<S>) -> bool {
        Arc::ptr_eq(&self.shared, &other.shared)
    }

    /// Put the halves back together.
    pub fn reunite(self, other: WriteHalf<S>) -> Result<WebSocket<S>, ReuniteError<S>> {
        if !self.is_pair_of(&other) {
            return Err(ReuniteError(self, other));
        }
        drop(other);
        let shared = Arc::try_unwrap(self.shared)
            .unwrap_or_else(|_| unreachable!("both halves were given and are the only owners"));
        let inner = shared
            .inner
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner);
        Ok(WebSocket { inner })
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> WriteHalf<S> {
    /// Send a message; see [`WebSocket::send`].
    pub async fn send(&mut self, message: impl Into<Message>) -> Result<(), Error> {
        let mut message = Some(message.into());
        poll_fn(|cx| {
            self.shared
                .poll(false, cx, |inner, cx| inner.poll_send(cx, &mut message))
        })
        .await
    }

    /// Queue a message after waiting for room; see [`WebSocket::feed`].
    pub async fn feed(&mut self, message: impl Into<Message>) -> Result<(), Error> {
        let message = message.into();
        poll_fn(|cx| self.shared.poll(false, cx, Inner::poll_ready)).await?;
        lock(&self.shared.inner).start_send(message)
    }

    /// Write everything queued.
    pub async fn flush(&mut self) -> Result<(), Error> {
        poll_fn(|cx| self.shared.poll(false, cx, Inner::poll_flush)).await
    }

    /// Send a ping; see [`WebSocket::ping`].
    pub async fn ping(&mut self, payload: impl Into<Bytes>) -> Result<(), Error> {
        lock(&self.shared.inner).ping(&payload.into())?;
        self.flush().await
    }

    /// Start the close handshake; the reading half sees it complete.
    pub async fn close(&mut self, code: CloseCode, reason: &str) -> Result<(), Error> {
        lock(&self.shared.inner).close(code, reason)?;
        self.flush().await
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> futures_core::Stream for ReadHalf<S> {
    type Item = Result<Message, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.shared
            .poll(true, cx, Inner::poll_recv)
            .map(Result::transpose)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin, M: Into<Message>> futures_sink::Sink<M> for WriteHalf<S> {
    type Error = Error;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.shared.poll(false, cx, Inner::poll_ready)
    }

    fn start_send(self: Pin<&mut Self>, item: M) -> Result<(), Error> {
        lock(&self.shared.inner).start_send(item.into())
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.shared.poll(false, cx, Inner::poll_flush)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.shared.poll(false, cx, Inner::poll_close_sink)
    }
}
