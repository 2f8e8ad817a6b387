//! The certificate as a PDF (one A4 page), written with `pdf-writer`.
//!
//! Text uses STSong-Light, one of the standard CJK fonts every PDF reader knows without embedding
//! (Adobe-GB1 character collection, `UniGB-UTF16-H` encoding), so the file stays a few KiB and
//! needs no font shipped with the node. A `ToUnicode` map lets readers search and copy the text.
//! The QR code is drawn as vector squares and is also a link to the verification page.

use std::collections::BTreeSet;

use pdf_writer::types::{ActionType, AnnotationType, CidFontType, FontFlags, SystemInfo, UnicodeCmap};
use pdf_writer::{Content, Date, Finish, Name, Pdf, Rect, Ref, Str, TextStr};

use super::Sheet;
use super::layout::{PAGE_H, PAGE_W, Page, layout};

const PT_PER_MM: f32 = 72.0 / 25.4;
const FONT: Name<'static> = Name(b"F1");

fn pt(mm: f32) -> f32 {
    mm * PT_PER_MM
}

/// PDF y (from the bottom, in points) of a page y (from the top, in mm).
fn flip(y: f32) -> f32 {
    pt(PAGE_H - y)
}

fn utf16be(text: &str) -> Vec<u8> {
    text.encode_utf16().flat_map(u16::to_be_bytes).collect()
}

fn system_info() -> SystemInfo<'static> {
    SystemInfo { registry: Str(b"Adobe"), ordering: Str(b"GB1"), supplement: 2 }
}

fn content_stream(page: &Page) -> Vec<u8> {
    let mut c = Content::new();
    c.set_line_width(0.6);
    for r in &page.rules {
        c.move_to(pt(r.x1), flip(r.y1));
        c.line_to(pt(r.x2), flip(r.y2));
    }
    c.stroke();
    for t in &page.texts {
        if t.red {
            c.set_fill_rgb(0.75, 0.0, 0.0);
        } else {
            c.set_fill_rgb(0.0, 0.0, 0.0);
        }
        c.begin_text();
        c.set_font(FONT, pt(t.size));
        c.next_line(pt(t.x), flip(t.baseline));
        c.show(Str(&utf16be(&t.text)));
        c.end_text();
    }
    if let Some(qr) = &page.qr {
        c.set_fill_rgb(0.0, 0.0, 0.0);
        for &(row, col, len) in &qr.runs {
            let x = qr.x + col as f32 * qr.module;
            let y = qr.y + (row + 1) as f32 * qr.module;
            c.rect(pt(x), flip(y), pt(len as f32 * qr.module), pt(qr.module));
        }
        c.fill_nonzero();
    }
    c.finish().to_vec()
}

