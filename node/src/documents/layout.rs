//! The certificate laid out on an A4 page, in millimetres from the top-left corner (OFD's own
//! coordinate system; the PDF writer flips it). Text is set in a CJK song typeface: a Chinese or
//! full-width character is one em wide, an ASCII character half an em, which is how the fonts
//! readers substitute for 宋体 / STSong-Light measure.

use super::Sheet;

pub const PAGE_W: f32 = 210.0;
pub const PAGE_H: f32 = 297.0;
const LEFT: f32 = 20.0;
const RIGHT: f32 = 190.0;
const LABEL_W: f32 = 36.0;
/// Body text size (about 11 pt) and line height.
const BODY: f32 = 3.9;
const LINE: f32 = 5.6;
const PAD: f32 = 2.0;

/// One line of text; `baseline` is measured from the top of the page.
#[derive(Debug, Clone, PartialEq)]
pub struct Text {
    pub x: f32,
    pub baseline: f32,
    pub size: f32,
    pub text: String,
    pub red: bool,
}

/// A ruled line.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rule {
    pub x1: f32,
    pub y1: f32,
    pub x2: f32,
    pub y2: f32,
}

/// A QR code: `modules` × `modules` squares of `module` mm from (`x`, `y`); `dark` lists the dark
/// ones, row-major, as runs (row, first column, length) so that writers draw few rectangles.
#[derive(Debug, Clone, PartialEq)]
pub struct Qr {
    pub x: f32,
    pub y: f32,
    pub module: f32,
    pub modules: usize,
    pub runs: Vec<(usize, usize, usize)>,
}

/// A laid-out page.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    pub texts: Vec<Text>,
    pub rules: Vec<Rule>,
    pub qr: Option<Qr>,
}

/// Width of one character in ems.
pub fn advance(c: char) -> f32 {
    if c.is_ascii() { 0.5 } else { 1.0 }
}

/// Width of a string in mm at `size`.
pub fn width(text: &str, size: f32) -> f32 {
    text.chars().map(advance).sum::<f32>() * size
}

/// Break `text` into lines no wider than `max` mm at `size`. Breaks fall between characters
/// (Chinese text has no spaces to break at); an empty text gives one empty line.
pub fn wrap(text: &str, size: f32, max: f32) -> Vec<String> {
    let mut lines = vec![];
    let mut line = String::new();
    let mut w = 0.0;
    for c in text.chars().filter(|c| !c.is_control()) {
        let a = advance(c) * size;
        if w + a > max && !line.is_empty() {
            lines.push(std::mem::take(&mut line));
            w = 0.0;
        }
        line.push(c);
        w += a;
    }
    lines.push(line);
    lines
}

fn centred(text: &str, baseline: f32, size: f32, red: bool) -> Text {
    Text { x: (PAGE_W - width(text, size)) / 2.0, baseline, size, text: text.to_owned(), red }
}

/// The QR code of `url`, or none if it is too long to encode (it never is for our addresses).
fn qr(url: &str, x: f32, y: f32, side: f32) -> Option<Qr> {
    let code = qrcode::QrCode::with_error_correction_level(url.as_bytes(), qrcode::EcLevel::M).ok()?;
    let n = code.width();
    let colors = code.to_colors();
    let mut runs = vec![];
    for row in 0..n {
        let mut col = 0;
        while col < n {
            if colors.get(row * n + col) == Some(&qrcode::Color::Dark) {
                let start = col;
                while col < n && colors.get(row * n + col) == Some(&qrcode::Color::Dark) {
                    col += 1;
                }
                runs.push((row, start, col - start));
            } else {
                col += 1;
            }
        }
    }
    Some(Qr { x, y, module: side / n as f32, modules: n, runs })
}

impl Qr {
    /// The code as a greyscale PNG, `scale` pixels per module, no margin (the page around it is
    /// white).
    pub fn to_png(&self, scale: usize) -> Result<Vec<u8>, String> {
        let side = self.modules * scale;
        let mut pixels = vec![255u8; side * side];
        for &(row, col, len) in &self.runs {
            for dy in 0..scale {
                let start = (row * scale + dy) * side + col * scale;
                if let Some(span) = pixels.get_mut(start..start + len * scale) {
                    span.fill(0);
                }
            }
        }
        let mut out = vec![];
        let size = u32::try_from(side).map_err(|e| e.to_string())?;
        let mut encoder = png::Encoder::new(&mut out, size, size);
        encoder.set_color(png::ColorType::Grayscale);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header().map_err(|e| e.to_string())?;
        writer.write_image_data(&pixels).map_err(|e| e.to_string())?;
        writer.finish().map_err(|e| e.to_string())?;
        Ok(out)
    }
}

/// Lay a sheet out on one A4 page: title, number, the ruled table, the footer and the QR code.
/// A long sheet (many co-owners) is set smaller, down to half size; `None` if even that does not
/// fit — a certificate must never drop a line it should print.
pub fn layout(sheet: &Sheet) -> Option<Page> {
    [1.0, 0.85, 0.7, 0.5].into_iter().find_map(|scale| layout_at(sheet, scale))
}

