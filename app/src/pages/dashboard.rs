//! A dashboard: its variables, its grid of panels over the URL's time range, full-screen panels,
//! collapsible rows, edit mode (add, move, resize, duplicate, remove panels; the panel editor with
//! a live preview; settings and variables; save with version checks), history, sharing, and the
//! same view opened by a public link or embedded as a single panel.

use crate::api::{
    dashboard::{
        Dashboard, DashboardRecord, GridPos, Panel, PanelKind, ResolveVariable, SaveDashboard,
        Target, Variable, VariableOptions, GRID_COLUMNS, GRID_ROW_PX,
    },
    endpoints, ClientError,
};
use crate::components::{
    page_header::PageHeader,
    panel::PanelBody,
    refresh_picker::RefreshPicker,
    time_picker::TimePicker,
    time_series_chart::SharedCursor,
    url_state::{query_string, use_query_setter, use_refresh_tick, use_time_range},
};
use crate::dashboard::{
    choose, interpolate_text, layout, place_below, DataSource, Selection, ALL_VALUE,
};
use crate::{api::accounts::Role, components::session::use_session};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};

mod editor;
mod settings;
mod share;

/// The dialogs a dashboard opens over itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Dialog {
    Share,
    Settings,
    History,
}

/// What a panel's (or a row's) buttons do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum PanelAction {
    View,
    Edit,
    Duplicate,
    Remove,
    Collapse,
}

pub use editor::PanelEditor;

/// Gap between grid cells, in pixels (as in the stylesheet).
const GAP_PX: u32 = 8;
/// Height of a panel's title bar, in pixels.
const HEADER_PX: u32 = 30;

/// The pixel height of a panel body `h` grid rows tall.
fn body_height(h: u32) -> u32 {
    (h * GRID_ROW_PX + h.saturating_sub(1) * GAP_PX).saturating_sub(HEADER_PX)
}

/// A variable with its options and selection.
#[derive(Clone, Debug, PartialEq)]
pub struct VarState {
    pub variable: Variable,
    pub options: Vec<String>,
    pub chosen: Vec<String>,
    pub all: bool,
}

/// Every variable's state once resolved (or why not); `None` until then.
pub type Resolved = RwSignal<Option<Result<Vec<VarState>, String>>>;

/// Resolves every variable in order (each query sees the selections before it) from the URL's
/// `var-<name>` values; `None` until done.
pub fn use_variables(
    dashboard: Signal<Dashboard>,
    source: DataSource,
) -> (Resolved, Memo<Selection>) {
    let query = use_query_map();
    let variables = Memo::new(move |_| dashboard.with(|d| d.variables.clone()));
    let asked = Memo::new(move |_| {
        variables.with(|vars| {
            query.with(|q| {
                vars.iter()
                    .map(|v| (v.name.clone(), q.get_all(&format!("var-{}", v.name))))
                    .collect::<Vec<_>>()
            })
        })
    });
    let resolved = LocalResource::new(move || {
        let vars = variables.get();
        let asked = asked.get();
        let source = source.clone();
        async move {
            let mut selection = Selection::default();
            let mut out = Vec::new();
            for (v, (_, wanted)) in vars.into_iter().zip(asked) {
                let options = match (&v.source, &source) {
                    // Fixed lists need no round trip.
                    (
                        crate::api::dashboard::VariableSource::Custom { values }
                        | crate::api::dashboard::VariableSource::Interval { values },
                        _,
                    ) => Ok(VariableOptions {
                        values: crate::dashboard::split_list(values),
                    }),
                    (_, DataSource::Direct) => {
                        let request = ResolveVariable {
                            variable: v.clone(),
                            values: selection.values.clone(),
                        };
                        endpoints::list_variable_options(&request).await
                    }
                    (_, DataSource::Public(token)) => {
                        endpoints::list_public_variable_options(
                            token,
                            &v.name,
                            &selection.url_pairs(),
                        )
                        .await
                    }
                }
                .map_err(|e| format!("variable {}: {e}", v.name))?
                .values;
                let (chosen, all) = choose(&v, &options, wanted.as_ref());
                selection.values.insert(v.name.clone(), chosen.clone());
                if all {
                    selection.all.insert(v.name.clone());
                }
                out.push(VarState {
                    variable: v,
                    options,
                    chosen,
                    all,
                });
            }
            Ok(out)
        }
    });
    // Only real changes reach the page: resolving again to the same result (as when the URL is
    // filled with the defaults) leaves the pickers and panels as they are.
    let settled = RwSignal::new(None::<Result<Vec<VarState>, String>>);
    Effect::new(move |_| {
        if let Some(r) = resolved.get() {
            if settled.with_untracked(|s| s.as_ref() != Some(&r)) {
                settled.set(Some(r));
            }
        }
    });
    let selection = Memo::new(move |_| {
        let mut s = Selection::default();
        if let Some(Ok(states)) = settled.get() {
            for st in states {
                if st.all {
                    s.all.insert(st.variable.name.clone());
                }
                s.values.insert(st.variable.name, st.chosen);
            }
        }
        s
    });
    (settled, selection)
}

