//! Above and below the table: the counts by state, the search box, the pager, and the
//! page's own addresses for them.

use super::super::store::AgentStore;
use crate::live::debounced;
use crate::model::{percent_encode, AgentState};
use leptos::prelude::*;
use leptos_router::hooks::{use_navigate, use_query_map};
use leptos_router::NavigateOptions;
use std::time::Duration;

/// Agents on one page.
pub(super) const PAGE_SIZE: u64 = 50;

/// The page's address keeping the list's search, filter and page from the URL's query,
/// with the Execute panel open for `execute` (or closed).
/// `param` reads the URL's query (`|k| params.get(k)`).
pub fn href_keeping_list(param: impl Fn(&str) -> Option<String>, execute: Option<&str>) -> String {
    let state = param("state").and_then(|s| AgentState::parse(&s));
    let page = param("page").and_then(|n| n.parse::<u64>().ok()).unwrap_or(1);
    let base = list_href(param("q").as_deref().filter(|q| !q.trim().is_empty()), state, page);
    match execute {
        Some(id) => with_param(base, "execute", id),
        None => base,
    }
}

/// `href` with `key=value` added to its query.
fn with_param(href: String, key: &str, value: &str) -> String {
    let sep = if href.contains('?') { '&' } else { '?' };
    format!("{href}{sep}{key}={}", percent_encode(value))
}

/// `href` (a list address) keeping the Execute panel open as the URL has it (`execute`,
/// `from`): searching, filtering or paging while filling in a run form must not close it
/// and lose what was typed.
pub(super) fn keeping_panel(href: String, param: impl Fn(&str) -> Option<String>) -> String {
    ["execute", "from"].into_iter().fold(href, |href, key| match param(key).filter(|v| !v.is_empty()) {
        Some(value) => with_param(href, key, &value),
        None => href,
    })
}

/// The page's own address for a search, a state filter and a page number.
pub(super) fn list_href(q: Option<&str>, state: Option<AgentState>, page: u64) -> String {
    let page = (page > 1).then(|| page.to_string());
    let parts: Vec<String> = [("q", q), ("state", state.map(AgentState::as_str)), ("page", page.as_deref())]
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| format!("{k}={}", percent_encode(v))))
        .collect();
    if parts.is_empty() {
        "/orchestrator".to_owned()
    } else {
        format!("/orchestrator?{}", parts.join("&"))
    }
}

/// Counts by state (of every agent), each a link that filters the list to it, keeping
/// the search.
#[component]
pub(super) fn Summary(store: AgentStore, q: Memo<Option<String>>, state: Memo<Option<AgentState>>) -> impl IntoView {
    let params = use_query_map();
    let item = move |filter: Option<AgentState>, label: &'static str| {
        let count = move || match filter {
            Some(s) => store.summary.with(|c| c.of(s)),
            None => store.summary.with(|c| c.total()),
        };
        let class = filter.map_or("all", AgentState::as_str);
        view! {
            <a class=format!("summary-item {class}") href=move || params.with(|p| keeping_panel(list_href(q.get().as_deref(), filter, 1), |k| p.get(k)))
                aria-current=move || (state.get() == filter).then_some("true")
                data-testid=format!("summary-{class}")>
                <span class="count">{count}</span>
                <span class="label">{label}</span>
            </a>
        }
    };
    view! {
        <nav class="summary" aria-label="Agents by state">
            {item(None, "all")}
            {item(Some(AgentState::Healthy), "healthy")}
            {item(Some(AgentState::Failing), "failing")}
            {item(Some(AgentState::Unhealthy), "unhealthy")}
            {item(Some(AgentState::Unknown), "not checked")}
            // Only once some agent has expired: most fleets have no self-registered agents.
            {move || (store.summary.with(|c| c.expired) > 0 || state.get() == Some(AgentState::Expired))
                .then(|| item(Some(AgentState::Expired), "expired"))}
        </nav>
    }
}

