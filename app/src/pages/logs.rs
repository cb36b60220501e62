//! Explore → Logs: search every stream at once, see the matches' volume by level over time,
//! narrow by the most common field values, open a line to read its labels and fields, see the
//! lines around it, follow its trace, and tail new lines live. The query, the time range and
//! the live switch are in the URL.

use crate::api::{
    accounts::Role,
    endpoints::{self, paths},
    logs::{
        ErrorGroup, ErrorGroups, ErrorStatus, LogContext, LogFacets, LogHistogram, LogLine,
        LogPage, LogPatterns, SaveSearch,
    },
};
use crate::components::{
    page_header::PageHeader,
    session::use_session,
    url_state::{use_query_text, use_query_updater, use_refresh_tick, use_time_range, QueryText},
};
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

/// Lines a page of results asks for.
const PAGE: u32 = 100;
/// Live lines kept on screen; older ones leave as new ones come.
#[cfg(feature = "hydrate")]
const LIVE_KEEP: usize = 1000;
/// Levels from the worst, as the histogram stacks them.
const LEVEL_ORDER: [&str; 7] = [
    "fatal", "error", "warn", "info", "debug", "trace", "unknown",
];

/// Example queries offered while nothing has matched yet.
const EXAMPLES: &[&str] = &[
    "level>=error",
    "service:coder timeout",
    "\"upstream timeout\" -retry",
    "agent_id:* duration_ms>1000",
    "/panic|fatal/",
];

/// A value as the query language writes it: bare when it is one plain word, else quoted.
fn term(field: &str, value: &str) -> String {
    let plain = !value.is_empty()
        && value
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.' | '/' | '@'));
    if plain {
        format!("{field}:{value}")
    } else {
        format!(
            "{field}:\"{}\"",
            value.replace('\\', "\\\\").replace('"', "\\\"")
        )
    }
}

/// Most completions offered at once.
const MAX_SUGGESTIONS: usize = 8;

/// Completions of the word being typed (the last of `text`), from the fields and values the
/// facets counted: `serv` → `service:`, `service:co` → `service:coder`. Each is (what it shows,
/// the whole query with it).
fn suggestions(text: &str, facets: &LogFacets) -> Vec<(String, String)> {
    let start = text.rfind(char::is_whitespace).map_or(0, |i| i + 1);
    let (before, word) = text.split_at(start);
    let negated = word.starts_with('-');
    let word = word.trim_start_matches('-');
    if word.is_empty() || word.starts_with('"') || word.starts_with('/') {
        return Vec::new();
    }
    let prefix = format!("{before}{}", if negated { "-" } else { "" });
    let lower = word.to_lowercase();
    match word.split_once(':') {
        Some((field, partial)) => {
            let partial = partial.trim_start_matches('"').to_lowercase();
            facets
                .fields
                .iter()
                .filter(|f| f.field == field)
                .flat_map(|f| f.values.iter())
                .filter(|(v, _)| {
                    v.to_lowercase().starts_with(&partial) && v.to_lowercase() != partial
                })
                .take(MAX_SUGGESTIONS)
                .map(|(v, n)| {
                    let t = term(field, v);
                    (format!("{t}  ({n})"), format!("{prefix}{t} "))
                })
                .collect()
        }
        None => facets
            .fields
            .iter()
            .filter(|f| {
                f.field.to_lowercase().starts_with(&lower) && f.field.to_lowercase() != lower
            })
            .take(MAX_SUGGESTIONS)
            .map(|f| (format!("{}:", f.field), format!("{prefix}{}:", f.field)))
            .collect(),
    }
}

/// The query with one more term, `AND`ed on.
fn with_term(query: &str, term: &str) -> String {
    let query = query.trim();
    if query.is_empty() {
        term.to_string()
    } else if query.contains(" OR ") {
        format!("({query}) {term}")
    } else {
        format!("{query} {term}")
    }
}

fn time_of(line: &LogLine) -> String {
    use chrono::TimeZone;
    chrono::Local
        .from_utc_datetime(&line.time.naive_utc())
        .format("%Y-%m-%d %H:%M:%S%.3f")
        .to_string()
}

