//! A hand-written SVG line chart: PlaceOrder throughput (x) against p99 latency (y), one point
//! per concurrency level, with the raw baseline as a vertical line.

use std::fmt::Write as _;

pub struct Point {
    pub clients: u32,
    pub tps: f64,
    pub p99_ms: f64,
}

fn nice_max(v: f64) -> f64 {
    if v <= 0.0 {
        return 1.0;
    }
    let magnitude = 10f64.powf(v.log10().floor());
    for step in [1.0, 2.0, 2.5, 5.0, 10.0] {
        if v <= step * magnitude {
            return step * magnitude;
        }
    }
    10.0 * magnitude
}

pub fn chart(points: &[Point], baseline_tps: Option<f64>, title: &str) -> String {
    let (w, h) = (640.0, 400.0);
    let (left, right, top, bottom) = (70.0, 20.0, 40.0, 60.0);
    let max_x = nice_max(
        points
            .iter()
            .map(|p| p.tps)
            .chain(baseline_tps)
            .fold(0.0, f64::max)
            * 1.05,
    );
    let max_y = nice_max(points.iter().map(|p| p.p99_ms).fold(0.0, f64::max) * 1.05);
    let x = |v: f64| left + v / max_x * (w - left - right);
    let y = |v: f64| h - bottom - v / max_y * (h - top - bottom);
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(s, r#"<rect width="{w}" height="{h}" fill="white"/>"#);
    let _ = writeln!(
        s,
        r#"<text x="{}" y="22" text-anchor="middle" font-size="14">{title}</text>"#,
        w / 2.0
    );
    for i in 0..=5 {
        let fx = max_x * f64::from(i) / 5.0;
        let fy = max_y * f64::from(i) / 5.0;
        let _ = writeln!(
            s,
            r##"<line x1="{:.1}" y1="{top}" x2="{:.1}" y2="{:.1}" stroke="#eee"/><text x="{:.1}" y="{:.1}" text-anchor="middle">{fx:.0}</text>"##,
            x(fx),
            x(fx),
            h - bottom,
            x(fx),
            h - bottom + 16.0
        );
        let _ = writeln!(
            s,
            r##"<line x1="{left}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="#eee"/><text x="{:.1}" y="{:.1}" text-anchor="end">{fy:.1}</text>"##,
            y(fy),
            w - right,
            y(fy),
            left - 6.0,
            y(fy) + 4.0
        );
    }
    let _ = writeln!(
        s,
        r##"<line x1="{left}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="#333"/><line x1="{left}" y1="{top}" x2="{left}" y2="{:.1}" stroke="#333"/>"##,
        h - bottom,
        w - right,
        h - bottom,
        h - bottom
    );
    let _ = writeln!(
        s,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">PlaceOrder throughput (orders/s)</text>"#,
        (left + w - right) / 2.0,
        h - 18.0
    );
    let _ = writeln!(
        s,
        r#"<text x="18" y="{:.1}" text-anchor="middle" transform="rotate(-90 18 {:.1})">p99 latency (ms)</text>"#,
        (top + h - bottom) / 2.0,
        (top + h - bottom) / 2.0
    );
    if let Some(b) = baseline_tps {
        let _ = writeln!(
            s,
            r##"<line x1="{:.1}" y1="{top}" x2="{:.1}" y2="{:.1}" stroke="#c33" stroke-dasharray="6 4"/><text x="{:.1}" y="{:.1}" fill="#c33" text-anchor="end">raw baseline {b:.0} tps</text>"##,
            x(b),
            x(b),
            h - bottom,
            x(b) - 4.0,
            top + 14.0
        );
    }
    let path: Vec<String> = points
        .iter()
        .map(|p| format!("{:.1},{:.1}", x(p.tps), y(p.p99_ms)))
        .collect();
    let _ = writeln!(
        s,
        r##"<polyline points="{}" fill="none" stroke="#2a6ebb" stroke-width="2"/>"##,
        path.join(" ")
    );
    for p in points {
        let _ = writeln!(
            s,
            r##"<circle cx="{:.1}" cy="{:.1}" r="4" fill="#2a6ebb"/><text x="{:.1}" y="{:.1}">{} clients</text>"##,
            x(p.tps),
            y(p.p99_ms),
            x(p.tps) + 6.0,
            y(p.p99_ms) - 6.0,
            p.clients
        );
    }
    s.push_str("</svg>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_marker_per_point_and_the_baseline() {
        let points = [
            Point {
                clients: 1,
                tps: 100.0,
                p99_ms: 12.0,
            },
            Point {
                clients: 16,
                tps: 400.0,
                p99_ms: 80.0,
            },
        ];
        let svg = chart(&points, Some(900.0), "t");
        assert!(svg.starts_with("<svg"));
        assert!(svg.trim_end().ends_with("</svg>"));
        assert_eq!(svg.matches("<circle").count(), 2);
        assert!(svg.contains("raw baseline 900 tps"));
    }
}