/// The variable pickers above the panels.
#[component]
fn VariablesBar(states: Vec<VarState>) -> impl IntoView {
    let set = use_query_setter(false);
    view! {
        <div class="variables-bar" role="group" aria-label="Variables">
            {states.into_iter().map(|st| {
                let name = st.variable.name.clone();
                let label = if st.variable.label.is_empty() { name.clone() } else { st.variable.label.clone() };
                let key = format!("var-{name}");
                let set = set.clone();
                if st.variable.multi {
                    view! { <MultiPicker label=label key=key state=st set=set/> }.into_any()
                } else {
                    let id = format!("var-{name}");
                    let for_id = id.clone();
                    let on_change = move |ev: leptos::ev::Event| {
                        set(vec![(key.clone(), vec![event_target_value(&ev)])]);
                    };
                    let current = if st.all { ALL_VALUE.to_string() } else { st.chosen.first().cloned().unwrap_or_default() };
                    view! {
                        <label class="variable" for=for_id>
                            <span class="variable-label">{label}</span>
                            <select id=id class="field-input variable-select" on:change=on_change prop:value=current.clone()>
                                {st.variable.include_all.then(|| view! { <option value=ALL_VALUE selected=st.all>"All"</option> })}
                                {st.options.iter().map(|o| view! { <option value=o.clone() selected=!st.all && *o == current>{o.clone()}</option> }).collect_view()}
                            </select>
                        </label>
                    }.into_any()
                }
            }).collect_view()}
        </div>
    }
}

/// A multi-value picker: a button showing the selection and a list of checkboxes with "All".
#[component]
fn MultiPicker(
    label: String,
    key: String,
    state: VarState,
    set: impl Fn(Vec<(String, Vec<String>)>) + Clone + Send + Sync + 'static,
) -> impl IntoView {
    let open = RwSignal::new(false);
    let chosen = RwSignal::new(if state.all {
        Vec::new()
    } else {
        state.chosen.clone()
    });
    let all = RwSignal::new(state.all);
    let summary = move || {
        if all.get() {
            "All".to_string()
        } else {
            let c = chosen.get();
            match c.len() {
                0 => "None".into(),
                1..=2 => c.join(" + "),
                n => format!("{} + {} more", c[0], n - 1),
            }
        }
    };
    let apply = move || {
        let values = if all.get_untracked() {
            vec![ALL_VALUE.to_string()]
        } else {
            chosen.get_untracked()
        };
        set(vec![(key.clone(), values)]);
        open.set(false);
    };
    let include_all = state.variable.include_all;
    let options = state.options.clone();
    view! {
        <div class="variable">
            <span class="variable-label">{label.clone()}</span>
            <div class="variable-multi">
                <button type="button" class="field-input variable-select" aria-haspopup="listbox" aria-expanded=move || open.get().to_string()
                    on:click=move |_| open.update(|o| *o = !*o)>{summary}</button>
                <Show when=move || open.get()>
                    <div class="variable-menu" role="listbox" aria-multiselectable="true" aria-label=label.clone()>
                        {include_all.then(|| view! {
                            <label class="variable-option">
                                <input type="checkbox" prop:checked=move || all.get() on:change=move |_| { all.update(|a| *a = !*a); if all.get_untracked() { chosen.set(Vec::new()); } }/>
                                "All"
                            </label>
                        })}
                        {options.iter().cloned().map(|o| {
                            let value = o.clone();
                            view! {
                                <label class="variable-option">
                                    <input type="checkbox" prop:checked={ let o = o.clone(); move || !all.get() && chosen.with(|c| c.contains(&o)) }
                                        on:change=move |_| {
                                            all.set(false);
                                            chosen.update(|c| if let Some(i) = c.iter().position(|x| *x == value) { c.remove(i); } else { c.push(value.clone()); });
                                        }/>
                                    {o}
                                </label>
                            }
                        }).collect_view()}
                        <div class="variable-menu-actions">
                            <button type="button" class="button button-primary" on:click={ let apply = apply.clone(); move |_| apply() }>"Apply"</button>
                        </div>
                    </div>
                </Show>
            </div>
        </div>
    }
}