#[component]
pub fn LogsExplorePage() -> impl IntoView {
    let query_map = use_query_map();
    let QueryText {
        url: url_query,
        text,
        runs,
        run: run_text,
    } = use_query_text("query");
    let live = Memo::new(move |_| query_map.with(|q| q.get_str("live") == Some("1")));
    // The lines, or their message patterns (`?view=patterns`).
    let showing_patterns =
        Memo::new(move |_| query_map.with(|q| q.get_str("view") == Some("patterns")));
    let range = use_time_range();
    let tick = use_refresh_tick();
    let update = use_query_updater();
    // Runs a query given whole (an example, a filter added).
    let run = Callback::new(move |q: String| {
        text.set(q);
        run_text.run(());
    });
    let add_term =
        Callback::new(move |t: String| run.run(with_term(&url_query.get_untracked(), &t)));
    // The time range resolved once per search, so the lines, the histogram and the facets
    // (and the next pages) all speak of the same span.
    let span = Memo::new(move |_| {
        tick.track();
        runs.track();
        let (from, to) = range.get().resolve(chrono::Utc::now());
        (from.timestamp_millis(), to.timestamp_millis())
    });
    // Older pages appended below the first.
    let older: RwSignal<Vec<LogLine>> = RwSignal::new(Vec::new());
    let next = RwSignal::new(None::<String>);
    let page = LocalResource::new(move || {
        let (query, span) = (url_query.get(), span.get());
        async move { endpoints::search_logs(&query, span, None, PAGE).await }
    });
    Effect::new(move |_| {
        if let Some(Ok(p)) = page.get() {
            older.set(Vec::new());
            next.set(p.next.clone());
        }
    });
    let histogram = LocalResource::new(move || {
        let (query, span) = (url_query.get(), span.get());
        async move { endpoints::log_histogram(&query, span, 120).await }
    });
    let facets = LocalResource::new(move || {
        let (query, span) = (url_query.get(), span.get());
        async move { endpoints::log_facets(&query, span).await }
    });
    // Completions of the word being typed, from the fields and values the facets counted.
    let typing = RwSignal::new(false);
    let picked = RwSignal::new(None::<usize>);
    let offered = Memo::new(move |_| {
        if !typing.get() {
            return Vec::new();
        }
        match facets.get() {
            Some(Ok(f)) => text.with(|t| suggestions(t, &f)),
            _ => Vec::new(),
        }
    });
    let accept = move |q: String| {
        text.set(q);
        picked.set(None);
    };
    let patterns = LocalResource::new(move || {
        let (query, span, wanted) = (url_query.get(), span.get(), showing_patterns.get());
        async move {
            match wanted {
                true => endpoints::log_patterns(&query, span).await.map(Some),
                false => Ok(None),
            }
        }
    });
    // A pattern's lines: the search narrowed by the pattern's fixed words, back to the lines.
    let show_pattern = {
        let update = update.clone();
        Callback::new(move |pattern: String| {
            let q = with_term(&url_query.get_untracked(), &pattern_regex(&pattern));
            text.set(q.clone());
            update(vec![("query", Some(q)), ("view", None)]);
        })
    };
    let set_view = {
        let update = update.clone();
        move |patterns: bool| update(vec![("view", patterns.then(|| "patterns".to_string()))])
    };
    // Saved searches: chosen from a list, saved by name (Editors).
    let session = use_session();
    let can_edit = Signal::derive(move || session.can(Role::Editor));
    let saved_changed = RwSignal::new(0u32);
    let saved = LocalResource::new(move || {
        saved_changed.track();
        async move { endpoints::saved_searches().await.unwrap_or_default() }
    });
    let chosen = RwSignal::new(None::<i64>);
    let naming = RwSignal::new(false);
    let save_name = RwSignal::new(String::new());
    let save_note = RwSignal::new(None::<String>);
    let choose = move |ev: leptos::ev::Event| {
        let id: Option<i64> = event_target_value(&ev).parse().ok();
        chosen.set(id);
        let list = saved.get_untracked().unwrap_or_default();
        if let Some(s) = list.into_iter().find(|s| Some(s.id) == id) {
            run.run(s.query);
        }
    };
    let save_search = move |_| {
        let request = SaveSearch {
            name: save_name.get_untracked(),
            query: url_query.get_untracked(),
        };
        leptos::task::spawn_local(async move {
            match endpoints::save_search(&request).await {
                Ok(s) => {
                    save_note.set(Some(format!("Saved as \"{}\".", s.name)));
                    naming.set(false);
                    chosen.set(Some(s.id));
                    saved_changed.update(|n| *n += 1);
                }
                Err(e) => save_note.set(Some(e.to_string())),
            }
        });
    };
    let delete_saved = move |_| {
        let Some(id) = chosen.get_untracked() else {
            return;
        };
        leptos::task::spawn_local(async move {
            match endpoints::delete_saved_search(id).await {
                Ok(()) => {
                    save_note.set(Some("Deleted.".into()));
                    chosen.set(None);
                    saved_changed.update(|n| *n += 1);
                }
                Err(e) => save_note.set(Some(e.to_string())),
            }
        });
    };
    let loading_more = RwSignal::new(false);
    let load_more = move |_| {
        let Some(cursor) = next.get_untracked() else {
            return;
        };
        loading_more.set(true);
        let (query, span) = (url_query.get_untracked(), span.get_untracked());
        leptos::task::spawn_local(async move {
            if let Ok(p) = endpoints::search_logs(&query, span, Some(&cursor), PAGE).await {
                older.update(|o| o.extend(p.lines));
                next.set(p.next);
            }
            loading_more.set(false);
        });
    };
    // Live lines, newest first, and how many the tail had to skip.
    let live_lines: RwSignal<Vec<LogLine>> = RwSignal::new(Vec::new());
    let dropped = RwSignal::new(0u64);
    Effect::new(move |_| {
        url_query.track();
        live.track();
        live_lines.set(Vec::new());
        dropped.set(0);
    });
    let toggle_live = {
        let update = update.clone();
        move |_| {
            let on = !live.get_untracked();
            update(vec![("live", on.then(|| "1".to_string()))]);
        }
    };
    #[cfg(feature = "hydrate")]
    Effect::new(move |previous: Option<Option<tail::Tail>>| {
        drop(previous);
        if !live.get() {
            return None;
        }
        let url = paths::log_tail(&url_query.get(), "now");
        tail::Tail::open(
            &url,
            move |lines| {
                live_lines.update(|l| {
                    for line in lines {
                        l.insert(0, line);
                    }
                    l.truncate(LIVE_KEEP);
                })
            },
            move |n| dropped.update(|d| *d += n),
        )
    });

    let export =
        move |format: &'static str| move || paths::log_export(&url_query.get(), span.get(), format);

    view! {
        <PageHeader title="Explore logs" subtitle="Search every stream, read a line in its context, follow it live" time_controls=true/>
        <section class="card explore-query">
            <form class="explore-query-row" on:submit=move |ev| { ev.prevent_default(); run.run(text.get_untracked()); }>
                <div class="logs-query-box">
                <input type="search" class="input logs-query-input" aria-label="Log query"
                    placeholder="words, \"a phrase\", field:value, level>=warn, -negation, /regex/"
                    autocomplete="off" role="combobox" aria-autocomplete="list" aria-controls="logs-suggestions"
                    aria-expanded=move || (!offered.with(Vec::is_empty)).to_string()
                    prop:value=move || text.get()
                    on:input=move |ev| { text.set(event_target_value(&ev)); picked.set(None); typing.set(true); }
                    on:blur=move |_| typing.set(false)
                    on:keydown=move |ev: leptos::ev::KeyboardEvent| {
                        let n = offered.with(Vec::len);
                        if n == 0 { return; }
                        match ev.key().as_str() {
                            "ArrowDown" => { ev.prevent_default(); picked.set(Some(picked.get_untracked().map_or(0, |i| (i + 1) % n))); }
                            "ArrowUp" => { ev.prevent_default(); picked.set(Some(picked.get_untracked().map_or(n - 1, |i| (i + n - 1) % n))); }
                            "Enter" | "Tab" => {
                                if let Some(i) = picked.get_untracked() {
                                    ev.prevent_default();
                                    if let Some((_, q)) = offered.with_untracked(|o| o.get(i).cloned()) { accept(q); }
                                }
                            }
                            "Escape" => typing.set(false),
                            _ => {}
                        }
                    }/>
                {move || (!offered.with(Vec::is_empty)).then(|| view! {
                    <ul class="logs-suggestions" id="logs-suggestions" role="listbox" aria-label="Completions">
                        {offered.get().into_iter().enumerate().map(|(i, (label, q))| view! {
                            <li role="option" aria-selected=move || (picked.get() == Some(i)).to_string()
                                on:mousedown=move |ev| { ev.prevent_default(); accept(q.clone()); }>{label}</li>
                        }).collect_view()}
                    </ul>
                })}
                </div>
                <button type="submit" class="button button-primary explore-run">"Search"</button>
                <button type="button" class="button logs-live" aria-pressed=move || if live.get() { "true" } else { "false" }
                    on:click=toggle_live>
                    {move || if live.get() { "● Live" } else { "Live" }}
                </button>
            </form>
            <div class="explore-toolbar">
                <span class="explore-stats muted" aria-live="polite">
                    {move || match (page.get(), histogram.get()) {
                        (Some(Err(e)), _) => e.to_string(),
                        (Some(Ok(_)), Some(Ok(h))) => format!("{} matching lines", h.total),
                        (None, _) => "Searching…".to_string(),
                        _ => String::new(),
                    }}
                </span>
                <select class="field-input logs-saved" name="saved-search" aria-label="Saved searches" on:change=choose
                    prop:value=move || chosen.get().map(|id| id.to_string()).unwrap_or_default()>
                    <option value="">"Saved searches…"</option>
                    {move || saved.get().unwrap_or_default().into_iter().map(|s| view! {
                        <option value=s.id.to_string() title=s.query.clone()>{s.name.clone()}</option>
                    }).collect_view()}
                </select>
                <button type="button" class="link-button" name="save-search" hidden=move || !can_edit.get()
                    on:click=move |_| { save_note.set(None); naming.set(true); }>"Save search"</button>
                <button type="button" class="link-button" name="delete-saved-search"
                    hidden=move || !can_edit.get() || chosen.get().is_none() on:click=delete_saved>"Delete saved search"</button>
                {move || naming.get().then(|| view! {
                    <span class="logs-save-form">
                        <input class="field-input" name="save-search-name" aria-label="Name of the saved search" placeholder="Name"
                            prop:value=move || save_name.get() on:input=move |ev| save_name.set(event_target_value(&ev))/>
                        <button type="button" class="button" name="save-search-confirm" on:click=save_search>"Save"</button>
                        <button type="button" class="link-button" on:click=move |_| naming.set(false)>"Cancel"</button>
                    </span>
                })}
                {move || save_note.get().map(|n| view! { <span class="muted" role="status">{n}</span> })}
                <a class="link-button" href=export("ndjson") download="logs.ndjson">"Export NDJSON"</a>
                <a class="link-button" href=export("csv") download="logs.csv">"Export CSV"</a>
            </div>
        </section>
        <section class="card logs-histogram-card" aria-label="Matching lines over time by level">
            {move || match histogram.get() {
                Some(Ok(h)) => view! { <Histogram histogram=h/> }.into_any(),
                _ => view! { <div class="logs-histogram-placeholder"></div> }.into_any(),
            }}
        </section>
        <div class="logs-main">
            <aside class="card logs-facets" aria-label="Common field values">
                {move || match facets.get() {
                    Some(Ok(f)) => view! { <Facets facets=f add_term=add_term/> }.into_any(),
                    Some(Err(_)) => ().into_any(),
                    None => view! { <p class="muted">"Counting…"</p> }.into_any(),
                }}
            </aside>
            <section class="card logs-lines">
                <div class="segmented logs-view" role="tablist" aria-label="What to show">
                    <button type="button" role="tab" class="segmented-item" name="view-lines"
                        aria-selected=move || (!showing_patterns.get()).to_string()
                        on:click={ let set_view = set_view.clone(); move |_| set_view(false) }>"Lines"</button>
                    <button type="button" role="tab" class="segmented-item" name="view-patterns"
                        aria-selected=move || showing_patterns.get().to_string()
                        on:click={ let set_view = set_view.clone(); move |_| set_view(true) }>"Patterns"</button>
                </div>
                {move || showing_patterns.get().then(|| view! {
                    {move || match patterns.get() {
                        None | Some(Ok(None)) => view! { <p class="muted">"Finding patterns…"</p> }.into_any(),
                        Some(Err(e)) => view! { <p class="form-error" role="alert">{e.to_string()}</p> }.into_any(),
                        Some(Ok(Some(p))) => view! { <Patterns patterns=p show=show_pattern/> }.into_any(),
                    }}
                })}
                <div class="logs-lines-view" hidden=move || showing_patterns.get()>
                {move || live.get().then(|| view! {
                    <div class="logs-live-status" role="status">
                        <span class="logs-live-dot"></span>
                        {move || format!("Live: {} new lines", live_lines.with(Vec::len))}
                        {move || (dropped.get() > 0).then(|| view! {
                            <span class="logs-dropped">{format!(" · {} lines skipped while this view fell behind", dropped.get())}</span>
                        })}
                    </div>
                    <ol class="logs-list logs-live-list">
                        {move || live_lines.get().into_iter().map(|line| view! { <Line line=line add_term=add_term/> }).collect_view()}
                    </ol>
                })}
                {move || match page.get() {
                    None => view! { <p class="muted">"Searching…"</p> }.into_any(),
                    Some(Err(e)) => view! { <p class="form-error" role="alert">{e.to_string()}</p> }.into_any(),
                    Some(Ok(LogPage { lines, .. })) if lines.is_empty() => view! {
                        <div class="explore-examples">
                            <p class="explore-empty">"No lines match in this time range."</p>
                            <p class="muted">"Try another range, or one of these:"</p>
                            <ul>
                                {EXAMPLES.iter().map(|e| view! {
                                    <li><button type="button" class="link-button" on:click=move |_| run.run(e.to_string())>
                                        <code>{*e}</code>
                                    </button></li>
                                }).collect_view()}
                            </ul>
                        </div>
                    }.into_any(),
                    Some(Ok(LogPage { lines, .. })) => view! {
                        <ol class="logs-list">
                            {lines.into_iter().map(|line| view! { <Line line=line add_term=add_term/> }).collect_view()}
                            {move || older.get().into_iter().map(|line| view! { <Line line=line add_term=add_term/> }).collect_view()}
                        </ol>
                        {move || next.get().is_some().then(|| view! {
                            <button type="button" class="button logs-more" disabled=move || loading_more.get() on:click=load_more>
                                {move || if loading_more.get() { "Loading…" } else { "Older lines" }}
                            </button>
                        })}
                    }.into_any(),
                }}
                </div>
            </section>
        </div>
    }
}

