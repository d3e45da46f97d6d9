//! Hand-written SVG charts: no plotting crate (and so no font-kit or fontconfig); text is
//! drawn by the browser. Every bar carries its label and value as `data-label` and
//! `data-value`, so a reader (or a test) can check the picture against the figures.

use std::fmt::Write as _;

/// One bar: its label, its value and how the value is shown.
#[derive(Debug, Clone, PartialEq)]
pub struct Bar {
    pub label: String,
    pub value: f64,
    pub shown: String,
}

impl Bar {
    pub fn new(label: impl Into<String>, value: f64, shown: impl Into<String>) -> Self {
        Self {
            label: label.into(),
            value,
            shown: shown.into(),
        }
    }
}

/// Text made safe for XML content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

const WIDTH: f64 = 640.0;
const LABEL_WIDTH: f64 = 190.0;
const VALUE_WIDTH: f64 = 110.0;
const ROW: f64 = 24.0;
const TOP: f64 = 34.0;
const PALETTE: [&str; 6] = [
    "#3b6ea5", "#e07b39", "#4f9d69", "#b9414f", "#8064a2", "#c9a227",
];

/// A horizontal bar chart; bar lengths are proportional to the values (the longest fills
/// the plot width). `id` names the chart (`data-chart`).
pub fn bar_chart(id: &str, title: &str, bars: &[Bar]) -> String {
    let plot = WIDTH - LABEL_WIDTH - VALUE_WIDTH;
    let height = TOP + ROW * bars.len().max(1) as f64 + 10.0;
    let max = bars.iter().map(|b| b.value).fold(0.0_f64, f64::max);
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" data-chart="{id}" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" font-family="sans-serif" font-size="12">"#,
        id = escape(id),
    );
    let _ = write!(svg, "<title>{}</title>", escape(title));
    let _ = write!(
        svg,
        r#"<text x="0" y="18" font-size="15" font-weight="bold">{}</text>"#,
        escape(title)
    );
    if bars.is_empty() {
        let _ = write!(
            svg,
            r##"<text x="0" y="{}" fill="#777">no data in this range</text>"##,
            TOP + 14.0
        );
    }
    for (i, bar) in bars.iter().enumerate() {
        let y = TOP + ROW * i as f64;
        let length = if max > 0.0 {
            (bar.value.max(0.0) / max) * plot
        } else {
            0.0
        };
        let color = PALETTE.get(i % PALETTE.len()).copied().unwrap_or("#3b6ea5");
        let _ = write!(
            svg,
            r#"<text x="{lx}" y="{ty}" text-anchor="end">{label}</text><rect class="bar" data-label="{label}" data-value="{value}" x="{LABEL_WIDTH}" y="{y}" width="{length:.2}" height="{h}" fill="{color}"/><text x="{vx:.2}" y="{ty}">{shown}</text>"#,
            lx = LABEL_WIDTH - 6.0,
            ty = y + 14.0,
            label = escape(&bar.label),
            value = bar.value,
            h = ROW - 6.0,
            vx = LABEL_WIDTH + length + 4.0,
            shown = escape(&bar.shown),
        );
    }
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_are_proportional_and_carry_their_numbers() {
        let svg = bar_chart(
            "t",
            "A & B",
            &[Bar::new("x<1>", 2.0, "2"), Bar::new("y", 1.0, "1")],
        );
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert!(svg.contains("<title>A &amp; B</title>"));
        assert!(svg.contains(r#"data-label="x&lt;1&gt;" data-value="2""#));
        assert!(svg.contains(r#"width="340.00""#), "{svg}");
        assert!(svg.contains(r#"width="170.00""#));
    }

    #[test]
    fn an_empty_chart_says_so() {
        assert!(bar_chart("t", "T", &[]).contains("no data"));
    }
}
