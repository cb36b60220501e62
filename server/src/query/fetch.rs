//! Loads what a PromQL expression needs from PostgreSQL into an in-memory source: for every
//! selector, the series it selects and their samples over the widest window any evaluation step
//! can look at (lookback or range, offsets, `@`, enclosing subqueries).

use super::{
    promql::{duration_ms, offset_ms, system_time_ms, MemorySource, Series, DEFAULT_LOOKBACK_MS},
    series::{find_series, Selector},
};
use crate::tsdb::read::{select_samples, Resolution, Windows};
use crate::tsdb::Storage;
use chrono::DateTime;
use promql_parser::parser::{AtModifier, Expr, VectorSelector};
use sqlx::PgPool;

/// Why the data of a query could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("the query would load more samples than the limit")]
    TooManySamples,
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// A selector and the time window its data is needed for (milliseconds, inclusive), and, when
/// it is evaluated only at the steps of a range query, the windows of those steps.
struct Need<'a> {
    selector: &'a VectorSelector,
    from: i64,
    to: i64,
    windows: Option<Windows>,
}

fn fixed_at(at: &Option<AtModifier>, start: i64, end: i64) -> Option<i64> {
    match at {
        Some(AtModifier::Start) => Some(start),
        Some(AtModifier::End) => Some(end),
        Some(AtModifier::At(t)) => Some(system_time_ms(t)),
        None => None,
    }
}

/// Walks the expression; `from`/`to` is the span of evaluation times reaching this node, `step`
/// the range query's step while the node is evaluated at the query's own steps (not inside a
/// subquery).
fn collect<'a>(
    expr: &'a Expr,
    from: i64,
    to: i64,
    q: (i64, i64),
    step: Option<i64>,
    needs: &mut Vec<Need<'a>>,
) {
    let (start, end) = q;
    // The windows of the query's steps, shifted by an offset, each `span` long.
    let windows = |at: &Option<AtModifier>, off: i64, span: i64| {
        let step = step.filter(|_| at.is_none())?;
        Some(Windows {
            first: start - off,
            step,
            steps: (end - start) / step,
            span,
        })
    };
    match expr {
        Expr::VectorSelector(vs) => {
            let (f, t) = fixed_at(&vs.at, start, end).map_or((from, to), |a| (a, a));
            let off = offset_ms(&vs.offset);
            needs.push(Need {
                selector: vs,
                from: f - off - DEFAULT_LOOKBACK_MS,
                to: t - off,
                windows: windows(&vs.at, off, DEFAULT_LOOKBACK_MS),
            });
        }
        Expr::MatrixSelector(m) => {
            let (f, t) = fixed_at(&m.vs.at, start, end).map_or((from, to), |a| (a, a));
            let off = offset_ms(&m.vs.offset);
            needs.push(Need {
                selector: &m.vs,
                from: f - off - duration_ms(&m.range),
                to: t - off,
                windows: windows(&m.vs.at, off, duration_ms(&m.range)),
            });
        }
        Expr::Subquery(sq) => {
            let (f, t) = fixed_at(&sq.at, start, end).map_or((from, to), |a| (a, a));
            let off = offset_ms(&sq.offset);
            collect(
                &sq.expr,
                f - off - duration_ms(&sq.range),
                t - off,
                q,
                None,
                needs,
            );
        }
        Expr::Aggregate(a) => {
            collect(&a.expr, from, to, q, step, needs);
            if let Some(p) = &a.param {
                collect(p, from, to, q, step, needs);
            }
        }
        Expr::Unary(u) => collect(&u.expr, from, to, q, step, needs),
        Expr::Binary(b) => {
            collect(&b.lhs, from, to, q, step, needs);
            collect(&b.rhs, from, to, q, step, needs);
        }
        Expr::Paren(p) => collect(&p.expr, from, to, q, step, needs),
        Expr::Call(c) => {
            for arg in &c.args.args {
                collect(arg, from, to, q, step, needs);
            }
        }
        Expr::NumberLiteral(_) | Expr::StringLiteral(_) | Expr::Extension(_) => {}
    }
}

/// Loads the data `expr` needs when evaluated at times from `start` to `end` (milliseconds) every
/// `step` (0 for one instant), at `resolution`. Of a range query's selectors only the samples in
/// some step's window are kept: a 30-day graph at a 1-hour step reads 5-minute windows.
pub async fn fetch_for(
    pool: &PgPool,
    storage: &Storage,
    expr: &Expr,
    (start, end, step): (i64, i64, i64),
    resolution: Resolution,
    max_samples: usize,
) -> Result<MemorySource, FetchError> {
    // Whatever any replica acknowledged before this query is in the head first.
    storage.sync().await?;
    let mut needs = Vec::new();
    collect(
        expr,
        start,
        end,
        (start, end),
        (step > 0).then_some(step),
        &mut needs,
    );
    let mut source = MemorySource::default();
    let mut loaded: std::collections::HashMap<i64, usize> = std::collections::HashMap::new();
    let mut samples = 0usize;
    for need in needs {
        let selector = Selector::from_vector_selector(need.selector);
        let from = DateTime::from_timestamp_millis(need.from);
        let to = DateTime::from_timestamp_millis(need.to);
        let rows = find_series(pool, std::slice::from_ref(&selector), from, to).await?;
        let ids: Vec<i64> = rows.iter().map(|r| r.series_id).collect();
        let window = (need.from, need.to);
        let mut points = select_samples(
            pool,
            storage.head(),
            &ids,
            window,
            need.windows.as_ref(),
            resolution,
        )
        .await?;
        samples = samples.saturating_add(points.values().map(Vec::len).sum());
        if samples > max_samples {
            return Err(FetchError::TooManySamples);
        }
        for row in rows {
            let series_id = row.series_id;
            let new_points = points.remove(&series_id).unwrap_or_default();
            match loaded.get(&series_id) {
                Some(&i) => {
                    let series = &mut source.series[i];
                    series.points.extend(new_points);
                    series.points.sort_by_key(|p| p.0);
                    series.points.dedup_by_key(|p| p.0);
                }
                None => {
                    loaded.insert(series_id, source.series.len());
                    source.series.push(Series {
                        labels: row.into_labels().into(),
                        points: new_points,
                    });
                }
            }
        }
    }
    Ok(source)
}