/// Writes the dashboard's defaults into the URL when it names none, so the address bar always
/// reproduces the view.
fn fill_url_defaults(
    dashboard: &Dashboard,
    states: Option<&Vec<VarState>>,
    query: &leptos_router::params::ParamsMap,
) -> Vec<(String, Vec<String>)> {
    let mut changes = Vec::new();
    if query.get_str("from").is_none() && query.get_str("to").is_none() {
        changes.push(("from".to_string(), vec![dashboard.time.from.clone()]));
        changes.push(("to".to_string(), vec![dashboard.time.to.clone()]));
    }
    if query.get_str("refresh").is_none() && !dashboard.refresh.is_empty() {
        changes.push(("refresh".to_string(), vec![dashboard.refresh.clone()]));
    }
    for st in states.into_iter().flatten() {
        let key = format!("var-{}", st.variable.name);
        if query.get_str(&key).is_none() {
            let values = if st.all {
                vec![ALL_VALUE.to_string()]
            } else {
                st.chosen.clone()
            };
            if !values.is_empty() {
                changes.push((key, values));
            }
        }
    }
    changes
}

/// `/d/:uid`: a stored dashboard.
#[component]
pub fn DashboardPage() -> impl IntoView {
    let params = use_params_map();
    let uid = Memo::new(move |_| params.with(|p| p.get("uid").unwrap_or_default()));
    let record = LocalResource::new(move || {
        let uid = uid.get();
        async move { endpoints::get_dashboard(&uid).await }
    });
    view! {
        {move || match record.get() {
            None => view! { <PageHeader title="Dashboard"/><p class="muted page-loading">"Loading the dashboard…"</p> }.into_any(),
            Some(Err(e)) => view! {
                <PageHeader title="Dashboard"/>
                <section class="card"><p class="error-text" role="alert">{e.to_string()}</p>
                <p><a href="/dashboards">"All dashboards"</a></p></section>
            }.into_any(),
            Some(Ok(r)) => view! { <DashboardView record=r source=DataSource::Direct/> }.into_any(),
        }}
    }
}

/// `/public/:token`: a dashboard opened by a public link, read-only, variables usable.
#[component]
pub fn PublicDashboardPage() -> impl IntoView {
    let params = use_params_map();
    let token = Memo::new(move |_| params.with(|p| p.get("token").unwrap_or_default()));
    let dashboard = LocalResource::new(move || {
        let token = token.get();
        async move { endpoints::get_public_dashboard(&token).await }
    });
    view! {
        <div class="public-frame">
            {move || match dashboard.get() {
                None => view! { <p class="muted page-loading">"Loading the dashboard…"</p> }.into_any(),
                Some(Err(e)) => view! {
                    <Title text="Dashboard unavailable"/>
                    <section class="card public-gone"><h1>"This dashboard is not available"</h1>
                    <p class="error-text" role="alert">{e.to_string()}</p></section>
                }.into_any(),
                Some(Ok(d)) => {
                    let record = DashboardRecord {
                        dashboard: d,
                        version: 0,
                        created_at: chrono::Utc::now(),
                        updated_at: chrono::Utc::now(),
                        updated_by: String::new(),
                        starred: false,
                        provisioned: false,
                    };
                    view! { <DashboardView record=record source=DataSource::Public(token.get_untracked())/> }.into_any()
                }
            }}
        </div>
    }
}

