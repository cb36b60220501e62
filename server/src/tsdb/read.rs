//! Reading samples: the in-memory head for what is not compacted yet, compressed chunks for the
//! rest (see `super::compactor`), merged so a block reads the same before, during and after its
//! compaction.

use super::{codec, head::Head, utc, BLOCK_MS, DAY_MS, ROLLUP_MS};
use sqlx::PgPool;
use std::collections::HashMap;

/// The windows of a range query's steps: evaluation at `first + k·step` for k in 0..=`steps`
/// needs the samples from `span` before each evaluation time to it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Windows {
    pub first: i64,
    pub step: i64,
    pub steps: i64,
    pub span: i64,
}

impl Windows {
    /// Whether a sample at `t` is in some step's window.
    pub fn keeps(&self, t: i64) -> bool {
        if self.span >= self.step {
            return true;
        }
        let u = t - self.first;
        // The first evaluation at or after t.
        let k = if u <= 0 {
            0
        } else {
            (u + self.step - 1) / self.step
        };
        k <= self.steps && k * self.step - u <= self.span
    }
}

/// How finely a read needs the data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resolution {
    /// Every sample.
    Raw,
    /// Compacted days may come from the five-minute downsampled stream.
    Downsampled,
}

/// Returns the samples of the given series from `from` to `to` (milliseconds, inclusive), in time
/// order per series, from the head and the chunks. The head is read first and wins a timestamp
/// both have: a block compacted in between is then read twice (and merged), never missed.
pub async fn select_samples(
    pool: &PgPool,
    head: &Head,
    series_ids: &[i64],
    (from, to): (i64, i64),
    windows: Option<&Windows>,
    resolution: Resolution,
) -> sqlx::Result<HashMap<i64, Vec<(i64, f64)>>> {
    if series_ids.is_empty() || to < from {
        return Ok(HashMap::new());
    }
    let keep = |t: i64| t >= from && t <= to && windows.is_none_or(|w| w.keeps(t));
    let mut out = head.select(series_ids, from, to);
    if windows.is_some() {
        for points in out.values_mut() {
            points.retain(|p| keep(p.0));
        }
    }
    let (resolution_ms, span) = match resolution {
        Resolution::Raw => (0, BLOCK_MS),
        Resolution::Downsampled => (ROLLUP_MS as i32, DAY_MS),
    };
    let chunks: Vec<(i64, Vec<u8>)> = sqlx::query_as(
        "select series_id, data from metric_chunk
         where series_id = any($1) and resolution_ms = $2
           and start_time > $3 and start_time <= $4 and end_time >= $5",
    )
    .bind(series_ids)
    .bind(resolution_ms)
    .bind(utc(from - span))
    .bind(utc(to))
    .bind(utc(from))
    .fetch_all(pool)
    .await?;
    let windows = windows.copied();
    // Decoding is CPU work: off the async threads, split across the cores when there is a lot.
    let decoded = tokio::task::spawn_blocking(move || decode_chunks(chunks, from, to, windows))
        .await
        .map_err(|e| sqlx::Error::Protocol(format!("chunk decoding failed: {e}")))?;
    for (id, samples) in decoded {
        let points = out.entry(id).or_default();
        points.extend(samples);
        // The sort is stable: head samples, read first, stay before chunk samples of the same
        // time, and the dedup keeps them.
        points.sort_by_key(|p| p.0);
        points.dedup_by_key(|p| p.0);
    }
    Ok(out)
}

/// Decodes chunks, keeping the samples from `from` to `to` that some step window reads,
/// merged by series.
fn decode_chunks(
    chunks: Vec<(i64, Vec<u8>)>,
    from: i64,
    to: i64,
    windows: Option<Windows>,
) -> HashMap<i64, Vec<(i64, f64)>> {
    let keep = |t: i64| t >= from && t <= to && windows.is_none_or(|w| w.keeps(t));
    let decode_part = |part: &[(i64, Vec<u8>)]| {
        let mut out: HashMap<i64, Vec<(i64, f64)>> = HashMap::new();
        for (id, data) in part {
            match codec::decode(data) {
                Some(samples) => out
                    .entry(*id)
                    .or_default()
                    .extend(samples.into_iter().filter(|p| keep(p.0))),
                None => tracing::error!(series_id = id, "a damaged chunk was skipped"),
            }
        }
        out
    };
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(4);
    if threads == 1 || chunks.len() < 512 {
        return decode_part(&chunks);
    }
    let size = chunks.len().div_ceil(threads);
    let parts: Vec<HashMap<i64, Vec<(i64, f64)>>> = std::thread::scope(|scope| {
        let handles: Vec<_> = chunks
            .chunks(size)
            .map(|part| scope.spawn(move || decode_part(part)))
            .collect();
        handles.into_iter().filter_map(|h| h.join().ok()).collect()
    });
    let mut out: HashMap<i64, Vec<(i64, f64)>> = HashMap::new();
    for part in parts {
        for (id, samples) in part {
            out.entry(id).or_default().extend(samples);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn step_windows_keep_only_what_some_step_reads() {
        // Steps at 1000, 1100, …, 1500; each reads the 20 ms before it.
        let w = Windows {
            first: 1000,
            step: 100,
            steps: 5,
            span: 20,
        };
        let kept: Vec<i64> = (950..1600).step_by(10).filter(|&t| w.keeps(t)).collect();
        assert_eq!(
            kept,
            vec![
                980, 990, 1000, 1080, 1090, 1100, 1180, 1190, 1200, 1280, 1290, 1300, 1380, 1390,
                1400, 1480, 1490, 1500
            ]
        );
        let wide = Windows { span: 100, ..w };
        assert!((900..1500).all(|t| wide.keeps(t)));
    }
}
