//! Hydrates the server-rendered portal UI in the browser.
#![recursion_limit = "512"]

#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    let Some(body) = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.body())
    else {
        return;
    };
    // Pages are lazily loaded modules: hydration waits for the page's module (preloaded by the
    // server-rendered page), so it runs as a task rather than at once.
    wasm_bindgen_futures::spawn_local(async move {
        leptos::mount::hydrate_from_async(body.clone(), app::App)
            .await
            .forget();
        app::components::hydration::mark_hydrated();
        // Marks the page as interactive: end-to-end tests and people's scripts wait for it.
        let _ = body.set_attribute("data-hydrated", "true");
    });
}
