//! Files attached to an online application's checklist items (申请材料上传): what a file is, told
//! by its first bytes (never by its name), and whether an item takes it. Pure functions; the
//! store seals the bytes and the handlers decide who may attach or read them.

use schemas::register::Material;
use schemas::registration::Stage;

/// Files one checklist item may hold. Files accumulate (an ID card is two pages, a contract
/// several): nothing uploaded is overwritten or deleted, it stays part of the application.
pub const MAX_FILES_PER_ITEM: usize = 10;

/// The formats a checklist item can accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileFormat {
    Pdf,
    /// GB/T 33190 版式文档: a zip whose root holds `OFD.xml`.
    Ofd,
    Jpg,
    Png,
}

impl FileFormat {
    pub const ALL: &'static [FileFormat] = &[Self::Pdf, Self::Ofd, Self::Jpg, Self::Png];

    /// The name used in the checklist data (`formats = ["pdf", …]`) and on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pdf => "pdf",
            Self::Ofd => "ofd",
            Self::Jpg => "jpg",
            Self::Png => "png",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|f| f.as_str() == s)
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Self::Pdf => "application/pdf",
            Self::Ofd => "application/ofd",
            Self::Jpg => "image/jpeg",
            Self::Png => "image/png",
        }
    }
}

const PNG_SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";

/// The format of a file by its content: `%PDF-`, the PNG signature, `FF D8 FF` (JPEG), or a zip
/// (`PK\x03\x04`) that holds `OFD.xml` at its root. Anything else (an executable, a Word file, a
/// plain zip) is `None`.
pub fn detect(bytes: &[u8]) -> Option<FileFormat> {
    if bytes.starts_with(b"%PDF-") {
        Some(FileFormat::Pdf)
    } else if bytes.starts_with(PNG_SIGNATURE) {
        Some(FileFormat::Png)
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some(FileFormat::Jpg)
    } else if bytes.starts_with(b"PK\x03\x04") && zip_holds_ofd_xml(bytes) {
        Some(FileFormat::Ofd)
    } else {
        None
    }
}

fn zip_holds_ofd_xml(bytes: &[u8]) -> bool {
    zip::ZipArchive::new(std::io::Cursor::new(bytes))
        .map(|archive| archive.index_for_name("OFD.xml").is_some())
        .unwrap_or(false)
}

/// Whether files may be attached at this stage: while the application waits for 受理 (submitted)
/// or for 补正. Once accepted, refused, withdrawn or done, the file set is part of the record.
pub fn may_attach(stage: Stage) -> bool {
    matches!(stage, Stage::Submitted | Stage::CorrectionRequested)
}

/// Largest file an item takes, in bytes (`max_size_mb` counts MiB).
pub fn max_bytes(item: &Material) -> usize {
    (item.max_size_mb as usize).saturating_mul(1024 * 1024)
}

/// Why an upload is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    Empty,
    TooLarge {
        max_mb: u32,
    },
    /// Not one of the formats recognised at all.
    Unrecognised,
    /// A recognised format the item does not take.
    NotAccepted {
        found: FileFormat,
    },
    TooManyFiles,
}

impl Refusal {
    pub fn message_zh(&self, item: &Material) -> String {
        let formats = item.formats.join("、");
        match self {
            Self::Empty => "上传的文件为空".into(),
            Self::TooLarge { max_mb } => format!("「{}」的文件不能超过 {max_mb} MB", item.name),
            Self::Unrecognised => {
                format!("无法识别的文件格式（按文件内容识别，不看文件名）：「{}」只接受 {formats}", item.name)
            }
            Self::NotAccepted { found } => {
                format!("文件内容为 {}，「{}」只接受 {formats}", found.as_str(), item.name)
            }
            Self::TooManyFiles => {
                format!("「{}」已上传 {MAX_FILES_PER_ITEM} 个文件，不能再添加", item.name)
            }
        }
    }
}

/// Check a file for an item: not empty, within the size, of a format the item takes (by
/// content). `files_held` is how many files the item already holds.
pub fn check(item: &Material, bytes: &[u8], files_held: usize) -> Result<FileFormat, Refusal> {
    if bytes.is_empty() {
        return Err(Refusal::Empty);
    }
    if bytes.len() > max_bytes(item) {
        return Err(Refusal::TooLarge { max_mb: item.max_size_mb });
    }
    let found = detect(bytes).ok_or(Refusal::Unrecognised)?;
    if !item.formats.iter().any(|f| f == found.as_str()) {
        return Err(Refusal::NotAccepted { found });
    }
    if files_held >= MAX_FILES_PER_ITEM {
        return Err(Refusal::TooManyFiles);
    }
    Ok(found)
}

