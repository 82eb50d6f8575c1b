//! A run's inputs or outputs as a collapsible tree that renders only what is open: it
//! starts from the server's bounded preview (`model::json_preview`), opens a closed
//! container by asking for its first page, and pages long ones ("Show 100 more"). The
//! whole document is one click away (Copy JSON, Download). Agent text is rendered as
//! text, never as HTML; prose can also be read as text (Markdown rendered safely:
//! `markdown.rs`).

use super::copy::copy_to_clipboard;
use super::markdown;
use crate::api::{run_document_text, run_json_page, run_text};
use crate::error::ApiError;
use crate::model::json_preview::{child_pointer, PreviewNode, RunPart, TextPage};
use leptos::prelude::*;

/// Which document the tree shows, for the pages it loads.
#[derive(Clone, Debug, PartialEq)]
pub struct JsonSource {
    pub run_id: String,
    pub part: RunPart,
}

#[component]
pub fn JsonTree(source: JsonSource, preview: PreviewNode, #[prop(into)] label: String) -> impl IntoView {
    let copied = RwSignal::new(None::<Result<(), String>>);
    let copy = {
        let source = source.clone();
        Action::new(move |_: &()| {
            let source = source.clone();
            async move { run_document_text(source.run_id, source.part).await }
        })
    };
    Effect::new(move |_| {
        if let Some(result) = copy.value().get() {
            copied.set(Some(match result {
                Ok(text) if copy_to_clipboard(&text) => Ok(()),
                Ok(_) => Err("this browser does not allow copying here; use Download".to_owned()),
                Err(e) => Err(e.message),
            }));
            set_timeout(move || copied.set(None), std::time::Duration::from_millis(2500));
        }
    });
    let download = format!("/api/v1/runs/{}/{}?download=1", source.run_id, source.part.as_str());
    let file = format!("run-{}-{}.json", source.run_id, source.part.as_str());
    let source = StoredValue::new(source);
    view! {
        <div class="json-tree">
            <div class="json-toolbar">
                <button type="button" class="small" on:click=move |_| { copy.dispatch(()); }
                    disabled=move || copy.pending().get() aria-label=format!("Copy {label} as JSON")>
                    {move || match copied.get() {
                        _ if copy.pending().get() => "Copying…",
                        Some(Ok(())) => "Copied",
                        _ => "Copy JSON",
                    }}
                </button>
                <a class="button small" href=download download=file>"Download"</a>
                {move || copied.get().and_then(Result::err).map(|e| view! { <span class="field-error" role="alert">{e}</span> })}
            </div>
            <div class="json-body">{node(source, String::new(), preview, 0)}</div>
        </div>
    }
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// One value: a scalar as text, a container as a toggle over its loaded entries.
fn node(source: StoredValue<JsonSource>, pointer: String, value: PreviewNode, depth: usize) -> AnyView {
    match value {
        PreviewNode::Scalar { value } => view! { <span class="json-scalar">{value.to_string()}</span> }.into_any(),
        PreviewNode::Text { text, more_chars } => text_node(source, pointer, text, more_chars),
        PreviewNode::Object { len, entries } => {
            let summary = format!("{{…}} {}", plural(len, "key", "keys"));
            container(source, pointer, len, entries, summary, false, depth)
        }
        PreviewNode::Array { len, items } => {
            let summary = format!("[…] {}", plural(len, "item", "items"));
            let entries = items.map(|items| items.into_iter().enumerate().map(|(i, v)| (i.to_string(), v)).collect());
            container(source, pointer, len, entries, summary, true, depth)
        }
    }
}

/// A string longer than this (or of several lines, or cut) is prose: it can be read as text.
const PROSE_CHARS: usize = 120;

/// A string as the text it is (line breaks kept), in quotes to tell it from a number.
/// Prose can also be read as text: Read as text fetches it whole (when the preview cut
/// it) and renders it as Markdown with the lazy renderer; Show as JSON goes back.
fn text_node(source: StoredValue<JsonSource>, pointer: String, text: String, more_chars: usize) -> AnyView {
    let prose = more_chars > 0 || text.contains('\n') || text.chars().count() > PROSE_CHARS;
    let quoted = view! {
        <span class="json-string">{format!("\"{text}")}{(more_chars == 0).then_some("\"")}</span>
        {(more_chars > 0).then(|| view! {
            <span class="muted json-cut">{format!(" … {} more (Copy JSON or Download for all)", plural(more_chars, "character", "characters"))}</span>
        })}
    };
    if !prose {
        return quoted.into_any();
    }
    let reading = RwSignal::new(false);
    let shown = StoredValue::new(text);
    // The renderer's part arrives through a JS promise, which is not `Send`: the future
    // is wrapped, and made only when dispatched (in the browser). `Action::new_unsync`
    // would wrap the action itself, made on the server too while it renders the page,
    // and dropped there on another thread: a panic.
    let read = Action::new(move |_: &()| {
        let (source, pointer, shown) = (source.get_value(), pointer.clone(), shown.get_value());
        send_wrapper::SendWrapper::new(async move {
            let page = match more_chars {
                0 => TextPage { text: shown, more_chars: 0 },
                _ => run_text(source.run_id, source.part, pointer).await?,
            };
            Ok::<_, ApiError>((markdown::rendered(page.text).await?, page.more_chars))
        })
    });
    let toggle = move |_| {
        let now = !reading.get_untracked();
        reading.set(now);
        let done = read.value().with_untracked(|v| matches!(v, Some(Ok(_))));
        if now && !done && !read.pending().get_untracked() {
            read.dispatch(());
        }
    };
    view! {
        <button type="button" class="small json-read" aria-pressed=move || reading.get().to_string() on:click=toggle>
            {move || if reading.get() { "Show as JSON" } else { "Read as text" }}
        </button>
        <span hidden=move || reading.get()>{quoted}</span>
        <Show when=move || reading.get()>
            {move || match read.value().get() {
                _ if read.pending().get() => view! { <p class="muted">"Loading the text…"</p> }.into_any(),
                Some(Ok((html, more))) => view! {
                    <div class="markdown" data-testid="read-as-text" inner_html=html/>
                    {(more > 0).then(|| view! {
                        <p class="muted">{format!("Only the first {} characters are shown; {} more in Download.", crate::model::json_preview::READ_CHARS, plural(more, "character", "characters"))}</p>
                    })}
                }.into_any(),
                Some(Err(e)) => view! { <p class="field-error" role="alert">{format!("Could not read the text: {}", e.message)}</p> }.into_any(),
                None => ().into_any(),
            }}
        </Show>
    }
    .into_any()
}

fn container(
    source: StoredValue<JsonSource>,
    pointer: String,
    len: usize,
    entries: Option<Vec<(String, PreviewNode)>>,
    summary: String,
    array: bool,
    depth: usize,
) -> AnyView {
    if len == 0 {
        return view! { <span class="json-scalar">{if array { "[]" } else { "{}" }}</span> }.into_any();
    }
    let open = RwSignal::new(entries.is_some());
    // Entries with their position, so that a page appended keeps the rows already shown.
    let loaded = RwSignal::new(entries.map(|e| e.into_iter().enumerate().collect::<Vec<_>>()));
    let error = RwSignal::new(None::<String>);
    let pointer = StoredValue::new(pointer);
    let more = Action::new(move |offset: &usize| {
        let (offset, source) = (*offset, source.get_value());
        let pointer = pointer.get_value();
        async move { run_json_page(source.run_id, source.part, pointer, offset).await }
    });
    Effect::new(move |_| match more.value().get() {
        Some(Ok(page)) => {
            error.set(None);
            loaded.update(|l| {
                let l = l.get_or_insert_with(Vec::new);
                let start = l.len();
                l.extend(page.entries.into_iter().enumerate().map(|(i, e)| (start + i, e)));
            });
        }
        Some(Err(e)) => error.set(Some(format!("Could not load more: {}", e.message))),
        None => {}
    });
    let toggle = move |_| {
        let now = !open.get_untracked();
        open.set(now);
        if now && loaded.with_untracked(Option::is_none) && !more.pending().get_untracked() {
            more.dispatch(0);
        }
    };
    let shown = move || loaded.with(|l| l.as_ref().map_or(0, Vec::len));
    let row = move |(_, (key, value)): (usize, (String, PreviewNode))| {
        let child = child_pointer(&pointer.get_value(), &key);
        let label = if array {
            view! { <span class="json-index">{key}": "</span> }.into_any()
        } else {
            view! { <span class="json-key">{format!("{key:?}")}": "</span> }.into_any()
        };
        view! { <li>{label}{node(source, child, value, depth + 1)}</li> }
    };
    view! {
        <span class="json-node">
            <button type="button" class="json-toggle" aria-expanded=move || open.get().to_string() on:click=toggle>
                <span aria-hidden="true">{move || if open.get() { "▾ " } else { "▸ " }}</span>{summary}
            </button>
            <Show when=move || open.get()>
                // Keyed by position: a page appended leaves the rows shown (and what is
                // open in them) as they are.
                <ul><For each=move || loaded.get().unwrap_or_default() key=|(i, _)| *i children=row/></ul>
                {move || (shown() < len && loaded.with(Option::is_some)).then(|| {
                    let next = (len - shown()).min(crate::model::json_preview::PAGE);
                    view! {
                        <button type="button" class="small json-more" disabled=move || more.pending().get()
                            on:click=move |_| { more.dispatch(shown()); }>
                            {format!("Show {next} more ({} of {len} shown)", shown())}
                        </button>
                    }
                })}
                {move || more.pending().get().then(|| view! { <span class="muted">" loading…"</span> })}
                {move || error.get().map(|e| view! { <span class="field-error" role="alert">{e}</span> })}
            </Show>
        </span>
    }
    .into_any()
}
