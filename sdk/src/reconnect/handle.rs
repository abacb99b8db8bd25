//! What the application holds: [`ReconnectingSession`] and [`ReconnectingSender`], and the state
//! they share with the supervisor.

use std::collections::VecDeque;
use std::fmt;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use futures_core::Stream;
use tokio::sync::{broadcast, mpsc, watch};
use typed_ws_converters::ContentConverter;

use crate::error::{Error, ErrorKind, Result};
use crate::frame::{CloseCode, CloseReason, Frame};
use crate::session::Sender;
use crate::typed::{self, ReceiveFrames, SendFrames, SessionHandle, SinkSlot, SplitFrames};

use super::{Event, Outbox};

pub(super) enum Link<C> {
    Up(Sender<C>),
    Down,
    Closed(CloseReason),
}

pub(super) struct State<C> {
    pub(super) link: Link<C>,
    pub(super) buffer: VecDeque<Frame>,
}

pub(super) struct Shared<C> {
    pub(super) state: Mutex<State<C>>,
    pub(super) outbox: Outbox,
    pub(super) converter: Mutex<Arc<C>>,
    pub(super) outcome: watch::Sender<Option<CloseReason>>,
}

impl<C> Shared<C> {
    pub(super) fn lock(&self) -> std::sync::MutexGuard<'_, State<C>> {
        // a panic while holding this lock cannot leave the state half-changed: recover it
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(super) fn converter(&self) -> Arc<C> {
        Arc::clone(&self.converter.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

/// A session that reconnects per its policy. Receive from it like a [`crate::Session`]; send
/// through it or through cloned [`ReconnectingSender`]s, which keep working across
/// reconnects. A [`Stream`] of data frames and a
/// [`Sink`](futures_util::Sink) of frames; [`typed`](Self::typed) fixes it to a protocol.
pub struct ReconnectingSession<C = crate::Json> {
    pub(super) sender: ReconnectingSender<C>,
    pub(super) incoming: mpsc::Receiver<Frame>,
    pub(super) events: Option<broadcast::Receiver<Event>>,
    pub(super) events_tx: broadcast::Sender<Event>,
    /// Set once the incoming queue has ended (`FusedStream`).
    pub(super) done: bool,
}

impl<C> fmt::Debug for ReconnectingSession<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReconnectingSession")
            .finish_non_exhaustive()
    }
}

impl<C: ContentConverter> ReconnectingSession<C> {
    /// A sender that keeps working across reconnects (cheap to clone).
    pub fn sender(&self) -> ReconnectingSender<C> {
        self.sender.clone()
    }

    typed::send_methods!();
    typed::receive_methods!();
    typed::handle_methods!();
    typed::split_methods!();

    /// The lifecycle events, from the session's start (the first call) or from now (later
    /// calls). Events are kept for a slow reader up to 256; older ones are skipped.
    pub fn events(&mut self) -> Pin<Box<dyn Stream<Item = Event> + Send + 'static>> {
        let rx = self
            .events
            .take()
            .unwrap_or_else(|| self.events_tx.subscribe());
        Box::pin(futures_util::stream::unfold(rx, |mut rx| async move {
            loop {
                match rx.recv().await {
                    Ok(event) => return Some((event, rx)),
                    Err(broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(broadcast::error::RecvError::Closed) => return None,
                }
            }
        }))
    }
}

typed::delegate_sending!(ReconnectingSession, ReconnectingSender);

impl<C: ContentConverter> ReceiveFrames for ReconnectingSession<C> {
    fn poll_frame(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Frame>>> {
        let item = std::task::ready!(self.incoming.poll_recv(cx));
        self.done = item.is_none();
        Poll::Ready(item.map(Ok))
    }

    fn frames_done(&self) -> bool {
        self.done
    }

    fn queued_items(&self) -> usize {
        self.incoming.len()
    }

    async fn closed_error(&self) -> Error {
        Error::closed(Some(self.sender.wait_closed().await))
    }
}

impl<C: ContentConverter> SplitFrames for ReconnectingSession<C> {
    type Receiver = Self;