/// A search term for a pattern's lines: a regular expression of its fixed words in order.
fn pattern_regex(pattern: &str) -> String {
    let fixed: Vec<String> = pattern
        .split_whitespace()
        .filter(|t| !(t.starts_with('<') && t.ends_with('>')))
        .map(|t| {
            t.chars()
                .flat_map(|c| {
                    let special = r"\.+*?()|[]{}^$/".contains(c);
                    special.then_some('\\').into_iter().chain([c])
                })
                .collect()
        })
        .collect();
    format!("/{}/", fixed.join(".*"))
}

/// Lines per slice of the range, as small bars.
#[component]
fn Trend(trend: Vec<u64>, #[prop(into)] label: String) -> impl IntoView {
    let highest = trend.iter().copied().max().unwrap_or(1).max(1);
    let width = 100.0 / trend.len().max(1) as f64;
    let bars = trend
        .iter()
        .enumerate()
        .map(|(i, n)| {
            let h = *n as f64 / highest as f64 * 30.0;
            view! { <rect class="level-error" x=format!("{:.2}", i as f64 * width) y=format!("{:.2}", 30.0 - h)
                width=format!("{:.2}", width * 0.8) height=format!("{h:.2}")/> }
        })
        .collect_view();
    view! {
        <svg class="error-trend" viewBox="0 0 100 30" preserveAspectRatio="none" role="img" aria-label=label>{bars}</svg>
    }
}

