//! The colour theme: the system's by default (the style sheet's `light-dark()` colours),
//! or dark or light as chosen with this toggle, kept in the browser (`localStorage`
//! `theme`) and applied as `<html data-theme>`; `public/theme.js` applies it again before
//! the first paint of every later page.

use crate::storage;
use leptos::prelude::*;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Theme {
    System,
    Dark,
    Light,
}

impl Theme {
    fn parse(stored: Option<&str>) -> Theme {
        match stored {
            Some("dark") => Theme::Dark,
            Some("light") => Theme::Light,
            _ => Theme::System,
        }
    }

    fn next(self) -> Theme {
        match self {
            Theme::System => Theme::Dark,
            Theme::Dark => Theme::Light,
            Theme::Light => Theme::System,
        }
    }

    /// What is kept and set on `<html>`; nothing for the system's.
    fn attribute(self) -> Option<&'static str> {
        match self {
            Theme::System => None,
            Theme::Dark => Some("dark"),
            Theme::Light => Some("light"),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Theme::System => "System",
            Theme::Dark => "Dark",
            Theme::Light => "Light",
        }
    }

    fn symbol(self) -> char {
        match self {
            Theme::System => '◐',
            Theme::Dark => '●',
            Theme::Light => '○',
        }
    }
}

#[component]
pub fn ThemeToggle() -> impl IntoView {
    let theme = RwSignal::new(Theme::System);
    // The browser's choice, once interactive (the server cannot know it).
    Effect::new(move |_| theme.set(Theme::parse(storage::get("theme").as_deref())));
    let choose = move |_| {
        let next = theme.get_untracked().next();
        storage::set("theme", next.attribute().unwrap_or("system"));
        apply(next);
        theme.set(next);
    };
    view! {
        <button type="button" class="theme-toggle" data-testid="theme-toggle" on:click=choose
            title="Colours: as the system's, dark or light (kept in this browser)"
            aria-label=move || format!("Colour theme: {}", theme.get().name())>
            {move || format!("{} {}", theme.get().symbol(), theme.get().name())}
        </button>
    }
}

fn apply(theme: Theme) {
    if let Some(root) = document().document_element() {
        let _ = match theme.attribute() {
            Some(value) => root.set_attribute("data-theme", value),
            None => root.remove_attribute("data-theme"),
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_toggle_cycles_and_reads_back_what_it_kept() {
        assert_eq!(Theme::parse(None), Theme::System);
        assert_eq!(Theme::parse(Some("system")), Theme::System);
        assert_eq!(Theme::parse(Some("nonsense")), Theme::System);
        for theme in [Theme::System, Theme::Dark, Theme::Light] {
            assert_eq!(Theme::parse(Some(theme.attribute().unwrap_or("system"))), theme);
        }
        assert_eq!(Theme::System.next().next().next(), Theme::System);
    }
}
