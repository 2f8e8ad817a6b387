//! A parent's watch over its children's transparency logs (透明日志一致性核验): each new signed
//! tree head a child shows must extend the last one the parent accepted, proved by an RFC 9162
//! consistency proof. A county that rewrites, drops or reorders a certificate it has already
//! logged cannot show a head that passes, so it cannot rewrite history unnoticed.
//!
//! Plain functions: the worker in `startup` fetches heads and proofs and stores the verdicts.

use federation::crypto::PublicKey;
use federation::merkle::{Hash, SignedTreeHead, TreeHead, verify_consistency};

/// What to do with a child's fresh head, before any proof is fetched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// Nothing accepted yet: accept this head (trust on first sight, as RFC 9162 monitors do).
    AcceptFirst,
    /// Same size and root as the accepted head: nothing to prove.
    Unchanged,
    /// The log grew: fetch a consistency proof from `from` to `to`.
    Prove { from: u64, to: u64 },
    /// The head cannot extend the accepted one, whatever the proof.
    Inconsistent(String),
}

/// Check a head's signature and identity: it must be signed by one of the child's configured keys
/// and name the child's log. Returns why not, in Chinese.
pub fn check_signed(head: &SignedTreeHead, log_id: &str, keys: &[PublicKey]) -> Result<(), String> {
    if head.head.log_id != log_id {
        return Err(format!("树头标识为 {}，不是该下级节点 {log_id} 的日志", head.head.log_id));
    }
    let key = keys
        .iter()
        .find(|k| k.key_id() == head.key_id)
        .ok_or_else(|| format!("树头由未配置的密钥 {} 签名", head.key_id))?;
    head.verify(key).map_err(|e| format!("树头签名无效：{e}"))
}

/// Compare a fresh head with the last accepted one.
pub fn next_step(accepted: Option<&TreeHead>, fresh: &TreeHead) -> Next {
    let Some(old) = accepted else { return Next::AcceptFirst };
    if fresh.size < old.size {
        return Next::Inconsistent(format!("日志由 {} 条变为 {} 条：已记录的条目被删除", old.size, fresh.size));
    }
    if fresh.size == old.size {
        return if fresh.root == old.root {
            Next::Unchanged
        } else {
            Next::Inconsistent(format!("日志条数仍为 {}，根哈希却已改变：已记录的条目被改写", old.size))
        };
    }
    Next::Prove { from: old.size, to: fresh.size }
}

/// Verify the consistency proof between the accepted head and the fresh one.
pub fn check_proof(accepted: &TreeHead, fresh: &TreeHead, proof: &[Hash]) -> Result<(), String> {
    let old_root = accepted.root_hash().map_err(|e| e.to_string())?;
    let new_root = fresh.root_hash().map_err(|e| e.to_string())?;
    verify_consistency(accepted.size, fresh.size, &old_root, &new_root, proof).map_err(|e| {
        format!("日志由 {} 条增至 {} 条的一致性证明不成立（{e}）：新日志不是旧日志的延续", accepted.size, fresh.size)
    })
}

/// Parse hex hashes of a proof; a malformed one is the child's fault.
pub fn parse_proof(hexes: &[String]) -> Result<Vec<Hash>, String> {
    hexes
        .iter()
        .map(|h| {
            let mut out = [0u8; 32];
            hex::decode_to_slice(h, &mut out).map(|_| out).map_err(|_| format!("一致性证明含无效哈希 {h}"))
        })
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use federation::crypto::SigningKey;
    use federation::merkle::MemoryLog;

    use super::*;

    fn log(entries: &[&str]) -> MemoryLog {
        let mut log = MemoryLog::new();
        for e in entries {
            log.append(e.as_bytes());
        }
        log
    }

    fn head(log: &MemoryLog, size: u64) -> TreeHead {
        TreeHead::new("node-a", size, &log.root(size).unwrap(), 1)
    }

    #[test]
    fn a_grown_log_passes_with_its_proof() {
        let l = log(&["a", "b", "c", "d", "e"]);
        let (old, new) = (head(&l, 3), head(&l, 5));
        assert_eq!(next_step(Some(&old), &new), Next::Prove { from: 3, to: 5 });
        let proof = l.consistency_proof(3, 5).unwrap();
        check_proof(&old, &new, &proof).unwrap();
    }

    #[test]
    fn a_rewritten_entry_fails_the_proof() {
        let honest = log(&["a", "b", "c"]);
        let rewritten = log(&["a", "B", "c", "d"]);
        let old = head(&honest, 3);
        let new = head(&rewritten, 4);
        let proof = rewritten.consistency_proof(3, 4).unwrap();
        assert!(check_proof(&old, &new, &proof).unwrap_err().contains("不成立"));
        // Nor does the honest log's proof help the rewritten head.
        let other = log(&["a", "b", "c", "d"]).consistency_proof(3, 4).unwrap();
        assert!(check_proof(&old, &new, &other).is_err());
    }

    #[test]
    fn shrinking_or_changing_at_equal_size_is_inconsistent_without_a_proof() {
        let l = log(&["a", "b", "c"]);
        let m = log(&["a", "x", "c"]);
        assert!(matches!(next_step(Some(&head(&l, 3)), &head(&l, 2)), Next::Inconsistent(_)));
        assert!(matches!(next_step(Some(&head(&l, 3)), &head(&m, 3)), Next::Inconsistent(_)));
        assert_eq!(next_step(Some(&head(&l, 3)), &head(&l, 3)), Next::Unchanged);
        assert_eq!(next_step(None, &head(&l, 3)), Next::AcceptFirst);
    }

    #[test]
    fn heads_must_be_signed_by_the_child_for_its_own_log() {
        let key = SigningKey::generate();
        let stranger = SigningKey::generate();
        let l = log(&["a"]);
        let signed = SignedTreeHead::sign(head(&l, 1), &key).unwrap();
        check_signed(&signed, "node-a", &[key.public_key()]).unwrap();
        assert!(check_signed(&signed, "node-b", &[key.public_key()]).unwrap_err().contains("不是该下级节点"));
        assert!(check_signed(&signed, "node-a", &[stranger.public_key()]).unwrap_err().contains("未配置"));
        let mut forged = signed.clone();
        forged.head.size = 2;
        assert!(check_signed(&forged, "node-a", &[key.public_key()]).unwrap_err().contains("签名无效"));
    }

    #[test]
    fn malformed_proof_hashes_are_named() {
        assert!(parse_proof(&["zz".into()]).unwrap_err().contains("zz"));
        assert_eq!(parse_proof(&[hex::encode([7u8; 32])]).unwrap(), vec![[7u8; 32]]);
    }
}
