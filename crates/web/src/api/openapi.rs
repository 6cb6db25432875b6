//! The OpenAPI 3.1 document, generated from the route table so it cannot drift from the API.

use axum::Json;
use serde_json::{Map, Value, json};

use domain::Role;

pub async fn document() -> Json<Value> {
    Json(build())
}

fn params(path: &str) -> Vec<Value> {
    path.split('/')
        .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .map(|name| {
            let ty = if name == "code" || name == "sku" {
                "string"
            } else {
                "integer"
            };
            json!({"name": name, "in": "path", "required": true, "schema": {"type": ty}})
        })
        .collect()
}

fn query_params(operation: &str) -> Vec<Value> {
    let q = |name: &str, ty: &str, desc: &str| json!({"name": name, "in": "query", "required": false, "schema": {"type": ty}, "description": desc});
    match operation {
        "listClients" => vec![
            q(
                "q",
                "string",
                "name words (prefixes), a phone number, an e-mail address or a CRM id",
            ),
            q("tag", "string", "only clients with this tag"),
            q("tier", "string", "only clients of this tier"),
            q("store", "string", "store code"),
            q("associate", "string", "associate id or e-mail"),
            q("cursor", "string", "next_cursor of the previous page"),
            q("limit", "integer", "1 to 200, default 50"),
        ],
        "importClients" => vec![q(
            "skip_bad",
            "boolean",
            "import the good rows and report the bad ones",
        )],
        "listAssociates" => vec![q("store", "string", "store code")],
        "listProducts" => vec![
            q(
                "q",
                "string",
                "words in Chinese or English, or a SKU prefix",
            ),
            q("category", "string", "only this category"),
            q(
                "active",
                "boolean",
                "HQ: only active (true) or inactive (false) products",
            ),
            q("limit", "integer", "1 to 200, default 50"),
        ],
        _ => vec![],
    }
}

fn request_body(operation: &str) -> Option<Value> {
    let object = |props: Value, required: Vec<&str>| json!({"required": true, "content": {"application/json": {"schema": {"type": "object", "properties": props, "required": required}}}});
    let s = json!({"type": "string"});
    let ns = json!({"type": ["string", "null"]});
    Some(match operation {
        "createClient" | "updateClient" => object(
            json!({
                "first_name": ns, "last_name": ns, "chinese_name": ns, "phone": {"type": ["string", "null"], "description": "E.164"},
                "email": ns, "birthday": {"type": ["string", "null"], "format": "date"}, "language": ns, "city": ns, "tier": ns,
                "store": {"type": ["string", "null"], "description": "store code"}, "associate": {"type": "string", "description": "associate e-mail (creation only)"},
                "tags": {"type": "array", "items": s}, "preferences": {"type": "object"},
                "identities": {"type": "array", "items": {"type": "object", "properties": {"kind": {"enum": ["wecom", "wechat_oa", "whatsapp", "crm"]}, "value": s}}},
                "consents": {"type": "array", "items": {"type": "object", "properties": {"channel": s, "purpose": {"enum": ["service", "marketing"]}, "granted": {"type": "boolean"}, "source": s}}}
            }),
            vec![],
        ),
        "importClients" => {
            json!({"required": true, "content": {"text/csv": {"schema": {"type": "string"}}}})
        }
        "addNote" => object(json!({"text": s}), vec!["text"]),
        "editTags" => object(
            json!({"add": {"type": "array", "items": s}, "remove": {"type": "array", "items": s}}),
            vec![],
        ),
        "assignClient" => object(
            json!({"associate": {"type": "string", "description": "id or e-mail"}, "reason": s}),
            vec!["associate"],
        ),
        "createStore" | "updateStore" => object(
            json!({"code": s, "name": s, "city": s, "country": s, "time_zone": s}),
            vec![],
        ),
        "createAssociate" | "updateAssociate" => object(
            json!({"email": s, "display_name": s, "role": {"enum": Role::ALL.map(|r| r.as_str())}, "store": s, "password": s}),
            vec![],
        ),
        "transferClients" => object(json!({"to": {"type": "integer"}, "reason": s}), vec![]),
        "putProduct" => object(
            json!({
                "sku": s, "name_zh": s, "name_en": s, "category": s, "material": s,
                "colours": {"type": "array", "items": s}, "sizes": {"type": "array", "items": s},
                "prices": {"type": "object", "additionalProperties": {"type": ["string", "number"]}, "description": "ISO 4217 code → price in major units"},
                "images": {"type": "array", "items": {"type": "integer"}, "description": "asset ids"},
                "active": {"type": "boolean"}, "url": {"type": ["string", "null"], "description": "the product's page on the e-shop"}
            }),
            vec![],
        ),
        "importProducts" | "putStock" => json!({"required": true, "content": {
            "application/json": {"schema": {"type": ["object", "array"]}},
            "application/x-ndjson": {"schema": {"type": "string"}},
            "text/csv": {"schema": {"type": "string"}}}}),
        _ => return None,
    })
}

pub fn build() -> Value {
    let mut paths = Map::new();
    let error = json!({"$ref": "#/components/responses/Error"});
    for r in super::routes() {
        let roles: Vec<&str> = Role::ALL
            .iter()
            .filter(|role| r.action.allowed(**role))
            .map(|role| role.as_str())
            .collect();
        let mut op = json!({
            "operationId": r.operation,
            "summary": r.summary,
            "description": format!("Roles: {}. Results are limited to the caller's scope (an associate's own clients, a manager's store).", roles.join(", ")),
            "x-roles": roles,
            "parameters": params(r.path).into_iter().chain(query_params(r.operation)).collect::<Vec<_>>(),
            "responses": {"200": {"description": "OK", "content": {"application/json": {}}}, "401": error, "403": error, "404": error, "422": error},
        });
        if let Some(b) = request_body(r.operation) {
            op["requestBody"] = b;
        }
        let entry = paths.entry(r.path.to_owned()).or_insert_with(|| json!({}));
        entry[r.method.as_str().to_lowercase()] = op;
    }
    json!({
        "openapi": "3.1.0",
        "info": {"title": "Salon API", "version": env!("CARGO_PKG_VERSION"),
                 "description": "Clienteling for luxury brands. Every request is scoped to the brand of its bearer token (`salon token create`)."},
        "servers": [{"url": "/api/v1"}],
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "responses": {"Error": {"description": "An error", "content": {"application/json": {"schema": {
                "type": "object", "required": ["error", "message"],
                "properties": {"error": {"type": "string", "description": "stable code, e.g. client_not_found, forbidden, invalid_input"},
                               "message": {"type": "string"},
                               "fields": {"type": "array", "items": {"type": "object", "properties": {"field": {"type": "string"}, "message": {"type": "string"}}}}}}}}}}
        }
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_route_is_documented_once() {
        let doc = super::build();
        let routes = super::super::routes();
        let mut ops = 0;
        for (_, item) in doc["paths"].as_object().expect("paths").iter() {
            ops += item.as_object().map_or(0, |m| m.len());
        }
        assert_eq!(ops, routes.len());
        for r in routes {
            let op = &doc["paths"][r.path][r.method.as_str().to_lowercase()];
            assert_eq!(op["operationId"], r.operation);
            assert!(
                !op["x-roles"].as_array().expect("roles").is_empty(),
                "{} has no role",
                r.operation
            );
        }
    }
}
