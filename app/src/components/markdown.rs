//! An agent's text output read as text: Markdown rendered safely. No HTML of the agent's
//! reaches the page (shown as the text it is), a link goes only to http(s), mailto or
//! this dashboard, and an image is never loaded (an output must not make the browser
//! call other addresses): it becomes a link. The renderer (pulldown-cmark) is a lazy
//! part of the bundle, fetched the first time someone reads a text.

use crate::error::ApiError;
use pulldown_cmark::{CowStr, Event, LinkType, Options, Parser, Tag, TagEnd};

/// The text as HTML, safe to set as an element's content.
pub fn to_html(text: &str) -> String {
    let options = Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TASKLISTS;
    // For each open link or image: whether it was kept as a link.
    let mut open: Vec<bool> = Vec::new();
    let events = Parser::new_ext(text, options).flat_map(|event| -> Vec<Event<'_>> {
        match event {
            Event::Html(raw) | Event::InlineHtml(raw) => vec![Event::Text(raw)],
            Event::Start(Tag::Link { link_type, dest_url, title, id }) => {
                let kept = safe_url(&dest_url);
                open.push(kept);
                if kept {
                    vec![Event::Start(Tag::Link { link_type, dest_url, title, id })]
                } else {
                    Vec::new()
                }
            }
            Event::Start(Tag::Image { dest_url, title, .. }) => {
                let kept = safe_url(&dest_url);
                open.push(kept);
                let mark = Event::Text(CowStr::Borrowed("image: "));
                if kept {
                    let link = Tag::Link { link_type: LinkType::Inline, dest_url, title, id: CowStr::Borrowed("") };
                    vec![Event::Start(link), mark]
                } else {
                    vec![mark]
                }
            }
            Event::End(TagEnd::Link | TagEnd::Image) => {
                if open.pop().unwrap_or(false) {
                    vec![Event::End(TagEnd::Link)]
                } else {
                    Vec::new()
                }
            }
            // A line break in the text is one on the page (as in a chat or a comment):
            // agents' text is rarely wrapped by hand.
            Event::SoftBreak => vec![Event::HardBreak],
            other => vec![other],
        }
    });
    let mut html = String::with_capacity(text.len() + text.len() / 4);
    pulldown_cmark::html::push_html(&mut html, events);
    html
}

/// http(s), mailto, or an address on this dashboard (no scheme): never `javascript:`,
/// `data:` or the like.
fn safe_url(url: &str) -> bool {
    let url = url.trim();
    let lower = url.to_ascii_lowercase();
    let scheme_end = url.find(':');
    let before_path = url.find(['/', '?', '#']).unwrap_or(url.len());
    match scheme_end {
        Some(colon) if colon < before_path => {
            lower.starts_with("http://") || lower.starts_with("https://") || lower.starts_with("mailto:")
        }
        _ => !url.chars().any(char::is_control),
    }
}

/// `to_html` from the lazy part: the first call fetches it; a part that cannot be
/// fetched is an error (`ApiError`'s `From<SplitLoaderError>`), the next call tries again.
#[cfg_attr(
    feature = "hydrate",
    leptos::wasm_split::wasm_split(rendered_markdown, wasm_split_path = ::leptos::wasm_split, fallible)
)]
pub fn rendered_part(text: String) -> Result<String, ApiError> {
    Ok(to_html(&text))
}

#[cfg(feature = "hydrate")]
pub use rendered_part as rendered;

/// On the server: called directly (Read as text runs in the browser).
#[cfg(not(feature = "hydrate"))]
pub async fn rendered(text: String) -> Result<String, ApiError> {
    rendered_part(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_is_rendered() {
        let html = to_html("# Title\n\nSome *text* and `code`.\n\n- one\n- two\n\n| a | b |\n|---|---|\n| 1 | 2 |\n");
        assert!(html.contains("<h1>Title</h1>"), "{html}");
        assert!(html.contains("<em>text</em>") && html.contains("<code>code</code>"), "{html}");
        assert!(html.contains("<li>one</li>") && html.contains("<table>"), "{html}");
        assert!(
            to_html("[docs](https://example.org/a?b=1)").contains(r#"<a href="https://example.org/a?b=1">docs</a>"#)
        );
        assert!(to_html("[runs](/workflows)").contains(r#"<a href="/workflows">runs</a>"#));
        assert!(to_html("line one\nline two").contains("line one<br />"), "{}", to_html("line one\nline two"));
    }

    #[test]
    fn no_html_script_or_image_of_the_agent_reaches_the_page() {
        let html = to_html("<script>alert(1)</script>\n\nhi <b onclick=x>there</b>");
        assert!(!html.contains("<script") && !html.contains("<b "), "{html}");
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "{html}");
        for evil in ["javascript:alert(1)", "JavaScript:alert(1)", " data:text/html,x", "vbscript:x"] {
            let html = to_html(&format!("[click]({evil})"));
            assert!(!html.contains("<a"), "{evil}: {html}");
            assert!(html.contains("click"), "the text stays: {html}");
        }
        let html = to_html("![a cat](https://example.org/cat.png)");
        assert!(!html.contains("<img"), "{html}");
        assert!(html.contains(r#"<a href="https://example.org/cat.png">image: a cat</a>"#), "{html}");
        let html = to_html("![x](javascript:alert(1))");
        assert!(!html.contains("<a") && !html.contains("<img") && html.contains("image: x"), "{html}");
    }
}
