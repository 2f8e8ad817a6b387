//! The certificate's documents as the holder and a bank get them: PDF, OFD, the zip package and
//! the printable page, from the issuing county and from the nation after roll-up, each opened by
//! a tool that is not ours — poppler (`pdftotext`, `pdftoppm`), `qpdf --check`, the `easyofd`
//! OFD reader from PyPI (`tests/tools/ofd_read.py`), `zbarimg` for the QR codes and `openssl` for
//! the signature in the package. Without the 查验码 nothing of the content is served.
//!
//! Needs: poppler-utils, qpdf, zbar-tools, openssl (Debian packages) and a Python with easyofd
//! (`OFD_READER_PYTHON`, default `python3`); `.ci/run` installs them.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Read;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::*;
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(15);

fn run(program: &str, args: &[&str], dir: &Path) -> String {
    let out = Command::new(program)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("{program} must be installed (see tests/certificate_documents.rs): {e}"));
    assert!(out.status.success(), "{program} {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The QR codes zbarimg finds in a picture.
fn qr_codes(png: &Path) -> Vec<String> {
    let out = run("zbarimg", &["-q", "--raw", png.to_str().unwrap()], png.parent().unwrap());
    out.lines().map(str::to_owned).collect()
}

async fn fetch(fed: &Federation, node: usize, path: &str) -> (u16, Vec<u8>) {
    let r = fed.http.get(format!("{}{path}", fed.url(node))).send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.bytes().await.unwrap().to_vec())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_holder_and_a_bank_open_the_certificate_documents_with_independent_tools() {
    let fed = Federation::start().await;
    let (_, receipt) = fed.post(XUANWU, "/api/v1/applications", &sample_application(XUANWU_UNIT)).await;
    let business_no = receipt["business_no"].as_str().unwrap().to_owned();
    let issued = fed.run_to_issued(&business_no).await;
    let cert = issued["certificate_id"].as_str().unwrap().to_owned();
    eventually("certificate at the nation", WAIT, || async {
        let (status, _) = fed.get(NATION, &format!("/api/v1/certificates/{cert}/verify")).await;
        (status == 200).then_some(())
    })
    .await;
    let code = fed.access_code(XUANWU, &business_no).await;
    assert_eq!(fed.access_code(NATION, &business_no).await, code, "every level derives the same code");
    let base = format!("/api/v1/certificates/{cert}");

    // Without the code, or with a wrong one: 403, and no personal data.
    for doc in ["signed-data", "signature.der", "package", "package.zip", "certificate.pdf", "certificate.ofd"] {
        for query in ["".to_owned(), "?code=0000000000000000".to_owned(), format!("?code={}", &code[..15])] {
            let (status, body) = fetch(&fed, NATION, &format!("{base}/{doc}{query}")).await;
            assert_eq!(status, 403, "{doc}{query}");
            let body: Value = serde_json::from_slice(&body).unwrap();
            assert_eq!(body["error"], "access_code_invalid", "{doc}{query}: {body}");
        }
    }
    let (status, verify) = fetch(&fed, NATION, &format!("{base}/verify")).await;
    assert_eq!(status, 200);
    let verify = String::from_utf8_lossy(&verify).into_owned();
    assert!(!verify.contains("张三"), "the public answer names no one");
    assert!(!verify.contains(&code), "nor gives the code away");

    // No dot in the directory's path: easyofd unpacks next to the file, at the path cut at its
    // first dot.
    let dir = tempfile::Builder::new().prefix("bdcdocs").tempdir().unwrap();
    let d = dir.path();
    for node in [XUANWU, NATION] {
        // PDF: a valid file (qpdf), the text a reader extracts (poppler), a QR code leading to this
        // node's verification page with the code.
        let (status, pdf) = fetch(&fed, node, &format!("{base}/certificate.pdf?code={}", code.to_lowercase())).await;
        assert_eq!(status, 200, "the code is case-insensitive");
        assert!(pdf.starts_with(b"%PDF-"));
        std::fs::write(d.join("c.pdf"), &pdf).unwrap();
        run("qpdf", &["--check", "c.pdf"], d);
        let text = run("pdftotext", &["-layout", "c.pdf", "-"], d);
        for want in [
            "不动产权证书",
            "苏(2026)南京市不动产权第",
            "张三",
            "单独所有",
            "南京市玄武区北京东路41号3幢203室",
            XUANWU_UNIT,
            "国有建设用地使用权/房屋所有权",
            "出让",
            "住宅",
            "89.50平方米",
            "2006年01月01日起2076年12月31日止",
            &business_no,
            &code,
        ] {
            assert!(text.contains(want), "PDF lacks {want}:\n{text}");
        }
        assert!(text.contains(&cert[..30]), "the identifier is printed");
        run("pdftoppm", &["-r", "150", "-png", "-singlefile", "c.pdf", "pdf-page"], d);
        let verify_url = format!("{}/verify?id={cert}&code={code}", fed.url(node));
        assert_eq!(qr_codes(&d.join("pdf-page.png")), vec![verify_url.clone()], "PDF QR code");

        // OFD: opened by easyofd, every field on the page, the QR code image decodes.
        let (status, ofd) = fetch(&fed, node, &format!("{base}/certificate.ofd?code={code}")).await;
        assert_eq!(status, 200);
        std::fs::write(d.join("c.ofd"), &ofd).unwrap();
        let python = std::env::var("OFD_READER_PYTHON").unwrap_or_else(|_| "python3".into());
        let reader = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/tools/ofd_read.py");
        let out = run(&python, &[reader.to_str().unwrap(), "c.ofd", d.to_str().unwrap()], d);
        let seen: Value = serde_json::from_str(out.lines().last().unwrap_or_default()).expect("reader output");
        assert_eq!(seen["pages"], 1);
        let texts: Vec<&str> = seen["texts"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
        let all = texts.concat();
        // What the reader drew (text extracted from its rendering, spaces aside).
        let shown: String = seen["shown"].as_str().unwrap_or_default().chars().filter(|c| !c.is_whitespace()).collect();
        for want in ["不动产权证书", "权利人", "张三", "坐落", XUANWU_UNIT, "权利性质", "出让", "使用期限", &code]
        {
            assert!(all.contains(want), "OFD lacks {want}: {texts:?}");
            assert!(shown.contains(want), "the reader did not draw {want}: {shown}");
        }
        assert_eq!(qr_codes(&d.join("page-1.png")), vec![verify_url.clone()], "OFD QR code");

        // The QR code's page answers, and with the code it links the documents.
        let (status, page) = fetch(&fed, node, &verify_url.replace(&fed.url(node), "")).await;
        let page = String::from_utf8(page).unwrap();
        assert_eq!(status, 200);
        assert!(page.contains("id=\"result\">有效") && page.contains("id=\"pdf\""), "{page}");
        let (_, wrong) = fetch(&fed, node, &format!("/verify?id={cert}&code=ABCDEF0123456789")).await;
        let wrong = String::from_utf8(wrong).unwrap();
        assert!(wrong.contains("id=\"code-wrong\"") && !wrong.contains("id=\"pdf\""), "{wrong}");

        // The printable page: the official rows, escaped; nothing without the code.
        let (status, page) = fetch(&fed, node, &format!("/certificate?id={cert}&code={code}")).await;
        let page = String::from_utf8(page).unwrap();
        assert_eq!(status, 200, "{page}");
        for want in ["<th>权利人</th><td>张三</td>", "<th>权利性质</th><td>出让</td>", "<th>附记</th>"] {
            assert!(page.contains(want), "printable page lacks {want}");
        }
        let (status, page) = fetch(&fed, node, &format!("/certificate?id={cert}")).await;
        assert_eq!(status, 403);
        assert!(!String::from_utf8(page).unwrap().contains("张三"));
    }

    // The zip package: documents, signed data, signature and key; OpenSSL verifies the signature;
    // the nation's page verifies the uploaded zip.
    let (status, zip) = fetch(&fed, XUANWU, &format!("{base}/package.zip?code={code}")).await;
    assert_eq!(status, 200);
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zip.clone())).unwrap();
    let mut names: Vec<String> = archive.file_names().map(|n| n.unwrap().into_owned()).collect();
    names.sort();
    assert_eq!(
        names,
        [
            "README.txt",
            "certificate.json",
            "certificate.ofd",
            "certificate.pdf",
            "issuer-key.pem",
            "signature.der",
            "signed-data.json"
        ]
    );
    for name in ["signed-data.json", "signature.der", "issuer-key.pem"] {
        let mut bytes = vec![];
        archive.by_name(name).unwrap().read_to_end(&mut bytes).unwrap();
        std::fs::write(d.join(name), bytes).unwrap();
    }
    let verified = run(
        "openssl",
        &[
            "dgst",
            "-sm3",
            "-verify",
            "issuer-key.pem",
            "-signature",
            "signature.der",
            "-sigopt",
            "distid:1234567812345678",
            "signed-data.json",
        ],
        d,
    );
    assert!(verified.contains("Verified OK"), "{verified}");
    let signed: Value = serde_json::from_slice(&std::fs::read(d.join("signed-data.json")).unwrap()).unwrap();
    assert_eq!(signed["nature"], "出让");
    assert_eq!(signed["term"], "2006年01月01日起2076年12月31日止");
    assert_eq!(signed["right_type"], "国有建设用地使用权/房屋所有权");
    assert_eq!(signed["holder_id_type"], "身份证");
    assert!(signed.get("id_number").is_none() && !signed.to_string().contains("110101199003074477"));

    let (status, answer) = fed.upload_package(NATION, &zip).await;
    assert_eq!(status, 200, "{answer}");
    assert!(answer.contains("id=\"result\">有效") && answer.contains(&format!("code={code}")), "{answer}");
    let (status, answer) = fed.upload_package(NATION, b"PK\x03\x04 not really a zip").await;
    assert_eq!(status, 400, "{answer}");

    fed.shutdown().await;
}
