//! One process: every actor is here, with fencing epoch 1.

use std::time::Duration;

use serde_json::Value;

use super::{BoxFuture, Location, Notice, Placement, WireError};
use crate::engine::{ActorRef, SharedCluster};
use crate::protocol::CommandError;

/// The bound on one actor waiting for another on one process.
const CALL_TIMEOUT: Duration = Duration::from_secs(5);

pub struct Local {
    instance: String,
}

impl Local {
    pub fn new(node_id: &str) -> Self {
        Self {
            instance: node_id.to_string(),
        }
    }
}

impl Placement for Local {
    fn instance(&self) -> &str {
        &self.instance
    }

    fn clustered(&self) -> bool {
        false
    }

    fn healthy(&self) -> bool {
        true
    }

    fn here_now(&self, _: &ActorRef, _: bool) -> Option<u64> {
        Some(1)
    }

    fn locate<'a>(
        &'a self,
        _: &'a ActorRef,
        _: bool,
    ) -> BoxFuture<'a, Result<Location, CommandError>> {
        Box::pin(std::future::ready(Ok(Location::Here(1))))
    }

    fn forget_owner(&self, _: &ActorRef) {}

    fn call_remote<'a>(
        &'a self,
        _: &'a str,
        _: &'a ActorRef,
        name: &'static str,
        _: Value,
    ) -> BoxFuture<'a, Result<Value, WireError>> {
        // `locate` never answers `There` on one process.
        Box::pin(std::future::ready(Err(WireError::Failed {
            code: crate::protocol::ErrorCode::Internal,
            message: format!("no other node to forward {name} to"),
        })))
    }

    fn attempts(&self) -> u32 {
        1
    }

    fn call_timeout(&self) -> Duration {
        CALL_TIMEOUT
    }

    fn release(&self, _: &ActorRef, _: u64) {}

    fn is_gone(&self, _: &str) -> bool {
        false
    }

    fn broadcast(&self, _: Notice) {}

    fn state_store(&self) -> Option<SharedCluster> {
        None
    }

    fn start(self: std::sync::Arc<Self>, _: std::sync::Arc<dyn super::Host>) {}

    fn leave<'a>(&'a self, _: &'a dyn super::Host, _: Duration) -> BoxFuture<'a, ()> {
        Box::pin(std::future::ready(()))
    }
}
