//! Parties on an application: checked at the edge, each id document by its own rule, and the
//! applicant proofs that let any level answer a public progress query without personal data.

use std::cell::RefCell;

use argon2::password_hash::{Output, ParamsString, PasswordHash, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use schemas::api::ApplicantInput;
use schemas::error::ErrorCode;
use schemas::ids::{IdNumber, IdType, check_id_document};
use schemas::registration::PartyRole;
use serde::{Deserialize, Serialize};

/// A checked party. Stored only sealed (see `personal`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Party {
    pub name: String,
    pub id_type: IdType,
    /// Normalised (15-digit numbers converted, letters upper-case).
    pub id_number: String,
    pub phone: Option<String>,
    pub role: PartyRole,
    pub share: Option<String>,
}

/// A refusal with its wire code and a Chinese message naming the party.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartyError {
    pub code: ErrorCode,
    pub message: String,
}

fn bad(code: ErrorCode, message: String) -> PartyError {
    PartyError { code, message }
}

/// Check every applicant; the first problem found is reported with its position.
pub fn check_parties(inputs: &[ApplicantInput]) -> Result<Vec<Party>, PartyError> {
    if inputs.is_empty() {
        return Err(bad(ErrorCode::MissingApplicant, ErrorCode::MissingApplicant.message_zh().into()));
    }
    if inputs.len() > 50 {
        return Err(bad(ErrorCode::InvalidField, "申请人不能超过50名".into()));
    }
    inputs
        .iter()
        .enumerate()
        .map(|(i, a)| {
            let n = i + 1;
            let name = a.name.trim();
            if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
                return Err(bad(ErrorCode::InvalidField, format!("第{n}名申请人的姓名（名称）为空、过长或含控制字符")));
            }
            let id_number = check_id_document(a.id_type, &a.id_number).map_err(|e| {
                let code = match a.id_type {
                    IdType::IdCard | IdType::Household => ErrorCode::InvalidIdNumber,
                    IdType::CreditCode | IdType::BusinessLicence => ErrorCode::InvalidCreditCode,
                    _ => ErrorCode::InvalidIdDocument,
                };
                bad(code, format!("第{n}名申请人：{}", e.message_zh()))
            })?;
            let phone = match &a.phone {
                None => None,
                Some(p) => {
                    let p = p.trim();
                    let ok = p.len() == 11 && p.starts_with('1') && p.chars().all(|c| c.is_ascii_digit());
                    if !ok {
                        return Err(bad(ErrorCode::InvalidField, format!("第{n}名申请人的手机号码应为11位数字")));
                    }
                    Some(p.to_owned())
                }
            };
            let share = match &a.share {
                None => None,
                Some(text) => match super::share::Share::parse(text) {
                    Ok(share) => Some(share.to_string()),
                    Err(e) => return Err(bad(ErrorCode::InvalidShare, format!("第{n}名申请人：{e}"))),
                },
            };
            Ok(Party { name: name.to_owned(), id_type: a.id_type, id_number, phone, role: a.role, share })
        })
        .collect()
}

/// How an id number given in a progress query is compared: as a GB 11643 number when it is one
/// (15-digit legacy numbers converted), otherwise trimmed and upper-cased.
pub fn normalise_query_id(id: &str) -> String {
    match IdNumber::parse(id.trim()) {
        Ok(n) => n.as_str().to_owned(),
        Err(_) => id.trim().to_ascii_uppercase(),
    }
}

fn proof_params() -> Params {
    // Small but slow enough that guessing an ID number for a known business number costs hours
    // per candidate set rather than seconds; ~1 ms per proof in a release build.
    Params::new(1024, 2, 1, None).unwrap_or_default()
}

fn proof_hasher() -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, proof_params())
}

thread_local! {
    /// argon2's working memory (1 MiB), kept per thread: allocating and zeroing it for every
    /// proof cost about a fifth as much as the hashing itself. Every block is overwritten
    /// before it is read, so nothing of one proof reaches the next.
    static PROOF_MEMORY: RefCell<Vec<Block>> = const { RefCell::new(Vec::new()) };
}

