//! Whether the page has finished hydrating. Pages are lazily loaded modules, so hydration pauses
//! while a page's module loads; an effect of the frame that changes what the frame shows must
//! wait for the end of it, or the browser's first render would no longer match the server's.

use leptos::prelude::*;

thread_local! {
    static HYDRATED: ArcRwSignal<bool> = ArcRwSignal::new(false);
}

/// Whether hydration is over (never, while rendering on the server); an effect that reads it
/// runs again when it ends.
pub fn is_hydrated() -> bool {
    HYDRATED.with(|hydrated| hydrated.get())
}

/// Called by the browser's entry point once the whole page has hydrated.
pub fn mark_hydrated() {
    HYDRATED.with(|hydrated| hydrated.set(true));
}
