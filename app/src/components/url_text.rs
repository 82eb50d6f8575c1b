//! A URL set so that it wraps only between its parts (after the scheme, before each path
//! segment), never in the middle of a host or a port ("127.0.0.1:355" / "51").

use leptos::prelude::*;

/// `http://127.0.0.1:8002/agents/writer` → `http://`, `127.0.0.1:8002`, `/agents`, `/writer`.
pub fn parts(url: &str) -> Vec<&str> {
    let (scheme, rest) = match url.find("://") {
        Some(i) => url.split_at(i + 3),
        None => ("", url),
    };
    let mut out = Vec::new();
    if !scheme.is_empty() {
        out.push(scheme);
    }
    let mut start = 0;
    for (i, c) in rest.char_indices() {
        if c == '/' && i > start {
            out.push(&rest[start..i]);
            start = i;
        }
    }
    if start < rest.len() {
        out.push(&rest[start..]);
    }
    out
}

#[component]
pub fn UrlText(#[prop(into)] url: Signal<String>) -> impl IntoView {
    view! {
        // At most two lines (the style sheet), the whole URL on hover.
        <code class="url-text" title=move || url.get()>
            {move || url.with(|u| parts(u).into_iter().map(|p| view! { <span>{p.to_owned()}</span><wbr/> }).collect_view())}
        </code>
    }
}

#[cfg(test)]
mod tests {
    use super::parts;

    #[test]
    fn a_url_breaks_only_between_its_parts() {
        assert_eq!(parts("http://127.0.0.1:8002"), ["http://", "127.0.0.1:8002"]);
        assert_eq!(parts("https://example.org/agents/writer/"), ["https://", "example.org", "/agents", "/writer", "/"]);
        assert_eq!(parts("not a url"), ["not a url"]);
        assert_eq!(parts("http://[::1]:9000/a"), ["http://", "[::1]:9000", "/a"]);
    }
}
