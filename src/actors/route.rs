//! Sending a message to an actor wherever it lives.
//!
//! [`ask`] and [`tell`] are the only way actors, the gateway and the API reach conversation,
//! agent and queue actors. With one process (memory engine) they go straight to the local
//! activation. In a cluster they find the actor's owner ([`crate::placement::Placement::locate`]):
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

use super::Rt;
use crate::engine::ActorRef;
use crate::placement::{Location, WireError};
use crate::protocol::{CommandError, ErrorCode};

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

/// Declares an actor's remotely callable messages, once: each becomes [`Remote`] (so `ask` and
/// `tell` accept it, on every engine) and the generated `dispatch` function runs it when
/// another node forwards it. A message left out of the list cannot be sent at all — the
/// compiler says so on the memory engine already, not only a cluster at run time.
///
/// `remote_messages!(ConversationActor { Post => (u64, bool), "conv.post"; … });`
#[macro_export]
macro_rules! remote_messages {
    ($actor:ty { $($msg:ty => $ok:ty, $name:literal;)* }) => {
        $(impl $crate::actors::route::Remote for $msg {
            type Ok = $ok;
            const NAME: &'static str = $name;
        })*

        /// Runs a call forwarded by another node on this actor (see `actors::route`).
        pub(crate) async fn dispatch(
            rt: &$crate::actors::Rt,
            key: <$actor as $crate::actors::route::Routed>::Key,
            name: &str,
            body: serde_json::Value,
        ) -> Result<serde_json::Value, $crate::placement::WireError> {
            use $crate::actors::route::{dispatch_one, Remote, Wake};
            match name {
                $(<$msg as Remote>::NAME => dispatch_one::<$actor, $msg>(rt, key, body).await,)*
                <Wake as Remote>::NAME => dispatch_one::<$actor, Wake>(rt, key, body).await,
                other => Err($crate::placement::WireError::Failed {
                    code: $crate::protocol::ErrorCode::BadRequest,
                    message: format!("unknown message {other}"),
                }),
            }
        }
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
    let active = A::active(rt, key);
    if let Some(epoch) = rt.placement.here_now(&A::actor_ref(key), active.is_some()) {
        active
            .unwrap_or_else(|| A::activate(rt, key, epoch, false))
            .do_send(msg);
        return;
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
    let placement = &rt.placement;
    let actor = A::actor_ref(key);
    let attempts = placement.attempts();
    let mut last = CommandError::unavailable("the actor did not answer; retry");
    for attempt in 0..attempts {
        if attempt > 0 {
            tokio::time::sleep(Duration::from_millis(50 * u64::from(attempt))).await;
        }
        let local = A::active(rt, key);
        let location = match placement.here_now(&actor, local.is_some()) {
            Some(epoch) => Location::Here(epoch),
            None => placement.locate(&actor, local.is_some()).await?,
        };
        match location {
            Location::Here(epoch) => {
                let addr = local.unwrap_or_else(|| A::activate(rt, key, epoch, here));
                match addr.send(msg.clone()).await {
                    Ok(Err(e)) if e.moved => {
                        placement.forget_owner(&actor);
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
                match placement.call_remote(&owner, &actor, M::NAME, body).await {
                    Ok(v) => {
                        return serde_json::from_value(v)
                            .map_err(|e| CommandError::internal(e.to_string()))
                    }
                    Err(WireError::NotOwner) => {
                        placement.forget_owner(&actor);
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
pub async fn dispatch_one<A, M>(rt: &Rt, key: A::Key, body: Value) -> Result<Value, WireError>
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

/// Runs a forwarded call (see [`crate::placement::cluster`]).
pub async fn dispatch(
    rt: &Rt,
    actor: ActorRef,
    name: &str,
    body: Value,
) -> Result<Value, WireError> {
    match actor {
        ActorRef::Conversation(key) => super::conversation::dispatch(rt, key, name, body).await,
        ActorRef::Agent(key) => super::agent::dispatch(rt, key, name, body).await,
        ActorRef::Queue(key) => super::queue::dispatch(rt, key, name, body).await,
    }
}

/// Activates an actor (wherever placement puts it): used to take over a gone node's actors,
/// whose activation re-arms timers and offers from persisted state.
#[derive(Debug, Clone, Message, Serialize, serde::Deserialize)]
#[rtype(result = "Result<(), CommandError>")]
pub struct Wake;

impl Remote for Wake {
    type Ok = ();
    const NAME: &'static str = "wake";
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
