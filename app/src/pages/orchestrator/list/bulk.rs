//! Acting on several agents at once: a checkbox per row (Shift extends from the last one
//! clicked), one for the page, and a bar over the table while any is chosen, with
//! Re-check now and Remove (asked once, naming how many and what goes with them). The
//! choice holds only agents on the page: one that leaves it (removed elsewhere, another
//! page or search) leaves the choice.

use super::super::store::AgentStore;
use crate::api::{check_agents, remove_agents};
use crate::components::focus::{focus, later};
use crate::error::ApiError;
use crate::model::{AgentIds, Checking, Removed};
use leptos::prelude::*;
use std::collections::HashSet;

/// The chosen agents, by ID, and the row a Shift-click extends from.
#[derive(Clone, Copy)]
pub(super) struct Selection {
    chosen: RwSignal<HashSet<String>>,
    anchor: StoredValue<Option<String>>,
}

impl Selection {
    pub fn new(store: AgentStore) -> Self {
        let selection = Self { chosen: RwSignal::new(HashSet::new()), anchor: StoredValue::new(None) };
        // Rows that left the page leave the choice.
        Effect::new(move |_| {
            let listed: HashSet<String> = store.rows().with(|rows| rows.iter().map(|r| r.id.get_value()).collect());
            if selection.chosen.with_untracked(|c| c.iter().any(|id| !listed.contains(id))) {
                selection.chosen.update(|c| c.retain(|id| listed.contains(id)));
            }
        });
        selection
    }

    pub fn is_chosen(&self, id: &str) -> bool {
        self.chosen.with(|c| c.contains(id))
    }

    pub fn count(&self) -> usize {
        self.chosen.with(HashSet::len)
    }

    /// The chosen IDs in the list's order.
    fn ids(&self, store: AgentStore) -> Vec<String> {
        let chosen = self.chosen.get_untracked();
        store
            .rows()
            .with_untracked(|rows| rows.iter().map(|r| r.id.get_value()).filter(|id| chosen.contains(id)).collect())
    }

    /// A row's box set to `on`; with Shift, every row from the last one clicked to this
    /// one too.
    pub fn set(&self, store: AgentStore, id: &str, on: bool, extend: bool) {
        let order: Vec<String> = store.rows().with_untracked(|rows| rows.iter().map(|r| r.id.get_value()).collect());
        let range = extend
            .then(|| self.anchor.get_value())
            .flatten()
            .and_then(|anchor| {
                let (a, b) = (order.iter().position(|r| *r == anchor)?, order.iter().position(|r| r == id)?);
                Some(order[a.min(b)..=a.max(b)].to_vec())
            })
            .unwrap_or_else(|| vec![id.to_owned()]);
        self.chosen.update(|c| {
            for id in range {
                if on {
                    c.insert(id);
                } else {
                    c.remove(&id);
                }
            }
        });
        self.anchor.set_value(Some(id.to_owned()));
    }

    /// Every row of the page, or none.
    pub fn set_all(&self, store: AgentStore, on: bool) {
        let all: HashSet<String> = if on {
            store.rows().with_untracked(|rows| rows.iter().map(|r| r.id.get_value()).collect())
        } else {
            HashSet::new()
        };
        self.chosen.set(all);
        self.anchor.set_value(None);
    }

    fn drop(&self, ids: &[String]) {
        self.chosen.update(|c| {
            ids.iter().for_each(|id| {
                c.remove(id);
            })
        });
    }
}

/// The page's box, in the table's head: checked when every row is chosen, mixed when some.
#[component]
pub(super) fn SelectAll(store: AgentStore, selection: Selection) -> impl IntoView {
    let rows = move || store.rows().with(Vec::len);
    view! {
        <input type="checkbox" data-testid="select-all" aria-label="Select every agent on this page"
            prop:checked=move || { rows() > 0 && selection.count() == rows() }
            prop:indeterminate=move || { selection.count() > 0 && selection.count() < rows() }
            on:change=move |ev| selection.set_all(store, event_target_checked(&ev))/>
    }
}

/// What the last bulk action did, for the bar's message.
#[derive(Clone)]
enum Outcome {
    Removed(Removed),
    Checking(Checking),
    Failed(String),
}

