//! The panel editor: type, title, queries (with PromQL completion), display options, a live
//! preview over the dashboard's time range and variables, and the model's own validation.

use crate::api::dashboard::{
    Dashboard, Panel, PanelKind, Target, Threshold, ValueMapping, DRAW_STYLES, LEGEND_VALUES,
    REDUCERS, UNITS,
};
use crate::components::{
    panel::PanelBody,
    promql_editor::PromqlEditor,
    url_state::{use_refresh_tick, use_time_range},
};
use crate::dashboard::{DataSource, Selection};
use leptos::prelude::*;

/// One query being edited.
#[derive(Clone, Copy)]
struct QueryRow {
    key: u32,
    expr: RwSignal<String>,
    legend: RwSignal<String>,
    instant: RwSignal<bool>,
}

fn row(key: u32, t: &Target) -> QueryRow {
    QueryRow {
        key,
        expr: RwSignal::new(t.expr.clone()),
        legend: RwSignal::new(t.legend.clone()),
        instant: RwSignal::new(t.instant),
    }
}

fn parse_opt(text: &str) -> Result<Option<f64>, String> {
    let t = text.trim();
    if t.is_empty() {
        return Ok(None);
    }
    t.parse::<f64>()
        .map(Some)
        .map_err(|_| format!("\"{t}\" is not a number"))
}

