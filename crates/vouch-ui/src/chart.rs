//! Charts as inline SVG, drawn on the server: no script, no chart library, readable
//! without JavaScript. Long series are downsampled here to what the chart can show (the
//! lowest and highest value of each pixel column), so a run with 100,000 points costs the
//! browser a few hundred.

use std::fmt::Write;

/// One line of a chart.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// Its name in the legend.
    pub label: String,
    /// (x, y) points, in x order; non-finite values are skipped.
    pub points: Vec<(f64, f64)>,
}

/// A horizontal line drawn across a chart (a validation value, a threshold).
#[derive(Debug, Clone, PartialEq)]
pub struct Reference {
    /// What it marks.
    pub label: String,
    /// Its value.
    pub y: f64,
}

/// The chart's size in CSS pixels (it scales with its container).
pub const WIDTH: f64 = 640.0;
/// See [`WIDTH`].
pub const HEIGHT: f64 = 240.0;
const MARGIN_LEFT: f64 = 56.0;
const MARGIN_RIGHT: f64 = 12.0;
const MARGIN_TOP: f64 = 12.0;
const MARGIN_BOTTOM: f64 = 28.0;

/// At most `2 * buckets + 2` points that keep the shape of `points` (sorted by x): the
/// first and last point, and in each of `buckets` equal x ranges the lowest and the
/// highest point, in x order. Spikes survive; flat stretches shrink. Non-finite points
/// are dropped.
pub fn downsample(points: &[(f64, f64)], buckets: usize) -> Vec<(f64, f64)> {
    let finite: Vec<(f64, f64)> = points
        .iter()
        .copied()
        .filter(|(x, y)| x.is_finite() && y.is_finite())
        .collect();
    if buckets == 0 || finite.len() <= 2 * buckets + 2 {
        return finite;
    }
    let (first, last) = (finite[0], finite[finite.len() - 1]);
    let span = (last.0 - first.0).max(f64::MIN_POSITIVE);
    let mut out = vec![first];
    let bucket_of = |x: f64| (((x - first.0) / span) * buckets as f64) as usize;
    let mut i = 1;
    while i < finite.len() - 1 {
        let b = bucket_of(finite[i].0).min(buckets - 1);
        let (mut lo, mut hi) = (i, i);
        let mut j = i + 1;
        while j < finite.len() - 1 && bucket_of(finite[j].0).min(buckets - 1) == b {
            if finite[j].1 < finite[lo].1 {
                lo = j;
            }
            if finite[j].1 > finite[hi].1 {
                hi = j;
            }
            j += 1;
        }
        let (a, c) = if lo <= hi { (lo, hi) } else { (hi, lo) };
        out.push(finite[a]);
        if c != a {
            out.push(finite[c]);
        }
        i = j;
    }
    out.push(last);
    out
}

/// Escapes text for SVG and HTML.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A short label for an axis value.
fn tick(v: f64) -> String {
    let a = v.abs();
    if a != 0.0 && !(0.001..1e6).contains(&a) {
        format!("{v:.2e}")
    } else if a >= 100.0 || v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        let s = format!("{v:.4}");
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    }
}

/// The range of values to draw, padded so a flat line is not on the frame.
fn range(values: impl Iterator<Item = f64>) -> Option<(f64, f64)> {
    let (lo, hi) = values
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
    if !lo.is_finite() {
        return None;
    }
    let pad = if hi > lo {
        (hi - lo) * 0.05
    } else {
        lo.abs().max(1.0) * 0.05
    };
    Some((lo - pad, hi + pad))
}

/// The palette, matched by the stylesheet (`--series-N`) in light and dark themes.
const SERIES: usize = 6;

