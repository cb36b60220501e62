//! A time-series chart for the browser: the plotters drawing as SVG, a legend that isolates or
//! hides series, a read-out of every series' value under the pointer, and drag-to-zoom, which
//! sets the URL's time range to the selection.

use super::url_state::use_query_updater;
use crate::api::dashboard::LegendOptions;
use crate::chart::{self, css_color, ChartStyle, Frame, Line};
use leptos::prelude::*;
use std::collections::BTreeSet;

/// The data a chart shows: its lines over `from`..`to` (ms) at `step` (ms).
#[derive(Clone, Debug, PartialEq)]
pub struct ChartData {
    pub lines: Vec<Line>,
    pub from: i64,
    pub to: i64,
    pub step: i64,
    pub style: ChartStyle,
    pub legend: LegendOptions,
}

impl ChartData {
    /// Lines drawn plainly, with a legend of names.
    pub fn plain(lines: Vec<Line>, from: i64, to: i64, step: i64) -> Self {
        Self {
            lines,
            from,
            to,
            step,
            style: ChartStyle::default(),
            legend: LegendOptions::default(),
        }
    }

    /// A value as the read-out and legend show it: in the chart's unit, or exactly.
    fn format(&self, v: f64) -> String {
        if self.style.unit == "short" {
            format_exact(v)
        } else {
            crate::dashboard::format_unit(v, &self.style.unit, self.style.decimals)
        }
    }
}

/// The time under the pointer on any chart of a page, so every chart of a dashboard shows the
/// same crosshair; provided by pages that want it.
#[derive(Clone, Copy)]
pub struct SharedCursor(pub RwSignal<Option<i64>>);

/// Which lines are shown: all, all but some, or one alone.
#[derive(Clone, Debug, Default, PartialEq)]
struct Visibility {
    hidden: BTreeSet<usize>,
    alone: Option<usize>,
}

impl Visibility {
    fn shows(&self, i: usize) -> bool {
        match self.alone {
            Some(a) => a == i,
            None => !self.hidden.contains(&i),
        }
    }
}

/// The value of `line` at time `t`: the point within half a step of it, if any.
fn value_near(line: &Line, t: i64, step: i64) -> Option<f64> {
    let i = line.points.partition_point(|p| p.0 < t);
    [i.checked_sub(1), Some(i)]
        .into_iter()
        .flatten()
        .filter_map(|i| line.points.get(i))
        .filter(|p| (p.0 - t).abs() * 2 <= step && p.1.is_finite())
        .min_by_key(|p| (p.0 - t).abs())
        .map(|p| p.1)
}

