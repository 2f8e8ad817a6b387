//! The configured peers of a node and the keys it trusts.

use std::collections::HashMap;

use schemas::api::NavigationMode;
use schemas::ids::{DivisionCode, NodeId};

use crate::crypto::PublicKey;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Relation {
    Parent,
    Child,
}

/// A configured neighbour.
#[derive(Debug, Clone)]
pub struct Peer {
    pub node_id: NodeId,
    pub division: DivisionCode,
    /// Base URL, e.g. `https://js.example.gov.cn:8443`.
    pub url: String,
    pub relation: Relation,
    /// For children: how the upper node links them.
    pub navigation: Option<NavigationMode>,
    /// Current key first; older keys stay so old signatures still verify.
    pub keys: Vec<PublicKey>,
}

impl Peer {
    pub fn key(&self, key_id: &str) -> Option<&PublicKey> {
        self.keys.iter().find(|k| k.key_id() == key_id)
    }
}

/// A key learned from a signed enrolment record (a grandchild's key) or from configuration.
#[derive(Debug, Clone)]
pub struct KnownKey {
    pub node_id: NodeId,
    pub division: DivisionCode,
    pub key: PublicKey,
}

/// Every peer of one node, by id.
#[derive(Debug, Clone, Default)]
pub struct Directory {
    peers: HashMap<NodeId, Peer>,
}

impl Directory {
    pub fn new(peers: Vec<Peer>) -> Self {
        Self { peers: peers.into_iter().map(|p| (p.node_id.clone(), p)).collect() }
    }
    pub fn get(&self, id: &NodeId) -> Option<&Peer> {
        self.peers.get(id)
    }
    pub fn get_str(&self, id: &str) -> Option<&Peer> {
        self.peers.values().find(|p| p.node_id.as_str() == id)
    }
    pub fn parent(&self) -> Option<&Peer> {
        self.peers.values().find(|p| p.relation == Relation::Parent)
    }
    pub fn children(&self) -> impl Iterator<Item = &Peer> {
        self.peers.values().filter(|p| p.relation == Relation::Child)
    }
    pub fn all(&self) -> impl Iterator<Item = &Peer> {
        self.peers.values()
    }
}
