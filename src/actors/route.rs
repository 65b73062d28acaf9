//! Sending a message to an actor wherever it lives.
//!
//! [`ask`] and [`tell`] are the only way actors, the gateway and the API reach conversation,
//! agent and queue actors. With one process (memory engine) they go straight to the local
//! activation. In a cluster they find the actor's owner ([`crate::cluster::ClusterNode::locate`]):
//! here → the local activation, which holds the lease; elsewhere → the message is serialized and
//! forwarded, and the answer comes back the same way. A stale answer ("this activation lost its
//! lease") or a silent owner makes the caller locate again and retry; messages are idempotent.

use std::fmt::Debug;
use std::hash::Hash;
use std::time::Duration;

use actix::dev::ToEnvelope;
use actix::prelude::*;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use crate::cluster::{Location, WireError};
use crate::engine::ActorRef;
use crate::protocol::{CommandError, ErrorCode};
use crate::runtime::Rt;

/// A message that can travel between nodes. Every one answers `Result<T, CommandError>`, so
/// that a stale activation can say "moved" whatever the message.
pub trait Remote:
    Message<Result = Result<Self::Ok, CommandError>>
    + Serialize
    + DeserializeOwned
    + Clone
    + Send
    + 'static
{
    type Ok: Serialize + DeserializeOwned + Send + 'static;
    /// The message's name on the wire.
    const NAME: &'static str;
}

/// Declares messages as [`Remote`]: `remote!(Post => (u64, bool), "conv.post");`.
#[macro_export]
macro_rules! remote {
    ($($msg:ty => $ok:ty, $name:literal;)*) => {
        $(impl $crate::actors::route::Remote for $msg {
            type Ok = $ok;
            const NAME: &'static str = $name;
        })*
    };
}

/// An actor placed by key: conversation, agent or queue.
pub trait Routed: Actor<Context = Context<Self>> {
    type Key: Clone + Eq + Hash + Debug + Send + Sync + 'static;
    fn actor_ref(key: &Self::Key) -> ActorRef;
    /// The live local activation, if there is one.
    fn active(rt: &Rt, key: &Self::Key) -> Option<Addr<Self>>;
    /// The local activation, started with `epoch` if there is none (`here`: on the caller's
    /// own thread).
    fn activate(rt: &Rt, key: &Self::Key, epoch: u64, here: bool) -> Addr<Self>;
}

fn mailbox(_: MailboxError) -> CommandError {
    CommandError::unavailable("the actor restarted; retry")
}

/// Sends `msg` to the actor and waits for its answer, wherever the actor lives.
pub async fn ask<A, M>(rt: &Rt, key: &A::Key, msg: M) -> Result<M::Ok, CommandError>
where
    A: Routed + Handler<M>,
    M: Remote,
    A::Context: ToEnvelope<A, M>,
{
    deliver::<A, M>(rt, key, msg, false, true).await
}

/// Like [`ask`], but a new local activation starts on the caller's own thread (the gateway:
/// a conversation then lives next to the socket that started it).
pub async fn ask_here<A, M>(rt: &Rt, key: &A::Key, msg: M) -> Result<M::Ok, CommandError>
where
    A: Routed + Handler<M>,
    M: Remote,
    A::Context: ToEnvelope<A, M>,
{
    deliver::<A, M>(rt, key, msg, true, true).await
}

/// Fire and forget (with the same retries as [`ask`]); failures are logged.
pub fn tell<A, M>(rt: &Rt, key: &A::Key, msg: M)
where
    A: Routed + Handler<M>,
    M: Remote,
    A::Context: ToEnvelope<A, M>,
{
    // Straight into the mailbox when the actor is here: one sender's messages then arrive in
    // the order they were sent, as with `do_send`.
    match rt.cluster.as_ref() {
        None => {
            A::activate(rt, key, 1, false).do_send(msg);
            return;
        }
        Some(node) => {
            if let Some(addr) = A::active(rt, key) {
                if node.epoch_of(&A::actor_ref(key)).is_some() {
                    addr.do_send(msg);
                    return;
                }
            }
        }
    }
    let rt = rt.clone();
    let key = key.clone();
    actix::spawn(async move {
        if let Err(err) = deliver::<A, M>(&rt, &key, msg, false, true).await {
            tracing::debug!(?key, message = M::NAME, %err, "A one-way message was not delivered.");
        }
    });
}

