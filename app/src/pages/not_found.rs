//! The page for addresses no route matches; answers with status 404.

use crate::components::layout::AppFrame;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::{components::A, hooks::use_location};

#[component]
pub fn NotFoundPage() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(http::StatusCode::NOT_FOUND);
    }
    let location = use_location();
    view! {
        <AppFrame>
            <Title text="Not found"/>
            <section class="not-found card">
                <h1>"Page not found"</h1>
                <p>"Nothing lives at "<code>{move || location.pathname.get()}</code>"."</p>
                <p><A href="/">"Go to the start page"</A></p>
            </section>
        </AppFrame>
    }
}
