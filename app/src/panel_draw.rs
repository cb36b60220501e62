//! Drawing of every dashboard panel kind on any plotters backend: the browser draws SVG with it,
//! the server draws the same pictures as PNG or SVG for shared images and embeds.

use crate::api::dashboard::{Panel, PanelKind, PanelOptions};
use crate::chart::{self, rgb, ChartStyle, Line};
use crate::dashboard::{format_unit, map_value, reduce, threshold_color};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// A panel's data as drawn: its series (named) over `from`..`to` at `step`.
#[derive(Clone, Debug, PartialEq)]
pub struct PanelData {
    pub lines: Vec<Line>,
    pub from: i64,
    pub to: i64,
    pub step: i64,
}

/// The colours of text and grid: marks replaced by theme colours in SVGs, or real colours.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Ink {
    pub text: RGBColor,
    pub grid: RGBColor,
    pub background: Option<RGBColor>,
}

impl Ink {
    /// The fixed colours of the light or dark theme, for images seen outside the portal.
    pub fn fixed(dark: bool) -> Ink {
        if dark {
            Self::DARK
        } else {
            Self::LIGHT
        }
    }

    /// Marker colours, for SVG that follows the page's theme.
    pub const THEMED: Ink = Ink {
        text: chart::TEXT_MARK,
        grid: chart::GRID_MARK,
        background: None,
    };
    pub const LIGHT: Ink = Ink {
        text: RGBColor(0x1f, 0x23, 0x28),
        grid: RGBColor(0xdd, 0xe1, 0xe6),
        background: Some(RGBColor(0xff, 0xff, 0xff)),
    };
    pub const DARK: Ink = Ink {
        text: RGBColor(0xd8, 0xd9, 0xda),
        grid: RGBColor(0x2f, 0x33, 0x38),
        background: Some(RGBColor(0x18, 0x1b, 0x1f)),
    };
}

type DrawResult = Result<(), String>;

fn err<E: std::fmt::Display>(e: E) -> String {
    e.to_string()
}

/// One value per series, as stat, gauge, bar and table panels show them.
pub fn reduced(lines: &[Line], o: &PanelOptions) -> Vec<(String, usize, Option<f64>)> {
    lines
        .iter()
        .map(|l| (l.label.clone(), l.color, reduce(&l.points, &o.reduce)))
        .collect()
}

/// A value as text, through the mappings first, then the unit; and the colour it gets.
pub fn value_text(v: Option<f64>, o: &PanelOptions) -> (String, Option<String>) {
    let Some(v) = v else {
        return ("No value".into(), None);
    };
    if let Some(m) = map_value(v, &o.mappings) {
        let color = (!m.color.is_empty()).then(|| m.color.clone());
        return (
            m.text.clone(),
            color.or_else(|| threshold_color(v, &o.thresholds).map(str::to_owned)),
        );
    }
    (
        format_unit(v, &o.unit, o.decimals),
        threshold_color(v, &o.thresholds).map(str::to_owned),
    )
}

/// Draws `panel` with `data` (or says "No data") on `backend`.
pub fn draw_panel<DB: DrawingBackend>(
    backend: DB,
    panel: &Panel,
    data: &PanelData,
    ink: Ink,
) -> DrawResult {
    draw_titled(backend, panel, None, data, ink)
}

