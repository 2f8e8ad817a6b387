//! The node's key files: its SM2 signing key (PKCS#8 PEM) and the SM4 data key (hex).

use std::path::Path;

use federation::crypto::{PublicKey, SigningKey, Sm4Key};

use crate::personal::Keyring;

fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    #[cfg(unix)]
    {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)?;
        f.write_all(text.as_bytes())
    }
    #[cfg(not(unix))]
    {
        std::fs::write(path, text)
    }
}

/// Write a new SM2 key pair: `<dir>/<name>.key.pem` (PKCS#8) and `<dir>/<name>.pub.pem` (SPKI).
/// Refuses to overwrite an existing key.
pub fn generate_pair(dir: &Path, name: &str) -> anyhow::Result<(std::path::PathBuf, std::path::PathBuf, String)> {
    let key = SigningKey::generate();
    let private = dir.join(format!("{name}.key.pem"));
    let public = dir.join(format!("{name}.pub.pem"));
    if private.exists() {
        anyhow::bail!("{} already exists; refusing to overwrite a key", private.display());
    }
    write_private(&private, &key.to_pkcs8_pem()?)?;
    std::fs::write(&public, key.public_key().to_spki_pem()?)?;
    Ok((private, public, key.key_id()))
}

pub fn load_signing_key(path: &Path, generate_if_missing: bool) -> anyhow::Result<SigningKey> {
    if !path.exists() {
        if !generate_if_missing {
            anyhow::bail!(
                "signing key {} not found: create it with `bdc-node keygen --out {}`",
                path.display(),
                path.parent().map(|p| p.display().to_string()).unwrap_or_default()
            );
        }
        let key = SigningKey::generate();
        write_private(path, &key.to_pkcs8_pem()?)?;
        return Ok(key);
    }
    let pem = std::fs::read_to_string(path)?;
    SigningKey::from_pkcs8_pem(&pem).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

/// The SM4 data keyring (see [`Keyring`]): one bare key as `keygen` writes it, or the current
/// key, older keys and the pinned index key after a rotation.
pub fn load_data_keyring(path: &Path, generate_if_missing: bool) -> anyhow::Result<Keyring> {
    if !path.exists() {
        if !generate_if_missing {
            anyhow::bail!("data key {} not found: create it with `bdc-node keygen`", path.display());
        }
        let key = Sm4Key::generate();
        write_private(path, &key.to_hex())?;
        return Ok(Keyring::single(key));
    }
    let text = std::fs::read_to_string(path)?;
    Keyring::parse(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

/// Replace the keyring file atomically (a reader sees the old file or the new one, never half),
/// keeping it private.
pub fn replace_data_keyring(path: &Path, ring: &Keyring) -> anyhow::Result<()> {
    let tmp = path.with_extension(format!("new-{}", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    write_private(&tmp, &ring.to_text())?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}

pub fn write_data_key(path: &Path) -> anyhow::Result<()> {
    if path.exists() {
        anyhow::bail!("{} already exists; refusing to overwrite a key", path.display());
    }
    write_private(path, &Sm4Key::generate().to_hex())?;
    Ok(())
}

pub fn load_public_key(pem: Option<&str>, file: Option<&Path>) -> anyhow::Result<PublicKey> {
    let text = match (pem, file) {
        (Some(p), _) => p.to_owned(),
        (None, Some(f)) => std::fs::read_to_string(f).map_err(|e| anyhow::anyhow!("{}: {e}", f.display()))?,
        (None, None) => anyhow::bail!("no public key given"),
    };
    PublicKey::from_spki_pem(&text).map_err(|e| anyhow::anyhow!("public key: {e}"))
}

/// What a rotation did.
#[derive(Debug)]
pub struct Rotation {
    pub old_key: String,
    pub new_key: String,
    /// Values sealed again, per column.
    pub resealed: Vec<(&'static str, usize)>,
}

/// `bdc-node keys rotate-data`: put a new SM4 data key in front of the keyring file, give running
/// nodes `wait` to load it (they re-read the file every `keys.reload_secs`), then seal every
/// stored value again under it. The node keeps serving throughout: it opens values under either
/// key, and each re-encryption is a compare-and-swap. Older keys stay in the file until
/// `bdc-node keys drop-old`.
pub fn rotate_data_key(settings: &crate::settings::Settings, wait: std::time::Duration) -> anyhow::Result<Rotation> {
    let path = settings.resolve(&settings.keys.data_key_file);
    let ring = load_data_keyring(&path, false)?;
    let rotated = ring.rotated(Sm4Key::generate());
    replace_data_keyring(&path, &rotated)?;
    std::thread::sleep(wait);
    let resealed = rekey(settings)?;
    let rotation = Rotation { old_key: ring.current_id(), new_key: rotated.current_id(), resealed };
    record(settings, "data_key_rotated", &format!("{} -> {}", rotation.old_key, rotation.new_key))?;
    Ok(rotation)
}

/// `bdc-node keys rekey`: seal again whatever is not under the current key (resumes a rotation).
pub fn rekey(settings: &crate::settings::Settings) -> anyhow::Result<Vec<(&'static str, usize)>> {
    let ring = load_data_keyring(&settings.resolve(&settings.keys.data_key_file), false)?;
    let db = crate::db::Db::open(&settings.database_url(), 2)?;
    crate::store::rekey::rekey_all(&db, &crate::personal::Sealer::from_keyring(&ring), 5).map_err(anyhow::Error::msg)
}

/// `bdc-node keys drop-old`: remove the older keys from the file, once nothing is sealed under them.
pub fn drop_old_keys(settings: &crate::settings::Settings) -> anyhow::Result<Vec<String>> {
    let path = settings.resolve(&settings.keys.data_key_file);
    let ring = load_data_keyring(&path, false)?;
    let db = crate::db::Db::open(&settings.database_url(), 2)?;
    let stale = crate::store::rekey::stale_counts(&db, &crate::personal::Sealer::from_keyring(&ring))
        .map_err(anyhow::Error::msg)?;
    let left: Vec<String> = stale.iter().filter(|(_, n)| *n > 0).map(|(t, n)| format!("{t}: {n}")).collect();
    if !left.is_empty() {
        anyhow::bail!(
            "values are still sealed under older keys ({}); run `bdc-node keys rekey` first",
            left.join(", ")
        );
    }
    let dropped: Vec<String> = ring.ids().into_iter().skip(1).collect();
    replace_data_keyring(&path, &ring.without_old_keys())?;
    record(settings, "data_keys_dropped", &dropped.join(","))?;
    Ok(dropped)
}

/// A security record of a key operation in the node's audit log.
fn record(settings: &crate::settings::Settings, action: &str, detail: &str) -> anyhow::Result<()> {
    use crate::store::audit;
    let db = crate::db::Db::open(&settings.database_url(), 1)?;
    let entry = audit::Entry::new(settings.division.as_str(), "cli:keys", audit::Kind::Security, action, "cli")
        .detail(detail.to_owned());
    db.write(|c| audit::append(c, &entry).map_err(crate::db::DbError::from))?;
    Ok(())
}
