//! Shipping labels, drawn here for every shipment (outbound and return): a 4×6 inch PDF
//! (one page, the standard Helvetica fonts, a Code 128 barcode of the tracking number drawn as
//! rectangles) or ZPL for thermal printers (which draw the barcode themselves with `^BC`).
//!
//! Both are written by hand: the formats needed are small, and a PDF crate would be far
//! larger than this module. Rendering is deterministic, so a reprint equals the original.

use std::fmt::Write as _;

use super::shipment::{Direction, Shipment};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LabelFormat {
    Pdf,
    Zpl,
}

/// What goes on a label besides the shipment itself.
pub struct LabelContext<'a> {
    pub carrier_name: &'a str,
}

/// The printed lines, shared by both formats.
struct Layout {
    carrier: String,
    service: String,
    from: Vec<String>,
    to: Vec<String>,
    tracking_number: String,
    footer: Vec<String>,
}

fn layout(s: &Shipment, ctx: &LabelContext<'_>) -> Layout {
    let mut footer = Vec::new();
    let reference = match s.direction {
        Direction::Outbound if !s.order_number.is_empty() => {
            format!("Order {}  Parcel {}", s.order_number, s.parcel_id)
        }
        Direction::Outbound => format!("Order {}  Parcel {}", s.order_id, s.parcel_id),
        Direction::Return => format!("RETURN {}  Order {}", s.rma_number, s.order_id),
    };
    footer.push(reference);
    let mut weight = format!("{:.2} kg", f64::from(s.weight_grams) / 1000.0);
    if let Some(d) = s.dimensions {
        let _ = write!(
            weight,
            "  {}x{}x{} mm",
            d.length_mm, d.width_mm, d.height_mm
        );
    }
    footer.push(format!(
        "{weight}  Shipped {}",
        s.created_at.format("%Y-%m-%d")
    ));
    if let Some(cod) = &s.cash_on_delivery {
        footer.push(format!("COLLECT ON DELIVERY: {cod}"));
    }
    Layout {
        carrier: ctx.carrier_name.to_owned(),
        service: s.service_level.to_uppercase(),
        from: s.ship_from.label_lines(),
        to: s.ship_to.label_lines(),
        tracking_number: s.tracking_number.clone(),
        footer,
    }
}

pub fn render(s: &Shipment, ctx: &LabelContext<'_>, format: LabelFormat) -> Vec<u8> {
    let layout = layout(s, ctx);
    match format {
        LabelFormat::Pdf => pdf(&layout),
        LabelFormat::Zpl => zpl(&layout).into_bytes(),
    }
}

// ---------------------------------------------------------------------------------------------
// PDF
// ---------------------------------------------------------------------------------------------

/// 4×6 inches in points.
const PAGE_W: f64 = 288.0;
const PAGE_H: f64 = 432.0;
const MARGIN: f64 = 18.0;

/// A PDF string literal in WinAnsi: characters outside Latin-1 become `?`.
fn pdf_text(out: &mut Vec<u8>, text: &str) {
    out.push(b'(');
    for ch in text.chars() {
        let code = u32::from(ch);
        let byte = if (0x20..0x7f).contains(&code) || (0xa0..=0xff).contains(&code) {
            u8::try_from(code).unwrap_or(b'?')
        } else {
            b'?'
        };
        if matches!(byte, b'(' | b')' | b'\\') {
            out.push(b'\\');
        }
        out.push(byte);
    }
    out.push(b')');
}

fn text_line(out: &mut Vec<u8>, font: &str, size: f64, x: f64, y: f64, text: &str) {
    out.extend_from_slice(format!("BT /{font} {size} Tf {x:.2} {y:.2} Td ").as_bytes());
    pdf_text(out, text);
    out.extend_from_slice(b" Tj ET\n");
}