/// [`draw_panel`] under a title line (images seen outside the portal carry their title).
pub fn draw_titled<DB: DrawingBackend>(
    backend: DB,
    panel: &Panel,
    title: Option<&str>,
    data: &PanelData,
    ink: Ink,
) -> DrawResult {
    chart::ensure_fonts()?;
    let whole = backend.into_drawing_area();
    if let Some(bg) = ink.background {
        whole.fill(&bg).map_err(err)?;
    }
    let root = match title.filter(|t| !t.is_empty()) {
        Some(t) => {
            let (head, rest) = whole.split_vertically(30);
            let style = font(15.0, ink.text, true, (HPos::Left, VPos::Center));
            let (w, _) = head.dim_in_pixel();
            head.draw(&Text::new(truncate(t, (w / 8) as usize), (10, 16), style))
                .map_err(err)?;
            rest
        }
        None => whole.clone(),
    };
    if panel.kind.queries() && data.lines.iter().all(|l| l.points.is_empty()) {
        centred(&root, "No data", 16.0, ink.text)?;
        return whole.present().map_err(err);
    }
    let o = &panel.options;
    match panel.kind {
        PanelKind::Timeseries => {
            let style = ChartStyle {
                text: ink.text,
                grid: ink.grid,
                ..ChartStyle::of_panel(o)
            };
            let plot = if o.legend.show {
                draw_legend(&root, &data.lines, o, ink)?
            } else {
                root.clone()
            };
            chart::draw_on(
                &plot,
                &data.lines,
                data.from,
                data.to,
                data.step.saturating_mul(2),
                &style,
            )?;
        }
        PanelKind::Stat => draw_stat(&root, data, o, ink)?,
        PanelKind::Gauge => draw_gauge(&root, data, o, ink)?,
        PanelKind::Bar => draw_bars(&root, data, o, ink)?,
        PanelKind::Heatmap => draw_heatmap(&root, data, o, ink)?,
        PanelKind::Table => draw_table(&root, data, o, ink)?,
        PanelKind::Text => draw_text(&root, &o.text, ink)?,
        // Live alerts are listed in the browser; an image says where to find them.
        PanelKind::AlertList => {
            draw_text(&root, "The live alerts are listed on the dashboard.", ink)?
        }
        PanelKind::Logs => draw_text(&root, "The log lines are listed on the dashboard.", ink)?,
        PanelKind::Row => {}
    }
    whole.present().map_err(err)
}

/// The legend under a chart: swatches and names (with the legend's values), flowed into rows
/// that take at most a third of the height; returns the area left for the plot.
fn draw_legend<DB: DrawingBackend>(
    root: &DrawingArea<DB, plotters::coord::Shift>,
    lines: &[Line],
    o: &PanelOptions,
    ink: Ink,
) -> Result<DrawingArea<DB, plotters::coord::Shift>, String> {
    let (w, h) = root.dim_in_pixel();
    let row_h = 18i32;
    let max_rows = ((h as i32 / 3) / row_h).max(1);
    let mut items: Vec<(String, usize, i32)> = Vec::new();
    for l in lines {
        let mut text = l.label.clone();
        for v in &o.legend.values {
            if let Some(x) = reduce(&l.points, v) {
                text.push_str(&format!("  {v} {}", format_unit(x, &o.unit, o.decimals)));
            }
        }
        let text = truncate(&text, (w as usize / 7).saturating_sub(4).max(8));
        let width = text.chars().count() as i32 * 7 + 26;
        items.push((text, l.color, width));
    }
    let mut rows: Vec<Vec<(String, usize, i32)>> = vec![Vec::new()];
    let mut used = 0;
    for item in items {
        if used + item.2 > w as i32 - 8 && !rows.last().is_some_and(Vec::is_empty) {
            rows.push(Vec::new());
            used = 0;
        }
        used += item.2;
        rows.last_mut().expect("a row").push(item);
    }
    let shown = (rows.len() as i32).min(max_rows);
    let top = h as i32 - shown * row_h - 4;
    let (plot, legend) = root.split_vertically(top.max(0) as u32);
    for (r, row) in rows.iter().take(shown as usize).enumerate() {
        let mut x = 8;
        let y = r as i32 * row_h + 4 + row_h / 2;
        for (text, color, width) in row {
            legend
                .draw(&Rectangle::new(
                    [(x, y - 2), (x + 14, y + 2)],
                    chart::palette(*color).filled(),
                ))
                .map_err(err)?;
            let style = font(12.0, ink.text, false, (HPos::Left, VPos::Center));
            legend
                .draw(&Text::new(text.clone(), (x + 19, y), style))
                .map_err(err)?;
            x += width;
        }
    }
    Ok(plot)
}