#[component]
fn Patterns(patterns: LogPatterns, show: Callback<String>) -> impl IntoView {
    let LogPatterns {
        patterns,
        others,
        sampled,
        complete,
        ..
    } = patterns;
    if patterns.is_empty() {
        return view! { <p class="explore-empty">"No lines match in this time range."</p> }
            .into_any();
    }
    let share = move |n: u64| n as f64 * 100.0 / sampled.max(1) as f64;
    view! {
        <p class="muted" aria-live="polite">
            {format!("{} patterns in {} lines{}", patterns.len(), sampled, if complete { "" } else { " (the newest ones)" })}
            {(others > 0).then(|| format!("; {others} lines in less frequent patterns"))}
        </p>
        <ol class="log-patterns">
            {patterns.into_iter().map(|p| {
                let pattern = p.pattern.clone();
                let levels = p.levels.iter().map(|(l, n)| view! {
                    <span class=format!("badge logs-level logs-level-{l}")>{format!("{l} {n}")}</span>
                }).collect_view();
                view! {
                    <li class="log-pattern">
                        <span class="log-pattern-count" title="lines">{p.count}</span>
                        <span class="muted log-pattern-share">{format!("{:.1} %", share(p.count))}</span>
                        <code class="log-pattern-text">{p.pattern.clone()}</code>
                        <Trend trend=p.trend.clone() label="Lines over the time range"/>
                        <span class="log-pattern-levels">{levels}</span>
                        <button type="button" class="link-button" on:click=move |_| show.run(pattern.clone())>"Show lines"</button>
                    </li>
                }
            }).collect_view()}
        </ol>
    }.into_any()
}