fn pdf(l: &Layout) -> Vec<u8> {
    let mut c = Vec::new();
    // Frame and separators.
    c.extend_from_slice(
        format!(
            "1 w {m} {m} {w:.2} {h:.2} re S\n{m} 360 m {r:.2} 360 l S\n{m} 250 m {r:.2} 250 l S\n{m} 80 m {r:.2} 80 l S\n",
            m = MARGIN / 2.0,
            w = PAGE_W - MARGIN,
            h = PAGE_H - MARGIN,
            r = PAGE_W - MARGIN / 2.0,
        )
        .as_bytes(),
    );
    text_line(&mut c, "F2", 18.0, MARGIN, 400.0, &l.carrier);
    text_line(&mut c, "F2", 12.0, 190.0, 402.0, &l.service);
    text_line(&mut c, "F1", 7.0, MARGIN, 385.0, "FROM");
    for (i, line) in l.from.iter().take(5).enumerate() {
        text_line(&mut c, "F1", 8.0, 50.0, 385.0 - 9.0 * i as f64, line);
    }
    text_line(&mut c, "F1", 7.0, MARGIN, 340.0, "TO");
    for (i, line) in l.to.iter().take(6).enumerate() {
        let font = if i == 0 { "F2" } else { "F1" };
        text_line(&mut c, font, 12.0, 40.0, 340.0 - 14.0 * i as f64, line);
    }
    // Barcode: quiet zones of ten modules each side, bars 80 pt high.
    let widths = code128b(&l.tracking_number);
    let modules: u32 = widths.iter().map(|w| u32::from(*w)).sum::<u32>() + 20;
    let module = (PAGE_W - 2.0 * MARGIN) / f64::from(modules);
    let mut x = MARGIN + 10.0 * module;
    for (i, w) in widths.iter().enumerate() {
        let width = f64::from(*w) * module;
        if i % 2 == 0 {
            c.extend_from_slice(format!("{x:.3} 130 {width:.3} 80 re f\n").as_bytes());
        }
        x += width;
    }
    text_line(&mut c, "F2", 14.0, 80.0, 110.0, &l.tracking_number);
    for (i, line) in l.footer.iter().enumerate() {
        text_line(&mut c, "F1", 9.0, MARGIN, 64.0 - 12.0 * i as f64, line);
    }

    let mut pdf = Vec::new();
    let mut offsets = Vec::new();
    pdf.extend_from_slice(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n");
    let objects: Vec<Vec<u8>> = vec![
        b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec(),
        format!(
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {PAGE_W} {PAGE_H}] \
             /Resources << /Font << /F1 4 0 R /F2 5 0 R >> >> /Contents 6 0 R >>"
        )
        .into_bytes(),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>"
            .to_vec(),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica-Bold /Encoding /WinAnsiEncoding >>"
            .to_vec(),
        {
            let mut stream = format!("<< /Length {} >>\nstream\n", c.len()).into_bytes();
            stream.extend_from_slice(&c);
            stream.extend_from_slice(b"\nendstream");
            stream
        },
    ];
    for (i, body) in objects.iter().enumerate() {
        offsets.push(pdf.len());
        pdf.extend_from_slice(format!("{} 0 obj\n", i + 1).as_bytes());
        pdf.extend_from_slice(body);
        pdf.extend_from_slice(b"\nendobj\n");
    }
    let xref = pdf.len();
    // Each xref entry is exactly 20 bytes, as the format requires.
    let mut table = format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1);
    for offset in offsets {
        let _ = writeln!(table, "{offset:010} 00000 n ");
    }
    let _ = write!(
        table,
        "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
        objects.len() + 1
    );
    pdf.extend_from_slice(table.as_bytes());
    pdf
}

/// Code 128 symbol widths (bar, space, bar, …) for values 0–106 (ISO/IEC 15417); 106 is
/// the stop symbol including its termination bar.
const CODE128: [&str; 107] = [
    "212222", "222122", "222221", "121223", "121322", "131222", "122213", "122312", "132212",
    "221213", "221312", "231212", "112232", "122132", "122231", "113222", "123122", "123221",
    "223211", "221132", "221231", "213212", "223112", "312131", "311222", "321122", "321221",
    "312212", "322112", "322211", "212123", "212321", "232121", "111323", "131123", "131321",
    "112313", "132113", "132311", "211313", "231113", "231311", "112133", "112331", "132131",
    "113123", "113321", "133121", "313121", "211331", "231131", "213113", "213311", "213131",
    "311123", "311321", "331121", "312113", "312311", "332111", "314111", "221411", "431111",
    "111224", "111422", "121124", "121421", "141122", "141221", "112214", "112412", "122114",
    "122411", "142112", "142211", "241211", "221114", "413111", "241112", "134111", "111242",
    "121142", "121241", "114212", "124112", "124211", "411212", "421112", "421211", "212141",
    "214121", "412121", "111143", "111341", "131141", "114113", "114311", "411113", "411311",
    "113141", "114131", "311141", "411131", "211412", "211214", "211232", "2331112",
];
const START_B: usize = 104;
const STOP: usize = 106;