/// `/d-solo/:uid/:panel`: one panel alone, for iframes.
#[component]
pub fn PanelSoloPage() -> impl IntoView {
    let params = use_params_map();
    let uid = Memo::new(move |_| params.with(|p| p.get("uid").unwrap_or_default()));
    let id = Memo::new(move |_| {
        params.with(|p| {
            p.get("panel")
                .and_then(|v| v.parse::<u32>().ok())
                .unwrap_or(0)
        })
    });
    let record = LocalResource::new(move || {
        let uid = uid.get();
        async move { endpoints::get_dashboard(&uid).await }
    });
    view! {
        <div class="solo-frame">
            {move || match record.get() {
                None => ().into_any(),
                Some(Err(e)) => view! { <p class="error-text" role="alert">{e.to_string()}</p> }.into_any(),
                Some(Ok(r)) => match r.dashboard.panel(id.get()).cloned() {
                    None => view! { <p class="error-text" role="alert">{format!("dashboard \"{}\" has no panel {}", r.dashboard.uid, id.get())}</p> }.into_any(),
                    Some(panel) => view! { <SoloPanel dashboard=r.dashboard panel=panel/> }.into_any(),
                },
            }}
        </div>
    }
}

#[component]
fn SoloPanel(dashboard: Dashboard, panel: Panel) -> impl IntoView {
    let title = StoredValue::new(panel.title.clone());
    let dashboard = Signal::stored(dashboard);
    let (resolved, selection) = use_variables(dashboard, DataSource::Direct);
    let range = use_time_range();
    let tick = use_refresh_tick();
    let height = RwSignal::new(400u32);
    #[cfg(feature = "hydrate")]
    {
        let measure = move || {
            if let Some(h) = window().inner_height().ok().and_then(|h| h.as_f64()) {
                height.set((h as u32).saturating_sub(40).max(100));
            }
        };
        measure();
        let handle = window_event_listener(leptos::ev::resize, move |_| measure());
        on_cleanup(move || handle.remove());
    }
    let shown_title = move || title.with_value(|t| interpolate_text(t, &selection.get().values));
    view! {
        <Title text=shown_title/>
        <h1 class="panel-title solo-title">{shown_title}</h1>
        <Show when=move || resolved.get().is_some() fallback=|| ()>
            <PanelBody panel=Signal::stored(panel.clone()) source=DataSource::Direct selection=selection range=range tick=tick height=height/>
        </Show>
    }
}

/// Explore with a panel's first query, its variables written in, over the same range.
fn explore_link(panel: &Panel, selection: &Selection, range: &crate::time::TimeRange) -> String {
    let Some(target) = panel.targets.first() else {
        return "/explore/metrics".into();
    };
    let (from, to) = range.resolve(chrono::Utc::now());
    let span = (to - from).num_milliseconds();
    let mut values = selection.values.clone();
    values.extend(crate::dashboard::builtins(
        span,
        crate::time::auto_step_ms(span, 1000),
    ));
    let q = crate::dashboard::interpolate(&target.expr, &values);
    let (f, t) = (range.from.to_string(), range.to.to_string());
    format!(
        "/explore/metrics{}",
        query_string([("q", q.as_str()), ("from", f.as_str()), ("to", t.as_str())])
    )
}

/// What a drag on the grid is doing: moving or resizing one panel, from where.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Drag {
    id: u32,
    resize: bool,
    start: (i32, i32),
    grid: GridPos,
}