async fn deliver<A, M>(
    rt: &Rt,
    key: &A::Key,
    msg: M,
    here: bool,
    forward: bool,
) -> Result<M::Ok, CommandError>
where
    A: Routed + Handler<M>,
    M: Remote,
    A::Context: ToEnvelope<A, M>,
{
    let Some(node) = rt.cluster.as_ref() else {
        return A::activate(rt, key, 1, here)
            .send(msg)
            .await
            .map_err(mailbox)?;
    };
    let actor = A::actor_ref(key);
    let attempts = node.settings.call_attempts.max(1);
    let mut last = CommandError::unavailable("the actor did not answer; retry");
    for attempt in 0..attempts {
        if attempt > 0 {
            tokio::time::sleep(Duration::from_millis(50 * u64::from(attempt))).await;
        }
        let local = A::active(rt, key);
        match node.locate(&actor, local.is_some()).await? {
            Location::Here(epoch) => {
                let addr = local.unwrap_or_else(|| A::activate(rt, key, epoch, here));
                match addr.send(msg.clone()).await {
                    Ok(Err(e)) if e.moved => {
                        node.forget_owner(&actor);
                        last = e;
                    }
                    Ok(answer) => return answer,
                    Err(e) => last = mailbox(e),
                }
            }
            Location::There(_) if !forward => {
                return Err(CommandError::moved());
            }
            Location::There(owner) => {
                let body = serde_json::to_value(&msg)
                    .map_err(|e| CommandError::internal(e.to_string()))?;
                match node.call_remote(&owner, &actor, M::NAME, body).await {
                    Ok(v) => {
                        return serde_json::from_value(v)
                            .map_err(|e| CommandError::internal(e.to_string()))
                    }
                    Err(WireError::NotOwner) => {
                        node.forget_owner(&actor);
                    }
                    Err(WireError::Failed { code, message }) => {
                        return Err(CommandError::new(code, message))
                    }
                }
            }
        }
    }
    Err(last)
}

/// Handles a call forwarded by another node: delivers it to the local activation (claiming the
/// lease if it is free), never forwarding further.
async fn dispatch_one<A, M>(rt: &Rt, key: A::Key, body: Value) -> Result<Value, WireError>
where
    A: Routed + Handler<M>,
    M: Remote,
    A::Context: ToEnvelope<A, M>,
{
    let msg: M = serde_json::from_value(body).map_err(|e| WireError::Failed {
        code: ErrorCode::BadRequest,
        message: e.to_string(),
    })?;
    match deliver::<A, M>(rt, &key, msg, false, false).await {
        Ok(ok) => serde_json::to_value(ok).map_err(|e| WireError::Failed {
            code: ErrorCode::Internal,
            message: e.to_string(),
        }),
        Err(e) if e.moved => Err(WireError::NotOwner),
        Err(e) => Err(WireError::Failed {
            code: e.code,
            message: e.message,
        }),
    }
}

macro_rules! dispatch_table {
    ($rt:expr, $key:expr, $name:expr, $body:expr, $actor:ty, [$($msg:ty),* $(,)?]) => {
        match $name {
            $(<$msg as Remote>::NAME => dispatch_one::<$actor, $msg>($rt, $key, $body).await,)*
            other => Err(WireError::Failed {
                code: ErrorCode::BadRequest,
                message: format!("unknown message {other}"),
            }),
        }
    };
}

/// Runs a forwarded call (see [`crate::cluster`]).
pub async fn dispatch(
    rt: &Rt,
    actor: ActorRef,
    name: &str,
    body: Value,
) -> Result<Value, WireError> {
    use super::agent as ag;
    use super::conversation as cv;
    use super::queue as qu;
    match actor {
        ActorRef::Conversation(key) => dispatch_table!(
            rt,
            key,
            name,
            body,
            cv::ConversationActor,
            [
                cv::Create,
                cv::Post,
                cv::Typing,
                cv::MarkRead,
                cv::Continue,
                cv::End,
                cv::Survey,
                cv::Note,
                cv::WrapUp,
                cv::Assign,
                cv::OfferChanged,
                cv::RequestTransfer,
                cv::AnswerTransfer,
                cv::TransferToQueue,
                cv::Access,
                cv::TimerFired,
                cv::Crash,
                Wake,
            ]
        ),
        ActorRef::Agent(key) => dispatch_table!(
            rt,
            key,
            name,
            body,
            ag::AgentActor,
            [
                ag::Connect,
                ag::Disconnect,
                ag::SetPresence,
                ag::Reserve,
                ag::AnswerOffer,
                ag::OfferTimeout,
                ag::Rescind,
                ag::ReserveTransfer,
                ag::AnswerTransfer,
                ag::TransferClosed,
                ag::Release,
                ag::Announce,
                ag::GetStatus,
                ag::NodeGone,
                Wake,
            ]
        ),
        ActorRef::Queue(key) => dispatch_table!(
            rt,
            key,
            name,
            body,
            qu::QueueActor,
            [
                qu::Admit,
                qu::Enqueue,
                qu::Retell,
                qu::Dequeue,
                qu::AgentUpdate,
                qu::OfferResolved,
                qu::GetStats,
                Wake,
            ]
        ),
    }
}

/// Activates an actor (wherever placement puts it): used to take over a gone node's actors,
/// whose activation re-arms timers and offers from persisted state.
#[derive(Debug, Clone, Message, Serialize, serde::Deserialize)]
#[rtype(result = "Result<(), CommandError>")]
pub struct Wake;

crate::remote! {
    Wake => (), "wake";
}

pub async fn wake(rt: &Rt, actor: ActorRef) -> Result<(), CommandError> {
    use super::agent::AgentActor;
    use super::conversation::ConversationActor;
    use super::queue::QueueActor;
    match actor {
        ActorRef::Conversation(k) => ask::<ConversationActor, Wake>(rt, &k, Wake).await,
        ActorRef::Agent(k) => ask::<AgentActor, Wake>(rt, &k, Wake).await,
        ActorRef::Queue(k) => ask::<QueueActor, Wake>(rt, &k, Wake).await,
    }
}

/// Tells a local activation its lease is gone: it stops without writing anything.
#[derive(Debug, Clone, Message)]
#[rtype(result = "()")]
pub struct LeaseLost;