/// Sans-serif text of `size` pixels in `color` (bold when asked), anchored at `anchor`.
fn font(size: f64, color: RGBColor, bold: bool, anchor: (HPos, VPos)) -> TextStyle<'static> {
    let f = ("sans-serif", size).into_font();
    let f = if bold { f.style(FontStyle::Bold) } else { f };
    f.color(&color).pos(Pos::new(anchor.0, anchor.1))
}

fn centred<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    text: &str,
    size: f64,
    color: RGBColor,
) -> DrawResult {
    let (w, h) = area.dim_in_pixel();
    let style = font(size, color, false, (HPos::Center, VPos::Center));
    area.draw(&Text::new(
        text.to_string(),
        (w as i32 / 2, h as i32 / 2),
        style,
    ))
    .map_err(err)
}

/// Big numbers, one per series (at most six), coloured by thresholds, over a sparkline.
fn draw_stat<DB: DrawingBackend>(
    root: &DrawingArea<DB, plotters::coord::Shift>,
    data: &PanelData,
    o: &PanelOptions,
    ink: Ink,
) -> DrawResult {
    let values = reduced(&data.lines, o);
    let shown = values.len().min(6);
    let cells = root.split_evenly((1, shown.max(1)));
    for (i, cell) in cells.iter().enumerate().take(shown) {
        let (name, color_index, v) = &values[i];
        let (text, color) = value_text(*v, o);
        let color = color.map_or_else(
            || {
                if o.thresholds.is_empty() {
                    chart::palette(*color_index)
                } else {
                    ink.text
                }
            },
            |c| rgb(&c, ink.text),
        );
        let (w, h) = cell.dim_in_pixel();
        if o.sparkline && data.lines[i].points.len() > 1 {
            let line = &data.lines[i];
            let (lo, hi) = chart::value_range(std::slice::from_ref(line));
            let spark = cell.margin((h as f64 * 0.55) as i32, 0, 0, 0);
            let mut c = ChartBuilder::on(&spark)
                .build_cartesian_2d(data.from..data.to.max(data.from + 1), lo..hi)
                .map_err(err)?;
            let pts: Vec<(i64, f64)> = line
                .points
                .iter()
                .copied()
                .filter(|p| p.1.is_finite())
                .collect();
            c.draw_series(
                AreaSeries::new(pts.iter().copied(), lo, color.mix(0.18))
                    .border_style(color.stroke_width(1)),
            )
            .map_err(err)?;
        }
        let big = (f64::from(h) * 0.32)
            .min(f64::from(w) / (text.chars().count().max(3) as f64 * 0.62))
            .max(10.0);
        let label_h = if shown > 1 { 16 } else { 0 };
        if shown > 1 {
            let style = font(12.0, ink.text, false, (HPos::Center, VPos::Top));
            cell.draw(&Text::new(
                truncate(name, (w / 7) as usize),
                (w as i32 / 2, 4),
                style,
            ))
            .map_err(err)?;
        }
        let style = font(big, color, true, (HPos::Center, VPos::Center));
        let y = if o.sparkline {
            (h as f64 * 0.38) as i32
        } else {
            h as i32 / 2
        } + label_h / 2;
        cell.draw(&Text::new(text, (w as i32 / 2, y), style))
            .map_err(err)?;
    }
    Ok(())
}

fn arc(cx: f64, cy: f64, r: f64, from: f64, to: f64) -> Vec<(i32, i32)> {
    let n = 48;
    (0..=n)
        .map(|i| {
            let a = from + (to - from) * f64::from(i) / f64::from(n);
            (
                (cx + r * a.cos()).round() as i32,
                (cy - r * a.sin()).round() as i32,
            )
        })
        .collect()
}

