//! The driver: one task per session that owns the socket.
//!
//! It reads, writes, answers pings, runs the pinger, batches outgoing frames (write all that is
//! queued, flush once) and carries out the close handshake. The session's handles talk to it
//! over bounded channels, so liveness never depends on whether the application reads.

use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures_core::Stream;
use futures_util::Sink;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{mpsc, oneshot};
use tokio::time::{Instant, Sleep};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::error::{CapacityError, ProtocolError};
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode as WsCloseCode;
use tokio_tungstenite::tungstenite::{Error as WsError, Message as WsMessage};
use tracing::{Instrument, Span, debug, trace};

use crate::error::{Error, ErrorKind};
use crate::frame::{CloseCode, CloseReason, Frame};
use crate::session::Shared;
use crate::settings::Settings;

/// What a session handle asks of the driver.
pub(crate) enum Command {
    /// Queue a frame for writing.
    Send(WsMessage),
    /// Answer once everything queued before is written and flushed.
    Flush(oneshot::Sender<()>),
    /// Start the close handshake with this reason.
    Close(CloseReason),
}

/// The most events handled in one wake-up before yielding to other tasks.
const BUDGET: usize = 256;
/// Upper bound on flushing a close frame after a failure (ping timeout, protocol error).
const FAIL_FLUSH: Duration = Duration::from_secs(1);

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Phase {
    /// Frames flow both ways.
    Open,
    /// A close frame was queued; waiting for the peer's (bounded by the close deadline).
    Closing,
    /// Finished: the socket is dropped.
    Done,
}

type Reserve = Pin<
    Box<
        dyn Future<
                Output = Result<
                    mpsc::OwnedPermit<Result<Frame, Error>>,
                    mpsc::error::SendError<()>,
                >,
            > + Send,
    >,
>;

pub(crate) struct Driver<S> {
    ws: WebSocketStream<S>,
    settings: Arc<Settings>,
    raw: bool,
    shared: Arc<Shared>,
    commands: mpsc::Receiver<Command>,
    commands_open: bool,
    incoming: mpsc::Sender<Result<Frame, Error>>,
    /// A frame the application's full queue could not take yet, and the wait for room.
    pending: Option<(Result<Frame, Error>, Reserve)>,
    /// Resolves when the application dropped its `Receiver`.
    receiver_gone: oneshot::Receiver<()>,
    receiver_open: bool,
    reading: bool,
    dirty: bool,
    flush_waiters: Vec<oneshot::Sender<()>>,
    phase: Phase,
    /// How the session ended, once known.
    outcome: Option<CloseReason>,
    timer: Pin<Box<Sleep>>,
    /// Payload of the ping waiting for its pong, and when it was sent.
    outstanding_ping: Option<(u64, Instant)>,
    ping_counter: u64,
    next_ping: Option<Instant>,
    deadline: Option<Instant>,
    /// A read-side failure waiting to be reported with a close frame until the application
    /// has taken every frame received before it (bounded by the deadline), so replies to those
    /// frames still go out.
    failing: Option<(CloseReason, oneshot::Receiver<()>)>,
}