/// The element widths of `text` in Code 128 set B (printable ASCII; others become `?`).
fn code128b(text: &str) -> Vec<u8> {
    let values: Vec<usize> = text
        .chars()
        .map(|ch| {
            let code = u32::from(ch);
            let code = if (32..127).contains(&code) { code } else { 63 };
            (code - 32) as usize
        })
        .collect();
    let checksum = values
        .iter()
        .enumerate()
        .fold(START_B, |sum, (i, v)| sum + (i + 1) * v)
        % 103;
    std::iter::once(START_B)
        .chain(values)
        .chain([checksum, STOP])
        .flat_map(|v| CODE128[v].bytes().map(|b| b - b'0'))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// ZPL
// ---------------------------------------------------------------------------------------------

/// Field data may not contain the ZPL command prefixes.
fn zpl_field(text: &str) -> String {
    text.replace(['^', '~'], " ")
}

fn zpl(l: &Layout) -> String {
    let mut z = String::new();
    // 4×6 inches at 203 dpi; ^CI28: field data is UTF-8.
    z.push_str("^XA\n^CI28\n^PW812\n^LL1218\n");
    let mut field = |x: i32, y: i32, size: i32, text: &str| {
        let _ = writeln!(z, "^FO{x},{y}^A0N,{size},{size}^FD{}^FS", zpl_field(text));
    };
    field(40, 40, 56, &l.carrier);
    field(560, 50, 36, &l.service);
    field(40, 130, 22, "FROM");
    for (i, line) in l.from.iter().take(5).enumerate() {
        field(120, 130 + 26 * i as i32, 24, line);
    }
    field(40, 300, 22, "TO");
    for (i, line) in l.to.iter().take(6).enumerate() {
        field(100, 300 + 40 * i as i32, 36, line);
    }
    for (i, line) in l.footer.iter().enumerate() {
        field(40, 1060 + 34 * i as i32, 26, line);
    }
    z.push_str("^FO40,280^GB732,3,3^FS\n^FO40,560^GB732,3,3^FS\n^FO40,1030^GB732,3,3^FS\n");
    let _ = writeln!(
        z,
        "^FO80,640^BY3^BCN,220,Y,N,N^FD{}^FS",
        zpl_field(&l.tracking_number)
    );
    z.push_str("^XZ\n");
    z
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::shipment::{Address, Money};

    fn shipment() -> Shipment {
        let mut s = crate::domain::shipment::fixtures::shipment();
        s.ship_to = Address {
            recipient: "Zoë (Büro) \\ Müller".into(),
            line1: "Hauptstraße 5".into(),
            city: "Köln".into(),
            postal_code: "50667".into(),
            country_code: "DE".into(),
            ..Address::default()
        };
        s.cash_on_delivery = Some(Money {
            currency: "EUR".into(),
            minor: 1999,
        });
        s
    }

    #[test]
    fn code128_widths_are_eleven_modules_per_symbol() {
        for (i, p) in CODE128.iter().enumerate() {
            let sum: u32 = p.bytes().map(|b| u32::from(b - b'0')).sum();
            assert_eq!(sum, if i == STOP { 13 } else { 11 }, "symbol {i}");
        }
        // Start B, 13 characters, checksum, stop.
        let widths = code128b("SP000000016DE");
        assert_eq!(
            widths.iter().map(|w| u32::from(*w)).sum::<u32>(),
            11 * 15 + 13
        );
    }

    #[test]
    fn the_code128_checksum_is_the_weighted_sum_mod_103() {
        // "PJJ123C": 104 + 48·1 + 42·2 + 42·3 + 17·4 + 18·5 + 19·6 + 35·7 = 879 ≡ 55 (mod 103).
        let widths = code128b("PJJ123C");
        let checksum = &widths[widths.len() - 13..widths.len() - 7];
        let expected: Vec<u8> = CODE128[55].bytes().map(|b| b - b'0').collect();
        assert_eq!(checksum, expected.as_slice());
    }

    #[test]
    fn a_pdf_label_is_a_well_formed_document() {
        let pdf = render(
            &shipment(),
            &LabelContext {
                carrier_name: "SimPost",
            },
            LabelFormat::Pdf,
        );
        assert!(pdf.starts_with(b"%PDF-1.4\n"));
        assert!(pdf.ends_with(b"%%EOF\n"));
        // startxref points at the xref table, and every entry points at its object.
        let tail_at = pdf
            .windows(10)
            .rposition(|w| w == b"startxref\n")
            .unwrap_or(0);
        let tail = String::from_utf8_lossy(&pdf[tail_at + 10..]).to_string();
        let startxref: usize = tail
            .lines()
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        assert!(pdf[startxref..].starts_with(b"xref\n0 7\n"));
        let entries = String::from_utf8_lossy(&pdf[startxref..]).to_string();
        for (i, line) in entries.lines().skip(3).take(6).enumerate() {
            let offset: usize = line[..10].parse().unwrap_or(0);
            assert!(
                pdf[offset..].starts_with(format!("{} 0 obj", i + 1).as_bytes()),
                "object {}",
                i + 1
            );
        }
        let text = String::from_utf8_lossy(&pdf);
        // Brackets and backslashes are escaped; Latin-1 letters are single WinAnsi bytes.
        assert!(text.contains("(Zo\u{fffd} \\(B\u{fffd}ro\\) \\\\ M\u{fffd}ller) Tj"));
        assert!(text.contains("COLLECT ON DELIVERY: EUR 19.99"));
        assert!(text.contains("(SP000000016DE) Tj"));
    }

    #[test]
    fn a_zpl_label_is_one_label_with_a_barcode() {
        let zpl = String::from_utf8(render(
            &shipment(),
            &LabelContext {
                carrier_name: "Sim^Post",
            },
            LabelFormat::Zpl,
        ))
        .unwrap_or_default();
        assert!(zpl.starts_with("^XA"));
        assert!(zpl.trim_end().ends_with("^XZ"));
        assert_eq!(zpl.matches("^XA").count(), 1);
        assert!(zpl.contains("^BCN,220,Y,N,N^FDSP000000016DE^FS"));
        assert!(zpl.contains("^FDSim Post^FS"));
        assert!(zpl.contains("Köln"));
    }
}