/// A 240° gauge from min to max, its track in the threshold colours, the value in the middle.
fn draw_gauge<DB: DrawingBackend>(
    root: &DrawingArea<DB, plotters::coord::Shift>,
    data: &PanelData,
    o: &PanelOptions,
    ink: Ink,
) -> DrawResult {
    let values = reduced(&data.lines, o);
    let shown = values.len().clamp(1, 4);
    let cells = root.split_evenly((1, shown));
    for (i, cell) in cells.iter().enumerate() {
        let Some((name, _, v)) = values.get(i) else {
            break;
        };
        let (w, h) = cell.dim_in_pixel();
        let min = o.min.unwrap_or(0.0);
        let max = o.max.unwrap_or_else(|| {
            if o.unit == "percentunit" {
                1.0
            } else if o.unit == "percent" {
                100.0
            } else {
                v.unwrap_or(1.0).abs().max(1.0) * 1.5
            }
        });
        let r = (f64::from(w) / 2.0 - 8.0)
            .min(f64::from(h) * 0.55)
            .max(10.0);
        let (cx, cy) = (f64::from(w) / 2.0, f64::from(h) * 0.55 + r * 0.1);
        let start = 210f64.to_radians();
        let end = -30f64.to_radians();
        let angle = |x: f64| start + (end - start) * ((x - min) / (max - min)).clamp(0.0, 1.0);
        let thick = (r * 0.16).max(4.0) as u32;
        cell.draw(&PathElement::new(
            arc(cx, cy, r, start, end),
            ink.grid.stroke_width(thick),
        ))
        .map_err(err)?;
        // The threshold colours as a thin outer ring.
        for (j, t) in o.thresholds.iter().enumerate() {
            let lo = t.value.unwrap_or(min).max(min);
            let hi = o
                .thresholds
                .get(j + 1)
                .and_then(|n| n.value)
                .unwrap_or(max)
                .min(max);
            if hi > lo {
                cell.draw(&PathElement::new(
                    arc(cx, cy, r + f64::from(thick) * 0.9, angle(lo), angle(hi)),
                    rgb(&t.color, ink.text).stroke_width((thick / 3).max(2)),
                ))
                .map_err(err)?;
            }
        }
        let (text, color) = value_text(*v, o);
        let color = color.map_or(chart::palette(0), |c| rgb(&c, ink.text));
        if let Some(v) = v {
            cell.draw(&PathElement::new(
                arc(cx, cy, r, start, angle(*v)),
                color.stroke_width(thick),
            ))
            .map_err(err)?;
        }
        let size = (r * 0.42)
            .min(f64::from(w) / (text.chars().count().max(3) as f64 * 0.62))
            .max(10.0);
        let style = font(size, color, true, (HPos::Center, VPos::Center));
        cell.draw(&Text::new(text, (cx as i32, cy as i32), style))
            .map_err(err)?;
        if values.len() > 1 {
            let style = font(12.0, ink.text, false, (HPos::Center, VPos::Bottom));
            cell.draw(&Text::new(
                truncate(name, (w / 7) as usize),
                (cx as i32, h as i32 - 4),
                style,
            ))
            .map_err(err)?;
        }
    }
    Ok(())
}