#[component]
fn Histogram(histogram: LogHistogram) -> impl IntoView {
    let n = histogram.buckets.len().max(1);
    let highest = histogram
        .buckets
        .iter()
        .map(|b| b.counts.values().sum::<u64>())
        .max()
        .unwrap_or(0)
        .max(1);
    let width = 1000.0 / n as f64;
    let first = histogram.buckets.first().map(|b| b.time);
    let last = histogram.buckets.last().map(|b| b.time);
    let bars = histogram
        .buckets
        .iter()
        .enumerate()
        .flat_map(|(i, bucket)| {
            let mut y = 100.0;
            let total: u64 = bucket.counts.values().sum();
            let title = format!(
                "{}: {total} lines",
                crate::chart::format_instant(bucket.time.timestamp_millis())
            );
            LEVEL_ORDER
                .iter()
                .rev()
                .filter_map(|level| {
                    let count = *bucket.counts.get(*level)?;
                    let h = count as f64 / highest as f64 * 100.0;
                    y -= h;
                    Some(view! {
                        <rect class=format!("logs-bar level-{level}") x=format!("{:.2}", i as f64 * width)
                            y=format!("{y:.2}") width=format!("{:.2}", (width - 1.0).max(0.5)) height=format!("{h:.2}")>
                            <title>{format!("{title}, {count} {level}")}</title>
                        </rect>
                    })
                })
                .collect::<Vec<_>>()
        })
        .collect_view();
    view! {
        <svg class="logs-histogram" viewBox="0 0 1000 100" preserveAspectRatio="none" role="img"
            aria-label=format!("{} matching lines", histogram.total)>
            {bars}
        </svg>
        <div class="logs-histogram-axis muted">
            <span>{first.map(|t| crate::chart::format_instant(t.timestamp_millis())).unwrap_or_default()}</span>
            <span class="logs-legend">
                {LEVEL_ORDER.iter().map(|l| view! { <span class=format!("logs-legend-item level-{l}")>{*l}</span> }).collect_view()}
            </span>
            <span>{last.map(|t| crate::chart::format_instant(t.timestamp_millis())).unwrap_or_default()}</span>
        </div>
    }
}

#[component]
fn Facets(facets: LogFacets, add_term: Callback<String>) -> impl IntoView {
    if facets.fields.is_empty() {
        return view! { <p class="muted">"No fields to count."</p> }.into_any();
    }
    view! {
        <p class="muted logs-facets-note">{format!("Among the newest {} matches", facets.sampled)}</p>
        {facets.fields.into_iter().map(|f| {
            let field = f.field.clone();
            view! {
                <details class="logs-facet" open=matches!(field.as_str(), "level" | "service")>
                    <summary>{f.field.clone()}</summary>
                    <ul>
                        {f.values.into_iter().map(|(value, count)| {
                            let t = term(&field, &value);
                            view! {
                                <li>
                                    <button type="button" class="link-button logs-facet-value" title=format!("Add {t}")
                                        on:click=move |_| add_term.run(t.clone())>{value}</button>
                                    <span class="muted num">{count}</span>
                                </li>
                            }
                        }).collect_view()}
                    </ul>
                </details>
            }
        }).collect_view()}
    }.into_any()
}

