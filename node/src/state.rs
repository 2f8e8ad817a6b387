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
    /// Carries applicants' SMS codes.
    pub sms: crate::sms::SmsGateway,
    /// The unified identity authentication platform, when connected.
    pub identity: Option<crate::identity::IdentityProvider>,
    /// The transparency log's tree, caught up from the database on demand.
    pub tlog: std::sync::Mutex<federation::merkle::MemoryLog>,
    /// The last signed tree head and when it was signed: answers reuse it while the log has not
    /// grown, for at most [`STH_REUSE`] (an SM2 signature per verification would cost as much as
    /// the verification itself).
    pub sth_cache: std::sync::Mutex<Option<(federation::merkle::SignedTreeHead, std::time::Instant)>>,
    /// Live staff sessions, remembered for a moment (see `session_cache`).
    pub sessions: crate::session_cache::SessionCache,
    /// Threads for slow-by-design work (applicants' argon2id proofs), below the request threads
    /// and the writer in CPU priority (see `low_priority`).
    pub low_priority: crate::low_priority::LowPriority,
}

/// How long a signed tree head is served again while the log has not grown.
pub const STH_REUSE: std::time::Duration = std::time::Duration::from_secs(5);

impl AppState {
    pub fn parent_id(&self) -> Option<&NodeId> {
        self.directory.parent().map(|p| &p.node_id)
    }

    pub fn office(&self, division: &DivisionCode) -> Option<&OfficeSettings> {
        self.settings.offices.iter().find(|o| &o.division == division)
    }

    /// What a change to an office's applications needs: this node, its parent, its key and sealer,
    /// and the office's settings (None: no office of that division is hosted here).
    pub fn office_ctx(&self, division: &DivisionCode) -> Option<crate::store::applications::OfficeCtx<'_>> {
        Some(crate::store::applications::OfficeCtx {
            me: &self.me,
            parent: self.parent_id(),
            key: &self.key,
            sealer: &self.sealer,
            office: self.office(division)?,
        })
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

    fn owner_of(&self, office: &DivisionCode) -> Option<NodeId> {
        let mut conn = self.db.conn().ok()?;
        let owner = crate::store::inbox::owner_of(&mut conn, office.as_str()).ok()??;
        NodeId::parse(&owner).ok()
    }
}

impl AppState {
    /// Catch the in-memory tree up with committed leaves and sign its head (or reuse the last
    /// signed head, if the tree is unchanged and it is fresh).
    pub fn tree_head(&self) -> Result<(federation::merkle::SignedTreeHead, u64), String> {
        self.tree_head_after(None)
    }

    /// [`Self::tree_head`] for a caller that has just read from the database how many leaves are
    /// committed (`committed`): when the in-memory tree already holds that many, the catch-up
    /// read would find nothing, and is skipped.
    fn tree_head_after(&self, committed: Option<u64>) -> Result<(federation::merkle::SignedTreeHead, u64), String> {
        let lock = || self.tlog.lock().unwrap_or_else(|p| p.into_inner());
        // A pooled connection is taken before the tree's lock, never while holding it.
        let mut conn = match committed {
            Some(n) if n <= lock().len() => None,
            _ => {
                // A signed head leaves the node: it covers only leaves already on disk.
                self.db.wait_durable();
                Some(self.db.conn().map_err(|e| e.to_string())?)
            }
        };
        let mut log = lock();
        if let Some(conn) = conn.as_mut() {
            let from = log.len() as i64;
            let new = crate::store::tlog::leaves_from(conn, from).map_err(|e| e.to_string())?;
            log.extend_leaf_hashes(new);
        }
        drop(conn);
        let size = log.len();
        let mut cache = self.sth_cache.lock().unwrap_or_else(|p| p.into_inner());
        // The root is checked too: the tree may have been rebuilt from altered rows to the same
        // size. It is the log's remembered root (computing it afresh on every answer was about 8 %
        // of the CPU instructions of a verification outside the SM2 verify).
        if let Some((sth, at)) = cache.as_ref()
            && sth.head.size == size
            && at.elapsed() < STH_REUSE
            && sth.head.root == hash_hex(&log.current_root_memo())
        {
            return Ok((sth.clone(), size));
        }
        let head = log.tree_head(self.me.as_str(), chrono::Utc::now().timestamp_millis());
        let signed = federation::merkle::SignedTreeHead::sign(head, &self.key).map_err(|e| e.to_string())?;
        *cache = Some((signed.clone(), std::time::Instant::now()));
        Ok((signed, size))
    }

    /// A consistency proof between two sizes of this node's log (`to` at most the current size).
    pub fn consistency(&self, from: u64, to: u64) -> Result<Option<Vec<federation::merkle::Hash>>, String> {
        let (_, size) = self.tree_head()?;
        if from > to || to > size {
            return Ok(None);
        }
        let log = self.tlog.lock().unwrap_or_else(|p| p.into_inner());
        log.consistency_proof(from, to).map(Some).map_err(|e| e.to_string())
    }

    /// The inclusion proof of a certificate's leaf (index and entry, as read from the database
    /// together with `committed`, the number of leaves committed then), with a fresh signed tree
    /// head.
    pub fn transparency_proof(
        &self,
        leaf: Option<(i64, String)>,
        committed: i64,
    ) -> Result<Option<schemas::api::TransparencyProof>, String> {
        let Some((index, entry)) = leaf else { return Ok(None) };
        let (sth, size) = self.tree_head_after(u64::try_from(committed).ok())?;
        if index as u64 >= size {
            return Ok(None);
        }
        let log = self.tlog.lock().unwrap_or_else(|p| p.into_inner());
        let path = log.inclusion_proof(index as u64, sth.head.size).map_err(|e| e.to_string())?;
        Ok(Some(schemas::api::TransparencyProof {
            leaf_hash: hash_hex(&federation::merkle::leaf_hash(entry.as_bytes())),
            leaf_index: index as u64,
            audit_path: path.iter().map(hash_hex).collect(),
            tree_head: sth_view(&sth),
        }))
    }
}

/// Lowercase hex of a hash, the same text as `hex::encode`, written directly (`hex::encode` goes
/// through a per-character iterator that costs several times more; an answer holds a dozen).
fn hash_hex(hash: &federation::merkle::Hash) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(2 * hash.len());
    for b in hash {
        text.push(char::from(DIGITS[usize::from(b >> 4)]));
        text.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    text
}

pub fn sth_view(sth: &federation::merkle::SignedTreeHead) -> schemas::api::SignedTreeHeadView {
    schemas::api::SignedTreeHeadView {
        log_id: sth.head.log_id.clone(),
        size: sth.head.size,
        root: sth.head.root.clone(),
        timestamp: sth.head.timestamp,
        key_id: sth.key_id.clone(),
        signature: sth.signature.clone(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn hash_hex_is_hex_encode() {
        let mut hash = [0u8; 32];
        for (i, b) in hash.iter_mut().enumerate() {
            *b = (i as u8).wrapping_mul(37) ^ 0xa5;
        }
        assert_eq!(super::hash_hex(&hash), hex::encode(hash));
        assert_eq!(super::hash_hex(&[0xff; 32]), "f".repeat(64));
    }
}
