//! The close lifecycle of a connection (RFC 6455 §5.5.1, §7): open, closing, closed, and why.
//!
//! One private enum and one function, [`Lifecycle::step`], for every transition, as
//! quinn-proto's `State` and h11's state table do. The function only decides: it returns the
//! [`Effects`] (report `Closed`, arm the close timer, drop unsent pings and pongs, queue the
//! close reply) and the connection carries them out on its own storage. Nothing here knows
//! about `Bytes` or any buffer: both connections ([`Connection`](crate::Connection) and
//! `fixed::Connection`) share it, through `Core`.

use super::{CloseCause, State};
use crate::close::CloseCode;
use crate::error::ProtocolError;

/// The close frame that answers the peer's close or a protocol error: its code (`None` for
/// the empty echo of an empty close) and reason.
pub(crate) type Reply = (Option<CloseCode>, &'static str);

/// How the transport and the timers ended a connection that is over.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct End {
    /// The transport ended (a read returned 0).
    pub(crate) eof: bool,
    /// A close or keepalive timeout fired: nothing more is waited for.
    pub(crate) timed_out: bool,
}

/// Where the close handshake stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lifecycle {
    /// Messages flow both ways.
    Open,
    /// Our close frame is queued or sent; the peer's has not arrived. Input is still read.
    Closing,
    /// The connection is over and [`Event::Closed`](crate::Event::Closed) is queued, not yet
    /// polled. Input is no longer read.
    Closed {
        /// Our close frame is queued or sent.
        close_sent: bool,
        /// The close frame to queue when the application polls `Closed`, unless one was sent
        /// already: deferred so that replies to messages that arrived before the peer's close
        /// (or the protocol error) go out first.
        reply: Option<Reply>,
        end: End,
    },
    /// The application polled `Closed`: nothing more is reported or accepted.
    Delivered { end: End },
}

/// What happens to the lifecycle.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Trigger<'a> {
    /// The application called `close` (only while [`Lifecycle::can_send`]).
    LocalClose,
    /// The peer's close frame arrived.
    PeerClose {
        code: Option<CloseCode>,
        reason: &'a str,
        /// A client waits (bounded) for the server to end the transport (§7.1.1).
        client: bool,
    },
    /// The peer broke the protocol: fail the connection (§7.1.7).
    Failed(ProtocolError),
    /// The transport ended.
    Eof,
    /// No close frame from the peer within the close timeout.
    CloseTimeout,
    /// No answer to a keepalive ping in time.
    KeepaliveTimeout,
    /// The application polled the `Closed` event.
    ClosedPolled,
}

/// A `Closed` event to report.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Report<'a> {
    pub(crate) code: CloseCode,
    /// The peer's reason for a clean close; for a protocol error, the reason our close frame
    /// carries ([`ProtocolError::reason`], the same for both connections: the details are in
    /// the cause); otherwise a description of the failure.
    pub(crate) reason: &'a str,
    pub(crate) cause: CloseCause,
}

/// What the connection must do after a transition (besides reporting `Closed`, which comes
/// separately since it may borrow the input).
#[derive(Debug, Clone, Copy, Default)]
#[must_use]
pub(crate) struct Effects {
    /// Arm the close timer (if not armed yet).
    pub(crate) arm_close_timer: bool,
    /// Drop the pings and pongs not yet started on the wire: our close frame is out and the
    /// connection is over.
    pub(crate) drop_unsent_control: bool,
    /// Queue this close frame now (the deferred reply, once `Closed` is polled).
    pub(crate) send_reply: Option<Reply>,
}