#[component]
fn Line(line: LogLine, add_term: Callback<String>) -> impl IntoView {
    let open = RwSignal::new(false);
    let context = RwSignal::new(None::<Result<LogContext, String>>);
    let show_context = {
        let cursor = line.cursor.clone();
        move |_| {
            let cursor = cursor.clone();
            context.set(Some(Err("Loading…".into())));
            leptos::task::spawn_local(async move {
                let found = endpoints::log_context(&cursor, 10, 10)
                    .await
                    .map_err(|e| e.to_string());
                context.set(Some(found));
            });
        }
    };
    let level = line.level.clone();
    let head = view! {
        <button type="button" class="logs-line-head" aria-expanded=move || if open.get() { "true" } else { "false" }
            on:click=move |_| open.update(|o| *o = !*o)>
            <time class="logs-time">{time_of(&line)}</time>
            <span class=format!("logs-level level-{level}")>{level.clone()}</span>
            <span class="logs-service">{line.service.clone()}</span>
            <span class="logs-body">{line.body.clone()}</span>
        </button>
    };
    let details = {
        let line = line.clone();
        move || {
            open.get().then(|| {
                let trace = line.trace_id.clone();
                let rows = line
                    .labels
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone(), "label"))
                    .chain(line.fields.iter().map(|(k, v)| {
                        let text = v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string());
                        (k.clone(), text, "field")
                    }))
                    .collect::<Vec<_>>();
                view! {
                    <div class="logs-details">
                        <pre class="logs-full-body">{line.body.clone()}</pre>
                        <table class="result-table logs-fields">
                            <tbody>
                                {rows.into_iter().map(|(k, v, kind)| {
                                    let t = term(&k, &v);
                                    view! {
                                        <tr>
                                            <th scope="row">{k}<span class="muted logs-kind">{kind}</span></th>
                                            <td><code>{v}</code></td>
                                            <td><button type="button" class="link-button" title=format!("Add {t}")
                                                on:click=move |_| add_term.run(t.clone())>"Filter"</button></td>
                                        </tr>
                                    }
                                }).collect_view()}
                            </tbody>
                        </table>
                        <div class="logs-actions">
                            <button type="button" class="button" on:click=show_context.clone()>"Show context"</button>
                            {trace.map(|t| view! {
                                <a class="button" href=format!("/explore/traces?trace={t}")>"Open trace"</a>
                                <button type="button" class="button" on:click={
                                    let t = t.clone();
                                    move |_| add_term.run(format!("trace_id:{t}"))
                                }>"Lines of this trace"</button>
                            })}
                        </div>
                        {move || context.get().map(|c| match c {
                            Err(e) => view! { <p class="muted">{e}</p> }.into_any(),
                            Ok(c) => view! {
                                <ol class="logs-context" aria-label="Lines around this one">
                                    {c.before.into_iter().map(|l| view! { <li class="logs-context-line">{format!("{} {}", time_of(&l), l.body)}</li> }).collect_view()}
                                    <li class="logs-context-line logs-context-hit">{format!("{} {}", time_of(&c.line), c.line.body)}</li>
                                    {c.after.into_iter().map(|l| view! { <li class="logs-context-line">{format!("{} {}", time_of(&l), l.body)}</li> }).collect_view()}
                                </ol>
                            }.into_any(),
                        })}
                    </div>
                }
            })
        }
    };
    view! { <li class="logs-line">{head}{details}</li> }
}

