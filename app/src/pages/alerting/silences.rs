//! Silences and recurring maintenance windows on one page: active, upcoming and expired ones
//! with their matchers and window (a window's schedule and next occurrences); a form with a
//! preview of the alerts it would mute now and the rules whose alerts it could match; extend
//! and expire in one click; the inhibition rules. `?matchers=` pre-fills the form ("silence
//! this" from an alert or a rule).

use super::{ago, LabelTags, StateBadge};
use crate::api::{
    alerting::parse_matchers,
    endpoints,
    silences::{
        InhibitRule, OccurrencesRequest, SaveSilence, Schedule, Silence, SilencePreview,
        SilencePreviewRequest, SilenceState, Window,
    },
};
use crate::components::{page_header::PageHeader, url_state::use_tick};
use crate::time::parse_duration;
use crate::{api::accounts::Role, components::session::use_session};
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

pub(crate) use crate::api::alerting::matchers_text;

/// The link that opens the form with `matchers` filled in.
pub(crate) fn silence_link(matchers: &str) -> String {
    format!(
        "/alerting/silences{}",
        crate::format::query_string([("matchers", matchers)])
    )
}

#[component]
pub fn SilencesPage() -> impl IntoView {
    let session = use_session();
    let query = use_query_map();
    let prefill = query.with_untracked(|q| q.get_str("matchers").map(str::to_owned));
    let show_form = RwSignal::new(prefill.is_some());
    let recurring = RwSignal::new(false);
    let editing = RwSignal::new(None::<Silence>);
    let filter_matchers = RwSignal::new(String::new());
    let filter_by = RwSignal::new(String::new());
    let reload = RwSignal::new(0u32);
    let tick = use_tick(15);
    let error = RwSignal::new(None::<String>);
    let list = LocalResource::new(move || {
        reload.track();
        tick.track();
        endpoints::list_silences(true)
    });
    let expire = move |id: String| {
        leptos::task::spawn_local(async move {
            match endpoints::expire_silence(&id).await {
                Ok(()) => reload.update(|r| *r += 1),
                Err(e) => error.set(Some(e.to_string())),
            }
        });
    };
    let extend = move |s: Silence| {
        leptos::task::spawn_local(async move {
            let request = SaveSilence {
                id: s.id.clone(),
                matchers: s.matchers.clone(),
                starts_at: s.starts_at,
                ends_at: s.ends_at.max(chrono::Utc::now()) + chrono::Duration::hours(1),
                created_by: s.created_by.clone(),
                comment: s.comment.clone(),
                schedule: None,
                notify: s.notify.clone(),
            };
            match endpoints::save_silence(&request).await {
                Ok(_) => reload.update(|r| *r += 1),
                Err(e) => error.set(Some(e.to_string())),
            }
        });
    };
    view! {
        <PageHeader title="Silences" subtitle="Mute the notifications of matching alerts, once or in recurring maintenance windows; the alerts still show"/>
        <section class="card dashboards-toolbar">
            <input class="field-input field-grow" name="silence-filter" placeholder="Filter by matcher, e.g. team=\"agents\""
                aria-label="Filter by matcher" prop:value=move || filter_matchers.get() on:input=move |ev| filter_matchers.set(event_target_value(&ev))/>
            <input class="field-input" name="silence-filter-by" placeholder="Created by" aria-label="Filter by creator"
                prop:value=move || filter_by.get() on:input=move |ev| filter_by.set(event_target_value(&ev))/>
            <span class="toolbar-spacer"></span>
            <button type="button" class="button" name="new-window" hidden=move || !session.can(Role::Editor) on:click=move |_| { editing.set(None); recurring.set(true); show_form.set(false); show_form.set(true); }>"New maintenance window"</button>
            <button type="button" class="button button-primary" name="new-silence" hidden=move || !session.can(Role::Editor) on:click=move |_| { editing.set(None); recurring.set(false); show_form.set(false); show_form.set(true); }>"New silence"</button>
        </section>
        {move || error.get().map(|e| view! { <p class="error-text" role="alert">{e}</p> })}
        {move || show_form.get().then(|| view! {
            <SilenceForm initial=editing.get() prefill=prefill.clone() recurring=recurring.get()
                on_done=Callback::new(move |_| { show_form.set(false); editing.set(None); reload.update(|r| *r += 1); })/>
        })}
        {move || match list.get() {
            None => view! { <p class="muted">"Loading silences…"</p> }.into_any(),
            Some(Err(e)) => view! { <p class="error-text" role="alert">{e.to_string()}</p> }.into_any(),
            Some(Ok(all)) => {
                let wanted = parse_matchers(&filter_matchers.get()).unwrap_or_default();
                let by = filter_by.get().trim().to_lowercase();
                let all: Vec<Silence> = all.into_iter()
                    .filter(|s| wanted.iter().all(|m| s.matchers.contains(m)))
                    .filter(|s| by.is_empty() || s.created_by.to_lowercase().contains(&by))
                    .collect();
                [SilenceState::Active, SilenceState::Pending, SilenceState::Expired].into_iter().map(|state| {
                let items: Vec<Silence> = all.iter().filter(|s| s.state == state).take(if state == SilenceState::Expired { 20 } else { usize::MAX }).cloned().collect();
                let title = match state {
                    SilenceState::Active => "Active",
                    SilenceState::Pending => "Upcoming",
                    SilenceState::Expired => "Expired (the latest 20)",
                };
                view! {
                    <section class="card silence-group" data-state=state.as_str()>
                        <h2 class="card-title">{title}<span class="muted">{format!(" · {}", items.len())}</span></h2>
                        {if items.is_empty() {
                            view! { <p class="muted">"None."</p> }.into_any()
                        } else {
                            view! {
                                <table class="result-table silence-table">
                                    <thead><tr><th scope="col">"Matchers"</th><th scope="col">"Window"</th><th scope="col">"By"</th><th scope="col">"Why"</th><th scope="col">"Actions"</th></tr></thead>
                                    <tbody>
                                        {items.into_iter().map(|s| {
                                            let (edit, ext, exp) = (s.clone(), s.clone(), s.id.clone());
                                            let current = s.occurrences.first().copied().unwrap_or(Window { starts_at: s.starts_at, ends_at: s.ends_at });
                                            let mut window = match s.state {
                                                SilenceState::Active => format!("since {}, ends in {}", ago(current.starts_at), crate::format::human_duration((current.ends_at - chrono::Utc::now()).num_seconds().max(0))),
                                                SilenceState::Pending => format!("starts in {}, lasts {}", crate::format::human_duration((current.starts_at - chrono::Utc::now()).num_seconds().max(0)), crate::format::human_duration((current.ends_at - current.starts_at).num_seconds())),
                                                SilenceState::Expired => format!("ended {}", ago(s.ends_at)),
                                            };
                                            if let Some(schedule) = &s.schedule {
                                                window = format!("{} · {window}", schedule.describe());
                                            }
                                            let is_recurring = s.schedule.is_some();
                                            let next: Vec<String> = if is_recurring { s.occurrences.iter().map(|w| w.starts_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)).collect() } else { Vec::new() };
                                            view! {
                                                <tr class="silence-row" data-id=s.id.clone() data-recurring=is_recurring.to_string()>
                                                    <td><code>{matchers_text(&s.matchers)}</code>
                                                        {(!s.notify.is_empty()).then(|| view! { <div class="small muted">{format!("tells {}", s.notify)}</div> })}</td>
                                                    <td title=if is_recurring { format!("next: {}", next.join(", ")) } else { format!("{} → {}", s.starts_at.to_rfc3339(), s.ends_at.to_rfc3339()) }>
                                                        {is_recurring.then(|| view! { <span class="badge">"Recurring"</span>" " })}{window}</td>
                                                    <td>{s.created_by.clone()}</td>
                                                    <td>{s.comment.clone()}</td>
                                                    <td class="rule-actions">
                                                        {(s.state != SilenceState::Expired).then(|| view! {
                                                            <button type="button" class="link-button" hidden=move || !session.can(Role::Editor) on:click=move |_| { recurring.set(edit.schedule.is_some()); editing.set(Some(edit.clone())); show_form.set(false); show_form.set(true); }>"Edit"</button>
                                                            {ext.schedule.is_none().then(|| { let ext = ext.clone(); view! {
                                                                <button type="button" class="link-button" hidden=move || !session.can(Role::Editor) on:click=move |_| extend(ext.clone())>"+1 h"</button> } })}
                                                            <button type="button" class="link-button danger" hidden=move || !session.can(Role::Editor) on:click=move |_| expire(exp.clone())>"Expire"</button>
                                                        })}
                                                    </td>
                                                </tr>
                                            }
                                        }).collect_view()}
                                    </tbody>
                                </table>
                            }.into_any()
                        }}
                    </section>
                }
            }).collect_view().into_any()
            }
        }}
        <InhibitRules/>
    }
}

