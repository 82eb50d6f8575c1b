//! A run's inputs and outputs as a page loads them: a bounded preview first (the top
//! levels, the first entries of each container, long text cut), then more on demand, a
//! page of one container at a time. A 10 MiB output costs the run page what a small one
//! does; the whole document stays one click away (Copy JSON, Download).

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Entries of one container per page ("show more" asks for the next).
pub const PAGE: usize = 100;
/// Characters of one string shown before it is cut.
pub const TEXT_CHARS: usize = 2_000;
/// Entries loaded in the first preview, opening containers breadth first down to
/// `PREVIEW_DEPTH` levels below the top: what a person sees at once without asking. It
/// bounds the run page (two documents) to about a thousand elements of tree.
pub const PREVIEW_ENTRIES: usize = 300;
pub const PREVIEW_DEPTH: usize = 2;
/// Characters of text (strings and keys) in one preview or one page, all told: many
/// long strings cut to `TEXT_CHARS` must not add up to megabytes either.
pub const TEXT_BUDGET: usize = 48 * 1024;
/// Characters of a key shown; a longer one is cut (and its value cannot be opened).
pub const KEY_CHARS: usize = 200;
/// Characters of one string read as text (rendered as Markdown) at most: a few hundred
/// pages, which a browser lays out at once; the rest is a Download away.
pub const READ_CHARS: usize = 1 << 20;

/// Which document of a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunPart {
    Inputs,
    Outputs,
}

impl RunPart {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Inputs => "inputs",
            Self::Outputs => "outputs",
        }
    }
}

/// One value of the tree, as far as it was loaded.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PreviewNode {
    /// A number, boolean or null.
    Scalar { value: Value },
    /// A string; `more_chars` counts what was cut off the end.
    Text { text: String, more_chars: usize },
    /// An object of `len` keys, of which `entries` are loaded (the first ones, in order),
    /// or none yet (it opens on demand).
    Object { len: usize, entries: Option<Vec<(String, PreviewNode)>> },
    /// An array of `len` items, of which `items` are loaded.
    Array { len: usize, items: Option<Vec<PreviewNode>> },
}

/// A page of one container's entries: keys (indexes for arrays, as text) and values,
/// containers among them not opened.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PreviewPage {
    pub entries: Vec<(String, PreviewNode)>,
    /// Entries in the container in all.
    pub len: usize,
}

/// The first view of a document: containers opened breadth first, each with at most
/// `PAGE` entries, while they fit in `PREVIEW_ENTRIES` (the top one always) and lie at
/// most `PREVIEW_DEPTH` levels below the top.
pub fn preview(value: &Value) -> PreviewNode {
    let mut budget = PREVIEW_ENTRIES;
    let mut text = TEXT_BUDGET;
    let mut root = shallow(value, &mut text);
    // Breadth first: the top levels of everything before the depths of anything.
    let mut frontier: Vec<(Vec<Step>, &Value)> = vec![(Vec::new(), value)];
    for _depth in 0..=PREVIEW_DEPTH {
        let mut next = Vec::new();
        for (path, v) in frontier {
            let page = entries(v, 0, PAGE);
            if !path.is_empty() && page.len() > budget {
                continue;
            }
            budget = budget.saturating_sub(page.len());
            if let Some(node) = node_at(&mut root, &path) {
                open(
                    node,
                    page.iter().map(|(k, child)| (shown_key(k, &mut text), shallow(child, &mut text))).collect(),
                );
            }
            for (i, (_, child)) in page.into_iter().enumerate() {
                if is_container(child) {
                    let mut p = path.clone();
                    p.push(i);
                    next.push((p, child));
                }
            }
        }
        frontier = next;
    }
    root
}

/// Entries `offset..offset + limit` of the container at `pointer` (a JSON Pointer), each
/// shallow; None when the pointer names nothing or not a container.
pub fn page_at(document: &Value, pointer: &str, offset: usize, limit: usize) -> Option<PreviewPage> {
    let container = document.pointer(pointer)?;
    if !is_container(container) {
        return None;
    }
    let len = container_len(container);
    let mut text = TEXT_BUDGET;
    let entries = entries(container, offset, limit.min(PAGE))
        .into_iter()
        .map(|(k, v)| (shown_key(&k, &mut text), shallow(v, &mut text)))
        .collect();
    Some(PreviewPage { entries, len })
}

/// A string of a document to read as text: its first `READ_CHARS` characters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TextPage {
    pub text: String,
    /// What was cut off the end.
    pub more_chars: usize,
}

