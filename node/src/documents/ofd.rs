//! The certificate as an OFD file (GB/T 33190-2016 《电子文件存储与交换格式 版式文档》), the format
//! GB/T 36905 names for electronic licences: a zip holding `OFD.xml` (the entry: document
//! metadata and where the document root is), `Doc_0/Document.xml` (page size, the page list),
//! `Doc_0/PublicRes.xml` (the 宋体 font, not embedded: every OFD reader in China has it) and one
//! page, `Doc_0/Pages/Page_0/Content.xml`, holding text objects, the table rules and the QR code
//! as vector paths. Units are millimetres, origin top-left, as in [`super::layout`].

use std::io::{Cursor, Write};

use quick_xml::escape::escape;
use zip::write::SimpleFileOptions;

use super::Sheet;
use super::layout::{PAGE_H, PAGE_W, Page, Text, advance, layout, width};

const NS: &str = "http://www.ofdspec.org/2016";
const FONT_ID: u32 = 1;
const QR_ID: u32 = 3;

/// Numbers in OFD attributes: millimetres to 0.01, without trailing zeros.
fn n(v: f32) -> String {
    let s = format!("{v:.2}");
    s.trim_end_matches('0').trim_end_matches('.').to_owned()
}

fn text_object(id: u32, t: &Text) -> String {
    let w = width(&t.text, t.size).max(t.size);
    let top = t.baseline - t.size;
    // DeltaX: the advance from each character to the next.
    let deltas: Vec<String> =
        t.text.chars().take(t.text.chars().count().saturating_sub(1)).map(|c| n(advance(c) * t.size)).collect();
    let color = if t.red { "192 0 0" } else { "0 0 0" };
    format!(
        "<ofd:TextObject ID=\"{id}\" Boundary=\"{} {} {} {}\" Font=\"{FONT_ID}\" Size=\"{}\">\
         <ofd:FillColor Value=\"{color}\"/>\
         <ofd:TextCode X=\"0\" Y=\"{}\" DeltaX=\"{}\">{}</ofd:TextCode></ofd:TextObject>",
        n(t.x),
        n(top),
        n(w),
        n(t.size * 1.3),
        n(t.size),
        n(t.size),
        deltas.join(" "),
        escape(t.text.as_str()),
    )
}

fn page_xml(page: &Page) -> (String, u32) {
    let mut id = 10;
    let mut next = || {
        id += 1;
        id
    };
    let mut body = String::new();
    let rules: Vec<String> =
        page.rules.iter().map(|r| format!("M {} {} L {} {}", n(r.x1), n(r.y1), n(r.x2), n(r.y2))).collect();
    body.push_str(&format!(
        "<ofd:PathObject ID=\"{}\" Boundary=\"0 0 {} {}\" LineWidth=\"0.2\" Stroke=\"true\" Fill=\"false\">\
         <ofd:StrokeColor Value=\"0 0 0\"/><ofd:AbbreviatedData>{}</ofd:AbbreviatedData></ofd:PathObject>",
        next(),
        n(PAGE_W),
        n(PAGE_H),
        rules.join(" ")
    ));
    for t in &page.texts {
        body.push_str(&text_object(next(), t));
    }
    if let Some(qr) = &page.qr {
        // The QR code is an image resource (Res/qr.png), as e-licences carry it.
        let side = qr.module * qr.modules as f32;
        body.push_str(&format!(
            "<ofd:ImageObject ID=\"{}\" Boundary=\"{} {} {} {}\" CTM=\"{} 0 0 {} 0 0\" ResourceID=\"{QR_ID}\"/>",
            next(),
            n(qr.x),
            n(qr.y),
            n(side),
            n(side),
            n(side),
            n(side)
        ));
    }
    let layer = next();
    let xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ofd:Page xmlns:ofd=\"{NS}\"><ofd:Content>\
         <ofd:Layer ID=\"{layer}\">{body}</ofd:Layer></ofd:Content></ofd:Page>"
    );
    (xml, id)
}

