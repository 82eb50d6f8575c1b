//! The run form's inputs, generated from the schema to any depth: text, number inputs,
//! checkboxes, repeatable rows for lists, key/value rows for maps, fieldsets for objects,
//! a JSON editor for anything else. Each label is tied to its input; errors show beside
//! the field they are about (by JSON Pointer path, as the validator reports them).

use super::node::{pointer, Node, Row, RowIds};
use crate::error::FieldError;
use crate::schema::{humanize, Field, FieldKind};
use leptos::prelude::*;

/// The form's per-field errors and its row/ID counter, shared by every input.
#[derive(Clone, Copy)]
pub struct FormContext {
    pub errors: RwSignal<Vec<FieldError>>,
    pub ids: RowIds,
    /// Unique DOM IDs for labels and hints.
    pub dom_ids: StoredValue<u64>,
}

impl FormContext {
    fn dom_id(&self) -> String {
        self.dom_ids.update_value(|n| *n += 1);
        format!("run-input-{}", self.dom_ids.get_value())
    }

    fn error_at(&self, path: Signal<String>) -> Signal<Option<String>> {
        let errors = self.errors;
        Signal::derive(move || {
            let path = path.get();
            errors.with(|all| {
                let mine: Vec<&str> = all.iter().filter(|e| e.field == path).map(|e| e.message.as_str()).collect();
                (!mine.is_empty()).then(|| mine.join("; "))
            })
        })
    }
}

/// One named field of the schema (top level or inside an object).
#[component]
pub fn FieldView(field: Field, node: Node, path: Signal<String>, ctx: FormContext) -> impl IntoView {
    let label = humanize(&field.name);
    let hint = field.description.clone().filter(|d| !d.trim().is_empty());
    let type_hint = match &field.kind {
        FieldKind::Json { type_name: Some(t) } => format!("{} · JSON", t),
        kind => kind.type_label(),
    };
    let required = field.required;
    let group = matches!(node, Node::List { .. } | Node::Map { .. } | Node::Object { .. });
    let id = ctx.dom_id();
    let hint_id = format!("{id}-hint");
    let error_id = format!("{id}-error");
    let error = ctx.error_at(path);
    let head = view! {
        <span class="field-name">{label}</span>
        {required.then(|| view! { <span class="required" aria-hidden="true">" *"</span> })}
        <span class="muted type-hint">{format!(" ({type_hint})")}</span>
    };
    let help = hint.map(|h| view! { <p class="hint" id=hint_id.clone()>{h}</p> });
    let problem = move || error.get().map(|m| view! { <p class="field-error" id=error_id.clone() role="alert">{m}</p> });
    if group {
        view! {
            <fieldset class="field group" data-path=move || path.get()>
                <legend>{head}</legend>
                {help}
                {input(node, id, path, ctx, required, field.name.clone())}
                {problem}
            </fieldset>
        }
        .into_any()
    } else if matches!(node, Node::Bool(_)) {
        view! {
            <div class="field check" data-path=move || path.get()>
                {input(node, id.clone(), path, ctx, required, field.name.clone())}
                <label for=id>{head}</label>
                {help}
                {problem}
            </div>
        }
        .into_any()
    } else {
        view! {
            <div class="field" data-path=move || path.get()>
                <label for=id.clone()>{head}</label>
                {input(node, id, path, ctx, required, field.name.clone())}
                {help}
                {problem}
            </div>
        }
        .into_any()
    }
}

