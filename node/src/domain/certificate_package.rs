//! Checking a downloaded certificate package (`GET /api/v1/certificates/{id}/package`) on its own:
//! the signature over the signed content, with the key it names, and that the content is the
//! certificate the package says it is. Used by `bdc-node verify-cert FILE` offline and by the
//! verification page and API when someone uploads the file. Whether the key belongs to the issuer
//! and whether the certificate is still valid are for a node to answer.

use federation::crypto::{PublicKey, unb64};
use schemas::api::{CertificateContent, CertificatePackage};

/// Why a package does not hold a validly signed certificate, in Chinese.
pub fn check(package: &CertificatePackage, key: &PublicKey) -> Result<CertificateContent, String> {
    if package.v != 1 {
        return Err(format!("不支持的证照文件版本 {}", package.v));
    }
    let der = unb64(&package.signature).map_err(|_| "签名不是有效的 Base64 编码".to_owned())?;
    key.verify(package.content.as_bytes(), &der)
        .map_err(|_| "签名验证失败：证照内容被改动，或签名不是该公钥所签".to_owned())?;
    let content: CertificateContent =
        serde_json::from_str(&package.content).map_err(|e| format!("签名内容不是电子证照：{e}"))?;
    if content.id != package.id {
        return Err(format!("签名内容的证照标识为 {}，与文件所称 {} 不符", content.id, package.id));
    }
    Ok(content)
}

/// The public key a package carries, and that it is the key its `key_id` names.
pub fn package_key(package: &CertificatePackage) -> Result<PublicKey, String> {
    let key =
        PublicKey::from_spki_pem(&package.issuer_public_key_pem).map_err(|_| "文件中的签发机构公钥无效".to_owned())?;
    if key.key_id() != package.key_id {
        return Err(format!("文件中的公钥（{}）不是其所称的签名密钥 {}", key.key_id(), package.key_id));
    }
    Ok(key)
}

/// The name of the signed package inside a zip package (`…/package.zip`).
pub const PACKAGE_ENTRY: &str = "certificate.json";
/// Most bytes read from any one entry of an uploaded zip (a real package is a few KiB).
const MAX_ENTRY: u64 = 256 * 1024;

/// A package from a file's bytes: the JSON package itself, or the zip package holding it as
/// `certificate.json` beside the documents.
pub fn from_file(bytes: &[u8]) -> Result<CertificatePackage, String> {
    use std::io::Read;
    if bytes.starts_with(b"PK\x03\x04") {
        let mut zip =
            zip::ZipArchive::new(std::io::Cursor::new(bytes)).map_err(|_| "不是有效的证照包（zip）".to_owned())?;
        let entry = zip.by_name(PACKAGE_ENTRY).map_err(|_| format!("证照包中没有 {PACKAGE_ENTRY}"))?;
        let mut json = vec![];
        entry.take(MAX_ENTRY + 1).read_to_end(&mut json).map_err(|_| format!("证照包中的 {PACKAGE_ENTRY} 无法读取"))?;
        if json.len() as u64 > MAX_ENTRY {
            return Err(format!("证照包中的 {PACKAGE_ENTRY} 过大"));
        }
        return serde_json::from_slice(&json).map_err(|_| format!("证照包中的 {PACKAGE_ENTRY} 不是电子证照文件"));
    }
    serde_json::from_slice(bytes).map_err(|_| "不是电子证照文件（应为从核验页或接口下载的证照包）".to_owned())
}