#[component]
pub fn PanelEditor(
    panel: Panel,
    #[prop(into)] selection: Signal<Selection>,
    on_apply: Callback<Panel>,
    on_cancel: Callback<()>,
) -> impl IntoView {
    let draft = RwSignal::new(panel.clone());
    let preview = RwSignal::new(panel.clone());
    let next_key = StoredValue::new(panel.targets.len() as u32);
    let queries = RwSignal::new(
        panel
            .targets
            .iter()
            .enumerate()
            .map(|(i, t)| row(i as u32, t))
            .collect::<Vec<_>>(),
    );
    let error = RwSignal::new(None::<String>);
    let range = use_time_range();
    let tick = use_refresh_tick();
    let min_text = RwSignal::new(panel.options.min.map(|v| v.to_string()).unwrap_or_default());
    let max_text = RwSignal::new(panel.options.max.map(|v| v.to_string()).unwrap_or_default());
    let decimals_text = RwSignal::new(
        panel
            .options
            .decimals
            .map(|v| v.to_string())
            .unwrap_or_default(),
    );

    // The draft with the query rows and number fields written in; Err names what is wrong.
    let build = move || -> Result<Panel, String> {
        let mut p = draft.get_untracked();
        p.targets = queries
            .get_untracked()
            .iter()
            .map(|q| Target {
                expr: q.expr.get_untracked().trim().to_string(),
                legend: q.legend.get_untracked(),
                instant: q.instant.get_untracked(),
            })
            .collect();
        if !p.kind.queries() {
            p.targets.clear();
        }
        p.options.min = parse_opt(&min_text.get_untracked()).map_err(|e| format!("Min: {e}"))?;
        p.options.max = parse_opt(&max_text.get_untracked()).map_err(|e| format!("Max: {e}"))?;
        p.options.decimals = match decimals_text.get_untracked().trim() {
            "" => None,
            t => Some(
                t.parse::<u32>()
                    .map_err(|_| format!("Decimals: \"{t}\" is not a whole number"))?,
            ),
        };
        let mut check = Dashboard::new("check");
        check.panels.push(p.clone());
        check.validate().map_err(|e| {
            format!(
                "{}: {}",
                e.field.trim_start_matches("panels[0]."),
                e.message
            )
        })?;
        Ok(p)
    };
    let run = Callback::new(move |_| match build() {
        Ok(p) => {
            error.set(None);
            preview.set(p);
        }
        Err(e) => error.set(Some(e)),
    });
    let apply = move |_| match build() {
        Ok(p) => on_apply.run(p),
        Err(e) => error.set(Some(e)),
    };
    // Option changes show at once; query text waits for Run (or Enter).
    let set_opt = move |f: SetOpt| {
        draft.update(|p| f(p));
        if let Ok(p) = build() {
            error.set(None);
            preview.set(p);
        }
    };
    let kind = Memo::new(move |_| draft.with(|p| p.kind));
    let preview_height = Signal::derive(|| 300u32);

    view! {
        <div class="modal-backdrop">
            <div class="modal panel-editor" role="dialog" aria-modal="true" aria-label="Edit panel">
                <header class="modal-header">
                    <h2>"Edit panel"</h2>
                    <div class="modal-actions">
                        <button type="button" class="button" on:click=move |_| on_cancel.run(())>"Cancel"</button>
                        <button type="button" class="button button-primary" on:click=apply>"Apply"</button>
                    </div>
                </header>
                {move || error.get().map(|e| view! { <p class="error-text" role="alert">{e}</p> })}
                <div class="panel-editor-body">
                    <div class="panel-editor-preview card">
                        <h3 class="panel-title">{move || preview.with(|p| p.title.clone())}</h3>
                        <PanelBody panel=preview source=DataSource::Direct selection=selection range=range tick=tick height=preview_height/>
                    </div>
                    <div class="panel-editor-form">
                        <div class="form-row">
                            <label class="field">
                                <span class="field-label">"Type"</span>
                                <select class="field-input" name="type" on:change=move |ev| {
                                    let k = PanelKind::parse(&event_target_value(&ev)).unwrap_or(PanelKind::Timeseries);
                                    if k.queries() && queries.with_untracked(Vec::is_empty) {
                                        queries.set(vec![row(next_key.get_value(), &Target { expr: String::new(), legend: String::new(), instant: false })]);
                                        next_key.update_value(|k| *k += 1);
                                    }
                                    set_opt(Box::new(move |p| p.kind = k));
                                }>
                                    {PanelKind::ALL.into_iter().filter(|k| *k != PanelKind::Row || panel.kind == PanelKind::Row).map(|k| view! {
                                        <option value=k.as_str() selected=move || kind.get() == k>{k.label()}</option>
                                    }).collect_view()}
                                </select>
                            </label>
                            <label class="field field-grow">
                                <span class="field-label">"Title"</span>
                                <input class="field-input" name="title" prop:value=move || draft.with(|p| p.title.clone())
                                    on:change=move |ev| { let v = event_target_value(&ev); set_opt(Box::new(move |p| p.title = v.clone())); }/>
                            </label>
                        </div>
                        <label class="field">
                            <span class="field-label">"Description"</span>
                            <input class="field-input" name="description" prop:value=move || draft.with(|p| p.description.clone())
                                on:change=move |ev| { let v = event_target_value(&ev); set_opt(Box::new(move |p| p.description = v.clone())); }/>
                        </label>
                        <Show when=move || kind.get() == PanelKind::AlertList>
                            <label class="field">
                                <span class="field-label">"Only alerts with labels"</span>
                                <input class="field-input" name="alert_matchers" placeholder="severity=\"critical\", team=~\"agents|infra\""
                                    prop:value=move || draft.with(|p| p.options.alert_matchers.clone())
                                    on:change=move |ev| { let v = event_target_value(&ev); set_opt(Box::new(move |p| p.options.alert_matchers = v.clone())); }/>
                            </label>
                        </Show>
                        <Show when=move || kind.get() == PanelKind::Logs>
                            <label class="field">
                                <span class="field-label">"Log search"</span>
                                <input class="field-input" name="logs_query" placeholder="service:coder level>=error agent_id:$agent"
                                    prop:value=move || draft.with(|p| p.options.logs_query.clone())
                                    on:change=move |ev| { let v = event_target_value(&ev); set_opt(Box::new(move |p| p.options.logs_query = v.clone())); }/>
                                <span class="field-hint">"The language of Explore → Logs; empty shows every line. The newest lines of the dashboard's range are listed."</span>
                            </label>
                        </Show>
                        <Show when=move || kind.get().queries()>
                            <fieldset class="editor-section">
                                <legend>"Queries"</legend>
                                <For each=move || queries.get() key=|q| q.key let:q>
                                    <div class="editor-query">
                                        <PromqlEditor text=q.expr on_run=run error=Signal::derive(|| None::<String>)/>
                                        <div class="form-row">
                                            <label class="field field-grow">
                                                <span class="field-label">"Legend"</span>
                                                <input class="field-input" placeholder="{{label}}" prop:value=move || q.legend.get()
                                                    on:change=move |ev| q.legend.set(event_target_value(&ev))/>
                                            </label>
                                            <Show when=move || kind.get() == PanelKind::Table>
                                                <label class="checkbox"><input type="checkbox" prop:checked=move || q.instant.get()
                                                    on:change=move |_| q.instant.update(|v| *v = !*v)/>" Instant"</label>
                                            </Show>
                                            <button type="button" class="link-button" on:click=move |_| queries.update(|qs| qs.retain(|x| x.key != q.key))>"Remove"</button>
                                        </div>
                                    </div>
                                </For>
                                <div class="form-row">
                                    <button type="button" class="button" on:click=move |_| {
                                        let key = next_key.get_value();
                                        next_key.update_value(|k| *k += 1);
                                        queries.update(|qs| qs.push(row(key, &Target { expr: String::new(), legend: String::new(), instant: false })));
                                    }>"Add query"</button>
                                    <button type="button" class="button button-primary" on:click=move |_| run.run(())>"Run queries"</button>
                                </div>
                            </fieldset>
                        </Show>
                        <Show when=move || kind.get() == PanelKind::Text>
                            <label class="field">
                                <span class="field-label">"Text (Markdown)"</span>
                                <textarea class="field-input" rows="8" name="text" prop:value=move || draft.with(|p| p.options.text.clone())
                                    on:change=move |ev| { let v = event_target_value(&ev); set_opt(Box::new(move |p| p.options.text = v.clone())); }></textarea>
                            </label>
                        </Show>
                        <Show when=move || kind.get().queries()>
                            <fieldset class="editor-section">
                                <legend>"Display"</legend>
                                <div class="form-row">
                                    <label class="field">
                                        <span class="field-label">"Unit"</span>
                                        <select class="field-input" name="unit" on:change=move |ev| { let v = event_target_value(&ev); set_opt(Box::new(move |p| p.options.unit = v.clone())); }>
                                            {UNITS.iter().map(|(u, label)| view! { <option value=*u selected=move || draft.with(|p| p.options.unit == *u)>{*label}</option> }).collect_view()}
                                        </select>
                                    </label>
                                    <label class="field field-small">
                                        <span class="field-label">"Decimals"</span>
                                        <input class="field-input" inputmode="numeric" prop:value=move || decimals_text.get() on:change=move |ev| { decimals_text.set(event_target_value(&ev)); run.run(()); }/>
                                    </label>
                                    <label class="field field-small">
                                        <span class="field-label">"Min"</span>
                                        <input class="field-input" inputmode="decimal" prop:value=move || min_text.get() on:change=move |ev| { min_text.set(event_target_value(&ev)); run.run(()); }/>
                                    </label>
                                    <label class="field field-small">
                                        <span class="field-label">"Max"</span>
                                        <input class="field-input" inputmode="decimal" prop:value=move || max_text.get() on:change=move |ev| { max_text.set(event_target_value(&ev)); run.run(()); }/>
                                    </label>
                                </div>
                                <Show when=move || kind.get() == PanelKind::Timeseries>
                                    <div class="form-row">
                                        <label class="field">
                                            <span class="field-label">"Draw as"</span>
                                            <select class="field-input" name="draw" on:change=move |ev| { let v = event_target_value(&ev); set_opt(Box::new(move |p| p.options.draw = v.clone())); }>
                                                {DRAW_STYLES.iter().map(|s| view! { <option value=*s selected=move || draft.with(|p| p.options.draw == *s)>{*s}</option> }).collect_view()}
                                            </select>
                                        </label>
                                        <label class="checkbox"><input type="checkbox" prop:checked=move || draft.with(|p| p.options.stack)
                                            on:change=move |_| set_opt(Box::new(|p| p.options.stack = !p.options.stack))/>" Stack series"</label>
                                        <label class="checkbox"><input type="checkbox" prop:checked=move || draft.with(|p| p.options.legend.show)
                                            on:change=move |_| set_opt(Box::new(|p| p.options.legend.show = !p.options.legend.show))/>" Legend"</label>
                                        {LEGEND_VALUES.iter().map(|v| view! {
                                            <label class="checkbox"><input type="checkbox" prop:checked=move || draft.with(|p| p.options.legend.values.iter().any(|x| x == v))
                                                on:change=move |_| set_opt(Box::new(move |p| {
                                                    let vals = &mut p.options.legend.values;
                                                    if let Some(i) = vals.iter().position(|x| x == v) { vals.remove(i); } else { vals.push(v.to_string()); }
                                                }))/>{format!(" {v}")}</label>
                                        }).collect_view()}
                                    </div>
                                </Show>
                                <Show when=move || matches!(kind.get(), PanelKind::Stat | PanelKind::Gauge | PanelKind::Bar | PanelKind::Table)>
                                    <div class="form-row">
                                        <label class="field">
                                            <span class="field-label">"Value"</span>
                                            <select class="field-input" name="reduce" on:change=move |ev| { let v = event_target_value(&ev); set_opt(Box::new(move |p| p.options.reduce = v.clone())); }>
                                                {REDUCERS.iter().map(|r| view! { <option value=*r selected=move || draft.with(|p| p.options.reduce == *r)>{*r}</option> }).collect_view()}
                                            </select>
                                        </label>
                                        <Show when=move || kind.get() == PanelKind::Stat>
                                            <label class="checkbox"><input type="checkbox" prop:checked=move || draft.with(|p| p.options.sparkline)
                                                on:change=move |_| set_opt(Box::new(|p| p.options.sparkline = !p.options.sparkline))/>" Sparkline"</label>
                                        </Show>
                                    </div>
                                </Show>
                            </fieldset>
                            <Thresholds draft=draft set_opt=set_opt/>
                            <Mappings draft=draft set_opt=set_opt/>
                        </Show>
                    </div>
                </div>
            </div>
        </div>
    }
}