/// The certificate as OFD bytes. Deterministic: the same sheet gives the same file (the zip
/// entries carry a fixed time).
pub fn render(sheet: &Sheet, issued_on: chrono::NaiveDate, issuer: &str) -> Result<Vec<u8>, String> {
    let page = layout(sheet).ok_or_else(super::pdf::too_long)?;
    let (content, max_id) = page_xml(&page);
    let doc_id = hex::encode(&sm3_digest(sheet.id.as_bytes())[..16]);
    let ofd = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ofd:OFD xmlns:ofd=\"{NS}\" Version=\"1.0\" DocType=\"OFD\">\
         <ofd:DocBody><ofd:DocInfo><ofd:DocID>{doc_id}</ofd:DocID><ofd:Title>{}</ofd:Title>\
         <ofd:Author>{}</ofd:Author><ofd:Subject>{}</ofd:Subject><ofd:CreationDate>{issued_on}</ofd:CreationDate>\
         <ofd:Creator>bdc-node</ofd:Creator><ofd:CreatorVersion>{}</ofd:CreatorVersion>\
         <ofd:CustomDatas><ofd:CustomData Name=\"电子证照标识\">{}</ofd:CustomData>\
         <ofd:CustomData Name=\"证照编号\">{}</ofd:CustomData>\
         <ofd:CustomData Name=\"核验地址\">{}</ofd:CustomData></ofd:CustomDatas>\
         </ofd:DocInfo><ofd:DocRoot>Doc_0/Document.xml</ofd:DocRoot></ofd:DocBody></ofd:OFD>",
        escape(sheet.title.as_str()),
        escape(issuer),
        escape(sheet.number.as_str()),
        env!("CARGO_PKG_VERSION"),
        escape(sheet.id.as_str()),
        escape(sheet.number.as_str()),
        escape(sheet.verify_url.as_str()),
    );
    let document = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ofd:Document xmlns:ofd=\"{NS}\"><ofd:CommonData>\
         <ofd:MaxUnitID>{max_id}</ofd:MaxUnitID><ofd:PageArea><ofd:PhysicalBox>0 0 {} {}</ofd:PhysicalBox>\
         </ofd:PageArea><ofd:PublicRes>PublicRes.xml</ofd:PublicRes><ofd:DocumentRes>DocumentRes.xml</ofd:DocumentRes>\
         </ofd:CommonData>\
         <ofd:Pages><ofd:Page ID=\"2\" BaseLoc=\"Pages/Page_0/Content.xml\"/></ofd:Pages></ofd:Document>",
        n(PAGE_W),
        n(PAGE_H)
    );
    let public_res = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ofd:Res xmlns:ofd=\"{NS}\" BaseLoc=\"Res\"><ofd:Fonts>\
         <ofd:Font ID=\"{FONT_ID}\" FontName=\"宋体\" FamilyName=\"宋体\"/></ofd:Fonts></ofd:Res>"
    );
    let document_res = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ofd:Res xmlns:ofd=\"{NS}\" BaseLoc=\"Res\"><ofd:MultiMedias>\
         <ofd:MultiMedia ID=\"{QR_ID}\" Type=\"Image\" Format=\"PNG\"><ofd:MediaFile>qr.png</ofd:MediaFile>\
         </ofd:MultiMedia></ofd:MultiMedias></ofd:Res>"
    );
    let qr_png = match &page.qr {
        Some(qr) => qr.to_png(8)?,
        None => return Err("the verification address does not fit a QR code".into()),
    };
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .last_modified_time(zip::DateTime::default());
    for (name, body) in [
        ("OFD.xml", ofd),
        ("Doc_0/Document.xml", document),
        ("Doc_0/PublicRes.xml", public_res),
        ("Doc_0/DocumentRes.xml", document_res),
        ("Doc_0/Pages/Page_0/Content.xml", content),
    ] {
        zip.start_file(name, options).map_err(|e| e.to_string())?;
        zip.write_all(body.as_bytes()).map_err(|e| e.to_string())?;
    }
    zip.start_file("Doc_0/Res/qr.png", options.compression_method(zip::CompressionMethod::Stored))
        .map_err(|e| e.to_string())?;
    zip.write_all(&qr_png).map_err(|e| e.to_string())?;
    Ok(zip.finish().map_err(|e| e.to_string())?.into_inner())
}

fn sm3_digest(data: &[u8]) -> Vec<u8> {
    use sm3::Digest;
    sm3::Sm3::digest(data).to_vec()
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use schemas::api::CertificateStatus;

    use super::*;
    use crate::documents::sheet;
    use crate::documents::tests::content;

    fn part(bytes: &[u8], name: &str) -> String {
        let mut zip = zip::ZipArchive::new(Cursor::new(bytes)).expect("zip");
        let mut s = String::new();
        zip.by_name(name).expect(name).read_to_string(&mut s).expect("utf-8");
        s
    }

    #[test]
    fn the_ofd_holds_the_entry_the_document_the_font_and_the_page() {
        let mut c = content();
        c.holders = vec!["张<三>&".into()];
        let s = sheet(&c, CertificateStatus::Valid, "", "https://bdc.example.cn", "0123456789ABCDEF");
        let bytes = render(&s, c.issued_on, &c.issuer_name).expect("ofd");
        if let Ok(dir) = std::env::var("BDC_DUMP_DOCUMENTS") {
            let _ = std::fs::write(format!("{dir}/certificate.ofd"), &bytes);
        }
        let ofd = part(&bytes, "OFD.xml");
        assert!(ofd.contains("<ofd:DocRoot>Doc_0/Document.xml</ofd:DocRoot>"));
        assert!(ofd.contains(c.id.as_str()));
        assert!(part(&bytes, "Doc_0/Document.xml").contains("BaseLoc=\"Pages/Page_0/Content.xml\""));
        assert!(part(&bytes, "Doc_0/PublicRes.xml").contains("FontName=\"宋体\""));
        let page = part(&bytes, "Doc_0/Pages/Page_0/Content.xml");
        assert!(page.contains("张&lt;三&gt;&amp;"), "text is escaped");
        assert!(page.contains(">不动产单元号</ofd:TextCode>"));
        assert!(page.contains("ResourceID=\"3\""), "the QR code");
        assert!(part(&bytes, "Doc_0/DocumentRes.xml").contains("<ofd:MediaFile>qr.png</ofd:MediaFile>"));
        assert_eq!(render(&s, c.issued_on, &c.issuer_name).expect("ofd"), bytes, "deterministic");
    }
}