impl<S> Driver<S>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn spawn(
        ws: WebSocketStream<S>,
        settings: Arc<Settings>,
        raw: bool,
        shared: Arc<Shared>,
        commands: mpsc::Receiver<Command>,
        incoming: mpsc::Sender<Result<Frame, Error>>,
        receiver_gone: oneshot::Receiver<()>,
        span: Span,
    ) {
        let now = Instant::now();
        let next_ping = if raw {
            None
        } else {
            settings.ping_interval.map(|interval| now + interval)
        };
        let driver = Driver {
            ws,
            settings,
            raw,
            shared,
            commands,
            commands_open: true,
            incoming,
            pending: None,
            receiver_gone,
            receiver_open: true,
            reading: true,
            dirty: false,
            flush_waiters: Vec::new(),
            phase: Phase::Open,
            outcome: None,
            timer: Box::pin(tokio::time::sleep_until(
                next_ping.unwrap_or(now + Duration::from_secs(86400 * 365)),
            )),
            outstanding_ping: None,
            ping_counter: 0,
            next_ping,
            deadline: None,
            failing: None,
        };
        tokio::spawn(driver.run().instrument(span));
    }

    async fn run(mut self) {
        debug!("session open");
        poll_fn(|cx| self.poll_drive(cx)).await;
        let outcome = self
            .outcome
            .take()
            .unwrap_or_else(|| CloseReason::new(CloseCode::ABNORMAL, "connection lost"));
        debug!(code = outcome.code.0, reason = %outcome.reason, "session closed");
        self.shared.closing.store(true, Ordering::Release);
        self.shared.outcome.send_replace(Some(outcome));
    }

    fn poll_drive(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let mut budget = BUDGET;
        loop {
            if self.phase == Phase::Done {
                return Poll::Ready(());
            }
            let mut progress = false;

            if self.receiver_open && Pin::new(&mut self.receiver_gone).poll(cx).is_ready() {
                self.receiver_open = false;
                self.pending = None;
                progress = true;
            }

            progress |= self.poll_deliver(cx);
            progress |= self.poll_read(cx);
            progress |= self.poll_commands(cx);
            // after the commands: what the application sent before taking the error goes first
            if let Some((_, seen)) = self.failing.as_mut()
                && (!self.receiver_open || Pin::new(seen).poll(cx).is_ready())
            {
                self.fail_now(cx);
                progress = true;
            }
            self.poll_flush(cx);
            progress |= self.poll_timer(cx);

            if !self.commands_open && !self.receiver_open && self.failing.is_some() {
                self.fail_now(cx);
                progress = true;
            }
            if !self.commands_open && !self.receiver_open && self.phase == Phase::Open {
                // every handle is gone: close normally (the drop of a session)
                self.begin_close(CloseReason::new(CloseCode::NORMAL, ""), cx);
                progress = true;
            }
            if self.phase == Phase::Closing && !self.reading && !self.dirty {
                self.phase = Phase::Done;
                continue;
            }
            if !progress {
                return Poll::Pending;
            }
            budget -= 1;
            if budget == 0 {
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
        }
    }

    /// Hands a held-back frame to the application once its queue has room.
    fn poll_deliver(&mut self, cx: &mut Context<'_>) -> bool {
        let Some((_, reserve)) = self.pending.as_mut() else {
            return false;
        };
        match reserve.as_mut().poll(cx) {
            Poll::Pending => false,
            Poll::Ready(result) => {
                if let Some((item, _)) = self.pending.take()
                    && let Ok(permit) = result
                {
                    permit.send(item);
                }
                true
            }
        }
    }

    fn deliver(&mut self, item: Result<Frame, Error>) {
        if !self.receiver_open {
            return;
        }
        match self.incoming.try_send(item) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(item)) => {
                let reserve: Reserve = Box::pin(self.incoming.clone().reserve_owned());
                self.pending = Some((item, reserve));
            }
            Err(mpsc::error::TrySendError::Closed(_)) => self.receiver_open = false,
        }
    }

    /// Reads what the socket has while the application can take it.
    fn poll_read(&mut self, cx: &mut Context<'_>) -> bool {
        if !self.reading || self.pending.is_some() {
            return false;
        }
        match Pin::new(&mut self.ws).poll_next(cx) {
            Poll::Pending => false,
            Poll::Ready(Some(Ok(message))) => {
                self.on_message(message);
                true
            }
            Poll::Ready(Some(Err(error))) => {
                self.on_read_error(error, cx);
                true
            }
            Poll::Ready(None) => {
                self.reading = false;
                self.end_of_stream();
                true
            }
        }
    }

    fn on_message(&mut self, message: WsMessage) {
        match message {
            WsMessage::Text(text) => {
                trace!(kind = "text", len = text.len(), "received");
                self.deliver(Ok(Frame::Text(text.as_str().to_owned())));
            }
            WsMessage::Binary(bytes) => {
                trace!(kind = "binary", len = bytes.len(), "received");
                self.deliver(Ok(Frame::Binary(bytes)));
            }
            WsMessage::Ping(payload) => {
                trace!(kind = "ping", len = payload.len(), "received");
                // tungstenite queued the pong; it goes out with the next flush
                self.dirty = true;
                if self.raw {
                    self.deliver(Ok(Frame::Ping(payload)));
                }
            }
            WsMessage::Pong(payload) => {
                trace!(kind = "pong", len = payload.len(), "received");
                if let Some((expected, sent)) = self.outstanding_ping
                    && payload.as_ref() == expected.to_be_bytes()
                {
                    trace!(rtt = ?sent.elapsed(), "pong matched");
                    self.outstanding_ping = None;
                    self.deadline = None;
                    self.next_ping = self.settings.ping_interval.map(|interval| sent + interval);
                }
                if self.raw {
                    self.deliver(Ok(Frame::Pong(payload)));
                }
            }
            WsMessage::Close(frame) => {
                let reason = match frame {
                    Some(frame) => CloseReason::new(u16::from(frame.code), frame.reason.as_str()),
                    None => CloseReason::new(CloseCode::NO_STATUS, ""),
                };
                if self.phase == Phase::Open {
                    debug!(code = reason.code.0, reason = %reason.reason, "peer closed");
                    // tungstenite queued the echo; flush it, then wait for the end of stream
                    self.outcome = Some(reason.clone());
                    self.phase = Phase::Closing;
                    self.deadline = Some(Instant::now() + self.settings.close_timeout);
                    self.dirty = true;
                    self.shared.closing.store(true, Ordering::Release);
                } else {
                    debug!(code = reason.code.0, "close acknowledged by peer");
                }
                if self.raw {
                    self.deliver(Ok(Frame::Close(Some(reason))));
                }
            }
            WsMessage::Frame(_) => {}
        }
    }

    fn on_read_error(&mut self, error: WsError, cx: &mut Context<'_>) {
        let settings = Arc::clone(&self.settings);
        let (code, kind, message) = match &error {
            WsError::ConnectionClosed | WsError::AlreadyClosed => {
                self.reading = false;
                self.end_of_stream();
                return;
            }
            WsError::Capacity(CapacityError::MessageTooLong { size, max_size }) => (
                CloseCode::TOO_BIG,
                ErrorKind::TooBig,
                settings.too_big_message(*size, *max_size),
            ),
            WsError::Capacity(other) => (
                CloseCode::TOO_BIG,
                ErrorKind::TooBig,
                format!("received a message over the size limits: {other}"),
            ),
            WsError::Utf8(_) => (
                CloseCode::INVALID_PAYLOAD,
                ErrorKind::Protocol,
                "peer sent a text message that is not valid UTF-8".to_owned(),
            ),
            // RFC 6455: data after the peer's close frame is discarded
            WsError::Protocol(ProtocolError::ReceivedAfterClosing) if self.outcome.is_some() => {
                return;
            }
            WsError::Protocol(ProtocolError::ResetWithoutClosingHandshake) => {
                self.reading = false;
                self.lost("connection reset without a closing handshake", error);
                return;
            }
            WsError::Protocol(p) => (
                CloseCode::PROTOCOL_ERROR,
                ErrorKind::Protocol,
                format!("peer broke the WebSocket protocol: {p}"),
            ),
            WsError::Io(_) | WsError::Tls(_) => {
                self.reading = false;
                self.lost("connection lost", error);
                return;
            }
            other => (
                CloseCode::PROTOCOL_ERROR,
                ErrorKind::Protocol,
                format!("websocket error: {other}"),
            ),
        };
        debug!(code = code.0, %message, "failing the connection");
        let reason = CloseReason::new(code, short_reason(kind));
        // stop reading now, but send the close frame only once the application has taken the
        // frames received before the error (or after a short bound): it may still reply to them
        let (seen_tx, seen_rx) = oneshot::channel();
        self.shared.set_terminal_watch(seen_tx);
        self.reading = false;
        self.outcome = Some(reason.clone());
        self.deliver(Err(Error::new(kind, message)
            .with_source(error)
            .with_close(reason.clone())));
        self.failing = Some((reason, seen_rx));
        self.deadline = Some(Instant::now() + FAIL_FLUSH.min(self.settings.close_timeout));
        let _ = cx;
    }

    /// Sends the close frame of a deferred read-side failure.
    fn fail_now(&mut self, cx: &mut Context<'_>) {
        if let Some((reason, _)) = self.failing.take() {
            self.fail(reason, cx);
        }
    }

    /// The transport failed: nothing can be sent any more; the session ends with 1006.
    fn lost(&mut self, what: &str, error: WsError) {
        debug!(%error, "{what}");
        let reason = CloseReason::new(CloseCode::ABNORMAL, what);
        if self.outcome.is_none() {
            self.outcome = Some(reason.clone());
            self.deliver(Err(Error::new(ErrorKind::Io, format!("{what}: {error}"))
                .with_source(error)
                .with_close(reason)));
        }
        self.dirty = false;
        self.phase = Phase::Done;
    }

    fn end_of_stream(&mut self) {
        if self.outcome.is_none() {
            debug!("connection ended without a close frame");
            let reason = CloseReason::new(
                CloseCode::ABNORMAL,
                "connection closed without a close frame",
            );
            self.deliver(Err(Error::new(
                ErrorKind::Io,
                "connection closed by the peer without a close frame (1006)",
            )
            .with_close(reason.clone())));
            self.outcome = Some(reason);
            self.dirty = false;
        }
        self.phase = Phase::Done;
    }

    /// Fails the connection: sends a close frame with `reason` (flushed for at most a second),
    /// and stops reading.
    fn fail(&mut self, reason: CloseReason, cx: &mut Context<'_>) {
        self.reading = false;
        if self.outcome.is_none() {
            self.outcome = Some(reason.clone());
        }
        self.shared.closing.store(true, Ordering::Release);
        if self.phase == Phase::Open {
            let _ = self.write(close_message(&reason), cx);
        }
        self.phase = Phase::Closing;
        self.deadline = Some(Instant::now() + FAIL_FLUSH.min(self.settings.close_timeout));
    }

    fn begin_close(&mut self, reason: CloseReason, cx: &mut Context<'_>) {
        if self.phase != Phase::Open {
            return;
        }
        debug!(code = reason.code.0, reason = %reason.reason, "closing");
        self.shared.closing.store(true, Ordering::Release);
        self.outcome = Some(reason.clone());
        let _ = self.write(close_message(&reason), cx);
        self.phase = Phase::Closing;
        self.deadline = Some(Instant::now() + self.settings.close_timeout);
    }

    /// Queues one message in tungstenite's write buffer. `false` if the transport is gone.
    fn write(&mut self, message: WsMessage, _cx: &mut Context<'_>) -> bool {
        match Pin::new(&mut self.ws).start_send(message) {
            Ok(()) => {
                self.dirty = true;
                true
            }
            Err(WsError::Io(e)) => {
                self.lost("connection lost while writing", WsError::Io(e));
                false
            }
            Err(error) => {
                debug!(%error, "write refused");
                false
            }
        }
    }

    /// Moves queued commands into the write buffer while it has room.
    fn poll_commands(&mut self, cx: &mut Context<'_>) -> bool {
        let mut progress = false;
        while self.commands_open && self.phase == Phase::Open {
            match Pin::new(&mut self.ws).poll_ready(cx) {
                Poll::Pending => break,
                Poll::Ready(Err(error)) => {
                    self.on_write_error(error);
                    return true;
                }
                Poll::Ready(Ok(())) => {}
            }
            match self.commands.poll_recv(cx) {
                Poll::Pending => break,
                Poll::Ready(None) => {
                    self.commands_open = false;
                    progress = true;
                }
                Poll::Ready(Some(Command::Send(message))) => {
                    trace!(
                        kind = message_kind(&message),
                        len = message.len(),
                        "sending"
                    );
                    if !self.write(message, cx) {
                        return true;
                    }
                    progress = true;
                }
                Poll::Ready(Some(Command::Flush(waiter))) => {
                    self.flush_waiters.push(waiter);
                    progress = true;
                }
                Poll::Ready(Some(Command::Close(reason))) => {
                    self.begin_close(reason, cx);
                    progress = true;
                }
            }
        }
        if !self.dirty && !self.flush_waiters.is_empty() {
            for waiter in self.flush_waiters.drain(..) {
                let _ = waiter.send(());
            }
        }
        progress
    }

    fn on_write_error(&mut self, error: WsError) {
        match error {
            WsError::ConnectionClosed | WsError::AlreadyClosed => {
                self.dirty = false;
                if self.phase == Phase::Open {
                    self.phase = Phase::Closing;
                }
            }
            other => self.lost("connection lost while writing", other),
        }
    }

    /// Flushes the write buffer once everything queued has been written into it.
    fn poll_flush(&mut self, cx: &mut Context<'_>) {
        if !self.dirty {
            return;
        }
        match Pin::new(&mut self.ws).poll_flush(cx) {
            Poll::Pending => {}
            Poll::Ready(Ok(())) => {
                self.dirty = false;
                for waiter in self.flush_waiters.drain(..) {
                    let _ = waiter.send(());
                }
            }
            Poll::Ready(Err(error)) => self.on_write_error(error),
        }
    }

    /// The pinger and the close/ failure deadlines.
    fn poll_timer(&mut self, cx: &mut Context<'_>) -> bool {
        let when = match (self.deadline, self.next_ping) {
            (Some(deadline), _) => deadline,
            (None, Some(next)) if self.phase == Phase::Open => next,
            _ => return false,
        };
        if self.timer.deadline() != when {
            self.timer.as_mut().reset(when);
        }
        if self.timer.as_mut().poll(cx).is_pending() {
            return false;
        }
        let now = Instant::now();
        match self.phase {
            Phase::Closing | Phase::Done => {
                debug!("peer did not finish the close handshake in time");
                self.reading = false;
                self.dirty = false;
                self.phase = Phase::Done;
            }
            Phase::Open if self.failing.is_some() => self.fail_now(cx),
            Phase::Open if self.outstanding_ping.is_some() => {
                if self.pending.is_some() {
                    // we stopped reading because the application is behind, not the peer:
                    // give the pong another period once we read again
                    self.deadline = Some(now + self.settings.pong_timeout);
                    return true;
                }
                let timeout = self.settings.pong_timeout;
                debug!(?timeout, "no pong: ping timeout");
                let reason = CloseReason::new(CloseCode::INTERNAL_ERROR, "ping timeout");
                self.deliver(Err(Error::new(
                    ErrorKind::Timeout,
                    format!(
                        "ping timeout: no pong within {timeout:?}; the peer or the network is unresponsive (raise pong_timeout if the peer is slow)"
                    ),
                )
                .with_close(reason.clone())));
                self.outstanding_ping = None;
                self.fail(reason, cx);
            }
            Phase::Open => {
                self.ping_counter += 1;
                let payload = self.ping_counter;
                if self.write(
                    WsMessage::Ping(Bytes::copy_from_slice(&payload.to_be_bytes())),
                    cx,
                ) {
                    trace!(payload, "ping sent");
                    self.outstanding_ping = Some((payload, now));
                    self.deadline = Some(now + self.settings.pong_timeout);
                }
                self.next_ping = None;
            }
        }
        true
    }
}