/// The string at `pointer`, up to `limit` characters; None when the pointer names nothing
/// or not a string.
pub fn text_at(document: &Value, pointer: &str, limit: usize) -> Option<TextPage> {
    let text = document.pointer(pointer)?.as_str()?;
    Some(match text.char_indices().nth(limit) {
        Some((cut, _)) => TextPage { text: text[..cut].to_owned(), more_chars: text[cut..].chars().count() },
        None => TextPage { text: text.to_owned(), more_chars: 0 },
    })
}

/// Index into a parent's loaded entries, one step per level.
type Step = usize;

fn node_at<'a>(root: &'a mut PreviewNode, path: &[Step]) -> Option<&'a mut PreviewNode> {
    let mut node = root;
    for &i in path {
        node = match node {
            PreviewNode::Object { entries: Some(entries), .. } => &mut entries.get_mut(i)?.1,
            PreviewNode::Array { items: Some(items), .. } => items.get_mut(i)?,
            _ => return None,
        };
    }
    Some(node)
}

fn open(node: &mut PreviewNode, loaded: Vec<(String, PreviewNode)>) {
    match node {
        PreviewNode::Object { entries, .. } => *entries = Some(loaded),
        PreviewNode::Array { items, .. } => *items = Some(loaded.into_iter().map(|(_, v)| v).collect()),
        _ => {}
    }
}

fn is_container(v: &Value) -> bool {
    matches!(v, Value::Object(_) | Value::Array(_))
}

fn container_len(v: &Value) -> usize {
    match v {
        Value::Object(m) => m.len(),
        Value::Array(a) => a.len(),
        _ => 0,
    }
}

fn entries(v: &Value, offset: usize, limit: usize) -> Vec<(String, &Value)> {
    match v {
        Value::Object(m) => m.iter().skip(offset).take(limit).map(|(k, v)| (k.clone(), v)).collect(),
        Value::Array(a) => a.iter().enumerate().skip(offset).take(limit).map(|(i, v)| (i.to_string(), v)).collect(),
        _ => Vec::new(),
    }
}

/// The value without its contents: containers unopened, text cut to `TEXT_CHARS` and to
/// what is left of `budget`.
fn shallow(v: &Value, budget: &mut usize) -> PreviewNode {
    match v {
        Value::Object(m) => PreviewNode::Object { len: m.len(), entries: None },
        Value::Array(a) => PreviewNode::Array { len: a.len(), items: None },
        Value::String(s) => {
            let total = s.chars().count();
            let shown = total.min(TEXT_CHARS).min(*budget);
            *budget -= shown;
            if shown == total {
                PreviewNode::Text { text: s.clone(), more_chars: 0 }
            } else {
                PreviewNode::Text { text: s.chars().take(shown).collect(), more_chars: total - shown }
            }
        }
        other => PreviewNode::Scalar { value: other.clone() },
    }
}

/// A key as shown: whole up to `KEY_CHARS`, cut beyond (it counts against `budget` too).
fn shown_key(key: &str, budget: &mut usize) -> String {
    let total = key.chars().count();
    if total <= KEY_CHARS {
        *budget = budget.saturating_sub(total);
        return key.to_owned();
    }
    *budget = budget.saturating_sub(KEY_CHARS);
    format!("{}… ({} more characters)", key.chars().take(KEY_CHARS).collect::<String>(), total - KEY_CHARS)
}

