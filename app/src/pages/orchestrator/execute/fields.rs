//! The run form's inputs, generated from the schema to any depth: text, number inputs,
//! checkboxes, repeatable rows for lists, key/value rows for maps, fieldsets for objects,
//! a JSON editor for anything else. Each label is tied to its input; errors show beside
//! the field they are about (by JSON Pointer path, as the validator reports them).

use super::node::{pointer, Build, Node, Row};
use crate::error::FieldError;
use crate::schema::{Field, FieldKind};
use leptos::prelude::*;
use serde_json::Value;

/// The form's per-field errors and what new rows are built with, shared by every input.
#[derive(Clone, Copy)]
pub struct FormContext {
    pub errors: RwSignal<Vec<FieldError>>,
    pub build: StoredValue<Build>,
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
    let label = field.label();
    let hint = field.description.clone().filter(|d| !d.trim().is_empty());
    let type_hint = match &field.kind {
        FieldKind::Json { type_name: Some(t) } => format!("{} · JSON", t),
        _ if field.secret => "secret".to_owned(),
        kind => kind.type_label(),
    };
    let constraints = field.kind.constraint_hint();
    let required = field.required;
    let group = matches!(
        node,
        Node::List { .. } | Node::Map { .. } | Node::Object { .. } | Node::Choice { .. } | Node::Lazy { .. }
    );
    let id = ctx.dom_id();
    let hint_id = format!("{id}-hint");
    let error_id = format!("{id}-error");
    let error = ctx.error_at(path);
    let head = view! {
        <span class="field-name">{label.clone()}</span>
        {required.then(|| view! { <span class="required" aria-hidden="true">" *"</span> })}
        <span class="muted type-hint">{format!(" ({type_hint})")}</span>
    };
    let help = (hint.is_some() || constraints.is_some()).then(|| {
        view! {
            <p class="hint" id=hint_id.clone()>
                {hint.clone()}
                {constraints.clone().map(|c| view! { <span class="constraints">{if hint.is_some() { format!(" · {c}") } else { c }}</span> })}
            </p>
        }
    });
    let problem =
        move || error.get().map(|m| view! { <p class="field-error" id=error_id.clone() role="alert">{m}</p> });
    let spec = Spec { id: id.clone(), path, ctx, required, name: field.name.clone(), secret: field.secret, label };
    if group {
        view! {
            <fieldset class="field group" data-path=move || path.get()>
                <legend>{head}</legend>
                {help}
                {input(node, spec)}
                {problem}
            </fieldset>
        }
        .into_any()
    } else if matches!(node, Node::Bool(_)) {
        view! {
            <div class="field check" data-path=move || path.get()>
                {input(node, spec)}
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
                {input(node, spec)}
                {help}
                {problem}
            </div>
        }
        .into_any()
    }
}

/// The whole form's inputs: the root object node's fields (and extra-key rows).
pub fn root_view(node: Node, ctx: FormContext) -> AnyView {
    let spec = Spec {
        id: ctx.dom_id(),
        path: Signal::derive(String::new),
        ctx,
        required: true,
        name: String::new(),
        secret: false,
        label: String::new(),
    };
    input(node, spec)
}

/// What an input needs to know about the field it edits.
#[derive(Clone)]
struct Spec {
    /// Goes on the focusable element the label names.
    id: String,
    path: Signal<String>,
    ctx: FormContext,
    required: bool,
    name: String,
    secret: bool,
    /// For buttons that add a nested value ("Add Tree").
    label: String,
}

/// The `type` of a text input for a JSON Schema `format`: the browser's own pickers and
/// keyboards where it has them.
fn input_type(format: Option<&str>, secret: bool) -> &'static str {
    match format {
        _ if secret => "password",
        Some("password") => "password",
        Some("date") => "date",
        Some("time") => "time",
        Some("date-time") => "datetime-local",
        Some("email" | "idn-email") => "email",
        Some("uri" | "url" | "iri") => "url",
        _ => "text",
    }
}