/// Explore → Errors: the error and fatal lines of the range grouped by failure (the same
/// exception, message and top frame), the most frequent first, each with its trend, where it
/// happens and its newest line. The query and the range are in the URL.
#[component]
pub fn ErrorsPage() -> impl IntoView {
    let QueryText {
        url: url_query,
        text,
        runs,
        run,
    } = use_query_text("query");
    let range = use_time_range();
    let tick = use_refresh_tick();
    let span = Memo::new(move |_| {
        tick.track();
        runs.track();
        let (from, to) = range.get().resolve(chrono::Utc::now());
        (from.timestamp_millis(), to.timestamp_millis())
    });
    let changed = RwSignal::new(0u32);
    let groups = LocalResource::new(move || {
        let (query, span) = (url_query.get(), span.get());
        changed.track();
        async move { endpoints::log_errors(&query, span).await }
    });
    // Resolved and ignored groups are listed on request (`?all=1`).
    let params = use_query_map();
    let show_all = Memo::new(move |_| params.read().get("all").is_some_and(|v| v == "1"));
    let set_params = use_query_updater();
    let session = use_session();
    let can_edit = Signal::derive(move || session.can(Role::Editor));
    view! {
        <PageHeader title="Errors" subtitle="Error and fatal lines grouped by failure: the same exception, message and place" time_controls=true/>
        <section class="card explore-query">
            <form class="explore-query-row" on:submit=move |ev| { ev.prevent_default(); run.run(()); }>
                <input type="search" class="input logs-query-input" aria-label="Error query"
                    placeholder="narrow the lines first: service:coder, agent_id:coder-1, timeout…"
                    prop:value=move || text.get()
                    on:input=move |ev| text.set(event_target_value(&ev))/>
                <button type="submit" class="button button-primary explore-run">"Group"</button>
            </form>
            <label class="checkbox error-show-all">
                <input type="checkbox" name="show-all" prop:checked=move || show_all.get()
                    on:change=move |ev| set_params(vec![("all", event_target_checked(&ev).then(|| "1".to_string()))])/>
                " Show resolved and ignored groups"
            </label>
            <a class="button error-alert-link" hidden=move || !can_edit.get()
                href="/alerting/rules/new?template=new-error-groups"
                title="A log rule that fires for each new error group (announced on the portal_event=\"new_error_group\" stream)">
                "Alert on new error groups"
            </a>
        </section>
        <section class="card">
            {move || match groups.get() {
                None => view! { <p class="muted">"Grouping…"</p> }.into_any(),
                Some(Err(e)) => view! { <p class="form-error" role="alert">{e.to_string()}</p> }.into_any(),
                Some(Ok(g)) if g.groups.is_empty() => view! {
                    <p class="explore-empty">"No error or fatal lines in this time range."</p>
                }.into_any(),
                Some(Ok(ErrorGroups { groups, sampled, complete, .. })) => {
                    let total = groups.len();
                    let shown: Vec<ErrorGroup> = groups
                        .into_iter()
                        .filter(|g| show_all.get() || !matches!(g.status, ErrorStatus::Resolved | ErrorStatus::Ignored))
                        .collect();
                    let hidden = total - shown.len();
                    view! {
                        <p class="muted" aria-live="polite">
                            {format!("{} failures in {} error lines{}", total, sampled,
                                if complete { "" } else { " (the newest ones)" })}
                            {(hidden > 0).then(|| format!("; {hidden} resolved or ignored not shown"))}
                        </p>
                        <ol class="error-groups">
                            {shown.into_iter().map(|g| view! { <Group group=g can_edit=can_edit changed=changed/> }).collect_view()}
                        </ol>
                    }.into_any()
                }
            }}
        </section>
    }
}

/// The buttons that change a group's status, by its status now.
fn status_actions(status: ErrorStatus) -> &'static [(ErrorStatus, &'static str)] {
    match status {
        ErrorStatus::Open | ErrorStatus::Regressed => &[
            (ErrorStatus::Resolved, "Resolve"),
            (ErrorStatus::Ignored, "Ignore"),
        ],
        ErrorStatus::Resolved | ErrorStatus::Ignored => &[(ErrorStatus::Open, "Reopen")],
    }
}

#[component]
fn Group(group: ErrorGroup, can_edit: Signal<bool>, changed: RwSignal<u32>) -> impl IntoView {
    let failure = RwSignal::new(None::<String>);
    let fingerprint = group.fingerprint.clone();
    let actions = status_actions(group.status)
        .iter()
        .map(|(to, label)| {
            let (to, fingerprint) = (*to, fingerprint.clone());
            let act = move |_| {
                let fingerprint = fingerprint.clone();
                leptos::task::spawn_local(async move {
                    match endpoints::set_error_status(&fingerprint, to).await {
                        Ok(_) => changed.update(|n| *n += 1),
                        Err(e) => failure.set(Some(e.to_string())),
                    }
                });
            };
            view! { <button type="button" class="button" name=format!("error-{}", to.as_str()) on:click=act>{*label}</button> }
        })
        .collect_view();
    let status_note = group.status_changed_at.map(|at| {
        format!(
            "{} {} by {}",
            match group.status {
                ErrorStatus::Regressed => "resolved",
                other => other.as_str(),
            },
            crate::chart::format_instant(at.timestamp_millis()),
            group.status_changed_by.clone().unwrap_or_default()
        )
    });
    let lines_query = if group.kind.is_empty() {
        "level>=error".to_string()
    } else {
        format!("level>=error \"{}\"", group.kind)
    };
    let lines_href = format!(
        "/explore/logs{}",
        crate::format::query_string([
            ("query", lines_query.as_str()),
            ("from", &group.first_seen.timestamp_millis().to_string()),
            ("to", &(group.last_seen.timestamp_millis() + 1).to_string()),
        ])
    );
    let stack = group
        .example
        .fields
        .get("exception.stacktrace")
        .or_else(|| group.example.fields.get("exception_stacktrace"))
        .and_then(|v| v.as_str())
        .map(str::to_string);
    let where_ = [group.services.join(", "), group.agents.join(", ")]
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" · ");
    view! {
        <li class="error-group" data-status=group.status.as_str() data-fingerprint=group.fingerprint.clone()>
            <div class="error-group-head">
                <strong class="error-kind">{if group.kind.is_empty() { "(no exception type)".to_string() } else { group.kind.clone() }}</strong>
                <span class="error-count" title="lines">{group.count}</span>
                {(group.status != ErrorStatus::Open).then(|| view! {
                    <span class=format!("badge error-status error-status-{}", group.status.as_str()) title=status_note.clone()>{group.status.as_str()}</span>
                })}
                <Trend trend=group.trend.clone() label="Lines over the time range"/>
            </div>
            <p class="error-message"><code>{group.message.clone()}</code></p>
            <p class="muted error-where">
                {(!group.frame.is_empty()).then(|| view! { <code class="error-frame">{group.frame.clone()}</code>" · " })}
                {format!("last {} · first {}", crate::chart::format_instant(group.last_seen.timestamp_millis()),
                    crate::chart::format_instant(group.first_seen.timestamp_millis()))}
                {(!where_.is_empty()).then(|| format!(" · {where_}"))}
            </p>
            <details class="error-example">
                <summary>"Newest line"</summary>
                <pre class="logs-full-body">{group.example.body.clone()}</pre>
                {stack.map(|s| view! { <pre class="logs-full-body error-stack">{s}</pre> })}
            </details>
            <div class="error-actions">
                <a class="link-button" href=lines_href>"View the lines"</a>
                <span class="error-status-actions" hidden=move || !can_edit.get()>{actions}</span>
                {move || failure.get().map(|e| view! { <span class="form-error" role="alert">{e}</span> })}
            </div>
        </li>
    }
}