/// A line chart of `series` (each downsampled to the plot's width), with optional
/// reference lines, as an `<svg>` element. `title` names it for screen readers.
pub fn line_chart(title: &str, series: &[Series], references: &[Reference]) -> String {
    let plot_w = WIDTH - MARGIN_LEFT - MARGIN_RIGHT;
    let plot_h = HEIGHT - MARGIN_TOP - MARGIN_BOTTOM;
    let drawn: Vec<Vec<(f64, f64)>> = series
        .iter()
        .map(|s| downsample(&s.points, plot_w as usize))
        .collect();
    let xs = range(drawn.iter().flatten().map(|p| p.0));
    let ys = range(
        drawn
            .iter()
            .flatten()
            .map(|p| p.1)
            .chain(references.iter().map(|r| r.y)),
    );
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{}">"#,
        escape(title)
    );
    let _ = write!(svg, "<title>{}</title>", escape(title));
    let (Some((x0, x1)), Some((y0, y1))) = (xs, ys) else {
        let _ = write!(
            svg,
            r#"<text class="empty" x="{}" y="{}">no finite values</text></svg>"#,
            WIDTH / 2.0,
            HEIGHT / 2.0
        );
        return svg;
    };
    let sx = |x: f64| MARGIN_LEFT + (x - x0) / (x1 - x0).max(f64::MIN_POSITIVE) * plot_w;
    let sy = |y: f64| MARGIN_TOP + plot_h - (y - y0) / (y1 - y0).max(f64::MIN_POSITIVE) * plot_h;
    let _ = write!(
        svg,
        r#"<rect class="frame" x="{MARGIN_LEFT}" y="{MARGIN_TOP}" width="{plot_w}" height="{plot_h}"/>"#
    );
    for i in 0..=4 {
        let y = y0 + (y1 - y0) * f64::from(i) / 4.0;
        let _ = write!(
            svg,
            r#"<line class="grid" x1="{MARGIN_LEFT}" x2="{}" y1="{py:.1}" y2="{py:.1}"/><text class="tick" x="{}" y="{:.1}" text-anchor="end">{}</text>"#,
            MARGIN_LEFT + plot_w,
            MARGIN_LEFT - 4.0,
            sy(y) + 4.0,
            escape(&tick(y)),
            py = sy(y),
        );
        let x = x0 + (x1 - x0) * f64::from(i) / 4.0;
        let _ = write!(
            svg,
            r#"<text class="tick" x="{:.1}" y="{}" text-anchor="middle">{}</text>"#,
            sx(x),
            HEIGHT - 8.0,
            escape(&tick(x))
        );
    }
    for r in references {
        let _ = write!(
            svg,
            r#"<line class="reference" x1="{MARGIN_LEFT}" x2="{}" y1="{py:.1}" y2="{py:.1}"><title>{}: {}</title></line><text class="reference-label" x="{}" y="{:.1}" text-anchor="end">{}</text>"#,
            MARGIN_LEFT + plot_w,
            escape(&r.label),
            escape(&tick(r.y)),
            MARGIN_LEFT + plot_w - 2.0,
            sy(r.y) - 3.0,
            escape(&r.label),
            py = sy(r.y),
        );
    }
    for (i, (s, points)) in series.iter().zip(&drawn).enumerate() {
        let mut path = String::new();
        for (x, y) in points {
            let _ = write!(path, "{:.1},{:.1} ", sx(*x), sy(*y));
        }
        let _ = write!(
            svg,
            r#"<polyline class="series series-{}" points="{}"><title>{}</title></polyline>"#,
            i % SERIES,
            path.trim_end(),
            escape(&s.label)
        );
        if points.len() == 1 {
            let (x, y) = points[0];
            let _ = write!(
                svg,
                r#"<circle class="series-dot series-{}" cx="{:.1}" cy="{:.1}" r="3"/>"#,
                i % SERIES,
                sx(x),
                sy(y)
            );
        }
    }
    svg.push_str("</svg>");
    svg
}

