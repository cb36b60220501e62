//! Time-series line charts drawn with plotters: the same drawing serves the browser (SVG) and,
//! through any other plotters backend, the server. Besides the picture, drawing returns the
//! [`Frame`]: where the plot area sits and which times and values it spans, so hover read-outs
//! and drag-to-zoom can map pixels back to data.

use chrono::{DateTime, Local, TimeZone};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// One line of the chart.
#[derive(Clone, Debug, PartialEq)]
pub struct Line {
    pub label: String,
    /// Index into [`PALETTE`].
    pub color: usize,
    /// (milliseconds since epoch, value), in time order; NaN values are gaps.
    pub points: Vec<(i64, f64)>,
}

/// Line colours, distinguishable on light and dark backgrounds.
pub const PALETTE: [(u8, u8, u8); 10] = [
    (0x73, 0xbf, 0x69),
    (0xf2, 0xcc, 0x0c),
    (0x8a, 0xb8, 0xff),
    (0xff, 0x78, 0x0a),
    (0xf2, 0x49, 0x5c),
    (0x57, 0x94, 0xf2),
    (0xb8, 0x77, 0xd9),
    (0x70, 0xdb, 0xed),
    (0xfa, 0xde, 0x2a),
    (0x1f, 0x60, 0xc4),
];

/// The CSS colour of palette entry `i`.
pub fn css_color(i: usize) -> String {
    let (r, g, b) = PALETTE[i % PALETTE.len()];
    format!("#{r:02x}{g:02x}{b:02x}")
}

/// Where the plot area is (pixels) and what it spans.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Frame {
    pub left: f64,
    pub right: f64,
    pub top: f64,
    pub bottom: f64,
    pub from: i64,
    pub to: i64,
    pub y_min: f64,
    pub y_max: f64,
}

impl Frame {
    /// The time at horizontal pixel `x`, clamped to the plot area.
    pub fn time_at(&self, x: f64) -> i64 {
        let f = ((x - self.left) / (self.right - self.left)).clamp(0.0, 1.0);
        self.from + ((self.to - self.from) as f64 * f).round() as i64
    }

    /// The horizontal pixel of time `t`.
    pub fn x_of(&self, t: i64) -> f64 {
        self.left
            + (t - self.from) as f64 / (self.to - self.from).max(1) as f64
                * (self.right - self.left)
    }

    /// The vertical pixel of value `v`.
    pub fn y_of(&self, v: f64) -> f64 {
        let span = (self.y_max - self.y_min).max(f64::MIN_POSITIVE);
        self.bottom - (v - self.y_min) / span * (self.bottom - self.top)
    }
}

/// The colours axis text and grid lines are drawn in, replaced in the SVG by theme colours.
const TEXT_MARK: RGBColor = RGBColor(1, 2, 3);
const GRID_MARK: RGBColor = RGBColor(4, 5, 6);

/// The value axis: a little padding around the data, zero kept in view for data near it.
fn value_range(lines: &[Line]) -> (f64, f64) {
    let values = lines
        .iter()
        .flat_map(|l| l.points.iter().map(|p| p.1))
        .filter(|v| v.is_finite());
    let (mut lo, mut hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    if lo > 0.0 && lo < hi * 0.5 {
        lo = 0.0;
    }
    if hi == lo {
        let pad = if hi == 0.0 { 1.0 } else { hi.abs() * 0.1 };
        return (lo - pad, hi + pad);
    }
    let pad = (hi - lo) * 0.05;
    hi += pad;
    if lo != 0.0 {
        lo -= pad;
    }
    (lo, hi)
}

/// Formats an axis value compactly: `0.25`, `12`, `3.4k`, `1.2M`.
pub fn format_value(v: f64) -> String {
    let a = v.abs();
    let (scaled, suffix) = if a >= 1e12 {
        (v / 1e12, "T")
    } else if a >= 1e9 {
        (v / 1e9, "G")
    } else if a >= 1e6 {
        (v / 1e6, "M")
    } else if a >= 1e3 {
        (v / 1e3, "k")
    } else {
        (v, "")
    };
    let text = if scaled == 0.0 {
        "0".to_string()
    } else if scaled.abs() >= 100.0 {
        format!("{scaled:.0}")
    } else if scaled.abs() >= 10.0 {
        format!("{scaled:.1}")
    } else if scaled.abs() >= 0.01 {
        format!("{scaled:.2}")
    } else {
        format!("{scaled:.1e}")
    };
    let text = if text.contains('.') && !text.contains('e') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    };
    format!("{text}{suffix}")
}

