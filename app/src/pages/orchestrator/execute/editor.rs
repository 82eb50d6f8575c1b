//! The run form's inputs being edited: the form's tree of fields or, toggled, the same
//! inputs as raw JSON (secrets shown as "***" and kept aside), the errors shown as the
//! person fixes them, and the inputs read and checked for sending.

use super::fields::FormContext;
use super::node::Node;
use super::raw;
use super::raw_secrets::{list_item, KeptSecret};
use crate::error::FieldError;
use crate::schema::{secrets, validate_inputs, InputSchema};
use leptos::prelude::*;
use serde_json::{Map, Value};
use std::collections::HashSet;
use std::sync::Arc;

#[derive(Clone, Copy)]
pub(super) struct Editor {
    pub root: RwSignal<Node>,
    pub model: StoredValue<Arc<InputSchema>>,
    pub ctx: FormContext,
    /// `Some(text)` while the inputs are edited as raw JSON.
    pub raw: RwSignal<Option<String>>,
    pub raw_problem: RwSignal<Option<String>>,
    pub raw_errors: RwSignal<Vec<(Option<usize>, FieldError)>>,
    /// Secrets typed in the form, kept here while the inputs are shown as raw JSON, which
    /// shows them as "***"; a "***" left in place there means "the value typed before".
    kept_secrets: StoredValue<Vec<KeptSecret>>,
    /// Errors follow the person's fixes: a field's once it has been left, every field's
    /// once Run was pressed (or an earlier run's inputs were found not to fit).
    pub submitted: StoredValue<bool>,
    touched: StoredValue<HashSet<String>>,
}

impl Editor {
    pub fn new(root: RwSignal<Node>, model: Arc<InputSchema>, ctx: FormContext) -> Self {
        Self {
            root,
            model: StoredValue::new(model),
            ctx,
            raw: RwSignal::new(None),
            raw_problem: RwSignal::new(None),
            raw_errors: RwSignal::new(Vec::new()),
            kept_secrets: StoredValue::new(Vec::new()),
            submitted: StoredValue::new(ctx.errors.with_untracked(|e| !e.is_empty())),
            touched: StoredValue::new(HashSet::new()),
        }
    }

    /// The form's values as the inputs object, with what could not even be read as typed.
    pub fn collect(self) -> (Map<String, Value>, Vec<FieldError>) {
        let mut errors = Vec::new();
        let inputs = match self.root.with_untracked(|r| r.collect("", &mut errors)) {
            Some(Value::Object(map)) => map,
            _ => Map::new(),
        };
        (inputs, errors)
    }

    /// The form rebuilt from `value` (an earlier run's inputs, the last ones, raw JSON).
    pub fn refill(self, value: &Value) {
        let b = self.ctx.build.get_value();
        self.model.with_value(|m| self.root.set(Node::object(&m.fields, &m.additional, Some(value), &b)));
        self.ctx.errors.set(Vec::new());
    }

    /// A "***" stands for the secret typed before only where it still is: at the same
    /// path, and, inside a list, in the same item (deleting an item must not hand one
    /// item's secret to the next). Any other "***" at a secret's place is an error.
    fn unmask(self, map: Map<String, Value>) -> (Map<String, Value>, Vec<FieldError>) {
        let mut value = Value::Object(map);
        for kept in self.kept_secrets.get_value() {
            let same_item = kept.item.as_ref().is_none_or(|(at, was)| value.pointer(at) == Some(was));
            if let Some(slot) = value.pointer_mut(&kept.path).filter(|v| v.as_str() == Some(secrets::MASK)) {
                if same_item {
                    *slot = kept.value;
                }
            }
        }
        let map = match value {
            Value::Object(map) => map,
            _ => Map::new(),
        };
        let (_, paths) = self.model.with_value(|m| secrets::redact(m, &map));
        let whole = Value::Object(map);
        let errors = paths
            .into_iter()
            .filter(|p| whole.pointer(p).and_then(Value::as_str) == Some(secrets::MASK))
            .map(|p| FieldError::new(&p, "Enter this secret again: raw JSON shows secrets as ***"))
            .collect();
        let Value::Object(map) = whole else { unreachable!("built from a map above") };
        (map, errors)
    }

    /// From the form to raw JSON, secrets masked and kept aside.
    pub fn to_raw(self) {
        let (inputs, errors) = self.collect();
        self.raw_problem.set((!errors.is_empty()).then(|| {
            format!(
                "{} value(s) could not be read as typed and are left out: {}",
                errors.len(),
                errors.iter().map(|e| e.field.as_str()).collect::<Vec<_>>().join(", ")
            )
        }));
        self.raw_errors.set(Vec::new());
        let (masked, paths) = self.model.with_value(|m| secrets::redact(m, &inputs));
        let typed = Value::Object(inputs);
        let shown = Value::Object(masked.clone());
        self.kept_secrets.set_value(
            paths
                .iter()
                .filter_map(|p| {
                    let item = list_item(&shown, p).and_then(|at| shown.pointer(&at).cloned().map(|was| (at, was)));
                    typed.pointer(p).map(|v| KeptSecret { path: p.clone(), value: v.clone(), item })
                })
                .collect(),
        );
        self.raw.set(Some(serde_json::to_string_pretty(&Value::Object(masked)).unwrap_or_else(|_| "{}".into())));
    }