impl Lifecycle {
    /// The one place where the lifecycle changes. Returns the effects to carry out, and the
    /// `Closed` event to report (exactly once, with the receive state dropped), if any.
    pub(crate) fn step<'a>(&mut self, trigger: Trigger<'a>) -> (Effects, Option<Report<'a>>) {
        use Lifecycle::*;
        let mut fx = Effects::default();
        let mut report = None;
        let close_sent = matches!(
            self,
            Closing
                | Closed {
                    close_sent: true,
                    ..
                }
        );
        match (*self, trigger) {
            // ---- commands
            (Open, Trigger::LocalClose) => {
                *self = Closing;
                fx.arm_close_timer = true;
            }
            // Closed but not yet polled: the application may still close with its own code
            // (the deferred reply is then not sent, being superseded).
            (Closed { reply, end, .. }, Trigger::LocalClose) => {
                *self = Closed {
                    close_sent: true,
                    reply,
                    end,
                };
                fx.arm_close_timer = true;
            }
            (Closing | Delivered { .. }, Trigger::LocalClose) => {}

            // ---- input (read only while Open or Closing)
            (
                Open | Closing,
                Trigger::PeerClose {
                    code,
                    reason,
                    client,
                },
            ) => {
                // Echo the peer's code (§5.5.1), or an empty close for an empty one.
                self.over(
                    close_sent,
                    (!close_sent).then_some((code, "")),
                    End::default(),
                    &mut fx,
                );
                fx.arm_close_timer = client;
                report = Some(Report {
                    code: code.unwrap_or(CloseCode::NO_STATUS),
                    reason,
                    cause: CloseCause::Clean {
                        initiated_locally: close_sent,
                    },
                });
            }
            (Open | Closing, Trigger::Failed(error)) => {
                let reason = error.reason();
                let reply = (
                    Some(error.close_code()),
                    &reason[..reason.len().min(crate::close::MAX_REASON_LEN)],
                );
                self.over(
                    close_sent,
                    (!close_sent).then_some(reply),
                    End::default(),
                    &mut fx,
                );
                fx.arm_close_timer = true;
                report = Some(Report {
                    code: error.close_code(),
                    reason,
                    cause: CloseCause::Protocol(error),
                });
            }
            (Closed { .. } | Delivered { .. }, Trigger::PeerClose { .. } | Trigger::Failed(_)) => {}

            // ---- the transport and the timers
            (Open | Closing, Trigger::Eof) => {
                let end = End {
                    eof: true,
                    timed_out: false,
                };
                self.over(close_sent, None, end, &mut fx);
                report = Some(abnormal(
                    "transport closed without a close frame",
                    CloseCause::Eof,
                ));
            }
            (Open | Closing, Trigger::CloseTimeout) => {
                let end = End {
                    eof: false,
                    timed_out: true,
                };
                self.over(close_sent, None, end, &mut fx);
                report = Some(abnormal(
                    "no close frame from the peer in time",
                    CloseCause::CloseTimeout,
                ));
            }
            (Open, Trigger::KeepaliveTimeout) => {
                let end = End {
                    eof: false,
                    timed_out: true,
                };
                self.over(false, None, end, &mut fx);
                report = Some(abnormal(
                    "no answer to a keepalive ping",
                    CloseCause::KeepaliveTimeout,
                ));
            }
            (Closing, Trigger::KeepaliveTimeout) => {}
            (Closed { .. } | Delivered { .. }, Trigger::Eof) => {
                if let Closed { end, .. } | Delivered { end } = self {
                    end.eof = true;
                }
            }
            (
                Closed { .. } | Delivered { .. },
                Trigger::CloseTimeout | Trigger::KeepaliveTimeout,
            ) => {
                if let Closed { end, .. } | Delivered { end } = self {
                    end.timed_out = true;
                }
            }

            // ---- output
            (
                Closed {
                    close_sent,
                    reply,
                    end,
                },
                Trigger::ClosedPolled,
            ) => {
                *self = Delivered { end };
                if !close_sent {
                    fx.send_reply = reply;
                }
            }
            (_, Trigger::ClosedPolled) => {}
        }
        (fx, report)
    }

    /// Enter [`Lifecycle::Closed`].
    fn over(&mut self, close_sent: bool, reply: Option<Reply>, end: End, fx: &mut Effects) {
        *self = Lifecycle::Closed {
            close_sent,
            reply,
            end,
        };
        // Pings and pongs queued since our close (answers to pings that came before the
        // peer's close) are pointless now, and a server is about to end the transport.
        fx.drop_unsent_control = close_sent;
    }

    // ------------------------------------------------------------ queries

    /// The public view.
    pub(crate) fn state(&self) -> State {
        match self {
            Lifecycle::Open => State::Open,
            Lifecycle::Closing => State::Closing,
            Lifecycle::Closed { .. } | Lifecycle::Delivered { .. } => State::Closed,
        }
    }

    /// Input is read (and produces events) only until the connection is over.
    #[inline]
    pub(crate) fn is_reading(&self) -> bool {
        matches!(self, Lifecycle::Open | Lifecycle::Closing)
    }

    /// Data frames and our close frame may be sent: nothing was sent after our close frame
    /// (§5.5.1), and `Closed` was not polled yet.
    #[inline]
    pub(crate) fn can_send(&self) -> bool {
        matches!(
            self,
            Lifecycle::Open
                | Lifecycle::Closed {
                    close_sent: false,
                    ..
                }
        )
    }

    /// Pings and pongs may be sent: also after our close frame (§5.5.1 forbids only data
    /// frames then), until the close handshake is over or `Closed` was polled.
    pub(crate) fn can_send_control(&self) -> bool {
        matches!(
            self,
            Lifecycle::Open
                | Lifecycle::Closing
                | Lifecycle::Closed {
                    close_sent: false,
                    ..
                }
        )
    }

    /// Keepalive pings run only while open.
    pub(crate) fn keepalive_runs(&self) -> bool {
        self.is_open()
    }

    /// Messages flow both ways: neither side has closed (one test, where
    /// [`can_send`](Self::can_send) takes a few: the fast paths ask this first).
    #[inline]
    pub(crate) fn is_open(&self) -> bool {
        matches!(self, Lifecycle::Open)
    }

    /// Whether the transport can be shut down, given whether output is drained and whether
    /// we are a server: `Closed` was polled and the output is drained (a client also waits
    /// for the server to end the transport, §7.1.1); or a close or keepalive timeout fired,
    /// after which nothing more is waited for (not even output a peer that stopped reading
    /// will not take), whether or not its `Closed` was polled yet. The one rule for both
    /// connections.
    #[inline]
    pub(crate) fn is_terminated(&self, drained: bool, server: bool) -> bool {
        match self {
            Lifecycle::Open | Lifecycle::Closing => false,
            Lifecycle::Closed { end, .. } => end.timed_out,
            Lifecycle::Delivered { end } => end.timed_out || (drained && (server || end.eof)),
        }
    }
}

