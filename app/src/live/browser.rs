//! The browser side of the stream: who holds it (a Web Lock), the relay to other tabs (a
//! BroadcastChannel), the EventSource with its reconnect backoff, and the handlers.

use super::{LinkState, Live};
use crate::model::events::{LiveEvent, EVENT_NAMES, PING};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Duration;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{BroadcastChannel, EventSource, MessageEvent};

const CHANNEL: &str = "configurable-agents-live";
const LOCK: &str = "configurable-agents-event-stream";
const STREAM: &str = "/api/v1/events";
/// Reconnect waits: from the first to the longest, doubling, with up to half again of
/// random spread so that browsers do not all return at the same instant after a restart.
const FIRST_RETRY_MS: f64 = 500.0;
const LONGEST_RETRY_MS: f64 = 8_000.0;
/// Silence after which an open stream counts as dead: over two of the server's pings.
const SILENCE_MS: f64 = 40_000.0;

// `navigator.locks` is behind web-sys's unstable APIs; this is the one call we need.
#[wasm_bindgen]
extern "C" {
    type LockManager;
    #[wasm_bindgen(method, catch)]
    fn request(this: &LockManager, name: &str, callback: &js_sys::Function) -> Result<js_sys::Promise, JsValue>;
}

/// What tabs tell each other.
#[derive(Serialize, Deserialize)]
#[serde(tag = "k", rename_all = "snake_case")]
enum Message {
    /// An event, relayed by the tab that holds the stream.
    Event { name: String, data: String, id: String },
    /// The stream's state, from the tab that holds it.
    State { state: String },
    /// A tab joined and asks for the state.
    Hello,
}

type Handler = Rc<dyn Fn(&LiveEvent)>;
type Listener = Closure<dyn FnMut(MessageEvent)>;

thread_local! {
    static HANDLERS: RefCell<Vec<(u64, Handler)>> = const { RefCell::new(Vec::new()) };
    static NEXT_HANDLER: Cell<u64> = const { Cell::new(0) };
    static TAB: RefCell<Option<Rc<Tab>>> = const { RefCell::new(None) };
}

pub fn add_handler(handler: Handler) -> u64 {
    let id = NEXT_HANDLER.with(|n| {
        n.set(n.get() + 1);
        n.get()
    });
    HANDLERS.with(|h| h.borrow_mut().push((id, handler)));
    id
}

pub fn remove_handler(id: u64) {
    HANDLERS.with(|h| h.borrow_mut().retain(|(i, _)| *i != id));
}

fn dispatch(event: &LiveEvent) {
    // Cloned out first: a handler may (un)subscribe while it runs.
    let handlers: Vec<Handler> = HANDLERS.with(|h| h.borrow().iter().map(|(_, f)| f.clone()).collect());
    for handler in handlers {
        handler(event);
    }
}

struct Tab {
    live: Live,
    channel: Option<BroadcastChannel>,
    leader: Cell<bool>,
    /// The newest event id seen (relayed ones too), where a new leader resumes.
    last_id: RefCell<Option<String>>,
    source: RefCell<Option<EventSource>>,
    /// The open EventSource's listeners, dropped with it.
    listeners: RefCell<Vec<Listener>>,
    on_open: RefCell<Option<Closure<dyn FnMut()>>>,
    on_error: RefCell<Option<Closure<dyn FnMut()>>>,
    retry_ms: Cell<f64>,
    /// When the open stream last said anything (an event or a ping), ms.
    heard_at: Cell<f64>,
}