/// The required items of a checklist that hold no file, in checklist order.
pub fn missing_required<'a>(checklist: &'a [Material], with_files: &[String]) -> Vec<&'a Material> {
    checklist.iter().filter(|m| m.required && !with_files.iter().any(|id| id == &m.id)).collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::io::Write;

    use super::*;

    fn zip_with(names: &[&str]) -> Vec<u8> {
        let mut out = std::io::Cursor::new(Vec::new());
        let mut w = zip::ZipWriter::new(&mut out);
        for n in names {
            w.start_file(*n, zip::write::SimpleFileOptions::default()).unwrap();
            w.write_all(b"<ofd:OFD/>").unwrap();
        }
        w.finish().unwrap();
        out.into_inner()
    }

    fn item(formats: &[&str], max_size_mb: u32) -> Material {
        Material {
            id: "identity".into(),
            name: "申请人身份证明".into(),
            required: true,
            formats: formats.iter().map(|s| (*s).to_owned()).collect(),
            max_size_mb,
        }
    }

    #[test]
    fn formats_are_told_by_content() {
        assert_eq!(detect(b"%PDF-1.7\n%\xe2\xe3"), Some(FileFormat::Pdf));
        assert_eq!(detect(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"), Some(FileFormat::Png));
        assert_eq!(detect(&[0xFF, 0xD8, 0xFF, 0xE0, 0, 0x10]), Some(FileFormat::Jpg));
        assert_eq!(detect(&zip_with(&["OFD.xml", "Doc_0/Document.xml"])), Some(FileFormat::Ofd));
        // A zip without OFD.xml at its root (a Word file, a plain archive) is not an OFD.
        assert_eq!(detect(&zip_with(&["word/document.xml"])), None);
        assert_eq!(detect(&zip_with(&["Doc_0/OFD.xml"])), None);
        // A zip header with nothing behind it, an executable, text, near misses.
        assert_eq!(detect(b"PK\x03\x04garbage"), None);
        assert_eq!(detect(b"MZ\x90\x00\x03\x00\x00\x00"), None);
        assert_eq!(detect(b"\x7fELF\x02\x01\x01"), None);
        assert_eq!(detect(b"hello %PDF-"), None);
        assert_eq!(detect(b"%PDF"), None);
        assert_eq!(detect(&[0xFF, 0xD8]), None);
        assert_eq!(detect(b""), None);
    }

    #[test]
    fn an_item_takes_its_formats_up_to_its_size() {
        let pdf_only = item(&["pdf"], 1);
        assert_eq!(check(&pdf_only, b"%PDF-1.4 x", 0), Ok(FileFormat::Pdf));
        assert_eq!(check(&pdf_only, b"", 0), Err(Refusal::Empty));
        assert_eq!(check(&pdf_only, b"\x89PNG\r\n\x1a\nrest", 0), Err(Refusal::NotAccepted { found: FileFormat::Png }));
        assert_eq!(check(&pdf_only, b"MZ\x90\x00", 0), Err(Refusal::Unrecognised));
        let mut big = b"%PDF-".to_vec();
        big.resize(1024 * 1024, b' ');
        assert_eq!(check(&pdf_only, &big, 0), Ok(FileFormat::Pdf), "exactly the limit is allowed");
        big.push(b' ');
        assert_eq!(check(&pdf_only, &big, 0), Err(Refusal::TooLarge { max_mb: 1 }));
        assert_eq!(check(&pdf_only, b"%PDF-1.4", MAX_FILES_PER_ITEM), Err(Refusal::TooManyFiles));
        assert!(Refusal::NotAccepted { found: FileFormat::Png }.message_zh(&pdf_only).contains("只接受 pdf"));
    }

    #[test]
    fn stages_that_take_files_and_what_is_missing() {
        assert!(may_attach(Stage::Submitted) && may_attach(Stage::CorrectionRequested));
        for s in [Stage::Accepted, Stage::Reviewed, Stage::Recorded, Stage::Rejected, Stage::Withdrawn, Stage::Issued] {
            assert!(!may_attach(s), "{s:?}");
        }
        let mut optional = item(&["pdf"], 1);
        optional.id = "tax".into();
        optional.required = false;
        let list = vec![item(&["pdf"], 1), optional];
        assert_eq!(missing_required(&list, &[]).len(), 1);
        assert!(missing_required(&list, &["identity".into()]).is_empty());
        for f in FileFormat::ALL {
            assert_eq!(FileFormat::parse(f.as_str()), Some(*f));
        }
    }
}
