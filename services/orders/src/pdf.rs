//! A small PDF 1.4 writer: enough for text documents such as invoices, with no dependency.
//!
//! A [`Document`] is a list of A4 [`Page`]s; a page is text and straight rules. Latin text is
//! set in Helvetica or Helvetica-Bold, Chinese (and Japanese kana) in STSong-Light; none of
//! them is embedded, so the file stays a few kilobytes. Content streams are left uncompressed,
//! so the text can be found in the file's bytes (tests do exactly that). The file is: header,
//! catalog, page tree, the two Helvetica fonts, info, each page with its content stream, then —
//! only when some page shows CJK text — the CJK font's three objects, then a cross-reference
//! table whose offsets are those of the objects as written, and the trailer.
//!
//! # Encoding text
//!
//! A string is cut into runs, each shown in one font within the same text object (`BT … ET`),
//! so the runs of a mixed line follow each other as the reader advances over their glyphs:
//!
//! - **WinAnsiEncoding** (Windows-1252) in Helvetica: ASCII, Latin-1 and the few extra
//!   characters of code page 1252 (€, dashes, curly quotes…), as a string literal in which `(`,
//!   `)` and `\` are escaped with a backslash and every byte outside printable ASCII is a
//!   three-digit octal escape, so the file stays 7-bit apart from the binary marker comment on
//!   its second line.
//! - **CJK** (the blocks listed in [`cjk`]: ideographs, CJK punctuation, kana, bopomofo, full-
//!   width forms) in a Type0 font with a predefined CMap and no font file — the standard way to
//!   show Chinese in PDF, relying on the reader's Adobe-GB1 font: `/BaseFont /STSong-Light
//!   /Encoding /UniGB-UCS2-H` over a CIDFontType0 of `/Registry (Adobe) /Ordering (GB1)
//!   /Supplement 2`. A run is a hex string of UCS-2 big-endian code units (`<4E2D56FD> Tj`).
//!   There is no bold STSong: bold CJK runs are set in the same face. Every CJK glyph is a full
//!   em wide (`/DW 1000`), which [`text_width`] counts, so right-aligned and fitted text stays
//!   where it belongs.
//! - Anything else — other scripts (Cyrillic, Arabic, Latin letters beyond code page 1252 such
//!   as `Ł`), and characters outside the Basic Multilingual Plane, which UCS-2 cannot hold — is
//!   written as its code point, `<U+0141>`, in Helvetica: neither font is sure to have a glyph,
//!   and a code point beats a blank. Callers that show such text say so on the page (see
//!   [`representable`]).

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

/// The page resource name of the CJK font (regular and bold runs alike).
const CJK_FONT: &str = "F3";

/// One page's drawing operations.
#[derive(Debug, Clone, Default)]
pub struct Page {
    content: String,
    /// Whether some text is shown in the CJK font, which the document then declares.
    cjk: bool,
}

impl Page {
    pub fn new() -> Self {
        Self::default()
    }

