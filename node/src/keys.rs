//! The node's key files: its SM2 signing key (PKCS#8 PEM) and the SM4 data key (hex).

use std::path::Path;

use federation::crypto::{PublicKey, SigningKey, Sm4Key};

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

pub fn load_data_key(path: &Path, generate_if_missing: bool) -> anyhow::Result<Sm4Key> {
    if !path.exists() {
        if !generate_if_missing {
            anyhow::bail!("data key {} not found: create it with `bdc-node keygen`", path.display());
        }
        let key = Sm4Key::generate();
        write_private(path, &key.to_hex())?;
        return Ok(key);
    }
    let text = std::fs::read_to_string(path)?;
    Sm4Key::from_hex(text.trim()).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
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
