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

/// The URL as HTML: its parts escaped, a `<wbr>` between them.
pub fn breakable(url: &str) -> String {
    let mut html = String::with_capacity(url.len() + 16);
    for (i, part) in parts(url).into_iter().enumerate() {
        if i > 0 {
            html.push_str("<wbr>");
        }
        for c in part.chars() {
            match c {
                '&' => html.push_str("&amp;"),
                '<' => html.push_str("&lt;"),
                '>' => html.push_str("&gt;"),
                '"' => html.push_str("&quot;"),
                '\'' => html.push_str("&#39;"),
                c => html.push(c),
            }
        }
    }
    html
}

#[component]
pub fn UrlText(#[prop(into)] url: Signal<String>) -> impl IntoView {
    // One string of HTML rather than a view per part: a span, a `<wbr>` and hydration
    // markers per part were ~60 bytes a row of the agent list (50 rows a page). Every
    // part is escaped (`breakable`), so the agent's URL cannot inject markup.
    view! {
        // At most two lines (the style sheet), the whole URL on hover.
        <code class="url-text" title=move || url.get() inner_html=move || url.with(|u| breakable(u))></code>
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

    #[test]
    fn the_html_escapes_every_part() {
        use super::breakable;
        assert_eq!(breakable("http://127.0.0.1:8002/a"), "http://<wbr>127.0.0.1:8002<wbr>/a");
        assert_eq!(
            breakable("https://h/x?a=1&b=<script>\"'"),
            "https://<wbr>h<wbr>/x?a=1&amp;b=&lt;script&gt;&quot;&#39;"
        );
    }
}