/// Horizontal bars, one per series, from the smaller of 0 and min to the largest value.
fn draw_bars<DB: DrawingBackend>(
    root: &DrawingArea<DB, plotters::coord::Shift>,
    data: &PanelData,
    o: &PanelOptions,
    ink: Ink,
) -> DrawResult {
    let mut values = reduced(&data.lines, o);
    values.truncate(50);
    let (w, h) = root.dim_in_pixel();
    let n = values.len().max(1) as u32;
    let row = (h / n).clamp(12, 60);
    let label_w = (w as f64 * 0.28).min(220.0) as i32;
    let value_w = 90;
    let lo = o
        .min
        .unwrap_or(0.0)
        .min(values.iter().filter_map(|v| v.2).fold(0.0, f64::min));
    let hi = o.max.unwrap_or_else(|| {
        values
            .iter()
            .filter_map(|v| v.2)
            .fold(f64::MIN_POSITIVE, f64::max)
    });
    // Text as large as the row allows (the panel's other labels are 12 px), never below 12 px.
    let font_px = (f64::from(row) * 0.8).clamp(12.0, 16.0);
    let inset = (row as i32 / 5).clamp(2, 8);
    for (i, (name, color_index, v)) in values.iter().enumerate() {
        let y0 = i as i32 * row as i32;
        if y0 + row as i32 > h as i32 + 1 {
            break;
        }
        let (text, color) = value_text(*v, o);
        let own = chart::palette(*color_index);
        let color = color.map_or(own, |c| rgb(&c, own));
        let label = font(font_px, ink.text, false, (HPos::Right, VPos::Center));
        let mid = y0 + row as i32 / 2;
        root.draw(&Text::new(
            truncate(name, (f64::from(label_w) / (font_px * 0.6)) as usize),
            (label_w - 6, mid),
            label,
        ))
        .map_err(err)?;
        let x0 = label_w;
        let x1 = w as i32 - value_w;
        root.draw(&Rectangle::new(
            [(x0, y0 + inset), (x1, y0 + row as i32 - inset)],
            ink.grid.filled(),
        ))
        .map_err(err)?;
        if let Some(v) = v {
            let f = ((v - lo) / (hi - lo).max(f64::MIN_POSITIVE)).clamp(0.0, 1.0);
            let xe = x0 + ((x1 - x0) as f64 * f) as i32;
            root.draw(&Rectangle::new(
                [(x0, y0 + inset), (xe.max(x0 + 1), y0 + row as i32 - inset)],
                color.filled(),
            ))
            .map_err(err)?;
        }
        let style = font(font_px, color, false, (HPos::Left, VPos::Center));
        root.draw(&Text::new(text, (x1 + 6, mid), style))
            .map_err(err)?;
    }
    Ok(())
}

/// The buckets of a histogram: (upper bound, series index), by bound.
pub fn buckets(lines: &[Line]) -> Vec<(f64, usize)> {
    let mut out: Vec<(f64, usize)> = lines
        .iter()
        .enumerate()
        .filter_map(|(i, l)| {
            let le = l
                .label
                .rsplit('=')
                .next()
                .unwrap_or(&l.label)
                .trim_matches(|c| c == '"' || c == '}' || c == '{');
            let bound = if le == "+Inf" {
                f64::INFINITY
            } else {
                le.parse().ok()?
            };
            Some((bound, i))
        })
        .collect();
    out.sort_by(|a, b| a.0.total_cmp(&b.0));
    out
}

/// Counts per bucket and time from cumulative `le` series (each named by its bound).
pub fn heat_cells(lines: &[Line]) -> (Vec<f64>, Vec<(i64, usize, f64)>) {
    let b = buckets(lines);
    let bounds: Vec<f64> = b.iter().map(|x| x.0).collect();
    let mut cells = Vec::new();
    for (k, &(_, i)) in b.iter().enumerate() {
        for &(t, v) in &lines[i].points {
            if !v.is_finite() {
                continue;
            }
            let below = if k == 0 {
                0.0
            } else {
                let prev = &lines[b[k - 1].1].points;
                prev.binary_search_by_key(&t, |p| p.0)
                    .ok()
                    .map_or(0.0, |j| prev[j].1)
            };
            cells.push((t, k, (v - below).max(0.0)));
        }
    }
    (bounds, cells)
}

