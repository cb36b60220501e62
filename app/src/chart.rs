//! Time-series line charts drawn with plotters: the same drawing serves the browser (SVG) and,
//! through any other plotters backend, the server. Besides the picture, drawing returns the
//! [`Frame`]: where the plot area sits and which times and values it spans, so hover read-outs
//! and drag-to-zoom can map pixels back to data.

use crate::api::dashboard::{PanelOptions, Threshold};
pub use crate::format::format_value;
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

/// Palette entry `i` (wrapping around).
pub fn palette(i: usize) -> RGBColor {
    let (r, g, b) = PALETTE[i % PALETTE.len()];
    RGBColor(r, g, b)
}

/// The CSS colour of palette entry `i`.
pub fn css_color(i: usize) -> String {
    let RGBColor(r, g, b) = palette(i);
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

/// Whether a font has been registered for drawing outside the browser.
#[cfg(not(target_arch = "wasm32"))]
static FONT_REGISTERED: std::sync::OnceLock<()> = std::sync::OnceLock::new();

/// Registers `bytes`, a TrueType font, as the sans-serif font charts are drawn with outside the
/// browser (text is measured to lay out axes, and drawn into PNG images). The server does this
/// once at start-up with the font its settings name.
#[cfg(not(target_arch = "wasm32"))]
pub fn register_font(bytes: &'static [u8]) -> Result<(), String> {
    for style in [FontStyle::Normal, FontStyle::Bold] {
        plotters::style::register_font("sans-serif", style, bytes)
            .map_err(|_| "not a usable TrueType font".to_string())?;
    }
    let _ = FONT_REGISTERED.set(());
    Ok(())
}

/// Fails when no font is registered to draw text with.
#[cfg(not(target_arch = "wasm32"))]
pub fn ensure_fonts() -> Result<(), String> {
    if FONT_REGISTERED.get().is_some() {
        return Ok(());
    }
    fallback_font()
}

#[cfg(all(not(target_arch = "wasm32"), not(test)))]
fn fallback_font() -> Result<(), String> {
    Err("no font to draw charts with: install fonts-dejavu-core or set PORTAL_FONT".into())
}

/// In the browser the page's fonts are used.
#[cfg(target_arch = "wasm32")]
pub fn ensure_fonts() -> Result<(), String> {
    Ok(())
}

/// The colours axis text and grid lines are drawn in, replaced in the SVG by theme colours.
pub const TEXT_MARK: RGBColor = RGBColor(1, 2, 3);
pub const GRID_MARK: RGBColor = RGBColor(4, 5, 6);

/// The value axis: a little padding around the data, zero kept in view for data near it.
pub(crate) fn value_range(lines: &[Line]) -> (f64, f64) {
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

/// Orders values for sorting: numbers by size, NaN and missing values last.
pub fn compare_values(a: Option<f64>, b: Option<f64>) -> std::cmp::Ordering {
    let key = |v: Option<f64>| v.filter(|x| !x.is_nan());
    match (key(a), key(b)) {
        (Some(x), Some(y)) => x.total_cmp(&y),
        (Some(_), None) => std::cmp::Ordering::Greater,
        (None, Some(_)) => std::cmp::Ordering::Less,
        (None, None) => std::cmp::Ordering::Equal,
    }
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

/// The lines of a range query's series, named by their labels, in the palette's order.
pub fn lines_of(series: Vec<crate::api::prometheus::RangeSeries>) -> Vec<Line> {
    series
        .into_iter()
        .enumerate()
        .map(|(i, s)| Line {
            label: crate::api::prometheus::series_name(&s.metric),
            color: i,
            points: s
                .values
                .iter()
                .map(|(t, v)| ((t * 1000.0).round() as i64, v.parse().unwrap_or(f64::NAN)))
                .collect(),
        })
        .collect()
}

/// A stretch of time shaded across the whole height of a chart.
#[derive(Clone, Debug, PartialEq)]
pub struct TimeRegion {
    pub from: i64,
    pub to: i64,
    /// A colour name or `#rrggbb`.
    pub color: String,
}

/// How a time-series chart draws, beyond its data: the dashboard panel options that apply.
#[derive(Clone, Debug, PartialEq)]
pub struct ChartStyle {
    /// `line`, `area`, `points` or `bars`.
    pub draw: String,
    pub stack: bool,
    pub unit: String,
    pub decimals: Option<u32>,
    pub min: Option<f64>,
    pub max: Option<f64>,
    pub thresholds: Vec<Threshold>,
    /// `off`, `line` or `area`.
    pub threshold_style: String,
    /// Stretches of time shaded behind the data (an alert rule's pending and firing times).
    pub regions: Vec<TimeRegion>,
    /// The colours of axis text and grid lines; the default marks are replaced in SVGs by the
    /// page's theme colours.
    pub text: RGBColor,
    pub grid: RGBColor,
}

impl Default for ChartStyle {
    fn default() -> Self {
        Self {
            draw: "line".into(),
            stack: false,
            unit: "short".into(),
            decimals: None,
            min: None,
            max: None,
            thresholds: Vec::new(),
            threshold_style: "off".into(),
            regions: Vec::new(),
            text: TEXT_MARK,
            grid: GRID_MARK,
        }
    }
}

impl ChartStyle {
    /// The style a dashboard panel's options ask for.
    pub fn of_panel(o: &PanelOptions) -> Self {
        Self {
            draw: o.draw.clone(),
            stack: o.stack,
            unit: o.unit.clone(),
            decimals: o.decimals,
            min: o.min,
            max: o.max,
            thresholds: o.thresholds.clone(),
            threshold_style: o.threshold_style.clone(),
            ..Self::default()
        }
    }

    fn format(&self, v: f64) -> String {
        crate::format::format_unit(v, &self.unit, self.decimals)
    }
}

/// The RGB of a named or `#rrggbb` colour, `fallback` for `text` and unknown names.
pub fn rgb(color: &str, fallback: RGBColor) -> RGBColor {
    crate::format::color_rgb(color).map_or(fallback, |(r, g, b)| RGBColor(r, g, b))
}

/// The lines as drawn: each stacked on the ones before it when `stack` is set.
fn stacked(lines: &[Line], stack: bool) -> Vec<Vec<(i64, f64, f64)>> {
    let mut base: std::collections::HashMap<i64, f64> = std::collections::HashMap::new();
    lines
        .iter()
        .map(|l| {
            l.points
                .iter()
                .map(|&(t, v)| {
                    if !stack || !v.is_finite() {
                        return (t, 0.0, v);
                    }
                    let below = base.entry(t).or_insert(0.0);
                    let point = (t, *below, *below + v);
                    *below += v;
                    point
                })
                .collect()
        })
        .collect()
}

/// Draws `lines` over `from`..`to` on `backend`; returns the frame of the plot area.
pub fn draw<DB: DrawingBackend>(
    backend: DB,
    lines: &[Line],
    from: i64,
    to: i64,
    gap_ms: i64,
) -> Result<Frame, String> {
    draw_styled(backend, lines, from, to, gap_ms, &ChartStyle::default())
}

/// [`draw`] with a panel's style: areas, points, bars, stacking, units, fixed bounds and
/// thresholds as lines or bands.
pub fn draw_styled<DB: DrawingBackend>(
    backend: DB,
    lines: &[Line],
    from: i64,
    to: i64,
    gap_ms: i64,
    style: &ChartStyle,
) -> Result<Frame, String> {
    let root = backend.into_drawing_area();
    let frame = draw_on(&root, lines, from, to, gap_ms, style)?;
    root.present().map_err(|e| e.to_string())?;
    Ok(frame)
}

/// [`draw_styled`] into an area of a larger drawing.
pub fn draw_on<DB: DrawingBackend>(
    root: &DrawingArea<DB, plotters::coord::Shift>,
    lines: &[Line],
    from: i64,
    to: i64,
    gap_ms: i64,
    style: &ChartStyle,
) -> Result<Frame, String> {
    ensure_fonts()?;
    let drawn = stacked(lines, style.stack);
    let mut bounds: Vec<Line> = drawn
        .iter()
        .map(|pts| Line {
            label: String::new(),
            color: 0,
            points: pts.iter().map(|p| (p.0, p.2)).collect(),
        })
        .collect();
    if style.threshold_style != "off" {
        let steps: Vec<(i64, f64)> = style
            .thresholds
            .iter()
            .filter_map(|t| t.value)
            .map(|v| (from, v))
            .collect();
        bounds.push(Line {
            label: String::new(),
            color: 0,
            points: steps,
        });
    }
    if style.draw == "bars" || style.draw == "area" {
        bounds.push(Line {
            label: String::new(),
            color: 0,
            points: vec![(from, 0.0)],
        });
    }
    let (auto_min, auto_max) = value_range(&bounds);
    let y_min = style.min.unwrap_or(auto_min);
    let y_max = style
        .max
        .unwrap_or(auto_max)
        .max(y_min + f64::EPSILON.max(y_min.abs() * 1e-9));
    let mut chart = ChartBuilder::on(root)
        .margin_top(10)
        .margin_right(16)
        .x_label_area_size(26)
        .y_label_area_size(60)
        .build_cartesian_2d(from..to.max(from + 1), y_min..y_max)
        .map_err(|e| e.to_string())?;
    let text = ("sans-serif", 12).into_font().color(&style.text);
    chart
        .configure_mesh()
        .disable_x_mesh()
        // Time labels are drawn below on round times; plotters' own would be arbitrary.
        .x_labels(2)
        .x_label_formatter(&|_| String::new())
        .set_tick_mark_size(LabelAreaPosition::Bottom, 0)
        .y_labels(6)
        .y_label_formatter(&|v| style.format(*v))
        .y_label_style(text.clone().pos(Pos::new(HPos::Right, VPos::Center)))
        .bold_line_style(style.grid.stroke_width(1))
        .light_line_style(TRANSPARENT)
        .axis_style(style.grid.stroke_width(1))
        .draw()
        .map_err(|e| e.to_string())?;
    draw_time_ticks(root, &chart, (from, to), text, Some(style.grid))?;
    for region in &style.regions {
        let (lo, hi) = (region.from.max(from), region.to.min(to));
        if hi > lo {
            chart
                .draw_series(std::iter::once(Rectangle::new(
                    [(lo, y_min), (hi, y_max)],
                    rgb(&region.color, style.text).mix(0.16).filled(),
                )))
                .map_err(|e| e.to_string())?;
        }
    }
    // Threshold bands under the data, lines over it.
    let steps: Vec<(f64, RGBColor)> = style
        .thresholds
        .iter()
        .map(|t| {
            (
                t.value.unwrap_or(f64::NEG_INFINITY),
                rgb(&t.color, style.text),
            )
        })
        .collect();
    if style.threshold_style == "area" {
        for (i, (lo, color)) in steps.iter().enumerate() {
            let hi = steps.get(i + 1).map_or(y_max, |s| s.0).min(y_max);
            let lo = lo.max(y_min);
            if hi > lo {
                chart
                    .draw_series(std::iter::once(Rectangle::new(
                        [(from, lo), (to, hi)],
                        color.mix(0.12).filled(),
                    )))
                    .map_err(|e| e.to_string())?;
            }
        }
    }
    let bar_width = |n: usize| -> i64 { (gap_ms / 2).max(1) * 8 / 10 / n.max(1) as i64 };
    let bars = drawn.len().max(1);
    for (i, (line, pts)) in lines.iter().zip(&drawn).enumerate() {
        let color = palette(line.color);
        let stroke = color.stroke_width(2);
        match style.draw.as_str() {
            "points" => {
                chart
                    .draw_series(
                        pts.iter()
                            .filter(|p| p.2.is_finite())
                            .map(|p| Circle::new((p.0, p.2), 2, color.filled())),
                    )
                    .map_err(|e| e.to_string())?;
            }
            "bars" => {
                let w = bar_width(if style.stack { 1 } else { bars });
                let offset = if style.stack {
                    -w / 2
                } else {
                    -w * bars as i64 / 2 + w * i as i64
                };
                chart
                    .draw_series(pts.iter().filter(|p| p.2.is_finite()).map(|p| {
                        let x0 = p.0 + offset;
                        Rectangle::new(
                            [(x0, p.1.max(y_min)), (x0 + w, p.2.min(y_max))],
                            color.mix(0.85).filled(),
                        )
                    }))
                    .map_err(|e| e.to_string())?;
            }
            _ => {
                let top_line: Vec<(i64, f64)> = pts.iter().map(|p| (p.0, p.2)).collect();
                let base_of: std::collections::HashMap<i64, f64> =
                    pts.iter().map(|p| (p.0, p.1)).collect();
                for segment in segments(&top_line, gap_ms) {
                    if style.draw == "area" {
                        let mut polygon: Vec<(i64, f64)> = segment.clone();
                        polygon.extend(
                            segment.iter().rev().map(|p| {
                                (p.0, base_of.get(&p.0).copied().unwrap_or(0.0).max(y_min))
                            }),
                        );
                        chart
                            .draw_series(std::iter::once(Polygon::new(
                                polygon,
                                color.mix(0.25).filled(),
                            )))
                            .map_err(|e| e.to_string())?;
                    }
                    chart
                        .draw_series(LineSeries::new(segment.iter().copied(), stroke))
                        .map_err(|e| e.to_string())?;
                }
            }
        }
    }
    if style.threshold_style == "line" {
        for (value, color) in steps
            .iter()
            .filter(|s| s.0.is_finite() && s.0 >= y_min && s.0 <= y_max)
        {
            chart
                .draw_series(DashedLineSeries::new(
                    [(from, *value), (to, *value)],
                    6,
                    4,
                    color.stroke_width(1),
                ))
                .map_err(|e| e.to_string())?;
        }
    }
    let (x_px, y_px) = chart.plotting_area().get_pixel_range();
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

/// The chart's coordinates: time in ms across, values up.
pub type TimeCoord = plotters::coord::cartesian::Cartesian2d<
    plotters::coord::types::RangedCoordi64,
    plotters::coord::types::RangedCoordf64,
>;

/// Time labels (and grid lines, given a colour) under `chart` on round local times: every five
/// minutes, every hour, at midnight…
pub fn draw_time_ticks<DB: DrawingBackend>(
    root: &DrawingArea<DB, plotters::coord::Shift>,
    chart: &ChartContext<'_, DB, TimeCoord>,
    (from, to): (i64, i64),
    text: TextStyle<'_>,
    grid: Option<RGBColor>,
) -> Result<(), String> {
    let (width, _) = root.dim_in_pixel();
    let (x_px, y_px) = chart.plotting_area().get_pixel_range();
    let (top, bottom) = (y_px.start, y_px.end);
    let y_min = chart.y_range().start;
    let label_style = text.pos(Pos::new(HPos::Center, VPos::Top));
    for t in time_ticks(from, to, (width as i64 / 110).clamp(2, 12)) {
        let (x, _) = chart.backend_coord(&(t, y_min));
        if x < x_px.start || x > x_px.end {
            continue;
        }
        if let Some(grid) = grid {
            root.draw(&PathElement::new(
                vec![(x, top), (x, bottom)],
                grid.stroke_width(1),
            ))
            .map_err(|e| e.to_string())?;
        }
        root.draw(&Text::new(
            format_time(t, to - from),
            (x, bottom + 6),
            label_style.clone(),
        ))
        .map_err(|e| e.to_string())?;
    }
    Ok(())
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
    svg_styled(lines, from, to, gap_ms, size, &ChartStyle::default())
}

/// [`svg`] with a panel's style.
pub fn svg_styled(
    lines: &[Line],
    from: i64,
    to: i64,
    gap_ms: i64,
    size: (u32, u32),
    style: &ChartStyle,
) -> Result<(String, Frame), String> {
    let mut out = String::new();
    let frame = draw_styled(
        SVGBackend::with_string(&mut out, size),
        lines,
        from,
        to,
        gap_ms,
        style,
    )?;
    Ok((themed_svg(out), frame))
}

/// Replaces the marker colours of text and grid with the page's theme colours.
pub fn themed_svg(svg: String) -> String {
    svg.replace("fill=\"#010203\"", "fill=\"currentColor\"")
        .replace("stroke=\"#040506\"", "style=\"stroke:var(--chart-grid)\"")
        .replace("fill=\"#040506\"", "style=\"fill:var(--chart-grid)\"")
}

/// Unit tests draw with the system's DejaVu Sans.
#[cfg(all(not(target_arch = "wasm32"), test))]
fn fallback_font() -> Result<(), String> {
    tests::system_font()
}

#[cfg(test)]
mod tests {
    /// Registers the system's DejaVu Sans once.
    pub(super) fn system_font() -> Result<(), String> {
        static LOADED: std::sync::OnceLock<Result<(), String>> = std::sync::OnceLock::new();
        LOADED
            .get_or_init(|| {
                let path = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";
                let bytes = std::fs::read(path).map_err(|e| format!("{path}: {e}"))?;
                super::register_font(Box::leak(bytes.into_boxed_slice()))
            })
            .clone()
    }

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