type SetOpt = Box<dyn Fn(&mut Panel) + Send + Sync>;

#[component]
fn Thresholds(
    draft: RwSignal<Panel>,
    set_opt: impl Fn(SetOpt) + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let steps = move || draft.with(|p| p.options.thresholds.clone());
    view! {
        <fieldset class="editor-section">
            <legend>"Thresholds"</legend>
            {move || steps().into_iter().enumerate().map(|(i, t)| view! {
                <div class="form-row threshold-row">
                    <input class="field-input field-small" aria-label="Threshold value" placeholder=if i == 0 { "Base" } else { "Value" } disabled=i == 0
                        prop:value=t.value.map(|v| v.to_string()).unwrap_or_default()
                        on:change=move |ev| { let v = event_target_value(&ev).trim().parse::<f64>().ok(); set_opt(Box::new(move |p| p.options.thresholds[i].value = v)); }/>
                    <select class="field-input" aria-label="Threshold colour" on:change=move |ev| { let v = event_target_value(&ev); set_opt(Box::new(move |p| p.options.thresholds[i].color = v.clone())); }>
                        {["green", "yellow", "orange", "red", "blue", "purple"].into_iter().map(|c| view! { <option value=c selected=t.color == c>{c}</option> }).collect_view()}
                    </select>
                    <button type="button" class="link-button" on:click=move |_| set_opt(Box::new(move |p| { p.options.thresholds.remove(i); }))>"Remove"</button>
                </div>
            }).collect_view()}
            <div class="form-row">
                <button type="button" class="button" on:click=move |_| set_opt(Box::new(|p| {
                    let t = &mut p.options.thresholds;
                    let next = t.iter().filter_map(|s| s.value).fold(None, |m: Option<f64>, v| Some(m.map_or(v, |m| m.max(v))));
                    t.push(Threshold { value: if t.is_empty() { None } else { Some(next.map_or(80.0, |v| v + 10.0)) }, color: if t.is_empty() { "green".into() } else { "red".into() } });
                }))>"Add threshold"</button>
                <Show when=move || draft.with(|p| p.kind == PanelKind::Timeseries)>
                    <label class="field">
                        <span class="field-label">"Show thresholds"</span>
                        <select class="field-input" name="threshold_style" on:change=move |ev| { let v = event_target_value(&ev); set_opt(Box::new(move |p| p.options.threshold_style = v.clone())); }>
                            {["off", "line", "area"].into_iter().map(|s| view! { <option value=s selected=move || draft.with(|p| p.options.threshold_style == s)>{s}</option> }).collect_view()}
                        </select>
                    </label>
                </Show>
            </div>
        </fieldset>
    }
}