/// Formats a time for an axis spanning `span_ms`, in the viewer's time zone.
pub fn format_time(ms: i64, span_ms: i64) -> String {
    let Some(t) = DateTime::from_timestamp_millis(ms) else {
        return String::new();
    };
    let local = Local.from_utc_datetime(&t.naive_utc());
    let format = if span_ms <= 2 * 60_000 {
        "%H:%M:%S"
    } else if span_ms <= 36 * 3_600_000 {
        "%H:%M"
    } else if span_ms <= 10 * 86_400_000 {
        "%m-%d %H:%M"
    } else {
        "%Y-%m-%d"
    };
    local.format(format).to_string()
}

/// Formats an instant in full, in the viewer's time zone: `2026-11-23 14:05:30`.
pub fn format_instant(ms: i64) -> String {
    DateTime::from_timestamp_millis(ms)
        .map(|t| {
            Local
                .from_utc_datetime(&t.naive_utc())
                .format("%Y-%m-%d %H:%M:%S")
                .to_string()
        })
        .unwrap_or_default()
}

/// Draws `lines` over `from`..`to` on `backend`; returns the frame of the plot area.
pub fn draw<DB: DrawingBackend>(
    backend: DB,
    lines: &[Line],
    from: i64,
    to: i64,
    gap_ms: i64,
) -> Result<Frame, String> {
    let root = backend.into_drawing_area();
    let (width, _) = root.dim_in_pixel();
    let (y_min, y_max) = value_range(lines);
    let span = (to - from).max(1);
    let mut chart = ChartBuilder::on(&root)
        .margin_top(10)
        .margin_right(16)
        .x_label_area_size(26)
        .y_label_area_size(52)
        .build_cartesian_2d(from..to.max(from + 1), y_min..y_max)
        .map_err(|e| e.to_string())?;
    let text = ("sans-serif", 12).into_font().color(&TEXT_MARK);
    chart
        .configure_mesh()
        .disable_x_mesh()
        // Time labels are drawn below on round times; plotters' own would be arbitrary.
        .x_labels(2)
        .x_label_formatter(&|_| String::new())
        .set_tick_mark_size(LabelAreaPosition::Bottom, 0)
        .y_labels(6)
        .y_label_formatter(&|v| format_value(*v))
        .y_label_style(text.clone().pos(Pos::new(HPos::Right, VPos::Center)))
        .bold_line_style(GRID_MARK.stroke_width(1))
        .light_line_style(TRANSPARENT)
        .axis_style(GRID_MARK.stroke_width(1))
        .draw()
        .map_err(|e| e.to_string())?;
    // Time ticks on round local times (every 5 minutes, every hour, at midnight…).
    let (top, bottom) = {
        let (_, y) = chart.plotting_area().get_pixel_range();
        (y.start, y.end)
    };
    let label_style = text.pos(Pos::new(HPos::Center, VPos::Top));
    for t in time_ticks(from, to, (width as i64 / 110).clamp(2, 12)) {
        let (x, _) = chart.backend_coord(&(t, y_min));
        root.draw(&PathElement::new(
            vec![(x, top), (x, bottom)],
            GRID_MARK.stroke_width(1),
        ))
        .map_err(|e| e.to_string())?;
        root.draw(&Text::new(
            format_time(t, span),
            (x, bottom + 6),
            label_style.clone(),
        ))
        .map_err(|e| e.to_string())?;
    }
    for line in lines {
        let (r, g, b) = PALETTE[line.color % PALETTE.len()];
        let style = RGBColor(r, g, b).stroke_width(2);
        for segment in segments(&line.points, gap_ms) {
            chart
                .draw_series(LineSeries::new(segment.iter().copied(), style))
                .map_err(|e| e.to_string())?;
        }
    }
    let (x_px, y_px) = chart.plotting_area().get_pixel_range();
    root.present().map_err(|e| e.to_string())?;
    Ok(Frame {
        left: f64::from(x_px.start),
        right: f64::from(x_px.end),
        top: f64::from(y_px.start),
        bottom: f64::from(y_px.end),
        from,
        to,
        y_min,
        y_max,
    })
}