/// Once per document: joins the other tabs and competes for the stream.
pub fn start(live: Live) {
    if TAB.with(|t| t.borrow().is_some()) {
        return;
    }
    let channel = BroadcastChannel::new(CHANNEL).ok();
    let tab = Rc::new(Tab {
        live,
        channel,
        leader: Cell::new(false),
        last_id: RefCell::new(None),
        source: RefCell::new(None),
        listeners: RefCell::new(Vec::new()),
        on_open: RefCell::new(None),
        on_error: RefCell::new(None),
        retry_ms: Cell::new(FIRST_RETRY_MS),
        heard_at: Cell::new(0.0),
    });
    TAB.with(|t| *t.borrow_mut() = Some(tab.clone()));

    if let Some(channel) = &tab.channel {
        let me = tab.clone();
        let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |e: MessageEvent| {
            let Some(text) = e.data().as_string() else { return };
            let Ok(message) = serde_json::from_str::<Message>(&text) else { return };
            me.received(message);
        });
        channel.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        // Lives as long as the document.
        on_message.forget();
        post(&tab, &Message::Hello);
    }

    // Whoever gets the lock holds the stream until its tab closes; the others wait in
    // the lock's queue, and the next one takes over at once.
    let locks =
        js_sys::Reflect::get(&window().navigator(), &JsValue::from_str("locks")).ok().filter(|l| !l.is_undefined());
    match (locks, &tab.channel) {
        (Some(locks), Some(_)) => {
            let me = tab.clone();
            let granted = Closure::<dyn FnMut(JsValue) -> js_sys::Promise>::new(move |_lock: JsValue| {
                me.lead();
                // Never settles: the lock is held while this document lives.
                js_sys::Promise::new(&mut |_, _| {})
            });
            let manager: LockManager = locks.unchecked_into();
            match manager.request(LOCK, granted.as_ref().unchecked_ref()) {
                // Refused later (an opaque origin, a sandbox): a stream of its own.
                Ok(pending) => {
                    let me = tab.clone();
                    let refused = Closure::<dyn FnMut(JsValue)>::new(move |_| me.lead());
                    let _ = pending.catch(&refused);
                    refused.forget();
                }
                Err(_) => tab.lead(),
            }
            granted.forget();
            // Events between this page's render and joining the relay were not seen here.
            let me = tab.clone();
            set_timeout(
                move || {
                    if !me.leader.get() {
                        dispatch(&LiveEvent::Resync)
                    }
                },
                Duration::ZERO,
            );
        }
        // No Web Locks (an insecure context) or no channel: this tab keeps its own stream.
        _ => tab.lead(),
    }
}

fn post(tab: &Tab, message: &Message) {
    if let (Some(channel), Ok(text)) = (&tab.channel, serde_json::to_string(message)) {
        let _ = channel.post_message(&JsValue::from_str(&text));
    }
}

impl Tab {
    fn received(self: &Rc<Self>, message: Message) {
        match message {
            // A tab with its own stream has every event already (without Web Locks every
            // tab holds one, and would otherwise take each event once per tab).
            Message::Event { .. } if self.leader.get() => {}
            Message::Event { name, data, id } => {
                if !id.is_empty() {
                    *self.last_id.borrow_mut() = Some(id);
                }
                if let Some(event) = LiveEvent::parse(&name, &data) {
                    dispatch(&event);
                }
            }
            Message::State { state } if !self.leader.get() => {
                if let Some(state) = LinkState::parse(&state) {
                    self.live.set_state(state);
                }
            }
            Message::State { .. } => {}
            Message::Hello if self.leader.get() => {
                post(self, &Message::State { state: self.live.state.get_untracked().as_str().to_owned() });
            }
            Message::Hello => {}
        }
    }

    fn lead(self: &Rc<Self>) {
        if self.leader.replace(true) {
            return;
        }
        // What the last holder said is no longer true: until this tab's own stream is up,
        // pages poll.
        self.set_state(LinkState::Connecting);
        self.connect();
        self.watch();
    }

    /// A connection can die without an error (a half-open TCP connection behind NAT or a
    /// proxy): the server sends `ping` every 15 s, so silence for much longer means the
    /// stream is gone, and it is reopened.
    fn watch(self: &Rc<Self>) {
        let me = self.clone();
        let _ = set_interval_with_handle(
            move || {
                let silent = crate::time::now_ms() - me.heard_at.get();
                if me.source.borrow().is_some() && silent > SILENCE_MS {
                    if let Some(source) = me.source.borrow_mut().take() {
                        source.close();
                    }
                    me.set_state(LinkState::Reconnecting);
                    me.retry_later();
                }
            },
            Duration::from_secs(5),
        );
    }