    /// Writes `text` with its baseline starting at (`x`, `y`), in points from the bottom left:
    /// one text object, a font selection and a string per run.
    pub fn text(&mut self, font: Font, size: u16, x: i32, y: i32, text: &str) {
        self.content.push_str("BT");
        for (i, run) in runs(text).iter().enumerate() {
            let (resource, shown) = match run {
                Run::WinAnsi(bytes) => (font.resource(), format!("({})", literal(bytes))),
                Run::Cjk(units) => {
                    self.cjk = true;
                    (CJK_FONT, hex(units))
                }
            };
            let _ = write!(self.content, " /{resource} {size} Tf");
            if i == 0 {
                let _ = write!(self.content, " {x} {y} Td");
            }
            let _ = write!(self.content, " {shown} Tj");
        }
        self.content.push_str(" ET\n");
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
        // stream for each page, then the CJK font (Type0, its CIDFont, the CIDFont's
        // descriptor) if any page uses it.
        let page_obj = |i: usize| 6 + 2 * i;
        let cjk_obj = page_obj(pages.len());
        let cjk = pages.iter().any(|p| p.cjk);
        let fonts = if cjk {
            format!("/F1 3 0 R /F2 4 0 R /{CJK_FONT} {cjk_obj} 0 R")
        } else {
            "/F1 3 0 R /F2 4 0 R".to_owned()
        };
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
                     /Resources << /Font << {fonts} >> >> /Contents {} 0 R >>",
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
        if cjk {
            objects.extend(cjk_font_objects(cjk_obj));
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

/// The CJK font as objects `first`, `first + 1` and `first + 2`: the Type0 font the pages
/// name, its CIDFont and that one's descriptor. Nothing is embedded: readers substitute their
/// Adobe-GB1 font (the descriptor's metrics are STSong-Light's, for a closer substitute).
fn cjk_font_objects(first: usize) -> [Vec<u8>; 3] {
    [
        format!(
            "<< /Type /Font /Subtype /Type0 /BaseFont /STSong-Light /Encoding /UniGB-UCS2-H \
             /DescendantFonts [{} 0 R] >>",
            first + 1
        )
        .into_bytes(),
        format!(
            "<< /Type /Font /Subtype /CIDFontType0 /BaseFont /STSong-Light \
             /CIDSystemInfo << /Registry (Adobe) /Ordering (GB1) /Supplement 2 >> \
             /FontDescriptor {} 0 R /DW 1000 >>",
            first + 2
        )
        .into_bytes(),
        b"<< /Type /FontDescriptor /FontName /STSong-Light /Flags 6 \
          /FontBBox [-25 -254 1000 880] /ItalicAngle 0 /Ascent 880 /Descent -120 \
          /CapHeight 880 /StemV 93 >>"
            .to_vec(),
    ]
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

/// Whether `c` is shown in the CJK font: the blocks of Chinese text and the Adobe-GB1
/// collection's other scripts of the region — CJK symbols and punctuation, hiragana, katakana,
/// bopomofo, the unified ideographs with extension A, the compatibility ideographs and forms,
/// and the half- and full-width forms (`，（）￥`).
pub fn cjk(c: char) -> bool {
    matches!(
        u32::from(c),
        0x3000..=0x30FF
            | 0x3100..=0x312F
            | 0x3400..=0x4DBF
            | 0x4E00..=0x9FFF
            | 0xF900..=0xFAFF
            | 0xFE30..=0xFE4F
            | 0xFF00..=0xFFEF
    )
}

/// Whether every character of `text` is shown as itself, in Helvetica or the CJK font, rather
/// than as its code point.
pub fn representable(text: &str) -> bool {
    text.chars().all(|c| win_ansi(c).is_some() || cjk(c))
}

/// A stretch of text shown in one font.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Run {
    /// WinAnsi bytes, for Helvetica.
    WinAnsi(Vec<u8>),
    /// UCS-2 code units, for the CJK font.
    Cjk(Vec<u16>),
}

/// `text` cut into runs by font; at least one, empty for empty text.
fn runs(text: &str) -> Vec<Run> {
    let mut out: Vec<Run> = Vec::new();
    for c in text.chars() {
        // `cjk` holds only characters of the Basic Multilingual Plane: one code unit each.
        match u16::try_from(u32::from(c)).ok().filter(|_| cjk(c)) {
            Some(unit) => {
                if let Some(Run::Cjk(units)) = out.last_mut() {
                    units.push(unit);
                } else {
                    out.push(Run::Cjk(vec![unit]));
                }
            }
            None => {
                if let Some(Run::WinAnsi(bytes)) = out.last_mut() {
                    push_win_ansi(bytes, c);
                } else {
                    let mut bytes = Vec::new();
                    push_win_ansi(&mut bytes, c);
                    out.push(Run::WinAnsi(bytes));
                }
            }
        }
    }
    if out.is_empty() {
        out.push(Run::WinAnsi(Vec::new()));
    }
    out
}

/// `c` in WinAnsiEncoding; a character it lacks becomes `<U+XXXX>`.
fn push_win_ansi(out: &mut Vec<u8>, c: char) {
    match win_ansi(c) {
        Some(b) => out.push(b),
        None => out.extend_from_slice(format!("<U+{:04X}>", u32::from(c)).as_bytes()),
    }
}

/// `text` in WinAnsiEncoding; a character it lacks becomes `<U+XXXX>` (for text that is
/// never shown in the CJK font, such as the document's title).
pub fn encode(text: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    for c in text.chars() {
        push_win_ansi(&mut out, c);
    }
    out
}

/// A hex string of UCS-2 big-endian code units: `<4E2D56FD>`.
fn hex(units: &[u16]) -> String {
    let mut out = String::with_capacity(2 + 4 * units.len());
    out.push('<');
    for unit in units {
        let _ = write!(out, "{unit:04X}");
    }
    out.push('>');
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

/// The width of `text` at `size` points, in points (rounded down): Helvetica's widths for
/// WinAnsi runs, a full em for every CJK character.
pub fn text_width(text: &str, size: u16) -> i32 {
    let units: usize = runs(text)
        .iter()
        .map(|run| match run {
            Run::WinAnsi(bytes) => bytes
                .iter()
                .map(|&b| {
                    b.checked_sub(0x20)
                        .and_then(|i| WIDTHS.get(usize::from(i)))
                        .map_or(556, |w| usize::from(*w))
                })
                .sum(),
            Run::Cjk(units) => 1000 * units.len(),
        })
        .sum();
    i32::try_from(units * usize::from(size) / 1000).unwrap_or(i32::MAX)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
        haystack.windows(needle.len()).position(|w| w == needle)
    }

    /// Checks a file's structure as a reader relies on it — header and end marker, every
    /// cross-reference entry at its object, the trailer's size, every stream's exact length —
    /// and returns how many objects it has.
    pub(crate) fn assert_well_formed(pdf: &[u8]) -> usize {
        assert!(pdf.starts_with(b"%PDF-1.4\n"));
        assert!(pdf.ends_with(b"%%EOF\n"));
        let text = String::from_utf8_lossy(pdf);
        let start: usize = text
            .rsplit("startxref\n")
            .next()
            .and_then(|t| t.lines().next())
            .unwrap()
            .parse()
            .unwrap();
        let table = String::from_utf8_lossy(&pdf[start..]);
        let mut lines = table.lines();
        assert_eq!(lines.next(), Some("xref"));
        let size: usize = lines
            .next()
            .and_then(|l| l.strip_prefix("0 "))
            .unwrap()
            .parse()
            .unwrap();
        let entries: Vec<&str> = lines.by_ref().take(size).collect();
        assert_eq!(entries[0], "0000000000 65535 f ");
        for (n, entry) in entries.iter().enumerate().skip(1) {
            assert_eq!(entry.len(), 19, "entries are 20 bytes with their newline");
            let offset: usize = entry[..10].parse().unwrap();
            assert!(
                pdf[offset..].starts_with(format!("{n} 0 obj\n").as_bytes()),
                "object {n} is not at {offset}"
            );
        }
        assert_eq!(lines.next(), Some("trailer"));
        assert_eq!(
            lines.next(),
            Some(format!("<< /Size {size} /Root 1 0 R /Info 5 0 R >>").as_str())
        );

        let mut rest = pdf;
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
        }
        size - 1
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
        assert_eq!(assert_well_formed(&pdf), 9);
        let text = String::from_utf8_lossy(&pdf);
        assert!(text.contains("/Count 2"));
        assert!(!text.contains("STSong"), "no CJK font unless CJK is shown");
    }

    #[test]
    fn a_document_showing_cjk_declares_the_type0_font_after_its_pages() {
        let mut doc = Document::new("Fapiao");
        let mut one = Page::new();
        one.text(Font::Bold, 14, 50, 800, "Invoice");
        let mut two = Page::new();
        two.text(Font::Regular, 9, 50, 700, "上海茶叶有限公司");
        doc.pages = vec![one, two];
        let pdf = doc.render();
        assert_eq!(assert_well_formed(&pdf), 12, "three font objects more");
        let text = String::from_utf8_lossy(&pdf);
        // Both pages name it: resources are the document's, whichever page shows CJK.
        assert_eq!(
            text.matches("/Font << /F1 3 0 R /F2 4 0 R /F3 10 0 R >>")
                .count(),
            2
        );
        assert!(text.contains(
            "10 0 obj\n<< /Type /Font /Subtype /Type0 /BaseFont /STSong-Light \
             /Encoding /UniGB-UCS2-H /DescendantFonts [11 0 R] >>"
        ));
        assert!(text.contains(
            "11 0 obj\n<< /Type /Font /Subtype /CIDFontType0 /BaseFont /STSong-Light \
             /CIDSystemInfo << /Registry (Adobe) /Ordering (GB1) /Supplement 2 >> \
             /FontDescriptor 12 0 R /DW 1000 >>"
        ));
        assert!(text.contains("12 0 obj\n<< /Type /FontDescriptor /FontName /STSong-Light "));
        assert!(text.contains("<4E0A6D77833653F667099650516C53F8> Tj"));
    }

    #[test]
    fn a_mixed_line_switches_font_per_run_in_one_text_object() {
        let mut page = Page::new();
        page.text(Font::Bold, 9, 50, 700, "龙井茶 250 g（特级）");
        assert_eq!(
            page.content,
            "BT /F3 9 Tf 50 700 Td <9F994E958336> Tj /F2 9 Tf ( 250 g) Tj \
             /F3 9 Tf <FF0872797EA7FF09> Tj ET\n"
        );
        assert!(page.cjk);
        let mut latin = Page::new();
        latin.text(Font::Regular, 9, 50, 700, "Total");
        assert_eq!(latin.content, "BT /F1 9 Tf 50 700 Td (Total) Tj ET\n");
        assert!(!latin.cjk);
    }

    #[test]
    fn parentheses_and_backslashes_are_escaped() {
        let mut page = Page::new();
        page.text(Font::Regular, 10, 0, 0, r"a(b)c\d");
        assert!(page.content.contains(r"(a\(b\)c\\d) Tj"));
    }

    #[test]
    fn text_is_win_ansi_or_cjk_and_anything_else_shows_as_code_points() {
        assert_eq!(literal(&encode("12,50 €")), r"12,50 \200");
        assert_eq!(literal(&encode("Müller")), r"M\374ller");
        assert_eq!(
            runs("上海 Łódź 😀"),
            [
                Run::Cjk(vec![0x4E0A, 0x6D77]),
                Run::WinAnsi(b" <U+0141>\xF3d<U+017A> <U+1F600>".to_vec())
            ]
        );
        assert_eq!(runs(""), [Run::WinAnsi(Vec::new())]);
        assert!(representable("Café – “quoted”"));
        assert!(representable("上海茶叶有限公司（总部），￥100"));
        assert!(!representable("Łódź"));
        assert!(!representable("茶 😀"), "outside the BMP");
    }

    #[test]
    fn widths_follow_helvetica_and_cjk_glyphs_are_a_full_em() {
        assert_eq!(text_width("0.00", 10), 19);
        assert_eq!(text_width("", 10), 0);
        assert_eq!(text_width("上海", 10), 20);
        // 3 em of CJK and " 250 g" (278 + 3 × 556 + 278 + 556 units) at 9 points.
        assert_eq!(text_width("龙井茶 250 g", 9), (3000 + 2780) * 9 / 1000);
        let mut page = Page::new();
        page.text_right(Font::Regular, 10, 545, 700, "上海");
        assert!(page.content.contains(" 525 700 Td "), "{}", page.content);
    }
}
