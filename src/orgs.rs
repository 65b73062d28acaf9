//! The org registry: a node-local cache of every org's configuration document, written through
//! to the engine. Reads are a lock and an `Arc` clone; writes are copy-on-write and validated.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::RwLock;

use crate::domain::org::OrgConfig;
use crate::engine::SharedEngine;
use crate::ids::OrgId;
use crate::protocol::CommandError;

pub struct Orgs {
    /// `parking_lot` lock: held only to clone an `Arc` in or out, never across an await.
    map: RwLock<HashMap<OrgId, Arc<OrgConfig>>>,
    engine: SharedEngine,
    /// Serializes writers so that two concurrent REST updates cannot lose one another. A Tokio
    /// mutex because it is held across the engine write.
    write: tokio::sync::Mutex<()>,
    /// Called after this node stored a change (cluster mode tells the other nodes).
    on_change: std::sync::OnceLock<OnChange>,
}

type OnChange = Box<dyn Fn(&OrgId) + Send + Sync>;

impl Orgs {
    pub fn new(engine: SharedEngine) -> Self {
        Self {
            map: RwLock::new(HashMap::new()),
            engine,
            write: tokio::sync::Mutex::new(()),
            on_change: std::sync::OnceLock::new(),
        }
    }

    /// Sets the hook called after each stored change (once, at start-up).
    pub fn on_change(&self, hook: OnChange) {
        let _ = self.on_change.set(hook);
    }

    fn changed(&self, org: &OrgId) {
        if let Some(hook) = self.on_change.get() {
            hook(org);
        }
    }

    /// Re-reads one org written by another node.
    pub async fn reload(&self, org: &OrgId) -> Result<(), CommandError> {
        let all = self
            .engine
            .load_orgs()
            .await
            .map_err(|e| CommandError::unavailable(e.to_string()))?;
        if let Some(found) = all.into_iter().find(|o| &o.id == org) {
            self.map.write().insert(org.clone(), found);
        }
        Ok(())
    }

    pub fn get(&self, org: &OrgId) -> Option<Arc<OrgConfig>> {
        self.map.read().get(org).cloned()
    }

    /// Loads every stored org into the cache.
    pub async fn load(&self) -> Result<usize, CommandError> {
        let all = self
            .engine
            .load_orgs()
            .await
            .map_err(|e| CommandError::unavailable(e.to_string()))?;
        let mut map = self.map.write();
        for org in all {
            map.insert(org.id.clone(), org);
        }
        Ok(map.len())
    }

    /// Stores a whole document (after validation).
    pub async fn put(&self, config: OrgConfig) -> Result<Arc<OrgConfig>, CommandError> {
        config.validate()?;
        let _guard = self.write.lock().await;
        let config = Arc::new(config);
        self.engine
            .put_org(config.clone())
            .await
            .map_err(|e| CommandError::unavailable(e.to_string()))?;
        self.map.write().insert(config.id.clone(), config.clone());
        self.changed(&config.id);
        Ok(config)
    }

    /// Applies `change` to a copy of the org's document, validates and stores it.
    pub async fn update<T>(
        &self,
        org: &OrgId,
        change: impl FnOnce(&mut OrgConfig) -> Result<T, CommandError>,
    ) -> Result<T, CommandError> {
        let _guard = self.write.lock().await;
        let current = self
            .get(org)
            .ok_or_else(|| CommandError::not_found("org"))?;
        let mut next = (*current).clone();
        let out = change(&mut next)?;
        next.validate()?;
        let next = Arc::new(next);
        self.engine
            .put_org(next.clone())
            .await
            .map_err(|e| CommandError::unavailable(e.to_string()))?;
        self.map.write().insert(org.clone(), next);
        self.changed(org);
        Ok(out)
    }
}
