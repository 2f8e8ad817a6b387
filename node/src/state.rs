//! Everything a request handler or worker of one node needs, passed by value (no globals: several
//! nodes run in one process in tests and in the demo).

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use federation::client::PeerClient;
use federation::crypto::{PublicKey, SigningKey};
use federation::inbox::KeyRing;
use federation::peers::{Directory, KnownKey};
use federation::router::Router;
use schemas::ids::{DivisionCode, NodeId};
use tokio::sync::Notify;

use crate::db::Db;
use crate::personal::Sealer;
use crate::settings::{OfficeSettings, Settings};

pub struct AppState {
    pub settings: Settings,
    pub me: NodeId,
    pub db: Db,
    pub key: Arc<SigningKey>,
    pub sealer: Sealer,
    pub directory: Directory,
    pub router: Router,
    pub client: PeerClient,
    /// One wake-up per peer worker, notified after a commit that queued something for it.
    pub wakers: HashMap<NodeId, Arc<Notify>>,
    /// Keys learned from enrolments, cached (a key id names one key forever).
    pub key_cache: RwLock<HashMap<String, KnownKey>>,
    pub public_url: String,
    /// Peers must present a client certificate naming them on `/federation/v1`.
    pub mutual_tls: bool,
    pub limiter: crate::http::limits::RateLimiter,
}

impl AppState {
    pub fn parent_id(&self) -> Option<&NodeId> {
        self.directory.parent().map(|p| &p.node_id)
    }

    pub fn office(&self, division: &DivisionCode) -> Option<&OfficeSettings> {
        self.settings.offices.iter().find(|o| &o.division == division)
    }

    pub fn wake(&self, peer: &NodeId) {
        if let Some(n) = self.wakers.get(peer) {
            n.notify_one();
        }
    }

    pub fn wake_parent(&self) {
        if let Some(p) = self.parent_id() {
            self.wake(p);
        }
    }

    /// A public key by id: this node's, a peer's, or one learned from an enrolment.
    pub fn find_key(&self, key_id: &str) -> Option<(NodeId, DivisionCode, PublicKey)> {
        if key_id == self.key.key_id() {
            return Some((self.me.clone(), self.settings.division.clone(), self.key.public_key()));
        }
        for peer in self.directory.all() {
            if let Some(k) = peer.key(key_id) {
                return Some((peer.node_id.clone(), peer.division.clone(), k.clone()));
            }
        }
        self.find(key_id).map(|k| (k.node_id, k.division, k.key))
    }
}

impl KeyRing for AppState {
    fn find(&self, key_id: &str) -> Option<KnownKey> {
        if let Some(k) = self.key_cache.read().ok().and_then(|c| c.get(key_id).cloned()) {
            return Some(k);
        }
        let mut conn = self.db.conn().ok()?;
        let (node_id, division, pem) = crate::store::inbox::known_key(&mut conn, key_id).ok()??;
        let known = KnownKey {
            node_id: NodeId::parse(&node_id).ok()?,
            division: DivisionCode::parse(&division).ok()?,
            key: PublicKey::from_spki_pem(&pem).ok()?,
        };
        if let Ok(mut cache) = self.key_cache.write() {
            cache.insert(key_id.to_owned(), known.clone());
        }
        Some(known)
    }
}