fn layout_at(sheet: &Sheet, scale: f32) -> Option<Page> {
    let (body, line, pad) = (BODY * scale, LINE * scale, PAD * scale);
    let mut texts = vec![centred(&sheet.title, 32.0, 9.0, false), centred(&sheet.number, 44.0, 4.6, false)];
    let mut rules = vec![];
    let mut y = 52.0;
    rules.push(Rule { x1: LEFT, y1: y, x2: RIGHT, y2: y });
    let value_x = LEFT + LABEL_W + pad;
    let value_w = RIGHT - value_x - pad;
    for (label, value) in &sheet.rows {
        let lines = wrap(value, body, value_w);
        let label_lines = wrap(label, body, LABEL_W - 2.0 * pad);
        let n = lines.len().max(label_lines.len()) as f32;
        let h = n * line + pad;
        for (i, l) in label_lines.iter().enumerate() {
            texts.push(Text {
                x: LEFT + pad,
                baseline: y + pad + body + i as f32 * line,
                size: body,
                text: l.clone(),
                red: false,
            });
        }
        for (i, l) in lines.iter().enumerate() {
            texts.push(Text {
                x: value_x,
                baseline: y + pad + body + i as f32 * line,
                size: body,
                text: l.clone(),
                red: false,
            });
        }
        y += h;
        rules.push(Rule { x1: LEFT, y1: y, x2: RIGHT, y2: y });
    }
    rules.push(Rule { x1: LEFT, y1: 52.0, x2: LEFT, y2: y });
    rules.push(Rule { x1: LEFT + LABEL_W, y1: 52.0, x2: LEFT + LABEL_W, y2: y });
    rules.push(Rule { x1: RIGHT, y1: 52.0, x2: RIGHT, y2: y });
    // Footer on the left, QR code on the right, both below the table.
    let qr_side = 34.0;
    let qr_x = RIGHT - qr_side;
    let mut fy = y + 10.0;
    let qr_y = y + 6.0;
    let footer_w = qr_x - LEFT - 6.0;
    if let Some(warning) = &sheet.warning {
        for l in wrap(warning, 4.6, RIGHT - LEFT) {
            texts.push(Text { x: LEFT, baseline: fy, size: 4.6, text: l, red: true });
            fy += 6.5;
        }
    }
    for footer in &sheet.footer {
        for l in wrap(footer, 3.3, footer_w) {
            texts.push(Text { x: LEFT, baseline: fy, size: 3.3, text: l, red: false });
            fy += 5.0;
        }
    }
    let bottom = PAGE_H - 12.0;
    if fy > bottom || qr_y + qr_side > bottom {
        return None;
    }
    let qr = qr(&sheet.verify_url, qr_x, qr_y, qr_side);
    Some(Page { texts, rules, qr })
}

#[cfg(test)]
mod tests {
    use schemas::api::CertificateStatus;

    use super::*;
    use crate::documents::sheet;
    use crate::documents::tests::content;

    #[test]
    fn wrapping_keeps_every_character_and_the_width() {
        let text = "南京市玄武区中山路1号1幢101室ABCDEFGHIJ很长很长很长很长";
        let lines = wrap(text, 4.0, 30.0);
        assert!(lines.len() > 1);
        assert_eq!(lines.concat(), text);
        assert!(lines.iter().all(|l| width(l, 4.0) <= 30.0 + 1e-3), "{lines:?}");
        assert_eq!(wrap("", 4.0, 30.0), [""]);
    }

    #[test]
    fn the_page_holds_every_row_inside_the_margins() {
        let s = sheet(&content(), CertificateStatus::Valid, "", "https://bdc.example.cn", "0123456789ABCDEF");
        let page = layout(&s).expect("fits");
        for (label, _) in &s.rows {
            assert!(page.texts.iter().any(|t| &t.text == label), "{label} missing");
        }
        for t in &page.texts {
            assert!(t.x >= LEFT - 0.01 && t.x + width(&t.text, t.size) <= RIGHT + 0.01, "{t:?} outside");
            assert!(t.baseline < PAGE_H - 5.0, "{t:?} below the page");
        }
        let qr = page.qr.expect("qr");
        assert!(qr.x + qr.module * qr.modules as f32 <= RIGHT + 0.01);
        assert!(qr.y + qr.module * qr.modules as f32 <= PAGE_H);
        assert!(!qr.runs.is_empty());
    }

    #[test]
    fn many_co_owners_are_set_smaller_and_too_many_are_refused_not_cut() {
        let mut c = content();
        c.holders = (0..30).map(|i| format!("共有人{i:02}号张三李四王五")).collect();
        let s = sheet(&c, CertificateStatus::Valid, "", "https://bdc.example.cn", "0123456789ABCDEF");
        let page = layout(&s).expect("30 co-owners fit when set smaller");
        let printed: String = page.texts.iter().map(|t| t.text.as_str()).collect();
        assert!(printed.contains("共有人29号"), "every holder is printed");
        assert!(page.texts.iter().all(|t| t.baseline < PAGE_H - 10.0));
        c.holders = (0..400).map(|i| format!("共有人{i:03}号张三李四王五赵六钱七孙八")).collect();
        let s = sheet(&c, CertificateStatus::Valid, "", "https://bdc.example.cn", "0123456789ABCDEF");
        assert!(layout(&s).is_none(), "a sheet that cannot fit is refused");
    }
}