    /// From raw JSON back to the form, if the JSON reads.
    pub fn to_form(self) {
        let Some(text) = self.raw.get_untracked() else { return };
        match raw::parse(&text) {
            Ok(map) => {
                // A "***" that stands for nothing is not kept as a password: the field is
                // emptied and marked, to be typed again.
                let (map, lost) = self.unmask(map);
                let mut value = Value::Object(map);
                for e in &lost {
                    if let Some(slot) = value.pointer_mut(&e.field) {
                        *slot = Value::Null;
                    }
                }
                self.refill(&value);
                self.ctx.errors.set(lost);
                self.raw.set(None);
                self.raw_problem.set(None);
                self.raw_errors.set(Vec::new());
            }
            Err(e) => self.raw_problem.set(Some(format!("Fix the JSON to go back to the form. {e}"))),
        }
    }

    /// The errors shown again after an edit: of the fields left so far, or of all once
    /// Run was pressed.
    pub fn revalidate(self) {
        // Run later than the event (see `later`): the panel may have closed meanwhile.
        if self.raw.is_disposed() || self.submitted.is_disposed() || self.ctx.errors.is_disposed() {
            return;
        }
        if self.raw.with_untracked(Option::is_some)
            || (!self.submitted.get_value() && self.touched.with_value(|t| t.is_empty()))
        {
            return; // raw JSON is checked on Run; nothing was left or sent yet
        }
        let (inputs, mut errors) = self.collect();
        self.add_schema_errors(&inputs, &mut errors);
        if !self.submitted.get_value() {
            let shown = |field: &str| {
                self.touched.with_value(|t| t.iter().any(|p| field == p || field.starts_with(&format!("{p}/"))))
            };
            errors.retain(|e| shown(&e.field));
        }
        if self.ctx.errors.with_untracked(|e| e != &errors) {
            self.ctx.errors.set(errors);
        }
    }

    /// A field was left: its errors show from now on.
    pub fn left(self, ev: leptos::ev::FocusEvent) {
        use leptos::wasm_bindgen::JsCast;
        let path = ev
            .target()
            .and_then(|t| t.dyn_into::<leptos::web_sys::Element>().ok())
            .and_then(|el| el.closest("[data-path]").ok().flatten())
            .and_then(|el| el.get_attribute("data-path"));
        if let Some(path) = path.filter(|p| !p.is_empty() && !self.touched.is_disposed()) {
            self.touched.update_value(|t| {
                t.insert(path);
            });
            self.revalidate();
        }
    }

    /// The schema's errors, beside those of fields whose text did not even parse (already
    /// reported, once).
    fn add_schema_errors(self, inputs: &Map<String, Value>, errors: &mut Vec<FieldError>) {
        if let Err(more) = self.model.with_value(|m| validate_inputs(m, &Value::Object(inputs.clone()))) {
            let more: Vec<FieldError> =
                more.into_iter().filter(|m| !errors.iter().any(|e| e.field == m.field)).collect();
            errors.extend(more);
        }
    }

    /// Run was pressed: the inputs (from the form or the raw JSON) with every error
    /// shown, or `None` when there is something to fix.
    pub fn inputs_to_send(self) -> Option<Map<String, Value>> {
        self.submitted.set_value(true);
        let (inputs, mut errors) = match self.raw.get_untracked() {
            Some(text) => match raw::parse(&text) {
                Ok(map) => self.unmask(map),
                Err(e) => {
                    self.raw_problem.set(Some(e));
                    return None;
                }
            },
            None => self.collect(),
        };
        self.raw_problem.set(None);
        self.add_schema_errors(&inputs, &mut errors);
        self.show_errors(&errors);
        errors.is_empty().then_some(inputs)
    }

    /// Marks the fields (and, in raw JSON, the lines) in error.
    pub fn show_errors(self, errors: &[FieldError]) {
        self.ctx.errors.set(errors.to_vec());
        if let Some(text) = self.raw.get_untracked() {
            self.raw_errors.set(by_line(raw::with_lines(&text, errors)));
        }
    }
}

/// Errors in the order of the text (those without a line last).
fn by_line(mut errors: Vec<(Option<usize>, FieldError)>) -> Vec<(Option<usize>, FieldError)> {
    errors.sort_by_key(|(line, _)| line.unwrap_or(usize::MAX));
    errors
}

/// The inputs as raw JSON, with the errors by line.
#[component]
pub(super) fn RawEditor(editor: Editor) -> impl IntoView {
    let Editor { raw, raw_errors, .. } = editor;
    view! {
        <label class="visually-hidden" for="raw-inputs">"Inputs as JSON"</label>
        <textarea id="raw-inputs" class="json-input raw" rows="14" spellcheck="false" data-testid="raw-inputs"
            prop:value=move || raw.get().unwrap_or_default()
            on:input=move |ev| raw.set(Some(event_target_value(&ev)))></textarea>
        {move || (!raw_errors.with(Vec::is_empty)).then(|| view! {
            <ul class="field-errors" data-testid="raw-errors">
                {raw_errors.get().into_iter().map(|(line, e)| view! {
                    <li>{line.map(|l| format!("Line {l}: ")).unwrap_or_default()}<code>{e.field}</code>": "{e.message}</li>
                }).collect_view()}
            </ul>
        })}
    }
}
