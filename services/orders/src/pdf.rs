//! A small PDF 1.4 writer: enough for text documents such as invoices, with no dependency.
//!
//! A [`Document`] is a list of A4 [`Page`]s; a page is text in Helvetica or Helvetica-Bold (two
//! of the standard 14 fonts every reader has, so nothing is embedded) and straight rules.
//! Content streams are left uncompressed, so the text can be found in the file's bytes (tests
//! do exactly that). The file is: header, catalog, page tree, fonts, info, each page with its
//! content stream, then a cross-reference table whose offsets are those of the objects as
//! written, and the trailer.
//!
//! Text is encoded in WinAnsiEncoding (Windows-1252): ASCII, Latin-1 and the few extra
//! characters of code page 1252 (€, dashes, curly quotes…). A standard-14 font has no glyphs
//! beyond that, so any other character (Chinese, Cyrillic, …) is written as its code point,
//! `<U+4E0A>`; callers that show such text say so on the page (see [`representable`]). In a
//! string literal `(`, `)` and `\` are escaped with a backslash, and every byte outside
//! printable ASCII as a three-digit octal escape, so the file stays 7-bit apart from the binary
//! marker comment on its second line.

use std::fmt::Write as _;

/// A4 in points.
pub const PAGE_WIDTH: i32 = 595;
pub const PAGE_HEIGHT: i32 = 842;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Font {
    Regular,
    Bold,
}

impl Font {
    fn resource(self) -> &'static str {
        match self {
            Self::Regular => "F1",
            Self::Bold => "F2",
        }
    }
}

/// One page's drawing operations.
#[derive(Debug, Clone, Default)]
pub struct Page {
    content: String,
}

impl Page {
    pub fn new() -> Self {
        Self::default()
    }

    /// Writes `text` with its baseline starting at (`x`, `y`), in points from the bottom left.
    pub fn text(&mut self, font: Font, size: u16, x: i32, y: i32, text: &str) {
        let _ = writeln!(
            self.content,
            "BT /{} {size} Tf {x} {y} Td ({}) Tj ET",
            font.resource(),
            literal(&encode(text))
        );
    }

    /// Writes `text` so that it ends at `right`.
    pub fn text_right(&mut self, font: Font, size: u16, right: i32, y: i32, text: &str) {
        let width = text_width(text, size);
        self.text(font, size, right - width, y, text);
    }

    /// A horizontal rule from `x1` to `x2` at `y`, half a point thick.
    pub fn rule(&mut self, x1: i32, x2: i32, y: i32) {
        let _ = writeln!(self.content, "0.5 w {x1} {y} m {x2} {y} l S");
    }
}

/// A PDF file in the making.
#[derive(Debug, Clone, Default)]
pub struct Document {
    pub title: String,
    pub pages: Vec<Page>,
}

impl Document {
    pub fn new(title: &str) -> Self {
        Self {
            title: title.to_owned(),
            pages: Vec::new(),
        }
    }