/// Cells over time and bucket, darker for more observations; buckets from `le` series.
fn draw_heatmap<DB: DrawingBackend>(
    root: &DrawingArea<DB, plotters::coord::Shift>,
    data: &PanelData,
    o: &PanelOptions,
    ink: Ink,
) -> DrawResult {
    let (bounds, cells) = heat_cells(&data.lines);
    if bounds.is_empty() {
        return centred(
            root,
            "Heatmaps need histogram buckets (series with an le label)",
            13.0,
            ink.text,
        );
    }
    let n = bounds.len();
    let peak = cells
        .iter()
        .map(|c| c.2)
        .fold(0.0, f64::max)
        .max(f64::MIN_POSITIVE);
    let mut c = ChartBuilder::on(root)
        .margin_top(10)
        .margin_right(16)
        .x_label_area_size(26)
        .y_label_area_size(60)
        .build_cartesian_2d(data.from..data.to.max(data.from + 1), 0f64..n as f64)
        .map_err(err)?;
    let text = ("sans-serif", 12).into_font().color(&ink.text);
    c.configure_mesh()
        .disable_mesh()
        .x_labels(2)
        .x_label_formatter(&|_| String::new())
        .set_tick_mark_size(LabelAreaPosition::Bottom, 0)
        .y_labels(n.min(10) + 1)
        .y_label_formatter(&|y| {
            let k = (y.round() as usize).min(n);
            if k == 0 {
                String::new()
            } else if bounds[k - 1].is_infinite() {
                "+Inf".into()
            } else {
                format_unit(bounds[k - 1], &o.unit, o.decimals)
            }
        })
        .label_style(text.clone())
        .axis_style(ink.grid.stroke_width(1))
        .draw()
        .map_err(err)?;
    chart::draw_time_ticks(root, &c, (data.from, data.to), text, None)?;
    let (r, g, b) = (0xff, 0x78, 0x0a);
    let w = data.step.max(1);
    c.draw_series(cells.iter().filter(|x| x.2 > 0.0).map(|&(t, k, v)| {
        let alpha = 0.12 + 0.88 * (v / peak).sqrt();
        Rectangle::new(
            [(t - w, k as f64), (t, k as f64 + 1.0)],
            RGBColor(r, g, b).mix(alpha).filled(),
        )
    }))
    .map_err(err)?;
    Ok(())
}

/// Rows of name and value (the browser shows a sortable HTML table instead).
fn draw_table<DB: DrawingBackend>(
    root: &DrawingArea<DB, plotters::coord::Shift>,
    data: &PanelData,
    o: &PanelOptions,
    ink: Ink,
) -> DrawResult {
    let (w, h) = root.dim_in_pixel();
    let row = 22;
    let head = ("sans-serif", 13.0)
        .into_font()
        .style(FontStyle::Bold)
        .color(&ink.text);
    root.draw(&Text::new("Series", (8, 6), head.clone()))
        .map_err(err)?;
    root.draw(&Text::new(
        "Value",
        (w as i32 - 8, 6),
        head.pos(Pos::new(HPos::Right, VPos::Top)),
    ))
    .map_err(err)?;
    for (i, (name, _, v)) in reduced(&data.lines, o).into_iter().enumerate() {
        let y = (i as i32 + 1) * row + 6;
        if y + row > h as i32 {
            break;
        }
        root.draw(&PathElement::new(
            vec![(0, y - 4), (w as i32, y - 4)],
            ink.grid.stroke_width(1),
        ))
        .map_err(err)?;
        let (text, color) = value_text(v, o);
        let cell = ("sans-serif", 13.0).into_font().color(&ink.text);
        root.draw(&Text::new(
            truncate(&name, (w as usize / 8).saturating_sub(12)),
            (8, y),
            cell,
        ))
        .map_err(err)?;
        let value = font(
            13.0,
            color.map_or(ink.text, |c| rgb(&c, ink.text)),
            false,
            (HPos::Right, VPos::Top),
        );
        root.draw(&Text::new(text, (w as i32 - 8, y), value))
            .map_err(err)?;
    }
    Ok(())
}

/// The Markdown source as plain lines (the browser renders the Markdown).
fn draw_text<DB: DrawingBackend>(
    root: &DrawingArea<DB, plotters::coord::Shift>,
    markdown: &str,
    ink: Ink,
) -> DrawResult {
    let (w, h) = root.dim_in_pixel();
    let mut y = 8;
    for line in markdown.lines() {
        let heading = line.starts_with('#');
        let plain: String = line.trim_start_matches('#').replace(['*', '`', '_'], "");
        let size = if heading { 18.0 } else { 13.0 };
        let font = ("sans-serif", size).into_font().color(&ink.text);
        for chunk in wrap(plain.trim(), (w as usize / 7).max(10)) {
            if y + 18 > h as i32 {
                return Ok(());
            }
            root.draw(&Text::new(chunk, (8, y), font.clone()))
                .map_err(err)?;
            y += if heading { 26 } else { 18 };
        }
        if plain.trim().is_empty() {
            y += 6;
        }
    }
    Ok(())
}

fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.chars().count() + word.chars().count() + 1 > width {
            out.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        out.push(line);
    }
    out
}