/// argon2id over `secret` with a fresh salt, as a PHC string.
fn proof(hasher: &Argon2<'_>, secret: &[u8]) -> Option<String> {
    let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
    let mut salt_bytes = [0u8; 64];
    let salt_raw = salt.decode_b64(&mut salt_bytes).ok()?;
    let params = proof_params();
    let output = PROOF_MEMORY.with(|memory| {
        let mut memory = memory.try_borrow_mut().ok()?;
        memory.resize(params.block_count(), Block::default());
        Output::init_with(params.output_len().unwrap_or(Params::DEFAULT_OUTPUT_LEN), |out| {
            hasher
                .hash_password_into_with_memory(secret, salt_raw, out, memory.as_mut_slice())
                .map_err(|_| argon2::password_hash::Error::Crypto)
        })
        .ok()
    })?;
    let hash = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&params).ok()?,
        salt: Some(salt.as_salt()),
        hash: Some(output),
    };
    Some(hash.to_string())
}

/// One proof per applicant: argon2id over "name|id number", as a PHC string.
pub fn applicant_proofs(parties: &[Party]) -> Vec<String> {
    let hasher = proof_hasher();
    parties
        .iter()
        .filter(|p| p.role != PartyRole::Agent)
        .filter_map(|p| proof(&hasher, format!("{}|{}", p.name, p.id_number).as_bytes()))
        .collect()
}

/// Whether a name and id number match any proof.
pub fn matches_proof(proofs: &[String], name: &str, id_number: &str) -> bool {
    let candidate = format!("{}|{}", name.trim(), normalise_query_id(id_number));
    let hasher = proof_hasher();
    proofs.iter().any(|p| {
        PasswordHash::new(p).map(|h| hasher.verify_password(candidate.as_bytes(), &h).is_ok()).unwrap_or(false)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(name: &str, id_type: IdType, id: &str) -> ApplicantInput {
        ApplicantInput {
            name: name.into(),
            id_type,
            id_number: id.into(),
            phone: None,
            role: PartyRole::RightHolder,
            share: None,
        }
    }

    #[test]
    fn each_document_by_its_rule() {
        assert!(check_parties(&[input("张三", IdType::IdCard, "110101199003074477")]).is_ok());
        let e = check_parties(&[input("张三", IdType::IdCard, "110101199003074478")]).expect_err("check digit");
        assert_eq!(e.code, ErrorCode::InvalidIdNumber);
        let e = check_parties(&[input("某公司", IdType::CreditCode, "91350100M000100Y44")]).expect_err("check");
        assert_eq!(e.code, ErrorCode::InvalidCreditCode);
        assert!(check_parties(&[input("John Smith", IdType::Passport, "E12345678")]).is_ok());
        assert_eq!(check_parties(&[]).expect_err("empty").code, ErrorCode::MissingApplicant);
    }

    #[test]
    fn proofs_match_only_the_applicant() {
        let parties = check_parties(&[input("张三", IdType::IdCard, "110101199003074477")]).expect("ok");
        let proofs = applicant_proofs(&parties);
        assert!(matches_proof(&proofs, "张三", "110101199003074477"));
        assert!(matches_proof(&proofs, " 张三 ", "110101199003074477"));
        assert!(!matches_proof(&proofs, "李四", "110101199003074477"));
        assert!(!matches_proof(&proofs, "张三", "11010519491231002X"));
        assert!(!proofs[0].contains("110101"));
    }

    #[test]
    fn proofs_are_standard_argon2id_strings_with_fresh_salts() {
        let parties = check_parties(&[
            input("张三", IdType::IdCard, "110101199003074477"),
            input("张三", IdType::IdCard, "110101199003074477"),
        ])
        .expect("ok");
        // Made one after the other on one thread, reusing its working memory.
        let proofs = applicant_proofs(&parties);
        assert_eq!(proofs.len(), 2);
        assert!(proofs.iter().all(|p| p.starts_with("$argon2id$v=19$m=1024,t=2,p=1$")), "{proofs:?}");
        assert_ne!(proofs[0], proofs[1], "each proof has its own salt");
        // The reference implementation (the crate's own hasher, fresh memory) agrees.
        let hash = PasswordHash::new(&proofs[1]).expect("PHC");
        let salt = hash.salt.expect("salt");
        let again = argon2::password_hash::PasswordHasher::hash_password(
            &proof_hasher(),
            "张三|110101199003074477".as_bytes(),
            salt,
        )
        .expect("hash");
        assert_eq!(again.to_string(), proofs[1]);
    }
}