/// The input(s) of one node.
fn input(node: Node, spec: Spec) -> AnyView {
    let Spec { id, path, ctx, required, name, secret, label } = spec;
    let invalid = {
        let error = ctx.error_at(path);
        move || error.get().is_some().then_some("true")
    };
    let described = format!("{id}-hint {id}-error");
    match node {
        Node::Text { value, format } => {
            let kind = input_type(format.as_deref(), secret);
            let step = (kind == "datetime-local" || kind == "time").then_some("1");
            view! {
                <input type=kind id=id name=name aria-required=required.then_some("true") aria-invalid=invalid
                    aria-describedby=described step=step autocomplete=if secret { "off" } else { "on" }
                    prop:value=move || value.get() on:input=move |ev| value.set(event_target_value(&ev))/>
            }
            .into_any()
        }
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
        Node::Select { options, selected } => {
            let items = options
                .iter()
                .enumerate()
                .map(|(i, o)| {
                    let text = match o {
                        Value::String(s) => s.clone(),
                        Value::Null => "(empty)".to_owned(),
                        o => o.to_string(),
                    };
                    view! { <option value=i.to_string() selected=move || selected.get() == Some(i)>{text}</option> }
                })
                .collect_view();
            view! {
                <select id=id name=name aria-required=required.then_some("true") aria-invalid=invalid aria-describedby=described
                    prop:value=move || selected.get().map(|i| i.to_string()).unwrap_or_default()
                    on:change=move |ev| selected.set(event_target_value(&ev).parse().ok())>
                    <option value="">"— choose —"</option>
                    {items}
                </select>
            }
            .into_any()
        }
        Node::Json(text) => view! {
            <textarea id=id name=name rows="3" class="json-input" spellcheck="false" aria-required=required.then_some("true")
                aria-invalid=invalid aria-describedby=described placeholder="JSON, e.g. {\"key\": 1} or [1, 2]"
                prop:value=move || text.get() on:input=move |ev| text.set(event_target_value(&ev))></textarea>
        }
        .into_any(),
        Node::Object { fields, extra, .. } => {
            let items = fields
                .iter()
                .map(|(f, n)| {
                    let name = f.name.clone();
                    let child = Signal::derive(move || pointer(&path.get(), &name));
                    view! { <FieldView field=f.clone() node=n.clone() path=child ctx/> }
                })
                .collect_view();
            let extra = extra.map(|(kind, rows)| {
                view! {
                    <div class="extra">
                        <p class="muted">"More entries"</p>
                        {key_value_rows(kind, rows, path, ctx)}
                    </div>
                }
            });
            view! { <div class="nested" id=id>{items}{extra}</div> }.into_any()
        }
        Node::Choice { variants, nodes, selected } => {
            let options = variants
                .iter()
                .enumerate()
                .map(|(i, v)| view! { <option value=i.to_string() selected=move || selected.get() == Some(i)>{v.title.clone()}</option> })
                .collect_view();
            let chosen = move || {
                selected.get().and_then(|i| nodes.get(i).cloned()).map(|n| {
                    let spec = Spec { id: ctx.dom_id(), path, ctx, required: false, name: String::new(), secret: false, label: String::new() };
                    view! { <div class="variant">{input(n, spec)}</div> }
                })
            };
            view! {
                <div class="choice">
                    <label class="visually-hidden" for=id.clone()>"Which kind"</label>
                    <select id=id class="variant-select" aria-describedby=described
                        prop:value=move || selected.get().map(|i| i.to_string()).unwrap_or_default()
                        on:change=move |ev| selected.set(event_target_value(&ev).parse().ok())>
                        <option value="">{if required { "— choose one —" } else { "— none —" }}</option>
                        {options}
                    </select>
                    {chosen}
                </div>
            }
            .into_any()
        }
        Node::Lazy { name: type_name, kind, node } => {
            let b = ctx.build;
            let open = move |_| {
                let b = b.get_value();
                node.set(Some(Node::new(&kind, None, &b)));
            };
            let what = if label.is_empty() { type_name.to_string() } else { label };
            let add_label = format!("Add {what}");
            view! {
                <div class="lazy" id=id>
                    {move || match node.get() {
                        Some(n) => {
                            let spec = Spec { id: ctx.dom_id(), path, ctx, required: false, name: String::new(), secret: false, label: String::new() };
                            view! {
                                <div class="nested">{input(n, spec)}</div>
                                <button type="button" class="small" on:click=move |_| node.set(None)>{format!("Remove {what}")}</button>
                            }.into_any()
                        }
                        None => view! { <button type="button" class="small add" on:click=open.clone()>{add_label.clone()}</button> }.into_any(),
                    }}
                </div>
            }
            .into_any()
        }
        Node::List { item, prefix, max, rows } => {
            let b = ctx.build;
            let fixed = prefix.len();
            let add = move |_| {
                let b = b.get_value();
                rows.update(|r| {
                    let kind = prefix.get(r.len()).unwrap_or(&item);
                    r.push(Row::new(kind, None, String::new(), &b))
                });
            };
            let full = move || max.is_some_and(|m| rows.with(|r| r.len() as u64 >= m));
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
                                    {move || (index.get() >= fixed).then(|| view! {
                                        <button type="button" class="small" aria-label=move || format!("Remove item {}", index.get() + 1)
                                            on:click=move |_| rows.update(|r| r.retain(|x| x.id != row_id))>"Remove"</button>
                                    })}
                                </div>
                            }
                        }
                    </For>
                    <button type="button" class="small add" on:click=add disabled=full>"Add item"</button>
                </div>
            }
            .into_any()
        }
        Node::Map { value, rows } => view! { <div class="rows" id=id>{key_value_rows(value, rows, path, ctx)}</div> }.into_any(),
    }
}

/// Key/value rows (a map, or an object's extra keys) with Add and Remove.
fn key_value_rows(
    value: std::sync::Arc<FieldKind>,
    rows: RwSignal<Vec<Row>>,
    path: Signal<String>,
    ctx: FormContext,
) -> impl IntoView {
    let b = ctx.build;
    let add = move |_| {
        let b = b.get_value();
        rows.update(|r| r.push(Row::new(&value, None, String::new(), &b)));
    };
    view! {
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
    }
}

/// An unnamed value inside a list or map row.
#[component]
fn ItemView(node: Node, path: Signal<String>, ctx: FormContext, label: Signal<String>) -> impl IntoView {
    let id = ctx.dom_id();
    let error = ctx.error_at(path);
    let error_id = format!("{id}-error");
    let spec =
        Spec { id: id.clone(), path, ctx, required: false, name: String::new(), secret: false, label: String::new() };
    view! {
        <div class="item" data-path=move || path.get()>
            <label class="visually-hidden" for=id>{label}</label>
            {input(node, spec)}
            {move || error.get().map(|m| view! { <p class="field-error" id=error_id.clone() role="alert">{m}</p> })}
        </div>
    }
}