/// `text` cut to `max` characters with an ellipsis.
pub fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut s: String = text.chars().take(max.saturating_sub(1)).collect();
    s.push('…');
    s
}

/// The panel as an SVG document following the page's theme.
pub fn svg(panel: &Panel, data: &PanelData, size: (u32, u32)) -> Result<String, String> {
    svg_inked(panel, None, data, size, Ink::THEMED).map(chart::themed_svg)
}

/// The panel as an SVG document in the colours of `ink`.
pub fn svg_inked(
    panel: &Panel,
    title: Option<&str>,
    data: &PanelData,
    size: (u32, u32),
    ink: Ink,
) -> Result<String, String> {
    let mut out = String::new();
    draw_titled(
        SVGBackend::with_string(&mut out, size),
        panel,
        title,
        data,
        ink,
    )?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::dashboard::{GridPos, Threshold};

    fn panel(kind: PanelKind) -> Panel {
        Panel {
            title: "t".into(),
            ..Panel::new(
                1,
                kind,
                GridPos {
                    x: 0,
                    y: 0,
                    w: 12,
                    h: 8,
                },
            )
        }
    }

    fn data() -> PanelData {
        let line = |label: &str, color, k: f64| Line {
            label: label.into(),
            color,
            points: (0..10).map(|i| (i * 1000, k * (i as f64 + 1.0))).collect(),
        };
        PanelData {
            lines: vec![line("0.1", 0, 1.0), line("1", 1, 2.0), line("+Inf", 2, 3.0)],
            from: 0,
            to: 9000,
            step: 1000,
        }
    }

    #[test]
    fn every_kind_draws() {
        for kind in PanelKind::ALL {
            let mut p = panel(kind);
            p.options.thresholds = vec![
                Threshold {
                    value: None,
                    color: "green".into(),
                },
                Threshold {
                    value: Some(5.0),
                    color: "red".into(),
                },
            ];
            p.options.threshold_style = "area".into();
            p.options.text = "# Title\nSome *text*".into();
            let svg = svg(&p, &data(), (400, 200)).unwrap_or_else(|e| panic!("{kind:?}: {e}"));
            assert!(svg.starts_with("<svg"), "{kind:?}");
        }
    }

    #[test]
    fn stat_values_take_threshold_colours_and_mappings() {
        let mut p = panel(PanelKind::Stat);
        p.options.unit = "percentunit".into();
        p.options.thresholds = vec![
            Threshold {
                value: None,
                color: "green".into(),
            },
            Threshold {
                value: Some(0.5),
                color: "red".into(),
            },
        ];
        assert_eq!(
            value_text(Some(0.75), &p.options),
            ("75%".into(), Some("red".into()))
        );
        let svg = svg(
            &p,
            &PanelData {
                lines: vec![Line {
                    label: "x".into(),
                    color: 0,
                    points: vec![(0, 0.75)],
                }],
                from: 0,
                to: 1,
                step: 1,
            },
            (300, 150),
        )
        .unwrap();
        assert!(svg.contains("75%"), "{svg}");
        assert!(svg.to_uppercase().contains("#F2495C"), "red value: {svg}");
        assert_eq!(value_text(None, &p.options).0, "No value");
    }

    #[test]
    fn heatmaps_count_per_bucket() {
        let (bounds, cells) = heat_cells(&data().lines);
        assert_eq!(bounds, vec![0.1, 1.0, f64::INFINITY]);
        // At t=0 the cumulative counts are 1, 2, 3: one observation in each bucket.
        let at0: Vec<f64> = cells.iter().filter(|c| c.0 == 0).map(|c| c.2).collect();
        assert_eq!(at0, vec![1.0, 1.0, 1.0]);
    }

    #[test]
    fn empty_panels_say_no_data() {
        let svg = svg(
            &panel(PanelKind::Timeseries),
            &PanelData {
                lines: vec![],
                from: 0,
                to: 1,
                step: 1,
            },
            (300, 150),
        )
        .unwrap();
        assert!(svg.contains("No data"));
    }
}
