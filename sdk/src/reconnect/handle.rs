//! What the application holds: [`ReconnectingSession`] and [`ReconnectingSender`], and the state
//! they share with the supervisor.

use std::collections::VecDeque;
use std::fmt;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures_core::Stream;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::{broadcast, mpsc, watch};
use typed_ws_converters::{ContentConverter, Message};

use crate::error::{Error, ErrorKind, Result};
use crate::frame::{CloseCode, CloseReason, Frame};
use crate::session::Sender;

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
/// reconnects.
pub struct ReconnectingSession<C = crate::Json> {
    pub(super) sender: ReconnectingSender<C>,
    pub(super) incoming: mpsc::Receiver<Frame>,
    pub(super) events: Option<broadcast::Receiver<Event>>,
    pub(super) events_tx: broadcast::Sender<Event>,
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

    /// Sends a frame; while disconnected, the [`Outbox`] policy applies.
    ///
    /// # Errors
    ///
    /// See [`ReconnectingSender::send`].
    pub async fn send(&self, frame: Frame) -> Result<()> {
        self.sender.send(frame).await
    }

    /// Sends a Text frame.
    ///
    /// # Errors
    ///
    /// See [`ReconnectingSender::send`].
    pub async fn send_text(&self, text: impl Into<String>) -> Result<()> {
        self.sender.send_text(text).await
    }

    /// Sends a Binary frame.
    ///
    /// # Errors
    ///
    /// See [`ReconnectingSender::send`].
    pub async fn send_binary(&self, bytes: impl Into<Bytes>) -> Result<()> {
        self.sender.send_binary(bytes).await
    }

    /// Serializes and sends `value`.
    ///
    /// # Errors
    ///
    /// An encode error, else see [`ReconnectingSender::send`].
    pub async fn send_serialized<T: Serialize + ?Sized>(&self, value: &T) -> Result<()> {
        self.sender.send_serialized(value).await
    }

    /// Sends one message of a [`Message`] protocol.
    ///
    /// # Errors
    ///
    /// An encode error, else see [`ReconnectingSender::send`].
    pub async fn send_message<M: Message>(&self, message: impl Into<M>) -> Result<()> {
        self.sender.send_message(message).await
    }

    /// The next data frame from whichever connection is live; `None` once the session is
    /// closed for good.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe.
    pub async fn receive(&mut self) -> Option<Frame> {
        self.incoming.recv().await
    }

    /// The next data frame, deserialized with the current connection's converter.
    ///
    /// # Errors
    ///
    /// `Decode` (frame kept, the session goes on) or `Closed` once over.
    pub async fn receive_deserialized<T: DeserializeOwned>(&mut self) -> Result<T> {
        let frame = self.next_frame().await?;
        self.sender
            .shared
            .converter()
            .deserialize(&frame)
            .map_err(|e| Error::decode(e, frame))
    }

    /// The next message of a [`Message`] protocol.
    ///
    /// # Errors
    ///
    /// As [`receive_deserialized`](Self::receive_deserialized).
    pub async fn receive_message<M: Message>(&mut self) -> Result<M> {
        let frame = self.next_frame().await?;
        M::decode(&*self.sender.shared.converter(), &frame).map_err(|e| Error::decode(e, frame))
    }

    async fn next_frame(&mut self) -> Result<Frame> {
        match self.incoming.recv().await {
            Some(frame) => Ok(frame),
            None => Err(Error::closed(self.sender.shared.outcome.borrow().clone())),
        }
    }

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

    /// Closes the current connection with `reason` and stops reconnecting.
    ///
    /// # Errors
    ///
    /// None today.
    pub async fn close(&self, reason: CloseReason) -> Result<()> {
        self.sender.close(reason).await
    }

    /// The final reason, once the session is over for good; waits until then.
    pub async fn close_reason(&self) -> CloseReason {
        self.sender.close_reason().await
    }
}

/// The sending handle of a [`ReconnectingSession`]: cheap to clone, valid across reconnects.
pub struct ReconnectingSender<C = crate::Json> {
    pub(super) shared: Arc<Shared<C>>,
    pub(super) control: mpsc::Sender<CloseReason>,
}

impl<C> Clone for ReconnectingSender<C> {
    fn clone(&self) -> Self {
        ReconnectingSender {
            shared: Arc::clone(&self.shared),
            control: self.control.clone(),
        }
    }
}

impl<C> fmt::Debug for ReconnectingSender<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReconnectingSender").finish_non_exhaustive()
    }
}

impl<C: ContentConverter> ReconnectingSender<C> {
    /// Sends a data frame on the live connection; while disconnected, applies the
    /// [`Outbox`] policy. With [`Outbox::Buffer`], frames the connection accepted but had not
    /// written when it died are replayed too; frames already written to a socket that then
    /// died are lost with it (there are no acknowledgements).
    ///
    /// # Errors
    ///
    /// `Closed` once the session is over, or while disconnected with [`Outbox::Fail`], or
    /// when the [`Outbox::Buffer`] is full.
    pub async fn send(&self, frame: Frame) -> Result<()> {
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

    /// Sends a Text frame.
    ///
    /// # Errors
    ///
    /// As [`send`](Self::send).
    pub async fn send_text(&self, text: impl Into<String>) -> Result<()> {
        self.send(Frame::Text(text.into())).await
    }

    /// Sends a Binary frame.
    ///
    /// # Errors
    ///
    /// As [`send`](Self::send).
    pub async fn send_binary(&self, bytes: impl Into<Bytes>) -> Result<()> {
        self.send(Frame::Binary(bytes.into())).await
    }

    /// Serializes and sends `value` with the current connection's converter.
    ///
    /// # Errors
    ///
    /// An encode error, else as [`send`](Self::send).
    pub async fn send_serialized<T: Serialize + ?Sized>(&self, value: &T) -> Result<()> {
        let frame = self
            .shared
            .converter()
            .serialize(value)
            .map_err(Error::encode)?;
        self.send(frame).await
    }

    /// Sends one message of a [`Message`] protocol.
    ///
    /// # Errors
    ///
    /// An encode error, else as [`send`](Self::send).
    pub async fn send_message<M: Message>(&self, message: impl Into<M>) -> Result<()> {
        let frame = message
            .into()
            .encode(&*self.shared.converter())
            .map_err(Error::encode)?;
        self.send(frame).await
    }

    /// Closes the session for good; see [`ReconnectingSession::close`].
    ///
    /// # Errors
    ///
    /// None today.
    pub async fn close(&self, reason: CloseReason) -> Result<()> {
        // a full queue means a close is already asked for; a closed one, that it is over
        let _ = self.control.try_send(reason);
        self.close_reason().await;
        Ok(())
    }

    /// The final reason, once the session is over for good; waits until then.
    pub async fn close_reason(&self) -> CloseReason {
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
}
