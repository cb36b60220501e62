//! View state that lives in the URL (ARCHITECTURE decision 6): reading the time range and the
//! refresh interval from the query string, and changing query parameters by navigation so that
//! back/forward and copied links reproduce the view.

use crate::time::{Refresh, TimeRange};
use chrono::Utc;
use leptos::prelude::*;
use leptos_router::{
    hooks::{use_location, use_navigate, use_query_map},
    NavigateOptions,
};

/// The query parameters that follow a person from page to page.
pub const SHARED_PARAMS: &[&str] = &["from", "to", "refresh"];

/// Returns the time range the URL names (the last hour when it names none or a broken one).
pub fn use_time_range() -> Memo<TimeRange> {
    let query = use_query_map();
    Memo::new(move |_| {
        query.with(|q| TimeRange::from_query(q.get_str("from"), q.get_str("to"), Utc::now()))
    })
}

/// Returns the refresh interval the URL names (`Off` when absent or broken).
pub fn use_refresh() -> Memo<Refresh> {
    let query = use_query_map();
    Memo::new(move |_| {
        query.with(|q| {
            q.get_str("refresh")
                .and_then(|r| Refresh::parse(r).ok())
                .unwrap_or_default()
        })
    })
}

/// A counter that goes up at every tick of the URL's refresh interval, for resources to track
/// so they reload; it never moves during server rendering or while refresh is off.
pub fn use_refresh_tick() -> ReadSignal<u64> {
    let refresh = use_refresh();
    let (tick, set_tick) = signal(0u64);
    #[cfg(feature = "hydrate")]
    Effect::new(
        move |previous: Option<Option<leptos::leptos_dom::helpers::IntervalHandle>>| {
            if let Some(Some(handle)) = previous {
                handle.clear();
            }
            match refresh.get() {
                Refresh::Off => None,
                Refresh::Every(seconds) => leptos::leptos_dom::helpers::set_interval_with_handle(
                    move || set_tick.update(|t| *t += 1),
                    std::time::Duration::from_secs(seconds.max(1) as u64),
                )
                .ok(),
            }
        },
    );
    #[cfg(not(feature = "hydrate"))]
    let _ = (refresh, set_tick);
    tick
}

/// A counter that goes up every `seconds` once the page is hydrated, for pages that show live
/// state (alerts) whatever the refresh picker says.
pub fn use_tick(seconds: u32) -> ReadSignal<u64> {
    let (tick, set_tick) = signal(0u64);
    #[cfg(feature = "hydrate")]
    {
        if let Ok(handle) = leptos::leptos_dom::helpers::set_interval_with_handle(
            move || set_tick.update(|t| *t += 1),
            std::time::Duration::from_secs(u64::from(seconds.max(1))),
        ) {
            on_cleanup(move || handle.clear());
        }
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = (seconds, set_tick);
    tick
}

/// Returns a function that sets (`Some`) or removes (`None`) query parameters of the current
/// page, keeping the others, as a new history entry.
pub fn use_query_updater(
) -> impl Fn(Vec<(&'static str, Option<String>)>) + Clone + Send + Sync + 'static {
    let set = use_query_setter(false);
    move |changes: Vec<(&'static str, Option<String>)>| {
        set(changes
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.into_iter().collect()))
            .collect())
    }
}

/// Returns a function that replaces the values of query parameters (several values for a
/// repeated parameter such as `var-agent`; none removes it), keeping the others; with `replace`
/// the current history entry is rewritten instead of adding one (for filling in defaults).
pub fn use_query_setter(
    replace: bool,
) -> impl Fn(Vec<(String, Vec<String>)>) + Clone + Send + Sync + 'static {
    let navigate = use_navigate();
    let location = use_location();
    move |changes: Vec<(String, Vec<String>)>| {
        let query = location.query.get_untracked();
        let mut pairs: Vec<(String, String)> = Vec::new();
        // The URL's order is kept: unchanged keys as they were, then the changed ones.
        for (key, _) in query.latest_values() {
            if changes.iter().any(|(k, _)| k.as_str() == key.as_ref()) {
                continue;
            }
            for value in query.get_all(key.as_ref()).unwrap_or_default() {
                pairs.push((key.to_string(), value));
            }
        }
        for (key, values) in &changes {
            pairs.extend(values.iter().map(|v| (key.clone(), v.clone())));
        }
        let path = location.pathname.get_untracked();
        navigate(
            &format!(
                "{path}{}",
                query_string(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            ),
            NavigateOptions {
                scroll: false,
                replace,
                ..Default::default()
            },
        );
    }
}

/// Returns `path` with the shared parameters of the current URL appended, so moving between
/// pages keeps the time range and the refresh interval.
pub fn use_link_with_shared_params(path: &'static str) -> Signal<String> {
    let query = use_query_map();
    Signal::derive(move || {
        query.with(|q| {
            let kept = SHARED_PARAMS
                .iter()
                .filter_map(|key| q.get_str(key).map(|value| (*key, value)));
            format!("{path}{}", query_string(kept))
        })
    })
}

pub use crate::format::{escape_query_part, query_string};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_strings_stay_readable_and_escape_what_they_must() {
        let params = [
            ("from", "now-6h"),
            ("to", "now/d"),
            ("q", "rate(x{a=\"b c\"}[5m]) + 1 & 2#"),
        ];
        assert_eq!(
            query_string(params),
            "?from=now-6h&to=now/d&q=rate(x%7Ba%3D%22b%20c%22%7D%5B5m%5D)%20%2B%201%20%26%202%23"
        );
        assert_eq!(query_string([]), "");
    }
}

/// A query typed into a page and kept in the URL under `param`: what the URL says (`url`),
/// what the box holds (`text`, brought back by back and forward), a counter that goes up when
/// the same query is run again (`runs`, for resources to track), and `run`, which runs the
/// box's text (putting it in the URL, or running it again when it is already there).
#[derive(Clone, Copy)]
pub struct QueryText {
    pub url: Memo<String>,
    pub text: RwSignal<String>,
    pub runs: RwSignal<u64>,
    pub run: Callback<()>,
}

pub fn use_query_text(param: &'static str) -> QueryText {
    let query_map = use_query_map();
    let url = Memo::new(move |_| query_map.with(|q| q.get_str(param).unwrap_or("").to_string()));
    let text = RwSignal::new(url.get_untracked());
    Effect::new(move |_| text.set(url.get()));
    let runs = RwSignal::new(0u64);
    let update = use_query_updater();
    let run = Callback::new(move |_| {
        let q = text.get_untracked().trim().to_string();
        if q == url.get_untracked() {
            runs.update(|r| *r += 1);
        } else {
            update(vec![(param, (!q.is_empty()).then_some(q))]);
        }
    });
    QueryText {
        url,
        text,
        runs,
        run,
    }
}