/// The dashboard itself, for stored dashboards and public links alike.
#[component]
fn DashboardView(record: DashboardRecord, source: DataSource) -> impl IntoView {
    let session = use_session();
    let editable = source == DataSource::Direct;
    let dash = RwSignal::new(record.dashboard.clone());
    let saved = RwSignal::new(record.dashboard.clone());
    let version = RwSignal::new(record.version);
    let starred = RwSignal::new(record.starred);
    let provisioned = record.provisioned;
    let editing = RwSignal::new(false);
    let editor = RwSignal::new(None::<Panel>);
    let dialog = RwSignal::new(None::<Dialog>);
    let message = RwSignal::new(None::<(bool, String)>);
    let conflict = RwSignal::new(false);
    let query = use_query_map();
    let replace = use_query_setter(true);
    let set_query = {
        let set = use_query_setter(false);
        Callback::new(move |changes: Vec<(String, Vec<String>)>| set(changes))
    };
    let range = use_time_range();
    let tick = use_refresh_tick();
    provide_context(SharedCursor(RwSignal::new(None)));
    let (resolved, selection) = use_variables(dash.into(), source.clone());

    // Fill the URL with the dashboard's defaults once the variables are known.
    Effect::new({
        let replace = replace.clone();
        move |_| {
            let states = resolved.get();
            let states = match &states {
                Some(Ok(s)) => Some(s),
                Some(Err(_)) => None,
                None if dash.with_untracked(|d| d.variables.is_empty()) => None,
                None => return,
            };
            let changes =
                dash.with_untracked(|d| query.with_untracked(|q| fill_url_defaults(d, states, q)));
            if !changes.is_empty() {
                replace(changes);
            }
        }
    });

    let view_panel = Memo::new(move |_| {
        query.with(|q| q.get_str("viewPanel").and_then(|v| v.parse::<u32>().ok()))
    });
    let ready =
        move || matches!(resolved.get(), Some(Ok(_))) || dash.with(|d| d.variables.is_empty());
    let dirty = Memo::new(move |_| dash.with(|d| saved.with(|s| d != s)));
    let title = Memo::new(move |_| dash.with(|d| d.title.clone()));
    let grid_ref = NodeRef::<leptos::html::Div>::new();
    let drag = RwSignal::new(None::<Drag>);

    // Moving and resizing follow the pointer anywhere on the page while a drag lasts.
    #[cfg(feature = "hydrate")]
    {
        let cell = move || -> (f64, f64) {
            let width = grid_ref
                .get_untracked()
                .map(|g| g.client_width() as f64)
                .unwrap_or(1200.0);
            let col = (width + f64::from(GAP_PX)) / f64::from(GRID_COLUMNS);
            (col, f64::from(GRID_ROW_PX + GAP_PX))
        };
        let moving = window_event_listener(leptos::ev::mousemove, move |ev| {
            let Some(d) = drag.get_untracked() else {
                return;
            };
            let (cw, rh) = cell();
            let dx = ((ev.client_x() - d.start.0) as f64 / cw).round() as i32;
            let dy = ((ev.client_y() - d.start.1) as f64 / rh).round() as i32;
            dash.update(|dash| {
                if let Some(p) = dash.panels.iter_mut().find(|p| p.id == d.id) {
                    let g = d.grid;
                    if d.resize {
                        p.grid.w = (g.w as i32 + dx).clamp(1, (GRID_COLUMNS - g.x) as i32) as u32;
                        p.grid.h = (g.h as i32 + dy).clamp(2, 100) as u32;
                    } else {
                        p.grid.x = (g.x as i32 + dx).clamp(0, (GRID_COLUMNS - g.w) as i32) as u32;
                        p.grid.y = (g.y as i32 + dy).max(0) as u32;
                    }
                }
            });
        });
        let up = window_event_listener(leptos::ev::mouseup, move |_| {
            if let Some(d) = drag.get_untracked() {
                drag.set(None);
                dash.update(|dash| crate::dashboard::settle(&mut dash.panels, d.id));
            }
        });
        on_cleanup(move || {
            moving.remove();
            up.remove();
        });
    }

    let save = move |overwrite: bool| {
        let uid = dash.with_untracked(|d| d.uid.clone());
        let request = SaveDashboard {
            dashboard: dash.get_untracked(),
            version: Some(version.get_untracked()),
            message: String::new(),
            overwrite,
        };
        leptos::task::spawn_local(async move {
            match endpoints::update_dashboard(&uid, &request).await {
                Ok(r) => {
                    version.set(r.version);
                    saved.set(r.dashboard.clone());
                    dash.set(r.dashboard);
                    conflict.set(false);
                    editing.set(false);
                    message.set(Some((false, format!("Saved as version {}", r.version))));
                }
                Err(ClientError::Api { status: 409, body }) => {
                    conflict.set(true);
                    message.set(Some((true, body.error.message)));
                }
                Err(e) => message.set(Some((true, e.to_string()))),
            }
        });
    };
    let toggle_star = move |_| {
        let uid = dash.with_untracked(|d| d.uid.clone());
        let on = !starred.get_untracked();
        leptos::task::spawn_local(async move {
            match endpoints::set_starred(&uid, on).await {
                Ok(()) => starred.set(on),
                Err(e) => message.set(Some((true, e.to_string()))),
            }
        });
    };
    let add_panel = move |kind: PanelKind| {
        let panel = dash.with_untracked(|d| {
            let (w, h) = if kind == PanelKind::Row {
                (GRID_COLUMNS, 1)
            } else {
                (12, 8)
            };
            let mut panel = Panel::new(d.next_panel_id(), kind, place_below(&d.panels, w, h));
            panel.title = if kind == PanelKind::Row {
                "Row"
            } else {
                "New panel"
            }
            .into();
            if kind.queries() {
                panel.targets.push(Target {
                    expr: String::new(),
                    legend: String::new(),
                    instant: false,
                });
            }
            panel
        });
        if kind == PanelKind::Row {
            dash.update(|d| d.panels.push(panel));
        } else {
            editor.set(Some(panel));
        }
    };
    let apply_panel = Callback::new(move |panel: Panel| {
        dash.update(|d| match d.panels.iter_mut().find(|p| p.id == panel.id) {
            Some(p) => *p = panel,
            None => d.panels.push(panel),
        });
        editor.set(None);
    });
    let panel_action = Callback::new(move |(id, action): (u32, PanelAction)| match action {
        PanelAction::View => set_query.run(vec![("viewPanel".into(), vec![id.to_string()])]),
        PanelAction::Edit => editor.set(dash.with_untracked(|d| d.panel(id).cloned())),
        PanelAction::Duplicate => dash.update(|d| {
            if let Some(p) = d.panel(id).cloned() {
                let mut copy = p;
                copy.id = d.next_panel_id();
                copy.title = format!("{} (copy)", copy.title);
                copy.grid = place_below(&d.panels, copy.grid.w, copy.grid.h);
                d.panels.push(copy);
            }
        }),
        PanelAction::Remove => dash.update(|d| d.panels.retain(|p| p.id != id)),
        PanelAction::Collapse => dash.update(|d| {
            if let Some(p) = d.panels.iter_mut().find(|p| p.id == id) {
                p.collapsed = !p.collapsed;
            }
        }),
    });

    let panels = move || {
        let d = dash.get();
        match view_panel.get() {
            Some(id) => d
                .panel(id)
                .cloned()
                .map(|p| {
                    vec![(
                        p,
                        GridPos {
                            x: 0,
                            y: 0,
                            w: GRID_COLUMNS,
                            h: 20,
                        },
                    )]
                })
                .unwrap_or_default(),
            None => layout(&d.panels)
                .into_iter()
                .map(|(i, g)| (d.panels[i].clone(), g))
                .collect(),
        }
    };
    let source_for_panels = StoredValue::new(source.clone());
    let source_for_share = source.clone();
    let uid_for_export = record.dashboard.uid.clone();

    view! {
        <Title text=move || title.get()/>
        <header class="page-header dashboard-header">
            <div class="page-header-titles">
                <h1 class="page-header-title">
                    {move || title.get()}
                    {move || dirty.get().then(|| view! { <span class="dashboard-dirty" title="Unsaved changes">" •"</span> })}
                </h1>
                <p class="page-header-subtitle">
                    {move || dash.with(|d| {
                        let mut parts = Vec::new();
                        if !d.folder.is_empty() { parts.push(d.folder.clone()); }
                        if !d.tags.is_empty() { parts.push(d.tags.join(", ")); }
                        parts.join(" · ")
                    })}
                </p>
            </div>
            <div class="page-header-controls dashboard-controls">
                {editable.then(|| view! {
                    <button type="button" class="icon-button star-button" aria-pressed=move || starred.get().to_string()
                        title=move || if starred.get() { "Remove from starred" } else { "Star this dashboard" }
                        on:click=toggle_star>{move || if starred.get() { "★" } else { "☆" }}</button>
                })}
                <TimePicker/>
                <RefreshPicker/>
                <button type="button" class="button" on:click=move |_| dialog.set(Some(Dialog::Share))>"Share"</button>
                {editable.then(|| view! {
                    <Show when=move || !editing.get() fallback=move || view! {
                        <button type="button" class="button" on:click=move |_| add_panel(PanelKind::Timeseries)>"Add panel"</button>
                        <button type="button" class="button" on:click=move |_| add_panel(PanelKind::Row)>"Add row"</button>
                        <button type="button" class="button" on:click=move |_| dialog.set(Some(Dialog::Settings))>"Settings"</button>
                        <button type="button" class="button" on:click=move |_| { dash.set(saved.get_untracked()); editing.set(false); }>"Discard"</button>
                        <button type="button" class="button button-primary" on:click=move |_| save(false)>"Save"</button>
                    }>
                        <button type="button" class="button" on:click=move |_| dialog.set(Some(Dialog::History))>"History"</button>
                        <a class="button" href=endpoints::paths::export_dashboard(&uid_for_export) download="">"Export"</a>
                        <button type="button" class="button button-primary" hidden=move || !session.can(Role::Editor) disabled=provisioned
                            title=if provisioned { "Provisioned from a file: change the file" } else { "Add, move, resize and edit panels" }
                            on:click=move |_| editing.set(true)>"Edit"</button>
                    </Show>
                })}
            </div>
        </header>
        {move || message.get().map(|(error, text)| view! {
            <div class=if error { "banner banner-error" } else { "banner" } role=if error { "alert" } else { "status" }>
                <span>{text}</span>
                {move || conflict.get().then(|| view! {
                    <button type="button" class="button" on:click=move |_| save(true)>"Overwrite theirs"</button>
                })}
                <button type="button" class="link-button" on:click=move |_| { message.set(None); conflict.set(false); }>"Dismiss"</button>
            </div>
        })}
        {move || match resolved.get() {
            Some(Ok(states)) if !states.is_empty() => view! { <VariablesBar states=states/> }.into_any(),
            Some(Err(e)) => view! { <p class="error-text" role="alert">{e}</p> }.into_any(),
            _ => ().into_any(),
        }}
        {move || view_panel.get().map(|_| view! {
            <p class="dashboard-back"><button type="button" class="link-button" on:click=move |_| set_query.run(vec![("viewPanel".into(), vec![])])>"← Back to the dashboard"</button></p>
        })}
        <Show when=ready fallback=|| view! { <p class="muted">"Resolving variables…"</p> }>
            <div class="dashboard-grid" class:editing=move || editing.get() node_ref=grid_ref>
                <For each=panels key=|(p, g)| (p.id, p.collapsed, *g, p.title.clone()) let:item>
                    {
                        let (panel, grid) = item;
                        let id = panel.id;
                        let live = Memo::new(move |_| dash.with(|d| d.panel(id).cloned()).unwrap_or_else(|| panel.clone()));
                        let style = format!("grid-column:{} / span {};grid-row:{} / span {}", grid.x + 1, grid.w, grid.y + 1, grid.h);
                        let shown_title = move || interpolate_text(&live.with(|p| p.title.clone()), &selection.get().values);
                        if live.with_untracked(|p| p.kind == PanelKind::Row) {
                            view! {
                                <div class="dashboard-row" style=style>
                                    <button type="button" class="dashboard-row-toggle" aria-expanded=move || (!live.with(|p| p.collapsed)).to_string()
                                        on:click=move |_| panel_action.run((id, PanelAction::Collapse))>
                                        <span class="dashboard-row-caret">{move || if live.with(|p| p.collapsed) { "▸" } else { "▾" }}</span>
                                        {shown_title}
                                    </button>
                                    <Show when=move || editing.get()>
                                        <button type="button" class="link-button" on:click=move |_| panel_action.run((id, PanelAction::Edit))>"Rename"</button>
                                        <button type="button" class="link-button" on:click=move |_| panel_action.run((id, PanelAction::Remove))>"Remove"</button>
                                    </Show>
                                </div>
                            }.into_any()
                        } else {
                            let source = source_for_panels.get_value();
                            let height = Signal::derive(move || {
                                if view_panel.get().is_some() { 560 } else { live.with(|p| body_height(p.grid.h)) }
                            });
                            let description = live.with_untracked(|p| p.description.clone());
                            view! {
                                <section class="panel card" style=style aria-label=shown_title data-panel-id=id.to_string()>
                                    <header class="panel-header"
                                        on:mousedown=move |ev: leptos::ev::MouseEvent| {
                                            if editing.get_untracked() && ev.button() == 0 {
                                                ev.prevent_default();
                                                drag.set(Some(Drag { id, resize: false, start: (ev.client_x(), ev.client_y()), grid: live.get_untracked().grid }));
                                            }
                                        }>
                                        <h2 class="panel-title" title=move || panel_tooltip(&shown_title(), &description)>{shown_title}</h2>
                                        <div class="panel-actions">
                                            <Show when=move || view_panel.get().is_none()>
                                                <button type="button" class="link-button" title="View this panel alone" on:click=move |_| panel_action.run((id, PanelAction::View))>"View"</button>
                                            </Show>
                                            {editable.then(|| view! {
                                                <a class="link-button" title="Open the first query in Explore" href=move || explore_link(&live.get(), &selection.get(), &range.get())>"Explore"</a>
                                            })}
                                            <Show when=move || editing.get()>
                                                <button type="button" class="link-button" on:click=move |_| panel_action.run((id, PanelAction::Edit))>"Edit"</button>
                                                <button type="button" class="link-button" on:click=move |_| panel_action.run((id, PanelAction::Duplicate))>"Duplicate"</button>
                                                <button type="button" class="link-button" on:click=move |_| panel_action.run((id, PanelAction::Remove))>"Remove"</button>
                                            </Show>
                                        </div>
                                    </header>
                                    <PanelBody panel=live source=source selection=selection range=range tick=tick height=height/>
                                    <Show when=move || editing.get()>
                                        <span class="panel-resize" title="Drag to resize" aria-hidden="true"
                                            on:mousedown=move |ev: leptos::ev::MouseEvent| {
                                                ev.prevent_default();
                                                drag.set(Some(Drag { id, resize: true, start: (ev.client_x(), ev.client_y()), grid: live.get_untracked().grid }));
                                            }></span>
                                    </Show>
                                </section>
                            }.into_any()
                        }
                    }
                </For>
            </div>
            {move || dash.with(|d| d.panels.is_empty()).then(|| view! {
                <section class="card dashboard-empty">
                    <p>"This dashboard has no panels yet."</p>
                    {editable.then(|| view! { <button type="button" class="button button-primary" on:click=move |_| { editing.set(true); add_panel(PanelKind::Timeseries); }>"Add a panel"</button> })}
                </section>
            })}
        </Show>
        {move || editor.get().map(|panel| view! {
            <PanelEditor panel=panel selection=selection on_apply=apply_panel on_cancel=Callback::new(move |_| editor.set(None))/>
        })}
        {
            let source = source_for_share.clone();
            move || match dialog.get() {
                Some(Dialog::Share) => view! { <share::ShareDialog dashboard=dash source=source.clone() selection=selection panels=dash on_close=Callback::new(move |_| dialog.set(None))/> }.into_any(),
                Some(Dialog::Settings) => view! { <settings::SettingsDialog dash=dash on_close=Callback::new(move |_| dialog.set(None))/> }.into_any(),
                Some(Dialog::History) => view! { <settings::HistoryDialog dash=dash saved=saved version=version on_close=Callback::new(move |_| dialog.set(None))/> }.into_any(),
                _ => ().into_any(),
            }
        }
    }
}

/// A panel title's tooltip: the whole title (it may be cut short), then the description.
fn panel_tooltip(title: &str, description: &str) -> String {
    if description.is_empty() {
        title.to_string()
    } else {
        format!("{title}\n{description}")
    }
}