/// At most `max` round times between `from` and `to`, on multiples of a tick interval in the
/// viewer's time zone.
fn time_ticks(from: i64, to: i64, max: i64) -> Vec<i64> {
    let span = (to - from).max(1);
    let step = crate::time::nice_step_at_least(span.div_euclid(max.max(1)).max(1));
    let offset = DateTime::from_timestamp_millis(from)
        .map(|t| {
            i64::from(
                Local
                    .offset_from_utc_datetime(&t.naive_utc())
                    .local_minus_utc(),
            ) * 1000
        })
        .unwrap_or(0);
    let first = (from + offset).div_euclid(step) * step - offset;
    let first = if first < from { first + step } else { first };
    (0..)
        .map(|i| first + i * step)
        .take_while(|&t| t <= to)
        .collect()
}

/// Splits points into runs without gaps: a gap is a NaN or more than `gap_ms` between points.
fn segments(points: &[(i64, f64)], gap_ms: i64) -> Vec<Vec<(i64, f64)>> {
    let mut out: Vec<Vec<(i64, f64)>> = Vec::new();
    let mut current: Vec<(i64, f64)> = Vec::new();
    for &(t, v) in points {
        let gap = current.last().is_some_and(|&(last, _)| t - last > gap_ms);
        if !v.is_finite() || gap {
            if !current.is_empty() {
                out.push(std::mem::take(&mut current));
            }
            if !v.is_finite() {
                continue;
            }
        }
        current.push((t, v));
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// Draws the chart as an SVG document whose text and grid follow the page's colours.
pub fn svg(
    lines: &[Line],
    from: i64,
    to: i64,
    gap_ms: i64,
    size: (u32, u32),
) -> Result<(String, Frame), String> {
    let mut out = String::new();
    let frame = draw(
        SVGBackend::with_string(&mut out, size),
        lines,
        from,
        to,
        gap_ms,
    )?;
    let out = out
        .replace("fill=\"#010203\"", "fill=\"currentColor\"")
        .replace("stroke=\"#040506\"", "style=\"stroke:var(--chart-grid)\"");
    Ok((out, frame))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_format_compactly() {
        assert_eq!(format_value(0.0), "0");
        assert_eq!(format_value(0.25), "0.25");
        assert_eq!(format_value(12.0), "12");
        assert_eq!(format_value(3400.0), "3.4k");
        assert_eq!(format_value(1_250_000.0), "1.25M");
        assert_eq!(format_value(0.000_5), "5.0e-4");
    }

    #[test]
    fn time_ticks_fall_on_round_times() {
        let offset = i64::from(
            Local
                .offset_from_utc_datetime(&DateTime::from_timestamp_millis(0).unwrap().naive_utc())
                .local_minus_utc(),
        ) * 1000;
        let from = 1_000_000_123;
        let ticks = time_ticks(from, from + 3 * 3_600_000, 8);
        assert!(ticks.len() <= 8 && ticks.len() >= 3, "{ticks:?}");
        let step = ticks[1] - ticks[0];
        assert_eq!(step, 1_800_000);
        assert!(ticks.iter().all(|t| (t + offset) % step == 0 && *t >= from));
    }

    #[test]
    fn gaps_split_lines() {
        let points = [(0, 1.0), (10, 2.0), (50, 3.0), (60, f64::NAN), (70, 4.0)];
        let s = segments(&points, 15);
        assert_eq!(
            s,
            vec![vec![(0, 1.0), (10, 2.0)], vec![(50, 3.0)], vec![(70, 4.0)]]
        );
    }

    #[test]
    fn the_svg_maps_pixels_back_to_times() {
        let lines = [Line {
            label: "a".into(),
            color: 0,
            points: vec![(1_000, 1.0), (2_000, 3.0)],
        }];
        let (svg, frame) = svg(&lines, 1_000, 2_000, 5_000, (600, 300)).unwrap();
        assert!(svg.starts_with("<svg"), "{svg}");
        assert!(
            svg.contains("stroke=\"#73BF69\""),
            "the line is drawn in its colour: {svg}"
        );
        assert!(svg.contains("currentColor"));
        assert!(frame.left > 0.0 && frame.right < 600.0 && frame.right > frame.left);
        assert_eq!(frame.time_at(frame.left), 1_000);
        assert_eq!(frame.time_at(frame.right), 2_000);
        assert_eq!(frame.time_at(frame.x_of(1_500)), 1_500);
        assert!(frame.y_of(1.0) > frame.y_of(3.0));
    }
}