/// A horizontal bar chart: one bar per label, with optional reference lines (the
/// validation value a segment should hold).
pub fn bar_chart(title: &str, bars: &[(String, f64)], references: &[Reference]) -> String {
    let row = 22.0;
    let height = MARGIN_TOP + MARGIN_BOTTOM + row * bars.len().max(1) as f64;
    let label_w = 140.0;
    let plot_w = WIDTH - label_w - MARGIN_RIGHT - 48.0;
    let values = bars
        .iter()
        .map(|b| b.1)
        .chain(references.iter().map(|r| r.y))
        .chain(std::iter::once(0.0));
    let (lo, hi) = range(values).unwrap_or((0.0, 1.0));
    let lo = lo.min(0.0);
    let sx = |v: f64| label_w + (v - lo) / (hi - lo).max(f64::MIN_POSITIVE) * plot_w;
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg class="chart bars" viewBox="0 0 {WIDTH} {height}" role="img" aria-label="{}"><title>{}</title>"#,
        escape(title),
        escape(title)
    );
    for (i, (label, value)) in bars.iter().enumerate() {
        let y = MARGIN_TOP + row * i as f64;
        let _ = write!(
            svg,
            r#"<text class="tick" x="{}" y="{:.1}" text-anchor="end">{}</text>"#,
            label_w - 6.0,
            y + 15.0,
            escape(label)
        );
        if value.is_finite() {
            let _ = write!(
                svg,
                r#"<rect class="bar series-{}" x="{:.1}" y="{:.1}" width="{:.1}" height="{}"><title>{}: {}</title></rect><text class="tick" x="{:.1}" y="{:.1}">{}</text>"#,
                i % SERIES,
                sx(0.0_f64.max(lo)),
                y + 3.0,
                (sx(*value) - sx(0.0_f64.max(lo))).max(0.5),
                row - 6.0,
                escape(label),
                escape(&tick(*value)),
                sx(*value) + 4.0,
                y + 15.0,
                escape(&tick(*value))
            );
        }
    }
    for r in references {
        let _ = write!(
            svg,
            r#"<line class="reference" x1="{x:.1}" x2="{x:.1}" y1="{MARGIN_TOP}" y2="{:.1}"><title>{}: {}</title></line>"#,
            height - MARGIN_BOTTOM,
            escape(&r.label),
            escape(&tick(r.y)),
            x = sx(r.y),
        );
    }
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Downsampling keeps the first and last point, the lowest and highest value, stays
        /// within its size bound, and keeps x order.
        #[test]
        fn downsampling_keeps_the_shape(
            ys in proptest::collection::vec(-1e6f64..1e6, 0..3000),
            buckets in 1usize..400,
        ) {
            let points: Vec<(f64, f64)> = ys.iter().enumerate().map(|(i, y)| (i as f64, *y)).collect();
            let out = downsample(&points, buckets);
            prop_assert!(out.len() <= (2 * buckets + 2).max(points.len().min(2 * buckets + 2)));
            prop_assert!(out.windows(2).all(|w| w[0].0 <= w[1].0));
            if let (Some(first), Some(last)) = (points.first(), points.last()) {
                prop_assert_eq!(out.first(), Some(first));
                prop_assert_eq!(out.last(), Some(last));
                let max = ys.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                let min = ys.iter().copied().fold(f64::INFINITY, f64::min);
                prop_assert!(out.iter().any(|p| p.1 == max));
                prop_assert!(out.iter().any(|p| p.1 == min));
            }
        }

        /// Charts escape every label: no text from a run becomes markup.
        #[test]
        fn labels_are_escaped(label in ".{0,40}") {
            let svg = line_chart(&label, &[Series { label: label.clone(), points: vec![(0.0, 1.0), (1.0, 2.0)] }], &[Reference { label: label.clone(), y: 1.5 }]);
            let bars = bar_chart(&label, &[(label.clone(), 1.0)], &[]);
            for out in [svg, bars] {
                prop_assert!(!out.contains("<script"));
                prop_assert_eq!(out.matches("<svg").count(), 1);
            }
        }
    }

    #[test]
    fn a_chart_without_finite_values_says_so() {
        let svg = line_chart(
            "loss",
            &[Series {
                label: "loss".into(),
                points: vec![(0.0, f64::NAN)],
            }],
            &[],
        );
        assert!(svg.contains("no finite values"), "{svg}");
    }
}
