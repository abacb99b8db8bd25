//! The task behind a reconnecting session: connects, hands frames on, applies the policy.

use std::sync::Arc;

use tokio::sync::{broadcast, mpsc, oneshot};
use tokio::time::Instant;
use tracing::debug;
use typed_ws_converters::ContentConverter;

use crate::client::Client;
use crate::error::{Error, Result};
use crate::frame::{CloseReason, Frame};
use crate::session::Sender;

use super::handle::{Link, Shared};
use super::{Cause, ClassifyFn, Event, HookFn, Outbox, ReconnectPolicy, RequestFn};

pub(super) struct Supervisor<C> {
    pub(super) client: Client<C>,
    pub(super) request: RequestFn,
    pub(super) policy: Arc<dyn ReconnectPolicy>,
    pub(super) classify: Option<ClassifyFn>,
    pub(super) on_connect: Option<HookFn<C>>,
    pub(super) shared: Arc<Shared<C>>,
    pub(super) events: broadcast::Sender<Event>,
    pub(super) incoming: mpsc::Sender<Frame>,
    pub(super) control: mpsc::Receiver<CloseReason>,
    pub(super) first: Option<oneshot::Sender<Result<()>>>,
}

/// How one connection's life ended.
pub(super) enum End {
    /// Reconnect (policy permitting) because of this.
    Retry(Cause, Option<Error>),
    /// The user closed the session with this reason.
    User(CloseReason),
}

impl<C: ContentConverter> Supervisor<C> {
    fn emit(&self, event: Event) {
        debug!(?event, "reconnecting session");
        let _ = self.events.send(event);
    }

    fn finish(&mut self, reason: CloseReason, error: Option<Error>) {
        self.shared.lock().link = Link::Closed(reason.clone());
        if let Some(first) = self.first.take() {
            let _ = first.send(Err(
                error.unwrap_or_else(|| Error::closed(Some(reason.clone())))
            ));
        }
        self.emit(Event::Closed {
            reason: reason.clone(),
        });
        self.shared.outcome.send_replace(Some(reason));
    }

    pub(super) async fn run(mut self) {
        // 0: the first connection; n >= 1: the n-th retry since the last live connection
        let mut attempt: u32 = 0;
        let mut since = Instant::now();
        loop {
            self.emit(Event::Connecting { attempt });
            let (cause, error) = match self.connection(attempt, &mut since).await {
                End::User(reason) => return self.finish(reason, None),
                End::Retry(cause, error) => (cause, error),
            };
            let retry = match &self.classify {
                Some(classify) => classify(&cause),
                None => self.policy.should_reconnect(&cause),
            };
            if !retry {
                return self.finish(cause.into_reason(), error);
            }
            if matches!(cause, Cause::Closed(_)) {
                // the connection was live until now: a new streak of retries starts, and the
                // policy's elapsed time counts from this loss
                attempt = 0;
                since = Instant::now();
            }
            attempt += 1;
            let Some(delay) = self.policy.next_delay(attempt, since.elapsed()) else {
                return self.finish(cause.into_reason(), error);
            };
            self.emit(Event::Reconnecting {
                attempt,
                delay,
                cause,
            });
            tokio::select! {
                _ = tokio::time::sleep(delay) => {}
                reason = self.control.recv() => {
                    return self.finish(reason.unwrap_or_else(|| CloseReason::normal("")), None);
                }
            }
        }
    }

    /// One connection: connect, hook, replay, pump until it ends.
    async fn connection(&mut self, attempt: u32, since: &mut Instant) -> End {
        let connect = async {
            let request = (self.request)(attempt).await?;
            self.client.web_socket_session(request).await
        };
        let session = tokio::select! {
            result = connect => result,
            reason = self.control.recv() => return End::User(reason.unwrap_or_else(|| CloseReason::normal(""))),
        };
        let session = match session {
            Ok(session) => session,
            Err(e) => {
                let cause = Cause::from_error(&e);
                return End::Retry(cause, Some(e));
            }
        };
        let (sender, mut receiver) = session.split();
        if let Some(hook) = &self.on_connect {
            let hook = hook(sender.clone());
            let result = tokio::select! {
                result = hook => result,
                reason = self.control.recv() => return self.user_close(&sender, reason).await,
            };
            if let Err(e) = result {
                if sender.is_closed() {
                    // the connection ended under the hook: classify its real ending
                    let reason = receiver.close_reason().await;
                    return End::Retry(Cause::Closed(reason), Some(e));
                }
                let _ = sender
                    .close(CloseReason::internal_error("on_connect hook failed"))
                    .await;
                let cause = Cause::from_error(&e);
                return End::Retry(cause, Some(e));
            }
        }
        if let Ok(mut converter) = self.shared.converter.lock() {
            *converter = sender.converter();
        }
        // replay the outbox in order; new sends keep queueing behind it until it is empty
        loop {
            let next = {
                let mut state = self.shared.lock();
                match state.buffer.pop_front() {
                    Some(frame) => frame,
                    None => {
                        state.link = Link::Up(sender.clone());
                        break;
                    }
                }
            };
            let sent = tokio::select! {
                sent = sender.send_or_return(next) => sent,
                reason = self.control.recv() => return self.user_close(&sender, reason).await,
            };
            if let Err(frame) = sent {
                self.shared.lock().buffer.push_front(frame);
                let reason = receiver.close_reason().await;
                self.keep_unsent(&sender);
                return End::Retry(Cause::Closed(reason), None);
            }
        }
        *since = Instant::now();
        self.emit(Event::Connected { attempt });
        if let Some(first) = self.first.take() {
            let _ = first.send(Ok(()));
        }
        loop {
            tokio::select! {
                item = receiver.receive() => match item {
                    Some(Ok(frame)) => {
                        tokio::select! {
                            sent = self.incoming.send(frame) => if sent.is_err() {
                                // nobody reads any more: keep the connection for the senders
                            },
                            reason = self.control.recv() => {
                                return self.user_close(&sender, reason).await;
                            }
                        }
                    }
                    Some(Err(_)) => {}
                    None => break,
                },
                reason = self.control.recv() => return self.user_close(&sender, reason).await,
            }
        }
        {
            let mut state = self.shared.lock();
            if matches!(state.link, Link::Up(_)) {
                state.link = Link::Down;
            }
        }
        let reason = receiver.close_reason().await;
        self.keep_unsent(&sender);
        End::Retry(Cause::Closed(reason), None)
    }

    /// With [`Outbox::Buffer`], frames the dead connection accepted but never wrote go back to
    /// the front of the outbox, in order, ahead of what was sent after the link went down.
    fn keep_unsent(&self, sender: &Sender<C>) {
        let unsent = sender.take_unsent();
        if unsent.is_empty() || !matches!(self.shared.outbox, Outbox::Buffer { .. }) {
            return;
        }
        debug!(
            frames = unsent.len(),
            "keeping frames the lost connection never wrote"
        );
        let mut state = self.shared.lock();
        for frame in unsent.into_iter().rev() {
            state.buffer.push_front(frame);
        }
    }

    async fn user_close(&mut self, sender: &Sender<C>, reason: Option<CloseReason>) -> End {
        let reason = reason.unwrap_or_else(|| CloseReason::normal(""));
        self.shared.lock().link = Link::Closed(reason.clone());
        let _ = sender.close(reason.clone()).await;
        End::User(reason)
    }
}
