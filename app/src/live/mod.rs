//! The live event stream as the pages see it: one stream per browser, not per tab.
//!
//! Over HTTP/1.1 a browser opens at most six connections to a host, so a stream per tab
//! would hang the seventh tab. One tab holds the stream (it holds a Web Lock) and relays
//! every event to the others over a `BroadcastChannel`; when it closes, the lock passes
//! to another tab, which resumes from the last event id every tab has seen. Pages
//! subscribe to events and apply them to their signals, and poll only while the stream
//! is not live (the indicator in the header says which), so nothing goes stale silently.

#[cfg(feature = "hydrate")]
mod browser;

use crate::model::events::LiveEvent;
use leptos::prelude::*;

/// Where this tab's stream stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkState {
    /// The page has not heard from the stream yet (also what the server renders).
    Connecting,
    /// Events arrive: pages rely on them and do not poll.
    Live,
    /// The stream dropped; it is being reopened with backoff, and pages poll meanwhile.
    Reconnecting,
}

impl LinkState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Connecting => "connecting",
            Self::Live => "live",
            Self::Reconnecting => "reconnecting",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "connecting" => Some(Self::Connecting),
            "live" => Some(Self::Live),
            "reconnecting" => Some(Self::Reconnecting),
            _ => None,
        }
    }
}

/// The page-wide handle, from context.
#[derive(Clone, Copy)]
pub struct Live {
    state: RwSignal<LinkState>,
}

impl Live {
    pub fn state(&self) -> LinkState {
        self.state.get()
    }

    /// Whether pages can rely on events now (read without subscribing: for timers).
    pub fn is_live(&self) -> bool {
        self.state.get_untracked() == LinkState::Live
    }

    /// Calls `handler` with every event while the current component lives.
    #[cfg_attr(not(feature = "hydrate"), allow(unused_variables))]
    pub fn subscribe(&self, handler: impl Fn(&LiveEvent) + 'static) {
        #[cfg(feature = "hydrate")]
        {
            let id = browser::add_handler(std::rc::Rc::new(handler));
            on_cleanup(move || browser::remove_handler(id));
        }
    }

    /// Calls `f` every `period` while the stream is not live, for as long as the current
    /// component lives: a page's fallback, so it is never stale without saying so.
    pub fn poll_while_down(&self, period: std::time::Duration, f: impl Fn() + Clone + 'static) {
        let live = *self;
        // Effects run only in the browser.
        Effect::new(move |_| {
            let f = f.clone();
            let tick = move || {
                if !live.is_live() {
                    f();
                }
            };
            if let Ok(handle) = set_interval_with_handle(tick, period) {
                on_cleanup(move || handle.clear());
            }
        });
    }

    #[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
    fn set_state(&self, state: LinkState) {
        if self.state.get_untracked() != state {
            self.state.set(state);
        }
    }
}

/// Puts the handle in context and, in the browser, joins (or opens) the stream.
pub fn provide_live() {
    let live = Live { state: RwSignal::new(LinkState::Connecting) };
    provide_context(live);
    // Effects run only in the browser, after hydration.
    Effect::new(move |_| {
        // Not on the sign-in page: without a session the stream would only be refused
        // (signing in loads the next page afresh, which starts it).
        #[cfg(feature = "hydrate")]
        if window().location().pathname().ok().as_deref() != Some("/sign-in") {
            browser::start(live);
        }
    });
}

pub fn use_live() -> Live {
    use_context::<Live>().expect("provide_live() runs in App before any page")
}

