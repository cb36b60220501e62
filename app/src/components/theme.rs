//! Light and dark themes: the choice is kept in the browser's local storage and applied as the
//! `data-theme` attribute of `<html>` (the boot script in the shell applies it before paint).

use leptos::prelude::*;

const STORAGE_KEY: &str = "portal-theme";

/// What a person chose on the Settings page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ThemeChoice {
    Light,
    Dark,
    /// Follow the operating system's preference.
    System,
}

impl ThemeChoice {
    pub fn label(self) -> &'static str {
        match self {
            Self::Light => "Light",
            Self::Dark => "Dark",
            Self::System => "Same as the system",
        }
    }
}

/// Returns the stored choice (`System` when nothing is stored or outside the browser).
pub fn stored_choice() -> ThemeChoice {
    #[cfg(feature = "hydrate")]
    {
        let stored = web_sys::window()
            .and_then(|w| w.local_storage().ok().flatten())
            .and_then(|s| s.get_item(STORAGE_KEY).ok().flatten());
        match stored.as_deref() {
            Some("light") => ThemeChoice::Light,
            Some("dark") => ThemeChoice::Dark,
            _ => ThemeChoice::System,
        }
    }
    #[cfg(not(feature = "hydrate"))]
    ThemeChoice::System
}

/// Stores the choice and applies it to the page at once.
pub fn apply_choice(choice: ThemeChoice) {
    #[cfg(feature = "hydrate")]
    {
        let Some(window) = web_sys::window() else {
            return;
        };
        if let Ok(Some(storage)) = window.local_storage() {
            let _ = match choice {
                ThemeChoice::Light => storage.set_item(STORAGE_KEY, "light"),
                ThemeChoice::Dark => storage.set_item(STORAGE_KEY, "dark"),
                ThemeChoice::System => storage.remove_item(STORAGE_KEY),
            };
        }
        let dark = match choice {
            ThemeChoice::Light => false,
            ThemeChoice::Dark => true,
            ThemeChoice::System => window
                .match_media("(prefers-color-scheme: dark)")
                .ok()
                .flatten()
                .is_some_and(|m| m.matches()),
        };
        if let Some(root) = window.document().and_then(|d| d.document_element()) {
            let _ = root.set_attribute("data-theme", if dark { "dark" } else { "light" });
        }
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = (choice, STORAGE_KEY);
}

/// Returns whether the page shows the dark theme now.
fn showing_dark() -> bool {
    #[cfg(feature = "hydrate")]
    {
        web_sys::window()
            .and_then(|w| w.document())
            .and_then(|d| d.document_element())
            .and_then(|e| e.get_attribute("data-theme"))
            .as_deref()
            == Some("dark")
    }
    #[cfg(not(feature = "hydrate"))]
    false
}

/// A button that flips between light and dark; its icon follows the theme through CSS alone,
/// so the server-rendered button is right before hydration.
#[component]
pub fn ThemeToggle() -> impl IntoView {
    let on_click = move |_| {
        apply_choice(if showing_dark() {
            ThemeChoice::Light
        } else {
            ThemeChoice::Dark
        });
    };
    view! {
        <button class="theme-toggle icon-button" type="button" on:click=on_click
            title="Switch between light and dark theme" aria-label="Switch between light and dark theme">
            <svg class="theme-toggle-sun" viewBox="0 0 24 24" aria-hidden="true">
                <circle cx="12" cy="12" r="4.5"/>
                <path d="M12 2v2.5M12 19.5V22M2 12h2.5M19.5 12H22M4.9 4.9l1.8 1.8M17.3 17.3l1.8 1.8M4.9 19.1l1.8-1.8M17.3 6.7l1.8-1.8"/>
            </svg>
            <svg class="theme-toggle-moon" viewBox="0 0 24 24" aria-hidden="true">
                <path d="M20 14.5A8 8 0 0 1 9.5 4a8 8 0 1 0 10.5 10.5z"/>
            </svg>
        </button>
    }
}
