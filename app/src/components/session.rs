//! Who is signed in, for every page: asked of the API once the page is hydrated, so buttons a
//! role cannot use are left out (the API refuses them anyway), and the frame shows who you are.

use crate::api::{
    accounts::{Account, Role},
    endpoints,
};
use leptos::prelude::*;

/// The signed-in account, once known.
#[derive(Clone, Copy)]
pub struct Session {
    pub account: RwSignal<Option<Account>>,
}

impl Session {
    /// Whether the signed-in account has at least `role` (false until known).
    pub fn can(self, role: Role) -> bool {
        self.account
            .with(|a| a.as_ref().is_some_and(|a| a.role >= role))
    }
}

/// Makes the session known to every page below.
pub fn provide_session() {
    let session = Session {
        account: RwSignal::new(None),
    };
    // Effects run in the browser only: the server renders every page signed out of buttons.
    // The frame shows who is signed in, so the answer may only arrive once the frame has
    // hydrated: the effect runs again when hydration ends.
    Effect::new(move |_| {
        if !super::hydration::is_hydrated() {
            return;
        }
        // Signed-out pages do not ask (the answer would only be 401).
        #[cfg(feature = "hydrate")]
        {
            let path = window().location().pathname().unwrap_or_default();
            if path == "/sign-in" || path.starts_with("/public/") {
                return;
            }
        }
        leptos::task::spawn_local(async move {
            if let Ok(account) = endpoints::get_me().await {
                session.account.set(Some(account));
            }
        });
    });
    provide_context(session);
}

/// The session the frame provides (signed out outside it).
pub fn use_session() -> Session {
    use_context::<Session>().unwrap_or(Session {
        account: RwSignal::new(None),
    })
}

/// Its children when the signed-in account has at least `role`.
#[component]
pub fn RequireRole(role: Role, children: ChildrenFn) -> impl IntoView {
    let session = use_session();
    view! { <Show when=move || session.can(role)>{children()}</Show> }
}

/// Loads `path` in the browser (the server renders no navigation).
pub fn go_to(path: &str) {
    #[cfg(feature = "hydrate")]
    {
        let _ = window().location().assign(path);
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = path;
    }
}

/// Who is signed in, and the way out, at the foot of the navigation.
#[component]
pub fn SessionBox() -> impl IntoView {
    let session = use_session();
    let sign_out = move |_| {
        leptos::task::spawn_local(async move {
            let _ = endpoints::sign_out().await;
            go_to("/sign-in");
        });
    };
    view! {
        {move || session.account.get().map(|a| view! {
            <div class="session-box">
                <span class="session-who" title="Signed in as">
                    <strong class="session-login">{a.login.clone()}</strong>
                    <span class="badge session-role">{a.role.as_str()}</span>
                </span>
                <a class="nav-link" href="/settings#account">"Account"</a>
                <button type="button" class="link-button session-sign-out" on:click=sign_out>"Sign out"</button>
            </div>
        })}
    }
}