/// `f` once, `wait` after the first of a burst of calls: a burst of events costs one
/// request. Nothing happens if the component is gone by then.
pub fn coalesced(wait: std::time::Duration, f: impl Fn() + Copy + 'static) -> impl Fn() + Copy + 'static {
    let pending = StoredValue::new(false);
    move || {
        if !pending.get_value() {
            pending.set_value(true);
            set_timeout(
                move || {
                    if !pending.is_disposed() {
                        pending.set_value(false);
                        f();
                    }
                },
                wait,
            );
        }
    }
}

/// `f` with the last value given, once calls have paused for `wait`: typing costs one
/// request per pause, not one per key. Nothing happens if the component is gone by then.
pub fn debounced<T: 'static>(
    wait: std::time::Duration,
    f: impl Fn(T) + Clone + 'static,
) -> impl Fn(T) + Clone + 'static {
    let calls = StoredValue::new(0u64);
    move |value: T| {
        let n = calls.get_value() + 1;
        calls.set_value(n);
        let f = f.clone();
        set_timeout(
            move || {
                if !calls.is_disposed() && calls.get_value() == n {
                    f(value);
                }
            },
            wait,
        );
    }
}

/// Runs `fetch(arg)` and hands its answer to `apply` only if no later call began
/// meanwhile and the component still lives: answers that arrive out of order never
/// overwrite a newer one.
pub fn latest_only<A, T, Fut>(
    fetch: impl Fn(A) -> Fut + Copy + 'static,
    apply: impl Fn(T) + Copy + 'static,
) -> impl Fn(A) + Copy + 'static
where
    A: 'static,
    T: 'static,
    Fut: std::future::Future<Output = T> + 'static,
{
    let calls = StoredValue::new(0u64);
    move |arg: A| {
        let n = calls.get_value() + 1;
        calls.set_value(n);
        let answer = fetch(arg);
        leptos::task::spawn_local(async move {
            let answer = answer.await;
            if !calls.is_disposed() && calls.get_value() == n {
                apply(answer);
            }
        });
    }
}

/// Runs `fetch()` and hands its answer to `apply`, one request out at a time: a call
/// while one is out is owed and made once that one is answered (its answer may predate
/// what the call was for), never dropped and never doubled. Nothing is applied once the
/// component is gone. For pages that follow one thing (an agent, a run) by push, and ask
/// again on a resync or while the stream is down.
pub fn one_at_a_time<T, Fut>(
    fetch: impl Fn() -> Fut + Copy + 'static,
    apply: impl Fn(T) + Copy + 'static,
) -> impl Fn() + Copy + 'static
where
    T: 'static,
    Fut: std::future::Future<Output = T> + 'static,
{
    /// (a request is out, another is owed)
    fn start<T: 'static, Fut: std::future::Future<Output = T> + 'static>(
        flight: StoredValue<(bool, bool)>,
        fetch: impl Fn() -> Fut + Copy + 'static,
        apply: impl Fn(T) + Copy + 'static,
    ) {
        if flight.get_value().0 {
            flight.update_value(|f| f.1 = true);
            return;
        }
        flight.set_value((true, false));
        leptos::task::spawn_local(async move {
            let answer = fetch().await;
            if flight.is_disposed() {
                return; // navigated away
            }
            let owed = flight.get_value().1;
            flight.set_value((false, false));
            apply(answer);
            if owed {
                start(flight, fetch, apply);
            }
        });
    }
    let flight = StoredValue::new((false, false));
    move || start(flight, fetch, apply)
}

/// The small live / reconnecting indicator in the header.
#[component]
pub fn LiveIndicator() -> impl IntoView {
    let live = use_live();
    let text = move || match live.state() {
        LinkState::Connecting => "connecting…",
        LinkState::Live => "live",
        LinkState::Reconnecting => "reconnecting…",
    };
    let title = move || match live.state() {
        LinkState::Connecting => "Opening the live update stream; until it is up, pages refresh every few seconds.",
        LinkState::Live => "Changes appear as they happen.",
        LinkState::Reconnecting => {
            "The live update stream dropped; reconnecting. Pages refresh every few seconds meanwhile."
        }
    };
    view! {
        <span class=move || format!("live-status {}", live.state().as_str()) data-testid="live-status"
            data-state=move || live.state().as_str() title=title role="status">
            <span class="dot" aria-hidden="true"></span>
            {text}
        </span>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_read_back() {
        for s in [LinkState::Connecting, LinkState::Live, LinkState::Reconnecting] {
            assert_eq!(LinkState::parse(s.as_str()), Some(s));
        }
        assert_eq!(LinkState::parse("up"), None);
    }
}