/// A JSON Pointer one step further: `/a/b` + `c/d` → `/a/b/c~1d`.
pub fn child_pointer(parent: &str, key: &str) -> String {
    format!("{parent}/{}", key.replace('~', "~0").replace('/', "~1"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_text_is_read_whole_up_to_the_limit() {
        let doc = json!({"article": "héllo wörld", "n": 1, "a/b": ["x"]});
        assert_eq!(text_at(&doc, "/article", 5), Some(TextPage { text: "héllo".into(), more_chars: 6 }));
        assert_eq!(text_at(&doc, "/article", 100), Some(TextPage { text: "héllo wörld".into(), more_chars: 0 }));
        assert_eq!(text_at(&doc, "/a~1b/0", 100).map(|t| t.text), Some("x".into()));
        assert_eq!(text_at(&doc, "/n", 100), None, "not a string");
        assert_eq!(text_at(&doc, "/nothing", 100), None);
    }

    /// Containers in the tree and loaded entries, to bound what a page renders.
    fn size(node: &PreviewNode) -> (usize, usize) {
        match node {
            PreviewNode::Object { entries: Some(e), .. } => e.iter().fold((1, e.len()), |(c, n), (_, v)| {
                let (c2, n2) = size(v);
                (c + c2, n + n2)
            }),
            PreviewNode::Array { items: Some(items), .. } => items.iter().fold((1, items.len()), |(c, n), v| {
                let (c2, n2) = size(v);
                (c + c2, n + n2)
            }),
            _ => (0, 0),
        }
    }

    #[test]
    fn a_small_document_is_previewed_whole() {
        let doc = json!({"title": "Hi", "tags": ["a", "b"], "n": 3, "nested": {"deep": {"x": 1}}});
        let p = preview(&doc);
        let PreviewNode::Object { len: 4, entries: Some(entries) } = &p else { panic!("{p:?}") };
        let keys: Vec<&str> = entries.iter().map(|(k, _)| k.as_str()).collect();
        let order: Vec<&str> = doc.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys, order, "in the document's order (the agent's, where serde_json preserves it)");
        let at = |key: &str| &entries.iter().find(|(k, _)| k == key).unwrap().1;
        assert_eq!(at("tags"), &PreviewNode::Array { len: 2, items: Some(vec![text("a"), text("b")]) });
        // Three levels open (0, 1, 2); the third level's containers wait to be opened.
        let PreviewNode::Object { entries: Some(nested), .. } = at("nested") else { panic!() };
        assert_eq!(nested[0].1, PreviewNode::Object { len: 1, entries: Some(vec![("x".into(), num(1))]) });
    }

    fn text(s: &str) -> PreviewNode {
        PreviewNode::Text { text: s.into(), more_chars: 0 }
    }

    fn num(n: i64) -> PreviewNode {
        PreviewNode::Scalar { value: json!(n) }
    }

    #[test]
    fn a_huge_document_is_previewed_within_its_bounds() {
        // 8,000 small objects in each of two arrays, and a 1 MB string.
        let items: Vec<Value> = (0..8000).map(|i| json!({"id": i, "name": format!("item {i}"), "ok": true})).collect();
        let doc = json!({"items": items.clone(), "more": items, "blob": "x".repeat(1_000_000)});
        let p = preview(&doc);
        let (_, entries) = size(&p);
        assert!(entries <= PREVIEW_ENTRIES, "{entries} entries loaded");
        let json = serde_json::to_string(&p).unwrap();
        assert!(json.len() < 48 * 1024, "the preview is {} bytes", json.len());
        let PreviewNode::Object { entries: Some(top), .. } = &p else { panic!() };
        let at = |key: &str| &top.iter().find(|(k, _)| k == key).unwrap().1;
        let PreviewNode::Array { len, items } = at("items") else { panic!() };
        assert_eq!((*len, items.as_ref().map(Vec::len)), (8000, Some(PAGE)), "the first page of a long array");
        assert_eq!(*at("blob"), PreviewNode::Text { text: "x".repeat(TEXT_CHARS), more_chars: 1_000_000 - TEXT_CHARS });
        // A huge top level is still opened (a page of it): the top is never hidden.
        let wide: serde_json::Map<String, Value> = (0..5000).map(|i| (format!("k{i}"), json!([i]))).collect();
        let PreviewNode::Object { len: 5000, entries: Some(e) } = preview(&Value::Object(wide)) else { panic!() };
        assert_eq!(e.len(), PAGE);
    }

    #[test]
    fn long_text_and_keys_are_bounded_all_told() {
        // Three lists of a hundred 2,000-character strings, and a 1 MB key.
        let long: Vec<Value> = (0..100).map(|i| json!(format!("{i}{}", "y".repeat(2_000)))).collect();
        let doc = json!({"a": long.clone(), "b": long.clone(), "c": long, "k".repeat(1_000_000): 1});
        let json = serde_json::to_string(&preview(&doc)).unwrap();
        assert!(json.len() < TEXT_BUDGET + 32 * 1024, "the preview is {} bytes", json.len());
        let page = page_at(&doc, "/a", 0, PAGE).unwrap();
        assert!(serde_json::to_string(&page).unwrap().len() < TEXT_BUDGET + 16 * 1024);
        let PreviewNode::Text { more_chars, .. } = &page.entries[99].1 else { panic!() };
        assert!(*more_chars > 0, "text past the budget is cut, and says how much");
    }

    #[test]
    fn pages_of_a_container_are_had_by_pointer() {
        let items: Vec<Value> = (0..250).map(|i| json!({"id": i})).collect();
        let doc = json!({"a/b": {"items": items}});
        let pointer = child_pointer(&child_pointer("", "a/b"), "items");
        assert_eq!(pointer, "/a~1b/items");
        let page = page_at(&doc, &pointer, 200, 100).unwrap();
        assert_eq!(page.len, 250);
        assert_eq!(page.entries.len(), 50);
        assert_eq!(page.entries[0], ("200".into(), PreviewNode::Object { len: 1, entries: None }));
        assert_eq!(page_at(&doc, &pointer, 0, 10_000).unwrap().entries.len(), PAGE, "at most a page");
        assert_eq!(page_at(&doc, "/nothing", 0, 10), None);
        assert_eq!(page_at(&doc, "/a~1b/items/0/id", 0, 10), None, "not a container");
    }
}