    /// The receiving half is the session itself: it keeps receiving from whichever connection
    /// is live, and holds one more sending handle (the session ends once every handle is
    /// dropped).
    fn split_frames(self) -> (ReconnectingSender<C>, Self) {
        (self.sender.clone(), self)
    }
}

typed::impl_frame_stream!(ReconnectingSession);
typed::impl_frame_sink!(ReconnectingSession, sender.sink);

/// The sending handle of a [`ReconnectingSession`]: cheap to clone, valid across reconnects.
/// A [`Sink`](futures_util::Sink) of frames.
pub struct ReconnectingSender<C = crate::Json> {
    pub(super) shared: Arc<Shared<C>>,
    pub(super) control: mpsc::Sender<CloseReason>,
    /// The send in flight when used as a `Sink` (not shared with clones).
    pub(super) sink: SinkSlot,
}

impl<C> Clone for ReconnectingSender<C> {
    fn clone(&self) -> Self {
        ReconnectingSender {
            shared: Arc::clone(&self.shared),
            control: self.control.clone(),
            sink: SinkSlot::default(),
        }
    }
}

impl<C> fmt::Debug for ReconnectingSender<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReconnectingSender").finish_non_exhaustive()
    }
}

impl<C: ContentConverter> ReconnectingSender<C> {
    typed::send_methods!();
    typed::handle_methods!();

    fn while_down(&self, state: &mut State<C>, frame: Frame) -> Result<()> {
        match self.shared.outbox {
            Outbox::Fail => Err(Error::new(
                ErrorKind::Closed,
                "disconnected and reconnecting; the outbox policy is Fail (choose Outbox::Buffer to keep messages)",
            )),
            Outbox::Drop => Ok(()),
            Outbox::Buffer { max_messages } if state.buffer.len() < max_messages => {
                state.buffer.push_back(frame);
                Ok(())
            }
            Outbox::Buffer { max_messages } => Err(Error::new(
                ErrorKind::Closed,
                format!(
                    "disconnected and the outbox is full ({max_messages} messages, max_messages)"
                ),
            )),
        }
    }
}

impl<C> typed::sealed::Sealed for ReconnectingSender<C> {}

impl<C: ContentConverter> SessionHandle for ReconnectingSender<C> {
    type Converter = C;

    fn current_converter(&self) -> Arc<C> {
        self.shared.converter()
    }

    async fn wait_closed(&self) -> CloseReason {
        let mut rx = self.shared.outcome.subscribe();
        loop {
            if let Some(reason) = rx.borrow_and_update().clone() {
                return reason;
            }
            if rx.changed().await.is_err() {
                return CloseReason::new(CloseCode::ABNORMAL, "reconnecting session stopped");
            }
        }
    }

    fn try_closed(&self) -> Option<CloseReason> {
        self.shared.outcome.borrow().clone()
    }

    fn closing(&self) -> bool {
        matches!(self.shared.lock().link, Link::Closed(_)) || self.control.is_closed()
    }
}

impl<C: ContentConverter> SendFrames for ReconnectingSender<C> {
    type Sender = Self;

    /// Sends a data frame on the live connection; while disconnected, applies the
    /// [`Outbox`] policy. With [`Outbox::Buffer`], frames the connection accepted but had not
    /// written when it died are replayed too; frames already written to a socket that then
    /// died are lost with it (there are no acknowledgements).
    async fn send_frame(&self, frame: Frame) -> Result<()> {
        if let Frame::Close(reason) = frame {
            return self
                .close_with(reason.unwrap_or_else(|| CloseReason::normal("")))
                .await;
        }
        let mut frame = frame;
        loop {
            let live = {
                let mut state = self.shared.lock();
                match &state.link {
                    Link::Up(sender) => sender.clone(),
                    Link::Closed(reason) => return Err(Error::closed(Some(reason.clone()))),
                    Link::Down => return self.while_down(&mut state, frame),
                }
            };
            match live.send_or_return(frame).await {
                Ok(()) => return Ok(()),
                // the connection died under us: mark it down unless the supervisor already
                // replaced it, then apply the outbox policy to this frame
                Err(returned) => {
                    frame = returned;
                    let mut state = self.shared.lock();
                    if let Link::Up(current) = &state.link
                        && current.is_closed()
                    {
                        state.link = Link::Down;
                    }
                }
            }
        }
    }

    async fn flush_frames(&self) -> Result<()> {
        let live = match &self.shared.lock().link {
            Link::Up(sender) => sender.clone(),
            Link::Down => return Ok(()),
            Link::Closed(reason) => return Err(Error::closed(Some(reason.clone()))),
        };
        match live.flush().await {
            Ok(()) => Ok(()),
            // that connection ended: what it had not written is the outbox's now
            Err(_) if !self.closing() => Ok(()),
            Err(e) => Err(e),
        }
    }

    async fn close_with(&self, reason: CloseReason) -> Result<()> {
        // a full queue means a close is already asked for; a closed one, that it is over
        let _ = self.control.try_send(reason);
        self.wait_closed().await;
        Ok(())
    }

    fn sending_handle(&self) -> Self {
        self.clone()
    }
}

typed::impl_frame_sink!(ReconnectingSender, sink);