/// The live tail in the browser: an `EventSource` on the tail endpoint, closed when dropped.
#[cfg(feature = "hydrate")]
mod tail {
    use crate::api::logs::LogLine;
    use wasm_bindgen::{closure::Closure, JsCast};

    pub struct Tail {
        source: web_sys::EventSource,
        _lines: Closure<dyn FnMut(web_sys::MessageEvent)>,
        _dropped: Closure<dyn FnMut(web_sys::MessageEvent)>,
    }

    #[derive(serde::Deserialize)]
    struct Lines {
        lines: Vec<LogLine>,
    }

    #[derive(serde::Deserialize)]
    struct Dropped {
        dropped: u64,
    }

    impl Tail {
        /// Opens the tail; the browser reconnects by itself, resuming where it stopped.
        pub fn open(
            url: &str,
            on_lines: impl Fn(Vec<LogLine>) + 'static,
            on_dropped: impl Fn(u64) + 'static,
        ) -> Option<Self> {
            let source = web_sys::EventSource::new(url).ok()?;
            let lines = Closure::<dyn FnMut(web_sys::MessageEvent)>::new(
                move |e: web_sys::MessageEvent| {
                    if let Some(Ok(l)) = e
                        .data()
                        .as_string()
                        .map(|t| serde_json::from_str::<Lines>(&t))
                    {
                        on_lines(l.lines);
                    }
                },
            );
            let dropped = Closure::<dyn FnMut(web_sys::MessageEvent)>::new(
                move |e: web_sys::MessageEvent| {
                    if let Some(Ok(d)) = e
                        .data()
                        .as_string()
                        .map(|t| serde_json::from_str::<Dropped>(&t))
                    {
                        on_dropped(d.dropped);
                    }
                },
            );
            source
                .add_event_listener_with_callback("lines", lines.as_ref().unchecked_ref())
                .ok()?;
            source
                .add_event_listener_with_callback("dropped", dropped.as_ref().unchecked_ref())
                .ok()?;
            Some(Self {
                source,
                _lines: lines,
                _dropped: dropped,
            })
        }
    }

    impl Drop for Tail {
        fn drop(&mut self) {
            self.source.close();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_word_being_typed_completes_to_fields_and_their_values() {
        let facets = LogFacets {
            sampled: 10,
            fields: vec![
                crate::api::logs::LogFacet {
                    field: "service".into(),
                    values: vec![
                        ("coder".into(), 7),
                        ("checkout api".into(), 2),
                        ("web".into(), 1),
                    ],
                },
                crate::api::logs::LogFacet {
                    field: "severity_text".into(),
                    values: vec![("ERROR".into(), 3)],
                },
            ],
        };
        let shown = |text: &str| -> Vec<String> {
            suggestions(text, &facets)
                .into_iter()
                .map(|(_, q)| q)
                .collect()
        };
        assert_eq!(
            shown("timeout se"),
            ["timeout service:", "timeout severity_text:"]
        );
        assert_eq!(
            shown("timeout service:c"),
            [
                "timeout service:coder ",
                "timeout service:\"checkout api\" "
            ]
        );
        assert_eq!(shown("-service:w"), ["-service:web "]);
        assert!(shown("timeout ").is_empty());
        assert!(
            shown("service:coder").is_empty(),
            "a complete value is not offered again"
        );
        assert!(shown("\"a phr").is_empty());
    }

    #[test]
    fn a_patterns_lines_are_found_by_its_fixed_words_in_order() {
        assert_eq!(
            pattern_regex("task <id> finished in <number> ms"),
            "/task.*finished.*in.*ms/"
        );
        assert_eq!(
            pattern_regex("GET /api/v1 (x) <_>"),
            r"/GET.*\/api\/v1.*\(x\)/"
        );
    }

    #[test]
    fn terms_are_quoted_when_they_must_be() {
        assert_eq!(term("service", "api"), "service:api");
        assert_eq!(term("agent.id", "coder-1"), "agent.id:coder-1");
        assert_eq!(term("msg", "task \"x\" done"), r#"msg:"task \"x\" done""#);
        assert_eq!(with_term("", "level:error"), "level:error");
        assert_eq!(with_term("timeout", "level:error"), "timeout level:error");
        assert_eq!(with_term("a OR b", "level:error"), "(a OR b) level:error");
    }
}
