//! Secrets while the inputs are raw JSON: the text shows `***`, the typed value is kept
//! here and comes back only where it still belongs.

use serde_json::Value;

/// A secret typed in the form while the inputs are shown as raw JSON.
#[derive(Clone)]
pub(super) struct KeptSecret {
    pub path: String,
    pub value: Value,
    /// The list item it is in (its pointer and, masked, its value then), if any.
    pub item: Option<(String, Value)>,
}

/// The pointer of the deepest list item on `path` in `doc` (`/accounts/1` for
/// `/accounts/1/password`), if the path goes through a list.
pub(super) fn list_item(doc: &Value, path: &str) -> Option<String> {
    let mut at = doc;
    let mut prefix = String::new();
    let mut item = None;
    for segment in path.split('/').skip(1) {
        let in_list = at.is_array();
        prefix.push('/');
        prefix.push_str(segment);
        at = doc.pointer(&prefix)?;
        if in_list {
            item = Some(prefix.clone());
        }
    }
    item
}

#[cfg(test)]
mod tests {
    use super::list_item;
    use serde_json::json;

    #[test]
    fn a_secret_in_a_list_is_tied_to_its_item() {
        let doc = json!({"api_key": "***", "accounts": [{"name": "a", "password": "***"}, {"name": "b", "tags": [{"k": "***"}]}]});
        assert_eq!(list_item(&doc, "/api_key"), None, "not in a list: tied to its path alone");
        assert_eq!(list_item(&doc, "/accounts/0/password").as_deref(), Some("/accounts/0"));
        assert_eq!(list_item(&doc, "/accounts/1/tags/0/k").as_deref(), Some("/accounts/1/tags/0"), "the deepest item");
        assert_eq!(list_item(&doc, "/accounts/7/password"), None, "no such item");
    }
}