#[component]
pub fn TimeSeriesChart(
    #[prop(into)] data: Signal<ChartData>,
    #[prop(into, default = Signal::stored(320))] height: Signal<u32>,
) -> impl IntoView {
    let container = NodeRef::<leptos::html::Div>::new();
    let width = RwSignal::new(900u32);
    let visibility = RwSignal::new(Visibility::default());
    let hover = RwSignal::new(None::<f64>);
    let drag = RwSignal::new(None::<(f64, f64)>);
    let update = use_query_updater();
    let shared = use_context::<SharedCursor>();

    #[cfg(feature = "hydrate")]
    {
        let measure = move || {
            if let Some(el) = container.get_untracked() {
                let w = el.client_width();
                if w > 0 {
                    width.set(w as u32);
                }
            }
        };
        Effect::new(move |_| {
            container.track();
            measure();
        });
        let handle = window_event_listener(leptos::ev::resize, move |_| measure());
        on_cleanup(move || handle.remove());
    }
    // A new result shows every line again.
    Effect::new(move |_| {
        data.track();
        visibility.set(Visibility::default());
    });

    let drawing = Memo::new(move |_| {
        let d = data.get();
        let v = visibility.get();
        let shown: Vec<Line> = d
            .lines
            .iter()
            .enumerate()
            .filter(|(i, _)| v.shows(*i))
            .map(|(_, l)| l.clone())
            .collect();
        chart::svg_styled(
            &shown,
            d.from,
            d.to,
            d.step.saturating_mul(2),
            (width.get(), height.get()),
            &d.style,
        )
        .map_err(|e| format!("the chart could not be drawn: {e}"))
    });
    let frame = move || drawing.with(|d| d.as_ref().ok().map(|(_, f)| *f));

    let readout = move || {
        let x = hover.get()?;
        let f: Frame = frame()?;
        if x < f.left || x > f.right {
            return None;
        }
        let d = data.get();
        let t = f.time_at(x);
        if let Some(SharedCursor(c)) = shared {
            c.set(Some(t));
        }
        // Snap to the step grid the query used, so the read-out names a real point in time.
        let t = d.from + ((t - d.from) as f64 / d.step.max(1) as f64).round() as i64 * d.step;
        let v = visibility.get();
        let mut rows: Vec<(usize, String, f64)> = d
            .lines
            .iter()
            .enumerate()
            .filter(|(i, _)| v.shows(*i))
            .filter_map(|(_, l)| {
                value_near(l, t, d.step).map(|val| (l.color, l.label.clone(), val))
            })
            .collect();
        rows.sort_by(|a, b| b.2.total_cmp(&a.2));
        Some((t, f.x_of(t), rows))
    };

    let on_down = move |ev: leptos::ev::MouseEvent| {
        if ev.button() == 0 {
            let x = f64::from(ev.offset_x());
            drag.set(Some((x, x)));
        }
    };
    let on_move = move |ev: leptos::ev::MouseEvent| {
        let x = f64::from(ev.offset_x());
        hover.set(Some(x));
        if let Some((start, _)) = drag.get_untracked() {
            drag.set(Some((start, x)));
        }
    };
    let on_up = move |_: leptos::ev::MouseEvent| {
        let Some((a, b)) = drag.get_untracked() else {
            return;
        };
        drag.set(None);
        let Some(f) = frame() else { return };
        if (a - b).abs() < 4.0 {
            return;
        }
        let (from, to) = (f.time_at(a.min(b)), f.time_at(a.max(b)));
        if to > from {
            update(vec![
                ("from", Some(from.to_string())),
                ("to", Some(to.to_string())),
            ]);
        }
    };
    let on_leave = move |_: leptos::ev::MouseEvent| {
        hover.set(None);
        drag.set(None);
        if let Some(SharedCursor(c)) = shared {
            c.set(None);
        }
    };
    // Another chart's pointer time, drawn here as a line.
    let echo = move || {
        if hover.get().is_some() {
            return None;
        }
        let t = shared.and_then(|SharedCursor(c)| c.get())?;
        let f = frame()?;
        (t >= f.from && t <= f.to).then(|| f.x_of(t))
    };
    let toggle = move |i: usize, additive: bool| {
        visibility.update(|v| {
            if additive {
                v.alone = None;
                if !v.hidden.remove(&i) {
                    v.hidden.insert(i);
                }
            } else {
                v.hidden.clear();
                v.alone = if v.alone == Some(i) { None } else { Some(i) };
            }
        })
    };

    view! {
        <div class="ts-chart">
            <div class="ts-chart-plot" node_ref=container style=move || format!("height:{}px", height.get())>
                {move || match drawing.get() {
                    Ok((svg, _)) => view! { <div class="ts-chart-svg" inner_html=svg></div> }.into_any(),
                    Err(e) => view! { <p class="error-text" role="alert">{e}</p> }.into_any(),
                }}
                {move || drag.get().map(|(a, b)| view! {
                    <div class="ts-chart-selection"
                        style=format!("left:{}px;width:{}px", a.min(b), (a - b).abs())></div>
                })}
                {move || readout().map(|(t, x, rows)| {
                    let flip = x > f64::from(width.get_untracked()) * 0.6;
                    let side = if flip {
                        format!("right:{}px", f64::from(width.get_untracked()) - x + 12.0)
                    } else {
                        format!("left:{}px", x + 12.0)
                    };
                    view! {
                        <div class="ts-chart-cursor" style=format!("left:{x}px")></div>
                        <div class="ts-chart-tooltip" role="status" style=side>
                            <div class="ts-chart-tooltip-time">{chart::format_instant(t)}</div>
                            {if rows.is_empty() {
                                view! { <div class="muted">"No value at this time"</div> }.into_any()
                            } else {
                                rows.into_iter().take(12).map(|(color, label, value)| view! {
                                    <div class="ts-chart-tooltip-row">
                                        <span class="swatch" style=format!("background:{}", css_color(color))></span>
                                        <span class="ts-chart-tooltip-label">{label}</span>
                                        <span class="ts-chart-tooltip-value">{data.with_untracked(|d| d.format(value))}</span>
                                    </div>
                                }).collect_view().into_any()
                            }}
                        </div>
                    }
                })}
                {move || echo().map(|x| view! { <div class="ts-chart-cursor ts-chart-echo" style=format!("left:{x}px")></div> })}
                <div class="ts-chart-overlay" aria-hidden="true"
                    on:mousedown=on_down on:mousemove=on_move on:mouseup=on_up on:mouseleave=on_leave></div>
            </div>
            <ul class="ts-chart-legend" aria-label="Series" class:hidden=move || !data.with(|d| d.legend.show)>
                {move || {
                    let v = visibility.get();
                    let d = data.get();
                    d.lines.iter().cloned().enumerate().map(|(i, line)| {
                        let shown = v.shows(i);
                        let values: Vec<String> = d.legend.values.iter().filter_map(|how| {
                            crate::dashboard::reduce(&line.points, how).map(|x| format!("{how} {}", d.format(x)))
                        }).collect();
                        view! {
                            <li>
                                <button type="button" class="ts-chart-legend-item" class:dimmed=!shown
                                    aria-pressed=if shown { "true" } else { "false" }
                                    title="Click to show only this series; Ctrl- or Shift-click to hide or show it"
                                    on:click=move |ev: leptos::ev::MouseEvent| toggle(i, ev.ctrl_key() || ev.meta_key() || ev.shift_key())>
                                    <span class="swatch" style=format!("background:{}", css_color(line.color))></span>
                                    <span class="ts-chart-legend-label">{line.label.clone()}</span>
                                    {values.into_iter().map(|v| view! { <span class="ts-chart-legend-value">{v}</span> }).collect_view()}
                                </button>
                            </li>
                        }
                    }).collect_view()
                }}
            </ul>
        </div>
    }
}

/// A value as a read-out shows it: enough digits to tell neighbours apart.
pub fn format_exact(v: f64) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        };
    }
    if v != 0.0 && (v.abs() >= 1e9 || v.abs() < 1e-3) {
        return format!("{v:.4e}");
    }
    let s = format!("{v:.4}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_near_a_time_snap_within_half_a_step() {
        let line = Line {
            label: "a".into(),
            color: 0,
            points: vec![(0, 1.0), (15_000, 2.0), (30_000, f64::NAN)],
        };
        assert_eq!(value_near(&line, 14_000, 15_000), Some(2.0));
        assert_eq!(value_near(&line, 7_000, 15_000), Some(1.0));
        assert_eq!(value_near(&line, 30_000, 15_000), None);
        assert_eq!(value_near(&line, 60_000, 15_000), None);
    }

    #[test]
    fn exact_values_drop_trailing_zeros() {
        assert_eq!(format_exact(1.5), "1.5");
        assert_eq!(format_exact(2.0), "2");
        assert_eq!(format_exact(0.0001234), "1.2340e-4");
        assert_eq!(format_exact(f64::INFINITY), "+Inf");
    }
}