fn short_reason(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::TooBig => "message too big",
        ErrorKind::Protocol => "protocol error",
        _ => "error",
    }
}

fn message_kind(message: &WsMessage) -> &'static str {
    match message {
        WsMessage::Text(_) => "text",
        WsMessage::Binary(_) => "binary",
        WsMessage::Ping(_) => "ping",
        WsMessage::Pong(_) => "pong",
        WsMessage::Close(_) => "close",
        WsMessage::Frame(_) => "frame",
    }
}

pub(crate) fn close_message(reason: &CloseReason) -> WsMessage {
    WsMessage::Close(Some(CloseFrame {
        code: WsCloseCode::from(reason.code.0),
        reason: reason.reason.as_str().into(),
    }))
}

/// Converts a message back into a frame (only for frames handed back unsent).
pub(crate) fn from_message(message: WsMessage) -> Frame {
    match message {
        WsMessage::Text(text) => Frame::Text(text.as_str().to_owned()),
        WsMessage::Binary(bytes) => Frame::Binary(bytes),
        WsMessage::Ping(bytes) => Frame::Ping(bytes),
        WsMessage::Pong(bytes) => Frame::Pong(bytes),
        WsMessage::Close(frame) => {
            Frame::Close(frame.map(|f| CloseReason::new(u16::from(f.code), f.reason.as_str())))
        }
        WsMessage::Frame(frame) => Frame::Binary(Bytes::copy_from_slice(frame.payload())),
    }
}

/// Converts a frame for the wire without copying the payload.
pub(crate) fn to_message(frame: Frame) -> WsMessage {
    match frame {
        Frame::Text(text) => WsMessage::Text(text.into()),
        Frame::Binary(bytes) => WsMessage::Binary(bytes),
        Frame::Ping(bytes) => WsMessage::Ping(bytes),
        Frame::Pong(bytes) => WsMessage::Pong(bytes),
        Frame::Close(None) => WsMessage::Close(None),
        Frame::Close(Some(reason)) => close_message(&reason),
    }
}
