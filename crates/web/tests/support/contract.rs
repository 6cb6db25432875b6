//! The API's contract: every response checked against the OpenAPI document the server
//! serves (`/api/v1/openapi.json`). The status must be one the operation documents, the
//! content type one documented for that status, and a JSON body must validate against its
//! schema (with the document's `$ref`s resolved).

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use axum::http::StatusCode;
use serde_json::{Value, json};

pub struct Contract {
    doc: Value,
    /// (method, path template segments, operation id).
    operations: Vec<(String, Vec<String>, String)>,
    validators: Mutex<HashMap<String, std::sync::Arc<jsonschema::Validator>>>,
    /// operationId → what was seen of it: successes validated, with how many had an empty
    /// list where the schema's list items would be.
    pub seen: Mutex<BTreeMap<String, Seen>>,
}

#[derive(Debug, Default, Clone)]
pub struct Seen {
    /// Success statuses whose JSON body validated against its schema.
    pub json_successes: u32,
    /// Success statuses with another media type (CSV, JSON Lines, an image) that matched.
    pub other_successes: u32,
    /// Of the JSON successes, those whose every array was empty (the items were not checked).
    pub only_empty_arrays: u32,
    /// JSON Lines validated against their line schema.
    pub json_lines: u32,
    /// Success statuses seen, with how many times.
    pub successes: BTreeMap<u16, u32>,
    pub errors: BTreeMap<u16, u32>,
}

/// What a response was: for [`Contract::check`].
pub struct Answer<'a> {
    pub method: &'a str,
    /// The URI as sent, `/api/v1/...` with its query.
    pub uri: &'a str,
    pub status: StatusCode,
    pub content_type: Option<&'a str>,
    pub body: &'a str,
}

fn has_items(v: &Value) -> bool {
    match v {
        Value::Array(a) => !a.is_empty(),
        Value::Object(m) => m.values().any(has_items),
        _ => false,
    }
}

fn has_arrays(v: &Value) -> bool {
    match v {
        Value::Array(_) => true,
        Value::Object(m) => m.values().any(has_arrays),
        _ => false,
    }
}

impl Contract {
    pub fn new(doc: Value) -> Self {
        let mut operations = Vec::new();
        if let Some(paths) = doc["paths"].as_object() {
            for (path, item) in paths {
                for (method, op) in item.as_object().into_iter().flatten() {
                    let segments = path.split('/').map(str::to_owned).collect();
                    let id = op["operationId"].as_str().unwrap_or_default().to_owned();
                    operations.push((method.to_uppercase(), segments, id));
                }
            }
        }
        Self {
            doc,
            operations,
            validators: Mutex::new(HashMap::new()),
            seen: Mutex::new(BTreeMap::new()),
        }
    }

    /// The document the app serves.
    pub async fn of(app: &super::TestApp) -> Self {
        let (status, text) = app.call("GET", "/api/v1/openapi.json", None, None).await;
        assert_eq!(status, StatusCode::OK, "{text}");
        Self::new(serde_json::from_str(&text).expect("the OpenAPI document is JSON"))
    }

    /// The operation a request is for: its template matched segment by segment, a literal
    /// segment winning over a `{param}` (`/groups/search` before `/groups/{id}`).
    pub fn operation(&self, method: &str, uri: &str) -> Option<&str> {
        let path = uri.split('?').next().unwrap_or(uri);
        let path = path.strip_prefix("/api/v1").unwrap_or(path);
        let segs: Vec<&str> = path.split('/').collect();
        self.operations
            .iter()
            .filter(|(m, t, _)| m == method && t.len() == segs.len())
            .filter_map(|(_, t, id)| {
                let mut literal = 0;
                for (a, b) in t.iter().zip(&segs) {
                    if a.starts_with('{') {
                        continue;
                    }
                    if a != b {
                        return None;
                    }
                    literal += 1;
                }
                Some((literal, id.as_str()))
            })
            .max_by_key(|(literal, _)| *literal)
            .map(|(_, id)| id)
    }

    fn op_value(&self, id: &str) -> Option<&Value> {
        self.doc["paths"]
            .as_object()?
            .values()
            .flat_map(|item| item.as_object().into_iter().flat_map(|m| m.values()))
            .find(|op| op["operationId"] == id)
    }