const DURATIONS: [&str; 6] = ["1h", "2h", "4h", "8h", "1d", "1w"];

const WEEKDAYS: [chrono::Weekday; 7] = [
    chrono::Weekday::Mon,
    chrono::Weekday::Tue,
    chrono::Weekday::Wed,
    chrono::Weekday::Thu,
    chrono::Weekday::Fri,
    chrono::Weekday::Sat,
    chrono::Weekday::Sun,
];

/// `1, 15, -1` into numbers, naming the first that is not one.
fn numbers<T: std::str::FromStr>(text: &str, field: &str) -> Result<Vec<T>, String> {
    text.split([',', ' '])
        .filter(|p| !p.trim().is_empty())
        .map(|p| {
            p.trim()
                .parse()
                .map_err(|_| format!("{field}: \"{}\" is not a number", p.trim()))
        })
        .collect()
}

fn list_text<T: ToString>(items: &[T]) -> String {
    items
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// A time on this browser's clock.
fn local(t: chrono::DateTime<chrono::Utc>) -> String {
    t.with_timezone(&chrono::Local)
        .format("%a %Y-%m-%d %H:%M")
        .to_string()
}

/// The time zone this browser is in, or UTC.
fn browser_zone() -> String {
    #[cfg(feature = "hydrate")]
    {
        let options =
            js_sys::Intl::DateTimeFormat::new(&js_sys::Array::new(), &js_sys::Object::new())
                .resolved_options();
        if let Some(zone) = js_sys::Reflect::get(&options, &"timeZone".into())
            .ok()
            .and_then(|z| z.as_string())
        {
            return zone;
        }
    }
    "UTC".into()
}

/// The schedule part of the form.
#[derive(Clone, Copy)]
struct ScheduleFields {
    zone: RwSignal<String>,
    start: RwSignal<String>,
    end: RwSignal<String>,
    weekdays: RwSignal<Vec<chrono::Weekday>>,
    week_of_month: RwSignal<String>,
    days_of_month: RwSignal<String>,
    months: RwSignal<String>,
    every_weeks: RwSignal<String>,
    from: RwSignal<String>,
    until: RwSignal<String>,
}

impl ScheduleFields {
    fn new(s: Option<&Schedule>) -> Self {
        let today = chrono::Utc::now().date_naive().to_string();
        Self {
            zone: RwSignal::new(s.map_or_else(browser_zone, |s| s.time_zone.clone())),
            start: RwSignal::new(s.map_or("02:00".into(), |s| s.start_time.clone())),
            end: RwSignal::new(s.map_or("04:00".into(), |s| s.end_time.clone())),
            weekdays: RwSignal::new(s.map_or(vec![chrono::Weekday::Sun], |s| s.weekdays.clone())),
            week_of_month: RwSignal::new(
                s.and_then(|s| s.weeks_of_month.first())
                    .map_or(String::new(), |w| w.to_string()),
            ),
            days_of_month: RwSignal::new(s.map_or(String::new(), |s| list_text(&s.days_of_month))),
            months: RwSignal::new(s.map_or(String::new(), |s| list_text(&s.months))),
            every_weeks: RwSignal::new(s.map_or("1".into(), |s| s.every_weeks.to_string())),
            from: RwSignal::new(s.map_or(today, |s| s.from.to_string())),
            until: RwSignal::new(
                s.and_then(|s| s.until)
                    .map_or(String::new(), |u| u.to_string()),
            ),
        }
    }

    /// The schedule the fields hold, or the first problem.
    fn read(&self, tracked: bool) -> Result<Schedule, String> {
        let get = |s: RwSignal<String>| if tracked { s.get() } else { s.get_untracked() };
        let date = |text: String, field: &str| {
            text.trim()
                .parse::<chrono::NaiveDate>()
                .map_err(|_| format!("{field}: a date like 2026-12-06"))
        };
        let until = get(self.until);
        let schedule = Schedule {
            time_zone: get(self.zone).trim().to_string(),
            start_time: get(self.start).trim().to_string(),
            end_time: get(self.end).trim().to_string(),
            weekdays: if tracked {
                self.weekdays.get()
            } else {
                self.weekdays.get_untracked()
            },
            weeks_of_month: numbers(&get(self.week_of_month), "week of the month")?,
            days_of_month: numbers(&get(self.days_of_month), "days of the month")?,
            months: numbers(&get(self.months), "months")?,
            every_weeks: get(self.every_weeks)
                .trim()
                .parse()
                .map_err(|_| "every … weeks: a number, 1 for every week".to_string())?,
            from: date(get(self.from), "from")?,
            until: if until.trim().is_empty() {
                None
            } else {
                Some(date(until, "until")?)
            },
        };
        match schedule.validate("schedule").into_iter().next() {
            Some(e) => Err(format!("{}: {}", e.field, e.message)),
            None => Ok(schedule),
        }
    }
}

#[component]
fn ScheduleEditor(fields: ScheduleFields) -> impl IntoView {
    let zones = LocalResource::new(endpoints::time_zones);
    let occurrences = LocalResource::new(move || {
        let schedule = fields.read(true);
        async move {
            let schedule = schedule?;
            endpoints::silence_occurrences(&OccurrencesRequest { schedule, count: 5 })
                .await
                .map_err(|e| e.to_string())
        }
    });
    let zone_label = move || fields.zone.get();
    let text =
        |signal: RwSignal<String>| move |ev: leptos::ev::Event| signal.set(event_target_value(&ev));
    view! {
        <fieldset class="schedule-editor">
            <legend>"Schedule"</legend>
            <div class="form-row">
                <label class="field"><span class="field-label">"From"</span>
                    <input class="field-input field-small" name="window-start" placeholder="02:00" prop:value=move || fields.start.get() on:change=text(fields.start)/></label>
                <label class="field" title="At or before the start: on the next day"><span class="field-label">"To (next day if earlier)"</span>
                    <input class="field-input field-small" name="window-end" placeholder="04:00" prop:value=move || fields.end.get() on:change=text(fields.end)/></label>
                <label class="field"><span class="field-label">"Time zone"</span>
                    <input class="field-input" name="window-zone" list="time-zones" prop:value=move || fields.zone.get() on:change=text(fields.zone)/></label>
                <datalist id="time-zones">{move || zones.get().and_then(Result::ok).unwrap_or_default().into_iter().map(|z| view! { <option value=z/> }).collect_view()}</datalist>
            </div>
            <div class="form-row weekday-picker" role="group" aria-label="Days of the week">
                {WEEKDAYS.into_iter().map(|day| view! {
                    <label class="field-inline"><input type="checkbox" name=format!("weekday-{day}")
                        prop:checked=move || fields.weekdays.with(|d| d.contains(&day))
                        on:change=move |ev| {
                            let on = event_target_checked(&ev);
                            fields.weekdays.update(|d| {
                                d.retain(|x| *x != day);
                                if on { d.push(day); d.sort_by_key(|x| x.num_days_from_monday()); }
                            });
                        }/>{day.to_string()}</label>
                }).collect_view()}
                <span class="field-hint">"None ticked: every day"</span>
            </div>
            <div class="form-row">
                <label class="field"><span class="field-label">"Which in the month"</span>
                    <select class="field-input" name="window-week-of-month" prop:value=move || fields.week_of_month.get() on:change=text(fields.week_of_month)>
                        <option value="">"every one"</option><option value="1">"the first"</option><option value="2">"the second"</option>
                        <option value="3">"the third"</option><option value="4">"the fourth"</option><option value="-1">"the last"</option>
                    </select></label>
                <label class="field"><span class="field-label">"Every … weeks"</span>
                    <input class="field-input field-small" name="window-every-weeks" inputmode="numeric" prop:value=move || fields.every_weeks.get() on:change=text(fields.every_weeks)/></label>
                <label class="field"><span class="field-label">"Days of the month"</span>
                    <input class="field-input field-small" name="window-days" placeholder="1, 15, -1" prop:value=move || fields.days_of_month.get() on:change=text(fields.days_of_month)/></label>
                <label class="field"><span class="field-label">"Months"</span>
                    <input class="field-input field-small" name="window-months" placeholder="1-12, e.g. 3, 9" prop:value=move || fields.months.get() on:change=text(fields.months)/></label>
                <label class="field"><span class="field-label">"First day"</span>
                    <input class="field-input field-small" type="date" name="window-from" prop:value=move || fields.from.get() on:change=text(fields.from)/></label>
                <label class="field"><span class="field-label">"Last day"</span>
                    <input class="field-input field-small" type="date" name="window-until" prop:value=move || fields.until.get() on:change=text(fields.until)/></label>
            </div>
            <div class="window-occurrences" aria-label="Next windows">
                {move || match occurrences.get() {
                    None => view! { <p class="muted">"…"</p> }.into_any(),
                    Some(Err(e)) => view! { <p class="error-text">{e}</p> }.into_any(),
                    Some(Ok(list)) if list.is_empty() => view! { <p class="error-text">"No window ever opens on these days."</p> }.into_any(),
                    Some(Ok(list)) => view! {
                        <p class="field-label">{move || format!("Next windows ({}, and your browser's time)", zone_label())}</p>
                        <ul class="plain-list occurrence-list">
                            {list.into_iter().map(|w| {
                                let now = chrono::Utc::now();
                                let running = w.starts_at <= now && now < w.ends_at;
                                view! {
                                    <li class="occurrence" data-running=running.to_string()>
                                        {running.then(|| view! { <span class="badge">"Now"</span>" " })}
                                        {format!("{} → {} ({})", local(w.starts_at), local(w.ends_at), crate::format::human_duration((w.ends_at - w.starts_at).num_seconds()))}
                                    </li>
                                }
                            }).collect_view()}
                        </ul>
                    }.into_any(),
                }}
            </div>
        </fieldset>
    }
}

#[component]
fn SilenceForm(
    initial: Option<Silence>,
    prefill: Option<String>,
    recurring: bool,
    on_done: Callback<()>,
) -> impl IntoView {
    let now = chrono::Utc::now();
    let matchers = RwSignal::new(
        initial
            .as_ref()
            .map(|s| matchers_text(&s.matchers))
            .or(prefill)
            .unwrap_or_default(),
    );
    let starts = RwSignal::new(
        initial
            .as_ref()
            .map_or(now, |s| s.starts_at)
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    );
    let duration = RwSignal::new(
        initial
            .as_ref()
            .map(|s| crate::time::format_duration(s.ends_at - s.starts_at))
            .unwrap_or_else(|| "2h".into()),
    );
    let created_by = RwSignal::new(
        initial
            .as_ref()
            .map(|s| s.created_by.clone())
            .unwrap_or_default(),
    );
    let comment = RwSignal::new(
        initial
            .as_ref()
            .map(|s| s.comment.clone())
            .unwrap_or_default(),
    );
    let notify = RwSignal::new(
        initial
            .as_ref()
            .map(|s| s.notify.clone())
            .unwrap_or_default(),
    );
    let schedule = ScheduleFields::new(initial.as_ref().and_then(|s| s.schedule.as_ref()));
    let points = LocalResource::new(endpoints::list_contact_points);
    let id = initial.as_ref().map(|s| s.id.clone()).unwrap_or_default();
    let error = RwSignal::new(None::<String>);
    let parsed = Memo::new(move |_| parse_matchers(&matchers.get()));
    // "What it would mute now" follows the alerts while the form is open.
    let preview_tick = use_tick(10);
    let preview = LocalResource::new(move || {
        preview_tick.track();
        let parsed = parsed.get();
        async move {
            match parsed {
                Ok(m) if !m.is_empty() => {
                    endpoints::preview_silence(&SilencePreviewRequest { matchers: m })
                        .await
                        .map(Some)
                        .map_err(|e| e.to_string())
                }
                Ok(_) => Ok(None),
                Err(e) => Err(e),
            }
        }
    });
    let save = move |_| {
        let m = match parse_matchers(&matchers.get_untracked()) {
            Ok(m) => m,
            Err(e) => return error.set(Some(format!("matchers: {e}"))),
        };
        let (start, end, plan) = if recurring {
            match schedule.read(false) {
                Ok(s) => (
                    chrono::DateTime::default(),
                    chrono::DateTime::default(),
                    Some(s),
                ),
                Err(e) => return error.set(Some(e)),
            }
        } else {
            let start = match chrono::DateTime::parse_from_rfc3339(starts.get_untracked().trim()) {
                Ok(t) => t.with_timezone(&chrono::Utc),
                Err(_) => {
                    return error.set(Some(
                        "starts: write a time like 2026-12-01T22:00:00Z".into(),
                    ))
                }
            };
            let length = match parse_duration(&duration.get_untracked()) {
                Ok(d) => d,
                Err(e) => return error.set(Some(format!("duration: {e}"))),
            };
            (start, start + length, None)
        };
        let request = SaveSilence {
            id: id.clone(),
            matchers: m,
            starts_at: start,
            ends_at: end,
            created_by: created_by.get_untracked(),
            comment: comment.get_untracked(),
            schedule: plan,
            notify: notify.get_untracked(),
        };
        leptos::task::spawn_local(async move {
            match endpoints::save_silence(&request).await {
                Ok(_) => on_done.run(()),
                Err(e) => error.set(Some(e.to_string())),
            }
        });
    };
    let title = match (initial.is_some(), recurring) {
        (false, false) => "New silence",
        (true, false) => "Edit silence",
        (false, true) => "New maintenance window",
        (true, true) => "Edit maintenance window",
    };
    view! {
        <section class="card silence-form" aria-label=title>
            <h2 class="card-title">{title}</h2>
            <label class="field"><span class="field-label">"Matchers"</span>
                <input class="field-input field-grow" name="silence-matchers" placeholder="alertname=\"QueueDepthHigh\", queue_name=~\"coding|review\""
                    prop:value=move || matchers.get() on:change=move |ev| matchers.set(event_target_value(&ev))/>
                <span class="field-error" role="alert">{move || parsed.get().err().unwrap_or_default()}</span></label>
            {recurring.then(|| view! { <ScheduleEditor fields=schedule/> })}
            <div class="form-row">
                {(!recurring).then(|| view! {
                    <label class="field"><span class="field-label">"Starts"</span>
                        <input class="field-input" name="silence-starts" prop:value=move || starts.get() on:change=move |ev| starts.set(event_target_value(&ev))/></label>
                    <label class="field"><span class="field-label">"Lasts"</span>
                        <input class="field-input field-small" name="silence-duration" list="silence-durations" prop:value=move || duration.get()
                            on:change=move |ev| duration.set(event_target_value(&ev))/></label>
                    <datalist id="silence-durations">{DURATIONS.iter().map(|d| view! { <option value=*d/> }).collect_view()}</datalist>
                })}
                <label class="field"><span class="field-label">"By"</span>
                    <input class="field-input" name="silence-created-by" placeholder="your name" prop:value=move || created_by.get()
                        on:change=move |ev| created_by.set(event_target_value(&ev))/></label>
                <label class="field field-grow"><span class="field-label">"Why"</span>
                    <input class="field-input field-grow" name="silence-comment" placeholder="planned database upgrade" prop:value=move || comment.get()
                        on:change=move |ev| comment.set(event_target_value(&ev))/></label>
                <label class="field"><span class="field-label">"Tell when it starts and ends"</span>
                    <select class="field-input" name="silence-notify" prop:value=move || notify.get() on:change=move |ev| notify.set(event_target_value(&ev))>
                        <option value="">"nobody"</option>
                        {move || points.get().and_then(Result::ok).unwrap_or_default().into_iter().map(|p| {
                            let selected = notify.get_untracked() == p.name;
                            view! { <option value=p.name.clone() selected=selected>{p.name.clone()}</option> }
                        }).collect_view()}
                    </select></label>
            </div>
            <div class="silence-preview" aria-label="What it would mute">
                {move || match preview.get() {
                    None => view! { <p class="muted">"…"</p> }.into_any(),
                    Some(Err(e)) => view! { <p class="error-text">{e}</p> }.into_any(),
                    Some(Ok(None)) => view! { <p class="muted">"Write matchers to see what they would mute."</p> }.into_any(),
                    Some(Ok(Some(p))) => view! { <Muted preview=p/> }.into_any(),
                }}
            </div>
            {move || error.get().map(|e| view! { <p class="error-text" role="alert">{e}</p> })}
            <div class="form-actions">
                <button type="button" class="button" on:click=move |_| on_done.run(())>"Cancel"</button>
                <button type="button" class="button button-primary" name="save-silence" on:click=save>{if recurring { "Save window" } else { "Save silence" }}</button>
            </div>
        </section>
    }
}

/// The inhibition rules, edited as one list.
#[component]
fn InhibitRules() -> impl IntoView {
    let session = use_session();
    let rows = RwSignal::new(Vec::<(
        RwSignal<String>,
        RwSignal<String>,
        RwSignal<String>,
        RwSignal<String>,
    )>::new());
    let status = RwSignal::new(None::<Result<String, String>>);
    let loaded = LocalResource::new(endpoints::inhibit_rules);
    let row = |r: &InhibitRule| {
        (
            RwSignal::new(matchers_text(&r.source_matchers)),
            RwSignal::new(matchers_text(&r.target_matchers)),
            RwSignal::new(r.equal.join(", ")),
            RwSignal::new(r.comment.clone()),
        )
    };
    Effect::new(move |_| {
        if let Some(Ok(rules)) = loaded.get() {
            rows.set(rules.iter().map(row).collect());
        }
    });
    let save = move |_| {
        let mut rules = Vec::new();
        for (i, (source, target, equal, comment)) in rows.get_untracked().into_iter().enumerate() {
            let parse = |text: String, what: &str| {
                parse_matchers(&text).map_err(|e| format!("rule {}: {what}: {e}", i + 1))
            };
            let rule = (|| {
                Ok::<_, String>(InhibitRule {
                    source_matchers: parse(source.get_untracked(), "when")?,
                    target_matchers: parse(target.get_untracked(), "mute")?,
                    equal: equal
                        .get_untracked()
                        .split([',', ' '])
                        .filter(|s| !s.trim().is_empty())
                        .map(|s| s.trim().to_string())
                        .collect(),
                    comment: comment.get_untracked(),
                })
            })();
            match rule {
                Ok(r) => rules.push(r),
                Err(e) => return status.set(Some(Err(e))),
            }
        }
        leptos::task::spawn_local(async move {
            match endpoints::save_inhibit_rules(&rules).await {
                Ok(saved) => {
                    rows.set(saved.iter().map(row).collect());
                    status.set(Some(Ok(format!(
                        "Saved {}.",
                        count(saved.len(), "inhibition rule")
                    ))));
                }
                Err(e) => status.set(Some(Err(e.to_string()))),
            }
        });
    };
    view! {
        <section class="card inhibit-rules" aria-label="Inhibition rules">
            <h2 class="card-title">"Inhibition rules"</h2>
            <p class="muted">"While an alert matching “when” fires, alerts matching “mute” with the same values of the “equal” labels are not notified (they show as inhibited)."</p>
            <table class="result-table inhibit-table">
                <thead><tr><th scope="col">"When firing"</th><th scope="col">"Mute"</th><th scope="col">"Equal labels"</th><th scope="col">"Why"</th><th scope="col"></th></tr></thead>
                <tbody>
                    {move || rows.with(Vec::is_empty).then(|| view! {
                        <tr><td colspan="5" class="muted">"None yet: add one to mute, say, an agent's task failures while that agent is down."</td></tr>
                    })}
                    {move || rows.get().into_iter().enumerate().map(|(i, (source, target, equal, comment))| view! {
                        <tr class="inhibit-row">
                            <td><input class="field-input field-grow" name=format!("inhibit-source-{i}") aria-label="Source matchers" placeholder="alertname=\"AgentDown\""
                                prop:value=move || source.get() on:change=move |ev| source.set(event_target_value(&ev))/></td>
                            <td><input class="field-input field-grow" name=format!("inhibit-target-{i}") aria-label="Target matchers" placeholder="alertname=\"AgentTaskFailures\""
                                prop:value=move || target.get() on:change=move |ev| target.set(event_target_value(&ev))/></td>
                            <td><input class="field-input" name=format!("inhibit-equal-{i}") aria-label="Equal labels" placeholder="agent_id"
                                prop:value=move || equal.get() on:change=move |ev| equal.set(event_target_value(&ev))/></td>
                            <td><input class="field-input" name=format!("inhibit-comment-{i}") aria-label="Why"
                                prop:value=move || comment.get() on:change=move |ev| comment.set(event_target_value(&ev))/></td>
                            <td><button type="button" class="link-button danger" on:click=move |_| rows.update(|r| { r.remove(i); })>"Remove"</button></td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
            {move || status.get().map(|s| match s {
                Ok(m) => view! { <p class="muted" role="status">{m}</p> }.into_any(),
                Err(e) => view! { <p class="error-text" role="alert">{e}</p> }.into_any(),
            })}
            <div class="form-actions">
                <button type="button" class="button" name="add-inhibit-rule" on:click=move |_| rows.update(|r| r.push(row(&InhibitRule::default())))>"Add rule"</button>
                <button type="button" class="button button-primary" name="save-inhibit-rules" hidden=move || !session.can(Role::Editor) on:click=save>"Save inhibition rules"</button>
            </div>
        </section>
    }
}

/// "1 alert", "3 alerts".
fn count(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

#[component]
fn Muted(preview: SilencePreview) -> impl IntoView {
    let alerts = preview.alerts.len();
    view! {
        <p class="silence-preview-summary" data-alerts=alerts.to_string()>
            {format!("Mutes {} now; could match the alerts of {}.", count(alerts, "alert"), count(preview.rules.len(), "rule"))}</p>
        <ul class="plain-list">
            {preview.alerts.into_iter().take(20).map(|a| view! {
                <li><StateBadge state=a.state/>" "<LabelTags labels=a.labels/></li>
            }).collect_view()}
        </ul>
        {(!preview.rules.is_empty()).then(|| view! {
            <p class="field-hint">"Rules: "{preview.rules.into_iter().map(|r| view! {
                <a href=format!("/alerting/rules/{}", r.uid) title=if r.certain { "all its alerts" } else { "those of its alerts whose labels match" }>{r.name}</a>" "
            }).collect_view()}</p>
        })}
    }
}