    fn set_state(&self, state: LinkState) {
        self.live.set_state(state);
        post(self, &Message::State { state: state.as_str().to_owned() });
    }

    fn connect(self: &Rc<Self>) {
        let url = match self.last_id.borrow().as_deref() {
            Some(id) => format!("{STREAM}?last_event_id={}", js_sys::encode_uri_component(id)),
            None => STREAM.to_owned(),
        };
        let source = match EventSource::new(&url) {
            Ok(s) => s,
            Err(_) => return self.retry_later(),
        };
        let mut listeners = Vec::with_capacity(EVENT_NAMES.len() + 1);
        let me = self.clone();
        let ping =
            Closure::<dyn FnMut(MessageEvent)>::new(move |_: MessageEvent| me.heard_at.set(crate::time::now_ms()));
        let _ = source.add_event_listener_with_callback(PING, ping.as_ref().unchecked_ref());
        listeners.push(ping);
        for name in EVENT_NAMES {
            let me = self.clone();
            let listener = Closure::<dyn FnMut(MessageEvent)>::new(move |e: MessageEvent| {
                let data = e.data().as_string().unwrap_or_default();
                let id = e.last_event_id();
                me.on_event(name, data, id);
            });
            let _ = source.add_event_listener_with_callback(name, listener.as_ref().unchecked_ref());
            listeners.push(listener);
        }
        let me = self.clone();
        self.heard_at.set(crate::time::now_ms());
        let on_open = Closure::<dyn FnMut()>::new(move || {
            me.heard_at.set(crate::time::now_ms());
            me.retry_ms.set(FIRST_RETRY_MS);
            me.set_state(LinkState::Live);
        });
        source.set_onopen(Some(on_open.as_ref().unchecked_ref()));
        let me = self.clone();
        // The browser would retry by itself, but gives up on an HTTP error; one policy
        // for every failure: close, say so, reopen with backoff from the last event.
        let on_error = Closure::<dyn FnMut()>::new(move || {
            if let Some(source) = me.source.borrow_mut().take() {
                source.close();
            }
            me.set_state(LinkState::Reconnecting);
            me.retry_later();
        });
        source.set_onerror(Some(on_error.as_ref().unchecked_ref()));
        // Replaced only after the old source is gone: its callbacks must not outlive them.
        if let Some(old) = self.source.replace(Some(source)) {
            old.close();
        }
        *self.listeners.borrow_mut() = listeners;
        *self.on_open.borrow_mut() = Some(on_open);
        *self.on_error.borrow_mut() = Some(on_error);
    }

    fn retry_later(self: &Rc<Self>) {
        let wait = self.retry_ms.get();
        self.retry_ms.set((wait * 2.0).min(LONGEST_RETRY_MS));
        let spread = 1.0 + js_sys::Math::random() * 0.5;
        let me = self.clone();
        let reconnect = move || {
            // An EventSource does not tell a 401 from a network error: ask, at each retry
            // (so with the same backoff). A session that ended answers 401, and the error
            // hook sends the page to sign in instead of retrying forever.
            leptos::task::spawn_local(async {
                let _ = crate::api::viewer().await;
            });
            me.connect();
        };
        set_timeout(reconnect, Duration::from_millis((wait * spread) as u64));
    }

    fn on_event(&self, name: &'static str, data: String, id: String) {
        self.heard_at.set(crate::time::now_ms());
        if !id.is_empty() {
            *self.last_id.borrow_mut() = Some(id.clone());
        }
        if let Some(event) = LiveEvent::parse(name, &data) {
            dispatch(&event);
        }
        post(self, &Message::Event { name: name.to_owned(), data, id });
    }
}