    /// The file's bytes.
    pub fn render(&self) -> Vec<u8> {
        let mut pages = self.pages.clone();
        if pages.is_empty() {
            pages.push(Page::new());
        }
        // Objects: 1 catalog, 2 page tree, 3 and 4 fonts, 5 info, then a page and its content
        // stream for each page.
        let page_obj = |i: usize| 6 + 2 * i;
        let kids: Vec<String> = (0..pages.len())
            .map(|i| format!("{} 0 R", page_obj(i)))
            .collect();
        let mut objects: Vec<Vec<u8>> = vec![
            b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
            format!(
                "<< /Type /Pages /Kids [{}] /Count {} >>",
                kids.join(" "),
                pages.len()
            )
            .into_bytes(),
            font_object("Helvetica"),
            font_object("Helvetica-Bold"),
            format!(
                "<< /Title ({}) /Producer (ordercycle) >>",
                literal(&encode(&self.title))
            )
            .into_bytes(),
        ];
        for (i, page) in pages.iter().enumerate() {
            objects.push(
                format!(
                    "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {PAGE_WIDTH} {PAGE_HEIGHT}] \
                     /Resources << /Font << /F1 3 0 R /F2 4 0 R >> >> /Contents {} 0 R >>",
                    page_obj(i) + 1
                )
                .into_bytes(),
            );
            let stream = page.content.as_bytes();
            let mut object = format!("<< /Length {} >>\nstream\n", stream.len()).into_bytes();
            object.extend_from_slice(stream);
            object.extend_from_slice(b"\nendstream");
            objects.push(object);
        }

        // The second line's bytes above 127 tell transfer tools the file is binary.
        let mut out = b"%PDF-1.4\n%\xE2\xE3\xCF\xD3\n".to_vec();
        let mut offsets = Vec::with_capacity(objects.len());
        for (i, object) in objects.iter().enumerate() {
            offsets.push(out.len());
            out.extend_from_slice(format!("{} 0 obj\n", i + 1).as_bytes());
            out.extend_from_slice(object);
            out.extend_from_slice(b"\nendobj\n");
        }
        let xref = out.len();
        let size = objects.len() + 1;
        // Each entry is exactly 20 bytes, its end-of-line included.
        let mut table = format!("xref\n0 {size}\n0000000000 65535 f \n");
        for offset in offsets {
            let _ = writeln!(table, "{offset:010} 00000 n ");
        }
        let _ = write!(
            table,
            "trailer\n<< /Size {size} /Root 1 0 R /Info 5 0 R >>\nstartxref\n{xref}\n%%EOF\n"
        );
        out.extend_from_slice(table.as_bytes());
        out
    }
}

fn font_object(name: &str) -> Vec<u8> {
    format!("<< /Type /Font /Subtype /Type1 /BaseFont /{name} /Encoding /WinAnsiEncoding >>")
        .into_bytes()
}

/// The code page 1252 byte of `c`, if it has one.
fn win_ansi(c: char) -> Option<u8> {
    let code = u32::from(c);
    match code {
        0x20..=0x7E | 0xA0..=0xFF => u8::try_from(code).ok(),
        _ => Some(match c {
            '€' => 0x80,
            '‚' => 0x82,
            'ƒ' => 0x83,
            '„' => 0x84,
            '…' => 0x85,
            '†' => 0x86,
            '‡' => 0x87,
            'ˆ' => 0x88,
            '‰' => 0x89,
            'Š' => 0x8A,
            '‹' => 0x8B,
            'Œ' => 0x8C,
            'Ž' => 0x8E,
            '‘' => 0x91,
            '’' => 0x92,
            '“' => 0x93,
            '”' => 0x94,
            '•' => 0x95,
            '–' => 0x96,
            '—' => 0x97,
            '˜' => 0x98,
            '™' => 0x99,
            'š' => 0x9A,
            '›' => 0x9B,
            'œ' => 0x9C,
            'ž' => 0x9E,
            'Ÿ' => 0x9F,
            _ => return None,
        }),
    }
}

/// Whether every character of `text` can be shown in a standard-14 font.
pub fn representable(text: &str) -> bool {
    text.chars().all(|c| win_ansi(c).is_some())
}

/// `text` in WinAnsiEncoding; a character it lacks becomes `<U+XXXX>`.
pub fn encode(text: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    for c in text.chars() {
        match win_ansi(c) {
            Some(b) => out.push(b),
            None => out.extend_from_slice(format!("<U+{:04X}>", u32::from(c)).as_bytes()),
        }
    }
    out
}

/// The body of a PDF string literal for `bytes`: `(`, `)`, `\` escaped, and anything outside
/// printable ASCII as `\ddd`.
pub fn literal(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for &b in bytes {
        match b {
            b'(' | b')' | b'\\' => {
                out.push('\\');
                out.push(char::from(b));
            }
            0x20..=0x7E => out.push(char::from(b)),
            _ => {
                let _ = write!(out, "\\{b:03o}");
            }
        }
    }
    out
}

/// Helvetica's advance widths (1/1000 em) for printable ASCII, from the font's AFM; Latin-1
/// and other characters are taken as 556. Helvetica-Bold differs by a few per cent on some
/// letters, which right-aligned amounts (digits, '.', '-', currency codes) do not notice.
const WIDTHS: [u16; 95] = [
    278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278, // ' '../
    556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 278, 278, 584, 584, 584, 556, // 0..?
    1015, 667, 667, 722, 722, 667, 611, 778, 722, 278, 500, 667, 556, 833, 722, 778, // @..O
    667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 278, 278, 278, 469, 556, // P.._
    333, 556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500, 222, 833, 556, 556, // `..o
    556, 556, 333, 500, 278, 556, 500, 722, 500, 500, 500, 334, 260, 334, 584, // p..~
];

