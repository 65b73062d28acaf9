//! The node's services: what the actors, the gateway and the REST API share on one node, none
//! of which knows an actor (DESIGN §1). The actor layer wraps it in its own handle
//! (`actors::System`), which adds the directory and the timer supervisor.

use std::sync::Arc;

use crate::archive::SharedArchive;
use crate::archiver::Archiver;
use crate::attachments::SharedBlobStore;
use crate::auth::Authenticator;
use crate::config::Settings;
use crate::engine::SharedEngine;
use crate::hub::Hub;
use crate::limiter::{OrgLimiter, OrgLimiters};
use crate::mailer::Mailer;
use crate::metrics::Metrics;
use crate::orgs::Orgs;
use crate::placement::Placement;

pub struct Node {
    pub settings: Settings,
    pub node_id: String,
    pub engine: SharedEngine,
    pub orgs: Arc<Orgs>,
    pub auth: Authenticator,
    pub hub: Hub,
    pub metrics: Metrics,
    /// Where uploaded files live (local directory or S3-compatible store).
    pub blobs: SharedBlobStore,
    /// Finished conversations on their way to the archive, and the archive itself.
    pub archiver: Archiver,
    /// The retention and erasure job's wake-up (`crate::privacy`).
    pub privacy: crate::privacy::Privacy,
    /// Transcripts emailed through SMTP, via the outbox in the archive database.
    pub mailer: Mailer,
    /// Outgoing webhooks, via their outbox in the archive database.
    pub webhooks: crate::webhook::Webhooks,
    /// Where actors live: this process alone, or a cluster.
    pub placement: Arc<dyn Placement>,
    /// One shared rate limiter per org (DESIGN invariant 8).
    org_limiters: OrgLimiters,
    /// Flips to `true` when the node drains; every session watches it.
    draining: tokio::sync::watch::Sender<bool>,
    /// One permit per open websocket (`limits.max_connections`): a session holds its permit
    /// until it ends, however it ends, so the count cannot drift.
    connections: Arc<tokio::sync::Semaphore>,
}

impl Node {
    /// `settings.server.node_id` must be set (see [`node_id`]).
    pub fn new(
        settings: Settings,
        engine: SharedEngine,
        placement: Arc<dyn Placement>,
        archive: SharedArchive,
    ) -> Self {
        let metrics = Metrics::default();
        let mailer = Mailer::new(archive.clone(), settings.smtp.clone(), &metrics);
        let orgs = Arc::new(Orgs::new(engine.clone()));
        let webhooks = crate::webhook::Webhooks::new(
            archive.clone(),
            orgs.clone(),
            settings.webhooks.clone(),
            &metrics,
        );
        let archiver = Archiver::new(
            engine.clone(),
            archive,
            settings.archive.clone(),
            &metrics,
            webhooks.clone(),
        );
        Self {
            archiver,
            mailer,
            webhooks,
            auth: Authenticator::new(&settings.auth),
            orgs,
            blobs: crate::attachments::from_settings(&settings.attachments),
            org_limiters: OrgLimiters::new(&settings.limits),
            connections: Arc::new(tokio::sync::Semaphore::new(settings.limits.max_connections)),
            node_id: settings.server.node_id.clone(),
            settings,
            engine,
            hub: Hub::new(),
            metrics,
            privacy: crate::privacy::Privacy::default(),
            placement,
            draining: tokio::sync::watch::Sender::new(false),
        }
    }

    /// The org's shared rate limiter (created on first use).
    pub fn org_limiter(&self, org: &crate::ids::OrgId) -> OrgLimiter {
        self.org_limiters.of(org)
    }

    /// A permit for one more websocket, if the node holds fewer than it may.
    pub fn connection_permit(&self) -> Option<tokio::sync::OwnedSemaphorePermit> {
        self.connections.clone().try_acquire_owned().ok()
    }

    /// Tells every session to send its client away with a reconnect hint.
    pub fn begin_drain(&self) {
        self.draining.send_replace(true);
    }

    pub fn drain_signal(&self) -> tokio::sync::watch::Receiver<bool> {
        self.draining.subscribe()
    }

    /// The archive of finished conversations.
    pub fn archive(&self) -> &SharedArchive {
        self.archiver.archive()
    }

    /// This instance's id on the bus (the node id on one process).
    pub fn instance(&self) -> &str {
        self.placement.instance()
    }
}

/// The configured node id, or a random one.
pub fn node_id(settings: &Settings) -> String {
    if settings.server.node_id.is_empty() {
        format!("n{}", &uuid::Uuid::new_v4().simple().to_string()[..8])
    } else {
        settings.server.node_id.clone()
    }
}
