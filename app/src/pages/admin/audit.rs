//! Settings → Audit log: every change and sign-in, newest first, filtered by who and what, with
//! the state of the thing before and after.

use crate::api::{audit::AuditEvent, endpoints};
use crate::components::page_header::PageHeader;
use leptos::prelude::*;

fn pretty(value: &Option<serde_json::Value>) -> String {
    value
        .as_ref()
        .map(|v| serde_json::to_string_pretty(v).unwrap_or_default())
        .unwrap_or_else(|| "—".into())
}

/// The lines of `after` that are not in `before`, and the other way round, for a short summary.
fn changed_lines(before: &str, after: &str) -> (usize, usize) {
    let before_lines: std::collections::HashSet<&str> = before.lines().collect();
    let after_lines: std::collections::HashSet<&str> = after.lines().collect();
    (
        after_lines.difference(&before_lines).count(),
        before_lines.difference(&after_lines).count(),
    )
}

#[component]
pub fn AuditPage() -> impl IntoView {
    let actor = RwSignal::new(String::new());
    let text = RwSignal::new(String::new());
    let before = RwSignal::new(None::<i64>);
    let applied = RwSignal::new((String::new(), String::new()));
    let page = LocalResource::new(move || {
        let (actor, text) = applied.get();
        let before = before.get();
        async move { endpoints::list_audit(&actor, &text, before).await }
    });
    let search = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        before.set(None);
        applied.set((actor.get_untracked(), text.get_untracked()));
    };
    view! {
        <PageHeader title="Audit log" subtitle="Who changed what, when and from where; sign-ins and failed ones"/>
        <section class="card">
            <form class="form-row" on:submit=search aria-label="Filter the audit log">
                <label class="field"><span class="field-label">"Who"</span>
                    <input class="field-input" name="actor" placeholder="login or token:name" prop:value=move || actor.get() on:input=move |ev| actor.set(event_target_value(&ev))/></label>
                <label class="field field-grow"><span class="field-label">"What"</span>
                    <input class="field-input" name="q" placeholder="e.g. dashboards, sign-in failed" prop:value=move || text.get() on:input=move |ev| text.set(event_target_value(&ev))/></label>
                <div class="form-actions"><button type="submit" class="button">"Filter"</button></div>
            </form>
            {move || match page.get() {
                None => view! { <p class="muted">"Loading…"</p> }.into_any(),
                Some(Err(e)) => view! { <p class="error-text" role="alert">{e.to_string()}</p> }.into_any(),
                Some(Ok(p)) if p.events.is_empty() => view! { <p class="muted">"Nothing recorded matches."</p> }.into_any(),
                Some(Ok(p)) => {
                    let next = p.next;
                    view! {
                        <table class="result-table audit-table">
                            <thead><tr><th scope="col">"When"</th><th scope="col">"Who"</th><th scope="col">"From"</th><th scope="col">"What"</th><th scope="col">"Target"</th><th scope="col">"Answer"</th><th scope="col">"Change"</th></tr></thead>
                            <tbody>{p.events.into_iter().map(|e| view! { <AuditRow event=e/> }).collect_view()}</tbody>
                        </table>
                        {next.map(|n| view! {
                            <button type="button" class="button" on:click=move |_| before.set(Some(n))>"Older"</button>
                        })}
                    }.into_any()
                }
            }}
        </section>
    }
}

#[component]
fn AuditRow(event: AuditEvent) -> impl IntoView {
    let (before, after) = (pretty(&event.before), pretty(&event.after));
    let has_change = event.before.is_some() || event.after.is_some();
    let (added, removed) = changed_lines(&before, &after);
    let failed = event.outcome >= 400;
    view! {
        <tr class:audit-failed=failed>
            <td>{event.at.format("%Y-%m-%d %H:%M:%S").to_string()}</td>
            <td><strong>{event.actor.clone()}</strong></td>
            <td>{event.address.clone()}</td>
            <td><code>{event.action.clone()}</code></td>
            <td><code>{event.target.clone()}</code></td>
            <td>{event.outcome}</td>
            <td>{has_change.then(|| view! {
                <details class="audit-change">
                    <summary>{format!("+{added} −{removed} lines")}</summary>
                    <div class="audit-sides">
                        <div><h3 class="small">"Before"</h3><pre class="code">{before.clone()}</pre></div>
                        <div><h3 class="small">"After"</h3><pre class="code">{after.clone()}</pre></div>
                    </div>
                </details>
            })}</td>
        </tr>
    }
}

#[cfg(test)]
mod tests {
    use super::changed_lines;

    #[test]
    fn a_change_is_summed_up_in_lines() {
        assert_eq!(changed_lines("a\nb\nc", "a\nB\nc\nd"), (2, 1));
        assert_eq!(changed_lines("—", "{}"), (1, 1));
    }
}