/// The width of `text` at `size` points, in points (rounded down).
pub fn text_width(text: &str, size: u16) -> i32 {
    let units: u32 = encode(text)
        .iter()
        .map(|&b| {
            b.checked_sub(0x20)
                .and_then(|i| WIDTHS.get(usize::from(i)))
                .map_or(556, |w| u32::from(*w))
        })
        .sum();
    i32::try_from(units * u32::from(size) / 1000).unwrap_or(i32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
        haystack.windows(needle.len()).position(|w| w == needle)
    }

    fn two_pages() -> Vec<u8> {
        let mut doc = Document::new("Test (1)");
        let mut one = Page::new();
        one.text(Font::Bold, 14, 50, 800, "Invoice INV-DE01-2026-000001");
        one.rule(50, 545, 790);
        let mut two = Page::new();
        two.text_right(Font::Regular, 10, 545, 700, "Total 40.45 EUR");
        doc.pages = vec![one, two];
        doc.render()
    }

    #[test]
    fn every_xref_offset_points_at_its_object() {
        let pdf = two_pages();
        assert!(pdf.starts_with(b"%PDF-1.4\n"));
        assert!(pdf.ends_with(b"%%EOF\n"));
        let text = String::from_utf8_lossy(&pdf);
        let start: usize = text
            .rsplit("startxref\n")
            .next()
            .and_then(|t| t.lines().next())
            .unwrap()
            .parse()
            .unwrap();
        assert!(pdf[start..].starts_with(b"xref\n0 10\n"));
        let table = String::from_utf8_lossy(&pdf[start..]);
        let entries: Vec<&str> = table.lines().skip(2).take(10).collect();
        assert_eq!(entries[0], "0000000000 65535 f ");
        for (n, entry) in entries.iter().enumerate().skip(1) {
            assert_eq!(entry.len(), 19, "entries are 20 bytes with their newline");
            let offset: usize = entry[..10].parse().unwrap();
            assert!(
                pdf[offset..].starts_with(format!("{n} 0 obj\n").as_bytes()),
                "object {n} is not at {offset}"
            );
        }
        assert!(text.contains("/Count 2"));
        assert!(text.contains("trailer\n<< /Size 10 /Root 1 0 R /Info 5 0 R >>"));
    }

    #[test]
    fn stream_lengths_are_exact() {
        let pdf = two_pages();
        let mut rest = &pdf[..];
        let mut streams = 0;
        while let Some(at) = find(rest, b"<< /Length ") {
            let after = &rest[at + 11..];
            let digits = after.iter().take_while(|b| b.is_ascii_digit()).count();
            let length: usize = std::str::from_utf8(&after[..digits])
                .unwrap()
                .parse()
                .unwrap();
            let body = find(after, b"stream\n").unwrap() + 7;
            assert!(after[body + length..].starts_with(b"\nendstream"));
            rest = &after[body + length..];
            streams += 1;
        }
        assert_eq!(streams, 2);
    }

    #[test]
    fn parentheses_and_backslashes_are_escaped() {
        let mut page = Page::new();
        page.text(Font::Regular, 10, 0, 0, r"a(b)c\d");
        assert!(page.content.contains(r"(a\(b\)c\\d) Tj"));
    }

    #[test]
    fn text_is_win_ansi_and_other_scripts_show_as_code_points() {
        assert_eq!(literal(&encode("12,50 €")), r"12,50 \200");
        assert_eq!(literal(&encode("Müller")), r"M\374ller");
        assert_eq!(literal(&encode("上海")), "<U+4E0A><U+6D77>");
        assert!(representable("Café – “quoted”"));
        assert!(!representable("上海"));
    }

    #[test]
    fn widths_follow_helvetica() {
        assert_eq!(text_width("0.00", 10), 19);
        assert_eq!(text_width("", 10), 0);
    }
}