    /// Follows a local `$ref` (one of responses).
    fn resolve<'a>(&'a self, v: &'a Value) -> &'a Value {
        match v.get("$ref").and_then(Value::as_str) {
            Some(r) => self
                .doc
                .pointer(r.trim_start_matches('#'))
                .unwrap_or(&Value::Null),
            None => v,
        }
    }

    fn validator(
        &self,
        key: &str,
        schema: &Value,
    ) -> Result<std::sync::Arc<jsonschema::Validator>, String> {
        let mut cache = self.validators.lock().map_err(|e| e.to_string())?;
        if let Some(v) = cache.get(key) {
            return Ok(v.clone());
        }
        // The schema, with the document's components beside it for its `$ref`s.
        let root = json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "allOf": [schema],
            "components": self.doc["components"],
        });
        let v = std::sync::Arc::new(
            jsonschema::draft202012::new(&root).map_err(|e| format!("{key}: a bad schema: {e}"))?,
        );
        cache.insert(key.to_owned(), v.clone());
        Ok(v)
    }

    /// Checks one response against the document; the error says what is wrong.
    pub fn check(&self, a: &Answer<'_>) -> Result<(), String> {
        let id = self
            .operation(a.method, a.uri)
            .ok_or_else(|| format!("{} {}: no operation documents this", a.method, a.uri))?;
        let id = id.to_owned();
        let op = self
            .op_value(&id)
            .ok_or_else(|| format!("{id}: not in the document"))?;
        let code = a.status.as_u16();
        let response = op["responses"]
            .get(code.to_string())
            .map(|r| self.resolve(r))
            .ok_or_else(|| {
                format!(
                    "{id} ({} {}): status {code} is not documented (documented: {}); body: {}",
                    a.method,
                    a.uri,
                    op["responses"]
                        .as_object()
                        .map(|m| m.keys().cloned().collect::<Vec<_>>().join(", "))
                        .unwrap_or_default(),
                    a.body.chars().take(300).collect::<String>()
                )
            })?;
        let fail = |what: String| format!("{id} ({} {}) {code}: {what}", a.method, a.uri);
        let Some(content) = response.get("content").and_then(Value::as_object) else {
            return if a.body.is_empty() {
                Ok(())
            } else {
                Err(fail("the document says no body, yet one came".into()))
            };
        };
        let media = a
            .content_type
            .and_then(|c| c.split(';').next())
            .map(|c| c.trim().to_ascii_lowercase())
            .ok_or_else(|| fail("no content type".into()))?;
        let documented = content.get(&media).ok_or_else(|| {
            fail(format!(
                "content type {media} is not documented (documented: {})",
                content.keys().cloned().collect::<Vec<_>>().join(", ")
            ))
        })?;
        let success = a.status.is_success();
        if let Some(line_schema) = documented.get("x-line-schema") {
            // JSON Lines: each line against the line's schema.
            let validator = self.validator(&format!("{id} {code} {media} line"), line_schema)?;
            for (n, line) in a.body.lines().enumerate().filter(|(_, l)| !l.is_empty()) {
                let instance: Value = serde_json::from_str(line)
                    .map_err(|e| fail(format!("line {} is not JSON ({e}): {line}", n + 1)))?;
                let problems: Vec<String> = validator
                    .iter_errors(&instance)
                    .map(|e| format!("at {:?}: {e}", e.instance_path().as_str()))
                    .collect();
                if !problems.is_empty() {
                    return Err(fail(format!(
                        "line {} does not match the line schema:\n  {}\n  line: {line}",
                        n + 1,
                        problems.join("\n  ")
                    )));
                }
            }
            if success {
                self.note(&id, |s| {
                    s.json_lines += u32::try_from(a.body.lines().count()).unwrap_or(u32::MAX);
                });
            }
        }
        if media != "application/json" {
            if success {
                self.note(&id, |s| {
                    s.other_successes += 1;
                    *s.successes.entry(code).or_default() += 1;
                });
            }
            return Ok(());
        }
        let instance: Value = serde_json::from_str(a.body)
            .map_err(|e| fail(format!("the body is not JSON ({e}): {}", a.body)))?;
        let key = format!("{id} {code} {media}");
        let validator = self.validator(&key, &documented["schema"])?;
        let problems: Vec<String> = validator
            .iter_errors(&instance)
            .map(|e| format!("at {:?}: {e}", e.instance_path().as_str()))
            .collect();
        if !problems.is_empty() {
            let body: String = a.body.chars().take(600).collect();
            return Err(fail(format!(
                "the body does not match the schema:\n  {}\n  body: {body}",
                problems.join("\n  ")
            )));
        }
        if success {
            let empty = has_arrays(&instance) && !has_items(&instance);
            self.note(&id, |s| {
                s.json_successes += 1;
                s.only_empty_arrays += u32::from(empty);
                *s.successes.entry(code).or_default() += 1;
            });
        } else {
            self.note(&id, |s| *s.errors.entry(code).or_default() += 1);
        }
        Ok(())
    }

    /// Checks a request against the document: each query parameter is one the operation
    /// documents, and its required ones are there; a body's content type is documented, and
    /// a JSON body validates against the request body's schema.
    pub fn check_request(
        &self,
        method: &str,
        uri: &str,
        body: Option<(&str, &str)>,
    ) -> Result<(), String> {
        let id = self
            .operation(method, uri)
            .ok_or_else(|| format!("{method} {uri}: no operation documents this"))?;
        let op = self
            .op_value(id)
            .ok_or_else(|| format!("{id}: not in the document"))?;
        let fail = |what: String| format!("{id} ({method} {uri}) request: {what}");
        let documented: Vec<(&str, bool)> = op["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|p| p["in"] == "query")
            .filter_map(|p| Some((p["name"].as_str()?, p["required"] == true)))
            .collect();
        let sent: Vec<&str> = uri
            .split_once('?')
            .map(|(_, q)| q.split('&').filter_map(|kv| kv.split('=').next()).collect())
            .unwrap_or_default();
        for name in &sent {
            if !documented.iter().any(|(d, _)| d == name) {
                return Err(fail(format!("query parameter {name} is not documented")));
            }
        }
        for (name, required) in &documented {
            if *required && !sent.contains(name) {
                return Err(fail(format!(
                    "the required query parameter {name} is missing"
                )));
            }
        }
        let Some((content_type, text)) = body else {
            return if op["requestBody"]["required"] == true {
                Err(fail("the document requires a body".into()))
            } else {
                Ok(())
            };
        };
        let media = content_type
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        let schema = op["requestBody"]["content"]
            .get(&media)
            .map(|m| &m["schema"])
            .ok_or_else(|| fail(format!("a {media} body is not documented")))?;
        if media != "application/json" {
            return Ok(());
        }
        let instance: Value =
            serde_json::from_str(text).map_err(|e| fail(format!("not JSON ({e})")))?;
        let validator = self.validator(&format!("{id} request {media}"), schema)?;
        let problems: Vec<String> = validator
            .iter_errors(&instance)
            .map(|e| format!("at {:?}: {e}", e.instance_path().as_str()))
            .collect();
        if problems.is_empty() {
            Ok(())
        } else {
            Err(fail(format!(
                "the body does not match the schema:\n  {}\n  body: {text}",
                problems.join("\n  ")
            )))
        }
    }

    fn note(&self, id: &str, f: impl FnOnce(&mut Seen)) {
        if let Ok(mut seen) = self.seen.lock() {
            f(seen.entry(id.to_owned()).or_default());
        }
    }

    /// A summary of what the checks saw, one line an operation.
    pub fn coverage(&self) -> String {
        let seen = self.seen.lock().map(|s| s.clone()).unwrap_or_default();
        let mut out = String::new();
        for (_, _, id) in &self.operations {
            let s = seen.get(id).cloned().unwrap_or_default();
            let what = if s.json_successes > 0 {
                if s.only_empty_arrays == s.json_successes {
                    "success validated (its lists always empty)"
                } else {
                    "success validated"
                }
            } else if s.json_lines > 0 {
                "success media type checked, its JSON lines validated"
            } else if s.other_successes > 0 {
                "success media type checked"
            } else {
                "NO SUCCESS SEEN"
            };
            out.push_str(&format!(
                "{id}: {what}; successes {:?}; errors {:?}\n",
                s.successes, s.errors
            ));
        }
        out
    }
}