#[component]
fn Mappings(
    draft: RwSignal<Panel>,
    set_opt: impl Fn(SetOpt) + Copy + Send + Sync + 'static,
) -> impl IntoView {
    view! {
        <Show when=move || draft.with(|p| p.kind != PanelKind::Timeseries && p.kind != PanelKind::Heatmap)>
            <fieldset class="editor-section">
                <legend>"Value mappings"</legend>
                {move || draft.with(|p| p.options.mappings.clone()).into_iter().enumerate().map(|(i, m)| view! {
                    <div class="form-row">
                        <input class="field-input field-small" aria-label="Value" placeholder="Value" prop:value=m.value.clone().unwrap_or_default()
                            on:change=move |ev| { let v = event_target_value(&ev); set_opt(Box::new(move |p| p.options.mappings[i].value = (!v.trim().is_empty()).then(|| v.trim().to_string()))); }/>
                        <span class="muted">"shows"</span>
                        <input class="field-input" aria-label="Text" placeholder="Text" prop:value=m.text.clone()
                            on:change=move |ev| { let v = event_target_value(&ev); set_opt(Box::new(move |p| p.options.mappings[i].text = v.clone())); }/>
                        <button type="button" class="link-button" on:click=move |_| set_opt(Box::new(move |p| { p.options.mappings.remove(i); }))>"Remove"</button>
                    </div>
                }).collect_view()}
                <button type="button" class="button" on:click=move |_| set_opt(Box::new(|p| p.options.mappings.push(ValueMapping { value: Some("1".into()), from: None, to: None, text: "Up".into(), color: String::new() })))>"Add mapping"</button>
            </fieldset>
        </Show>
    }
}