/// Search by ID, name or URL; the list follows as you type (the text goes in the URL).
#[component]
pub(super) fn Search(q: Memo<Option<String>>) -> impl IntoView {
    let navigate = use_navigate();
    let params = use_query_map();
    // After a pause in typing, not at every key.
    let go = debounced(Duration::from_millis(250), move |text: String| {
        let state = params.with_untracked(|p| p.get("state").and_then(|s| AgentState::parse(&s)));
        let text = text.trim().to_owned();
        let href = list_href((!text.is_empty()).then_some(text.as_str()), state, 1);
        let href = params.with_untracked(|p| keeping_panel(href, |k| p.get(k)));
        navigate(&href, NavigateOptions { replace: true, scroll: false, ..Default::default() });
    });
    let on_input = move |ev: leptos::ev::Event| go(event_target_value(&ev));
    view! {
        <form class="agent-search" role="search" on:submit=move |ev| ev.prevent_default()>
            <label for="agent-search" class="visually-hidden">"Search agents"</label>
            <input id="agent-search" type="search" name="q" placeholder="Search by ID, name or URL" data-shortcut="search"
                autocomplete="off" prop:value=move || q.get().unwrap_or_default() on:input=on_input/>
        </form>
    }
}

/// "Showing 51–100 of 230" with Previous / Next.
#[component]
pub(super) fn Pager(
    store: AgentStore,
    q: Memo<Option<String>>,
    state: Memo<Option<AgentState>>,
    page: Memo<u64>,
) -> impl IntoView {
    let pages = move || store.total.get().div_ceil(PAGE_SIZE).max(1);
    let params = use_query_map();
    let href =
        move |n: u64| params.with(|p| keeping_panel(list_href(q.get().as_deref(), state.get(), n), |k| p.get(k)));
    view! {
        <Show when=move || { store.total.get() > 0 && store.rows().with(|r| !r.is_empty()) }>
            <div class="pager" data-testid="agent-pager">
                <span class="muted">{move || {
                    let first = (page.get() - 1) * PAGE_SIZE + 1;
                    let last = (page.get() * PAGE_SIZE).min(store.total.get());
                    format!("Showing {first}–{last} of {}", store.total.get())
                }}</span>
                <Show when=move || { page.get() > 1 }>
                    <a class="button small" href=move || href(page.get() - 1) rel="prev">"Previous"</a>
                </Show>
                <Show when=move || { page.get() < pages() }>
                    <a class="button small" href=move || href(page.get() + 1) rel="next">"Next"</a>
                </Show>
            </div>
        </Show>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_keep_the_search_and_the_filter() {
        assert_eq!(list_href(None, None, 1), "/orchestrator");
        assert_eq!(
            list_href(Some("a b"), Some(AgentState::Unhealthy), 3),
            "/orchestrator?q=a%20b&state=unhealthy&page=3"
        );
        assert_eq!(list_href(None, Some(AgentState::Healthy), 1), "/orchestrator?state=healthy");
        let params = |k: &str| match k {
            "state" => Some("failing".to_owned()),
            "execute" => Some("old".to_owned()),
            _ => None,
        };
        assert_eq!(href_keeping_list(params, Some("a b")), "/orchestrator?state=failing&execute=a%20b");
        assert_eq!(href_keeping_list(params, None), "/orchestrator?state=failing");
        assert_eq!(href_keeping_list(|_| None, Some("x")), "/orchestrator?execute=x");
        let open = |k: &str| match k {
            "execute" => Some("a b".to_owned()),
            "from" => Some("run-1".to_owned()),
            "q" => Some("ignored: the list's own part is the href's".to_owned()),
            _ => None,
        };
        assert_eq!(
            keeping_panel(list_href(Some("w"), None, 2), open),
            "/orchestrator?q=w&page=2&execute=a%20b&from=run-1"
        );
        assert_eq!(keeping_panel(list_href(None, None, 1), open), "/orchestrator?execute=a%20b&from=run-1");
        assert_eq!(keeping_panel(list_href(None, None, 1), |_| None), "/orchestrator");
    }
}
