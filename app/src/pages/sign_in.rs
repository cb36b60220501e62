//! The sign-in page: login and password, then back to the page that sent you here.

use crate::api::{accounts::SignIn, endpoints, ClientError};
use crate::{api::redirect::local_or_home, components::session::go_to};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

#[component]
pub fn SignInPage() -> impl IntoView {
    let query = use_query_map();
    let login = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if busy.get_untracked() {
            return;
        }
        busy.set(true);
        error.set(None);
        let request = SignIn {
            login: login.get_untracked(),
            password: password.get_untracked(),
        };
        let next = local_or_home(query.get_untracked().get("next").as_deref());
        leptos::task::spawn_local(async move {
            match endpoints::sign_in(&request).await {
                Ok(_) => {
                    // A full load, so every part of the page starts signed in.
                    go_to(&next);
                }
                Err(ClientError::Api { status: 429, body }) => {
                    error.set(Some(body.error.message));
                    busy.set(false);
                }
                Err(e) => {
                    error.set(Some(match &e {
                        ClientError::Api { body, .. } => body.error.message.clone(),
                        ClientError::Transport(m) => m.clone(),
                    }));
                    busy.set(false);
                }
            }
        });
    };
    view! {
        <Title text="Sign in"/>
        <main class="sign-in-page">
            <form class="card sign-in-card" on:submit=submit>
                <div class="brand sign-in-brand">
                    <svg class="brand-mark" viewBox="0 0 24 24" aria-hidden="true">
                        <path d="M3 17l5-6 4 4 5-8 4 5"/>
                    </svg>
                    <span class="brand-name">"Portal"</span>
                </div>
                <h1 class="sign-in-title">"Sign in"</h1>
                <label class="field">
                    <span class="field-label">"Login"</span>
                    <input class="field-input" name="login" autocomplete="username" required
                        prop:value=move || login.get() on:input=move |ev| login.set(event_target_value(&ev))/>
                </label>
                <label class="field">
                    <span class="field-label">"Password"</span>
                    <input class="field-input" type="password" name="password" autocomplete="current-password" required
                        prop:value=move || password.get() on:input=move |ev| password.set(event_target_value(&ev))/>
                </label>
                {move || error.get().map(|e| view! { <p class="error-text" role="alert">{e}</p> })}
                <div class="form-actions">
                    <button type="submit" class="button button-primary" disabled=move || busy.get()>"Sign in"</button>
                </div>
                <p class="muted small">"On the first start the portal made the account "<code>"admin"</code>" and printed its password in its log; it is also in the file "<code>"admin-password"</code>" in the portal's data directory."</p>
            </form>
        </main>
    }
}
