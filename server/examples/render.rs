//! Time and heap of drawing one panel image, in process: `cargo run --release --example render`.
//!
//! Draws an 800×300 time-series panel of 10 series × 1,000 points (and the other panel kinds)
//! as PNG RUNS times and reports the median time and the peak heap one render takes (counted by
//! a wrapping allocator), the figures `docs/performance.md` records.

use app::api::dashboard::{GridPos, Panel, PanelKind, Threshold};
use app::chart::Line;
use app::panel_draw::PanelData;
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

/// Counts live heap bytes and the peak since the last reset.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let now = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn panel(kind: PanelKind) -> Panel {
    let mut panel = Panel::new(
        1,
        kind,
        GridPos {
            x: 0,
            y: 0,
            w: 12,
            h: 8,
        },
    );
    panel.options.thresholds = vec![
        Threshold {
            value: None,
            color: "green".into(),
        },
        Threshold {
            value: Some(0.8),
            color: "red".into(),
        },
    ];
    panel.options.legend.values = vec!["mean".into(), "max".into()];
    panel
}

fn main() {
    let runs: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(200);
    let lines: Vec<Line> = (0..10)
        .map(|i| Line {
            label: format!("{{agent_id=\"agent-{i}\"}}"),
            color: i,
            points: (0..1000)
                .map(|t| (t * 15_000, 0.5 + 0.4 * ((t as f64) / 40.0 + i as f64).sin()))
                .collect(),
        })
        .collect();
    let data = PanelData {
        lines,
        from: 0,
        to: 999 * 15_000,
        step: 15_000,
    };
    server::render::load_font(None).expect("a font");
    for kind in [
        PanelKind::Timeseries,
        PanelKind::Stat,
        PanelKind::Gauge,
        PanelKind::Bar,
        PanelKind::Heatmap,
    ] {
        let p = panel(kind);
        let mut times = Vec::with_capacity(runs);
        let mut peak = 0;
        let mut size = 0;
        for _ in 0..runs {
            let base = LIVE.load(Ordering::Relaxed);
            PEAK.store(base, Ordering::Relaxed);
            let clock = Instant::now();
            let png = server::render::png(&p, Some("Tasks per second"), &data, (800, 300), false)
                .unwrap();
            times.push(clock.elapsed().as_secs_f64() * 1000.0);
            peak = peak.max(PEAK.load(Ordering::Relaxed) - base);
            size = png.len();
        }
        times.sort_by(f64::total_cmp);
        println!(
            "{:<10} 800x300 10x1000 points: median {:.2} ms, p90 {:.2} ms, peak heap {:.1} MiB, {} KiB PNG",
            kind.as_str(),
            times[runs / 2],
            times[runs * 9 / 10],
            peak as f64 / (1 << 20) as f64,
            size / 1024
        );
    }
}