fn abnormal(reason: &'static str, cause: CloseCause) -> Report<'static> {
    Report {
        code: CloseCode::ABNORMAL,
        reason,
        cause,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn closed_event(fx: (Effects, Option<Report<'_>>)) -> (Effects, CloseCause) {
        let (fx, report) = fx;
        (fx, report.expect("Closed is reported").cause)
    }

    /// The peer's close while open: reported once, echoed only when `Closed` is polled, and
    /// nothing is reported again.
    #[test]
    fn a_peer_close_is_echoed_when_closed_is_polled() {
        let mut l = Lifecycle::Open;
        let close = Trigger::PeerClose {
            code: Some(CloseCode::NORMAL),
            reason: "bye",
            client: false,
        };
        let (fx, cause) = closed_event(l.step(close));
        assert_eq!(
            cause,
            CloseCause::Clean {
                initiated_locally: false
            }
        );
        assert!(fx.send_reply.is_none() && !fx.arm_close_timer && !fx.drop_unsent_control);
        assert!(!l.is_reading() && l.can_send() && l.can_send_control());
        assert!(!l.is_terminated(true, true), "the echo is not queued yet");
        let (fx, report) = l.step(Trigger::ClosedPolled);
        assert!(report.is_none());
        assert_eq!(fx.send_reply, Some((Some(CloseCode::NORMAL), "")));
        assert!(!l.can_send() && !l.can_send_control());
        assert!(l.is_terminated(true, true) && !l.is_terminated(true, false));
        for trigger in [
            close,
            Trigger::Failed(ProtocolError::InvalidUtf8),
            Trigger::Eof,
        ] {
            assert!(l.step(trigger).1.is_none(), "Closed exactly once");
        }
        assert!(
            l.is_terminated(true, false),
            "the client saw the end of the transport"
        );
    }

    /// Our close, then the peer's: pongs stay allowed while closing (RFC 6455 §5.5.2), and
    /// unsent ones are dropped once the handshake is over.
    #[test]
    fn our_close_then_the_peers() {
        let mut l = Lifecycle::Open;
        let (fx, report) = l.step(Trigger::LocalClose);
        assert!(fx.arm_close_timer && report.is_none());
        assert_eq!(l.state(), State::Closing);
        assert!(l.is_reading() && !l.can_send() && l.can_send_control());
        assert!(!l.keepalive_runs());
        let (fx, cause) = closed_event(l.step(Trigger::PeerClose {
            code: None,
            reason: "",
            client: true,
        }));
        assert_eq!(
            cause,
            CloseCause::Clean {
                initiated_locally: true
            }
        );
        assert!(fx.drop_unsent_control && fx.arm_close_timer);
        assert!(!l.can_send_control());
        let (fx, _) = l.step(Trigger::ClosedPolled);
        assert!(fx.send_reply.is_none(), "our close is out already");
    }

    /// A protocol error's close frame carries its code and reason; a timeout ends waiting.
    #[test]
    fn failures_and_timeouts() {
        let mut l = Lifecycle::Open;
        let (fx, cause) = closed_event(l.step(Trigger::Failed(ProtocolError::InvalidUtf8)));
        assert_eq!(cause, CloseCause::Protocol(ProtocolError::InvalidUtf8));
        assert!(fx.arm_close_timer);
        let (fx, _) = l.step(Trigger::ClosedPolled);
        let reason = ProtocolError::InvalidUtf8.reason();
        assert_eq!(
            fx.send_reply,
            Some((Some(CloseCode::INVALID_PAYLOAD), reason))
        );
        assert!(!l.is_terminated(true, false));
        assert!(l.step(Trigger::CloseTimeout).1.is_none());
        assert!(l.is_terminated(false, false));

        let mut l = Lifecycle::Open;
        let (_, cause) = closed_event(l.step(Trigger::KeepaliveTimeout));
        assert_eq!(cause, CloseCause::KeepaliveTimeout);
        assert!(l.is_terminated(false, false));
    }
}
