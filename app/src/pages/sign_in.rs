//! `/sign-in`: a token for a session cookie. A plain form posted to the server
//! (`POST /api/v1/session`), so it works before the page is interactive and the token
//! never passes through the page's code; the server sends the browser back to `next`.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

#[component]
pub fn SignInPage() -> impl IntoView {
    let query = use_query_map();
    let next = move || query.read().get("next").unwrap_or_default();
    let notice = move || {
        let query = query.read();
        match (query.get("failed").as_deref(), query.get("signed_out").is_some()) {
            (Some("token"), _) => Some(("error", "That is not an admin token of this dashboard.")),
            (Some("limit"), _) => {
                Some(("error", "Too many failed sign-ins from this address: wait five minutes, then try again."))
            }
            (_, true) => Some(("success", "Signed out.")),
            _ => None,
        }
    };
    view! {
        <Title text="Sign in · configurable-agents"/>
        <section class="card sign-in">
            <h1>"Sign in"</h1>
            <p>"This dashboard requires an admin token."</p>
            {move || notice().map(|(kind, text)| view! { <p class=format!("notice {kind}") role="status">{text}</p> })}
            <form method="post" action="/api/v1/session">
                <div class="field">
                    <label for="token">"Admin token"</label>
                    <input id="token" name="token" type="password" autocomplete="current-password" required autofocus/>
                    <p class="hint">
                        "Whoever runs the dashboard makes one with " <code>"configurable-agents token init-admin"</code>
                        " or gives it with " <code>"--admin-token-file"</code> "."
                    </p>
                </div>
                <input type="hidden" name="next" value=next/>
                <div class="actions">
                    <button type="submit" class="primary">"Sign in"</button>
                </div>
            </form>
        </section>
    }
}