/// The input(s) of one node; `id` goes on the focusable element the label names.
fn input(node: Node, id: String, path: Signal<String>, ctx: FormContext, required: bool, name: String) -> AnyView {
    let invalid = {
        let error = ctx.error_at(path);
        move || error.get().is_some().then_some("true")
    };
    let described = format!("{id}-hint {id}-error");
    match node {
        Node::Text(value) => view! {
            <input type="text" id=id name=name aria-required=required.then_some("true") aria-invalid=invalid
                aria-describedby=described prop:value=move || value.get() on:input=move |ev| value.set(event_target_value(&ev))/>
        }
        .into_any(),
        Node::Number { raw, integer } => view! {
            // Text with a numeric keyboard, not type=number: the browser would hide what
            // was typed ("12a" reads as empty), and the message must say why it is refused.
            <input type="text" inputmode=if integer { "numeric" } else { "decimal" } id=id name=name
                aria-required=required.then_some("true") aria-invalid=invalid aria-describedby=described
                placeholder=if integer { "e.g. 42" } else { "e.g. 3.14" }
                prop:value=move || raw.get() on:input=move |ev| raw.set(event_target_value(&ev))/>
        }
        .into_any(),
        Node::Bool(checked) => view! {
            <input type="checkbox" id=id name=name aria-describedby=described
                prop:checked=move || checked.get() on:change=move |ev| checked.set(event_target_checked(&ev))/>
        }
        .into_any(),
        Node::Json(text) => view! {
            <textarea id=id name=name rows="3" class="json-input" spellcheck="false" aria-required=required.then_some("true")
                aria-invalid=invalid aria-describedby=described placeholder="JSON, e.g. {\"key\": 1} or [1, 2]"
                prop:value=move || text.get() on:input=move |ev| text.set(event_target_value(&ev))></textarea>
        }
        .into_any(),
        Node::Object { fields } => {
            let items = fields
                .iter()
                .map(|(f, n)| {
                    let name = f.name.clone();
                    let child = Signal::derive(move || pointer(&path.get(), &name));
                    view! { <FieldView field=f.clone() node=n.clone() path=child ctx/> }
                })
                .collect_view();
            view! { <div class="nested" id=id>{items}</div> }.into_any()
        }
        Node::List { item, rows } => {
            let add = move |_| {
                rows.update(|r| r.push(Row::new(&item, None, String::new(), ctx.ids)));
            };
            view! {
                <div class="rows" id=id>
                    <For each=move || rows.get() key=|row| row.id let:row>
                        {
                            let row_id = row.id;
                            let index = Signal::derive(move || rows.with(|r| r.iter().position(|x| x.id == row_id).unwrap_or(0)));
                            let child = Signal::derive(move || format!("{}/{}", path.get(), index.get()));
                            view! {
                                <div class="row">
                                    <span class="row-index muted">{move || format!("{}.", index.get() + 1)}</span>
                                    <ItemView node=row.node.clone() path=child ctx label=Signal::derive(move || format!("Item {}", index.get() + 1))/>
                                    <button type="button" class="small" aria-label=move || format!("Remove item {}", index.get() + 1)
                                        on:click=move |_| rows.update(|r| r.retain(|x| x.id != row_id))>"Remove"</button>
                                </div>
                            }
                        }
                    </For>
                    <button type="button" class="small add" on:click=add>"Add item"</button>
                </div>
            }
            .into_any()
        }
        Node::Map { value, rows } => {
            let add = move |_| {
                rows.update(|r| r.push(Row::new(&value, None, String::new(), ctx.ids)));
            };
            view! {
                <div class="rows" id=id>
                    <For each=move || rows.get() key=|row| row.id let:row>
                        {
                            let row_id = row.id;
                            let key = row.key;
                            let child = Signal::derive(move || pointer(&path.get(), &key.get()));
                            let key_id = ctx.dom_id();
                            view! {
                                <div class="row map-row">
                                    <label class="visually-hidden" for=key_id.clone()>"Key"</label>
                                    <input type="text" class="key" id=key_id placeholder="key"
                                        prop:value=move || key.get() on:input=move |ev| key.set(event_target_value(&ev))/>
                                    <ItemView node=row.node.clone() path=child ctx label=Signal::derive(move || format!("Value of {}", key.get()))/>
                                    <button type="button" class="small" aria-label=move || format!("Remove entry {}", key.get())
                                        on:click=move |_| rows.update(|r| r.retain(|x| x.id != row_id))>"Remove"</button>
                                </div>
                            }
                        }
                    </For>
                    <button type="button" class="small add" on:click=add>"Add entry"</button>
                </div>
            }
            .into_any()
        }
    }
}

/// An unnamed value inside a list or map row.
#[component]
fn ItemView(node: Node, path: Signal<String>, ctx: FormContext, label: Signal<String>) -> impl IntoView {
    let id = ctx.dom_id();
    let error = ctx.error_at(path);
    let error_id = format!("{id}-error");
    view! {
        <div class="item" data-path=move || path.get()>
            <label class="visually-hidden" for=id.clone()>{label}</label>
            {input(node, id, path, ctx, false, String::new())}
            {move || error.get().map(|m| view! { <p class="field-error" id=error_id.clone() role="alert">{m}</p> })}
        </div>
    }
}