/// The bar over the table while agents are chosen, and the last action's message (which
/// stays after a removal empties the choice, until the next action or Dismiss); both
/// stick to the top of the window, over a long list.
#[component]
pub(super) fn BulkBar(store: AgentStore, selection: Selection) -> impl IntoView {
    let confirming = RwSignal::new(false);
    let outcome = RwSignal::new(None::<Outcome>);
    let remove = Action::new(move |ids: &Vec<String>| {
        let request = AgentIds { agent_ids: ids.clone() };
        async move { remove_agents(request).await }
    });
    let check = Action::new(move |ids: &Vec<String>| {
        let request = AgentIds { agent_ids: ids.clone() };
        async move { check_agents(request).await }
    });
    Effect::new(move |_| {
        if let Some(result) = remove.value().get() {
            confirming.set(false);
            outcome.set(Some(match result {
                Ok(removed) => {
                    for id in removed.removed.iter().chain(&removed.already_gone) {
                        store.remove(id);
                    }
                    // The failed ones stay chosen, to try again.
                    selection.drop(&removed.removed);
                    selection.drop(&removed.already_gone);
                    Outcome::Removed(removed)
                }
                Err(ApiError { message, .. }) => Outcome::Failed(format!("Could not remove the agents: {message}")),
            }));
        }
    });
    Effect::new(move |_| {
        if let Some(result) = check.value().get() {
            outcome.set(Some(match result {
                Ok(checking) => Outcome::Checking(checking),
                Err(ApiError { message, .. }) => Outcome::Failed(format!("Could not re-check the agents: {message}")),
            }));
        }
    });
    let busy = move || remove.pending().get() || check.pending().get();
    let n = move || selection.count();
    let agents = |n: usize| if n == 1 { "1 agent".to_owned() } else { format!("{n} agents") };
    // The question takes the focus from the button that asked it, and gives it back.
    let ask = move |on: bool| {
        confirming.set(on);
        later(move || focus(if on { "[data-testid=bulk-confirm]" } else { "[data-testid=bulk-remove]" }));
    };
    view! {
        <div class="bulk">
        <Show when=move || { n() > 0 }>
            <div class="bulk-bar" role="region" aria-label="Chosen agents" data-testid="bulk-bar">
                <strong>{move || format!("{} chosen", n())}</strong>
                <Show when=move || confirming.get() fallback=move || view! {
                    <button type="button" class="small" disabled=busy data-testid="bulk-check"
                        on:click=move |_| { outcome.set(None); check.dispatch(selection.ids(store)); }>"Re-check now"</button>
                    <button type="button" class="small" disabled=busy data-testid="bulk-remove"
                        on:click=move |_| { outcome.set(None); ask(true) }>"Remove…"</button>
                    <button type="button" class="small" on:click=move |_| selection.set_all(store, false)>"Clear"</button>
                }>
                    <span class="confirm" role="alertdialog" aria-label="Confirm removal">
                        {move || format!(
                            "Remove {}? Their health history is deleted with them; their runs stay in the history. ",
                            agents(n())
                        )}
                        <button type="button" class="small danger" disabled=busy data-testid="bulk-confirm"
                            on:click=move |_| { remove.dispatch(selection.ids(store)); }>
                            {move || format!("Remove {}", agents(n()))}
                        </button>
                        <button type="button" class="small" on:click=move |_| ask(false)>"Cancel"</button>
                    </span>
                </Show>
            </div>
        </Show>
        {move || outcome.get().map(|o| view! {
            <div class=if matches!(o, Outcome::Failed(_)) { "notice error" } else { "notice success" }
                role="status" data-testid="bulk-outcome">
                {outcome_text(&o).into_iter().map(|line| view! { <p>{line}</p> }).collect_view()}
                <button type="button" class="small" on:click=move |_| outcome.set(None)>"Dismiss"</button>
            </div>
        })}
        </div>
    }
}

/// The outcome in sentences: what was done, then each agent left alone and why.
fn outcome_text(outcome: &Outcome) -> Vec<String> {
    let agents = |n: usize| if n == 1 { "1 agent".to_owned() } else { format!("{n} agents") };
    let mut lines = Vec::new();
    match outcome {
        Outcome::Removed(r) => {
            lines.push(format!("Removed {}.", agents(r.removed.len() + r.already_gone.len())));
            if !r.already_gone.is_empty() {
                lines.push(format!("Already gone: {}.", r.already_gone.join(", ")));
            }
            lines.extend(r.failed.iter().map(|f| format!("Could not remove {}: {}", f.agent_id, f.reason)));
        }
        Outcome::Checking(c) => {
            lines.push(format!(
                "Checking {} now: the results appear in the list as they arrive.",
                agents(c.checking.len())
            ));
            lines.extend(c.skipped.iter().map(|s| format!("Not checked, {}: {}", s.agent_id, s.reason)));
        }
        Outcome::Failed(message) => lines.push(message.clone()),
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Skipped;

    #[test]
    fn outcomes_say_what_was_done_and_what_was_not() {
        let removed = Removed {
            removed: vec!["a".into(), "b".into()],
            already_gone: vec!["c".into()],
            failed: vec![Skipped { agent_id: "d".into(), reason: "database error: locked".into() }],
        };
        assert_eq!(
            outcome_text(&Outcome::Removed(removed)),
            ["Removed 3 agents.", "Already gone: c.", "Could not remove d: database error: locked"]
        );
        let checking = Checking {
            checking: vec!["a".into()],
            skipped: vec![Skipped { agent_id: "x".into(), reason: "not registered".into() }],
        };
        assert_eq!(
            outcome_text(&Outcome::Checking(checking)),
            ["Checking 1 agent now: the results appear in the list as they arrive.", "Not checked, x: not registered"]
        );
    }
}