/// The certificate as PDF bytes. Deterministic: the same sheet gives the same file. `Err` when
/// the sheet does not fit one page.
pub fn render(sheet: &Sheet, issued_on: chrono::NaiveDate) -> Result<Vec<u8>, String> {
    use chrono::Datelike;
    let page = layout(sheet).ok_or_else(too_long)?;
    let catalog = Ref::new(1);
    let tree = Ref::new(2);
    let page_id = Ref::new(3);
    let font = Ref::new(4);
    let cid_font = Ref::new(5);
    let descriptor = Ref::new(6);
    let to_unicode = Ref::new(7);
    let contents = Ref::new(8);
    let info = Ref::new(9);
    let link = Ref::new(10);

    let mut pdf = Pdf::new();
    pdf.catalog(catalog).pages(tree);
    pdf.pages(tree).kids([page_id]).count(1);
    {
        let mut p = pdf.page(page_id);
        p.media_box(Rect::new(0.0, 0.0, pt(PAGE_W), pt(PAGE_H)));
        p.parent(tree);
        p.contents(contents);
        if page.qr.is_some() {
            p.annotations([link]);
        }
        p.resources().fonts().pair(FONT, font);
        p.finish();
    }
    if let Some(qr) = &page.qr {
        let side = qr.module * qr.modules as f32;
        let mut a = pdf.annotation(link);
        a.subtype(AnnotationType::Link);
        a.rect(Rect::new(pt(qr.x), flip(qr.y + side), pt(qr.x + side), flip(qr.y)));
        a.contents(TextStr("核验电子证照"));
        a.action().action_type(ActionType::Uri).uri(Str(sheet.verify_url.as_bytes()));
        a.finish();
    }
    pdf.type0_font(font)
        .base_font(Name(b"STSong-Light"))
        .encoding_predefined(Name(b"UniGB-UTF16-H"))
        .descendant_font(cid_font)
        .to_unicode(to_unicode);
    {
        let mut f = pdf.cid_font(cid_font);
        f.subtype(CidFontType::Type0);
        f.base_font(Name(b"STSong-Light"));
        f.system_info(system_info());
        f.font_descriptor(descriptor);
        f.default_width(1000.0);
        // CIDs 1–95 are the ASCII characters: half width, as the layout measures them.
        f.widths().same(1, 95, 500.0);
        f.finish();
    }
    pdf.font_descriptor(descriptor)
        .name(Name(b"STSong-Light"))
        .flags(FontFlags::SYMBOLIC | FontFlags::SERIF)
        .bbox(Rect::new(-25.0, -254.0, 1000.0, 880.0))
        .italic_angle(0.0)
        .ascent(880.0)
        .descent(-120.0)
        .cap_height(880.0)
        .stem_v(93.0);
    let used: BTreeSet<char> =
        page.texts.iter().flat_map(|t| t.text.chars()).filter(|c| u32::from(*c) <= 0xFFFF).collect();
    let mut cmap = UnicodeCmap::<u16>::new(Name(b"Adobe-GB1-UTF16"), system_info());
    for c in used {
        if let Ok(code) = u16::try_from(u32::from(c)) {
            cmap.pair(code, c);
        }
    }
    let cmap = cmap.finish();
    pdf.cmap(to_unicode, &cmap);
    let stream = content_stream(&page);
    pdf.stream(contents, &stream);
    {
        let mut i = pdf.document_info(info);
        i.title(TextStr(&format!("{} {}", sheet.title, sheet.number)));
        i.subject(TextStr(&format!("电子证照标识 {}", sheet.id)));
        i.creator(TextStr("bdc-node"));
        i.producer(TextStr("bdc-node"));
        i.creation_date(
            Date::new(issued_on.year().clamp(0, 9999) as u16).month(issued_on.month() as u8).day(issued_on.day() as u8),
        );
        i.finish();
    }
    Ok(pdf.finish())
}

/// Why a document cannot be made.
pub fn too_long() -> String {
    "证照内容超过一页版面（共有人过多），请使用打印版网页".to_owned()
}

#[cfg(test)]
mod tests {
    use schemas::api::CertificateStatus;

    use super::*;
    use crate::documents::sheet;
    use crate::documents::tests::content;

    #[test]
    fn the_pdf_is_one_page_with_the_font_the_text_and_the_link() {
        let c = content();
        let s = sheet(&c, CertificateStatus::Valid, "", "https://bdc.example.cn", "0123456789ABCDEF");
        let bytes = render(&s, c.issued_on).expect("pdf");
        assert!(bytes.starts_with(b"%PDF-"));
        assert!(bytes.ends_with(b"%%EOF") || bytes.ends_with(b"%%EOF\n"));
        if let Ok(dir) = std::env::var("BDC_DUMP_DOCUMENTS") {
            let _ = std::fs::write(format!("{dir}/certificate.pdf"), &bytes);
        }
        let text = String::from_utf8_lossy(&bytes);
        assert!(text.contains("/STSong-Light") && text.contains("/UniGB-UTF16-H") && text.contains("/ToUnicode"));
        assert!(text.contains(&s.verify_url), "the QR code links to the verification page");
        assert_eq!(render(&s, c.issued_on).expect("pdf"), bytes, "deterministic");
        // 张 is U+5F20: its UTF-16BE code is in a text string of the content stream.
        assert!(text.lines().any(|l| l.ends_with("> Tj") && l.contains("5F20")));
    }
}
