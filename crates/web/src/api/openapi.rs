//! The OpenAPI 3.1 document, generated from the route table so it cannot drift from the API.
//!
//! Each operation gets its success status(es) with the schema of what its handler serializes
//! (the shared objects under `components/schemas`, each closed with `additionalProperties:
//! false` so that a renamed or dropped field is a contract break), its request body and query
//! parameters, and the error statuses it can answer. `crates/web/tests/api_policy.rs` checks
//! every response of the route × role walk against it.

use axum::Json;
use serde_json::{Map, Value, json};

use domain::Role;

pub async fn document() -> Json<Value> {
    Json(build())
}

// --- Schema helpers ------------------------------------------------------------------------

fn ty(t: &str) -> Value {
    json!({ "type": t })
}

/// A value of type `t` or null (an `Option` serialized without `skip_serializing_if`).
fn or_null(t: &str) -> Value {
    json!({ "type": [t, "null"] })
}

fn int() -> Value {
    ty("integer")
}

fn string() -> Value {
    ty("string")
}

fn number() -> Value {
    ty("number")
}

fn boolean() -> Value {
    ty("boolean")
}

fn any() -> Value {
    json!({})
}

/// A `$ref` to a schema of `components/schemas`.
fn schema_ref(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

/// A `$ref`, or null.
fn ref_or_null(name: &str) -> Value {
    json!({ "anyOf": [schema_ref(name), {"type": "null"}] })
}

fn array(items: Value) -> Value {
    json!({ "type": "array", "items": items })
}

fn strings() -> Value {
    array(string())
}

fn ints() -> Value {
    array(int())
}

/// A serde tuple `(A, B)`: a JSON array of exactly two items.
fn pair(a: Value, b: Value) -> Value {
    json!({ "type": "array", "prefixItems": [a, b], "items": false, "minItems": 2, "maxItems": 2 })
}

fn one_of(values: &[&str]) -> Value {
    json!({ "type": "string", "enum": values })
}

/// A map with string keys (a `HashMap`/`BTreeMap`, or a JSON object keyed by data).
fn map_of(values: Value) -> Value {
    json!({ "type": "object", "additionalProperties": values })
}

/// A fully described object: every field is always present, and no other field may be.
fn closed(fields: &[(&str, Value)]) -> Value {
    let required: Vec<&str> = fields.iter().map(|(k, _)| *k).collect();
    json!({
        "type": "object",
        "properties": fields.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect::<Map<_, _>>(),
        "required": required,
        "additionalProperties": false,
    })
}

/// `#[serde(flatten)]`: the fields of `base` (a closed object) and `more`, in one closed object.
fn flatten(base: &Value, more: &[(&str, Value)]) -> Value {
    let mut out = base.clone();
    for (k, v) in more {
        out["properties"][*k] = v.clone();
        if let Some(req) = out["required"].as_array_mut() {
            req.push(json!(k));
        }
    }
    out
}

/// A request body's object: `required` names the fields that must be there; `strict` for a
/// struct with `deny_unknown_fields`.
fn input(fields: &[(&str, Value)], required: &[&str], strict: bool) -> Value {
    let mut v = json!({
        "type": "object",
        "properties": fields.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect::<Map<_, _>>(),
        "required": required,
    });
    if strict {
        v["additionalProperties"] = json!(false);
    }
    v
}

fn with_description(mut schema: Value, description: &str) -> Value {
    schema["description"] = json!(description);
    schema
}

// --- Enumerations, as serde writes them -----------------------------------------------------

const CHANNELS: &[&str] = &["wecom", "wechat_oa"];
const DIRECTIONS: &[&str] = &["in", "out"];
const CATEGORIES: &[&str] = &[
    "harassment",
    "price_promise",
    "off_platform_payment",
    "competitor",
    "personal_data",
    "other",
];
const SEVERITIES: &[&str] = &["low", "medium", "high"];
const RULE_ACTIONS: &[&str] = &["flag", "warn", "block"];
const IDENTITY_KINDS: &[&str] = &["wecom", "wechat_oa", "wechat_union", "whatsapp", "crm"];
const TOUCH_KINDS: &[&str] = &[
    "appointment",
    "live_view",
    "share_click",
    "message",
    "broadcast",
];
const SUPPRESSIONS: &[&str] = &[
    "opted_out",
    "no_consent",
    "no_address",
    "no_sender",
    "daily_cap",
    "weekly_cap",
    "monthly_cap",
    "brand_quota",
    "sa_quota",
    "channel_limit",
    "cancelled",
];

fn roles() -> Value {
    json!({ "type": "string", "enum": Role::ALL.map(|r| r.as_str()) })
}

// --- Shared objects ------------------------------------------------------------------------

fn client_fields() -> Value {
    closed(&[
        ("id", int()),
        // `Pii`, flattened.
        ("first_name", or_null("string")),
        ("last_name", or_null("string")),
        ("chinese_name", or_null("string")),
        ("phone", with_description(or_null("string"), "E.164")),
        ("email", or_null("string")),
        (
            "birthday",
            json!({"type": ["string", "null"], "format": "date"}),
        ),
        ("language", or_null("string")),
        ("city", or_null("string")),
        ("tier", or_null("string")),
        ("lifetime_spend_minor", int()),
        ("currency", or_null("string")),
        ("first_purchase_at", or_null("integer")),
        ("last_purchase_at", or_null("integer")),
        ("store_id", or_null("integer")),
        ("associate_id", or_null("integer")),
        ("tags", strings()),
        ("preferences", schema_ref("Preferences")),
        ("identities", array(schema_ref("Identity"))),
        ("consents", array(schema_ref("Consent"))),
        ("created_at", int()),
        ("updated_at", int()),
    ])
}

fn user_fields() -> Value {
    closed(&[
        ("id", int()),
        ("email", string()),
        ("display_name", string()),
        ("role", roles()),
        ("store_id", or_null("integer")),
        ("status", one_of(&["active", "departed"])),
        ("created_at", int()),
        ("departed_at", or_null("integer")),
    ])
}

fn message_fields() -> Value {
    closed(&[
        ("id", int()),
        ("client_id", int()),
        ("channel", one_of(CHANNELS)),
        ("direction", one_of(DIRECTIONS)),
        ("associate_id", or_null("integer")),
        ("msg_type", string()),
        ("body", string()),
        ("at", int()),
        ("card", ref_or_null("Card")),
    ])
}

fn group_message_fields() -> Value {
    closed(&[
        ("id", int()),
        ("group_id", int()),
        ("provider_id", string()),
        ("sender_ref", string()),
        ("sender", schema_ref("Sender")),
        ("msg_type", string()),
        ("body", string()),
        ("at", int()),
        ("card", ref_or_null("Card")),
    ])
}

fn campaign_fields() -> Value {
    closed(&[
        ("id", int()),
        ("name", string()),
        ("kind", one_of(&["broadcast", "prepared"])),
        ("segment_id", or_null("integer")),
        ("expression", string()),
        ("channel", one_of(CHANNELS)),
        ("template", string()),
        ("asset_ids", ints()),
        ("send_at", int()),
        ("max_recipients", or_null("integer")),
        ("status", one_of(&["draft", "planned", "done", "cancelled"])),
        ("created_by", or_null("integer")),
        ("created_at", int()),
        ("planned_at", or_null("integer")),
    ])
}

fn product_fields() -> Value {
    closed(&[
        ("sku", string()),
        ("name_zh", string()),
        ("name_en", string()),
        ("category", string()),
        ("material", string()),
        ("colours", strings()),
        ("sizes", strings()),
        (
            "prices",
            with_description(
                map_of(string()),
                "ISO 4217 code → price in major units, as a decimal string",
            ),
        ),
        ("images", with_description(ints(), "asset ids")),
        ("active", boolean()),
        ("url", or_null("string")),
        ("updated_at", int()),
    ])
}

/// A figure of the analytics report: a ratio or a mean, null when there is nothing to divide.
fn rate() -> Value {
    or_null("number")
}

fn analytics_report() -> Value {
    let mut report = closed(&[
        (
            "period",
            closed(&[("from", string()), ("to", string()), ("tz", string())]),
        ),
        (
            "acquisition",
            closed(&[
                ("followers_start", int()),
                ("followers_end", int()),
                ("growth_rate", rate()),
                ("new_follows", int()),
                ("unfollows", int()),
                (
                    "sources",
                    map_of(closed(&[
                        ("follows", int()),
                        ("share", rate()),
                        ("growth_contribution", rate()),
                    ])),
                ),
                ("unfollow_rate_after_push", rate()),
            ]),
        ),
        (
            "engagement",
            closed(&[
                (
                    "monthly",
                    array(closed(&[
                        ("month", string()),
                        ("followers_end", int()),
                        ("active", int()),
                        ("active_rate", rate()),
                    ])),
                ),
                ("monthly_active_rate", rate()),
                ("inactive_rate", rate()),
                ("lifetime_active_rate", rate()),
                ("lifetime_active_rate_by_source", map_of(rate())),
                ("push_engagement_rate", rate()),
                ("segmented_engagement_rate", rate()),
                ("unsegmented_engagement_rate", rate()),
                ("action_shares", map_of(rate())),
                ("menu_category_shares", map_of(rate())),
            ]),
        ),
        (
            "content",
            closed(&[
                ("pushes", int()),
                (
                    "pushes_per_month",
                    array(closed(&[("month", string()), ("pushes", int())])),
                ),
                ("articles_per_push", map_of(rate())),
                ("push_heatmap", array(array(number()))),
                ("open_rate", rate()),
                ("single_article_open_rate", rate()),
                ("multi_top_article_open_rate", rate()),
                ("multi_cumulative_open_rate", rate()),
                ("reader_retention", array(rate())),
                ("screens_to_lose_20pct", rate()),
                ("screens_to_lose_50pct", rate()),
            ]),
        ),
        (
            "livestream",
            array(closed(&[
                ("live", string()),
                ("viewers", int()),
                ("buyers", int()),
                ("conversion", rate()),
                ("revenue", number()),
            ])),
        ),
    ]);
    // A segment's report says which segment (`segment=`); the brand's has no such field.
    report["properties"]["segment"] = closed(&[
        ("id", int()),
        ("name", string()),
        ("expression", string()),
        ("clients", int()),
        ("followers", int()),
    ]);
    report
}

fn benchmark_group() -> Value {
    closed(&[
        ("brands", int()),
        ("rank", or_null("integer")),
        ("p25", rate()),
        ("p50", rate()),
        ("p75", rate()),
    ])
}

fn components() -> Map<String, Value> {
    let mut c = Map::new();
    let mut add = |name: &str, schema: Value| {
        c.insert(name.to_owned(), schema);
    };
    let mut error = closed(&[
        (
            "error",
            with_description(
                string(),
                "stable code, e.g. client_not_found, forbidden, invalid_input",
            ),
        ),
        ("message", string()),
    ]);
    // Present only for some errors: `fields` for invalid input, `rule` and `category` for
    // a message a rule blocks.
    error["properties"]["fields"] = array(closed(&[("field", string()), ("message", string())]));
    error["properties"]["rule"] = string();
    error["properties"]["category"] = one_of(CATEGORIES);
    add("Error", error);
    add(
        "Brand",
        closed(&[
            ("id", int()),
            ("slug", string()),
            ("name", string()),
            ("time_zone", string()),
            ("currencies", strings()),
            ("locales", strings()),
            ("tiers", strings()),
            ("created_at", int()),
        ]),
    );
    add(
        "Me",
        closed(&[
            ("brand", with_description(string(), "the brand's slug")),
            ("role", roles()),
            ("user", ref_or_null("User")),
            ("store_id", or_null("integer")),
        ]),
    );
    add(
        "Store",
        closed(&[
            ("id", int()),
            ("code", string()),
            ("name", string()),
            ("city", string()),
            ("country", string()),
            ("time_zone", string()),
        ]),
    );
    add("User", user_fields());
    add(
        "Associate",
        flatten(
            &user_fields(),
            &[(
                "clients",
                with_description(int(), "the clients assigned to them"),
            )],
        ),
    );
    add(
        "Preferences",
        closed(&[
            ("sizes", strings()),
            ("categories", strings()),
            ("colours", strings()),
            ("materials", strings()),
        ]),
    );
    add(
        "Identity",
        closed(&[("kind", one_of(IDENTITY_KINDS)), ("value", string())]),
    );
    add(
        "Consent",
        closed(&[
            ("channel", string()),
            ("purpose", one_of(&["service", "marketing"])),
            ("granted", boolean()),
            ("source", string()),
            ("at", int()),
        ]),
    );
    add("Client", client_fields());
    add(
        "ClientSummary",
        closed(&[
            ("id", int()),
            ("display_name", string()),
            ("tier", or_null("string")),
            ("city", or_null("string")),
            ("store_id", or_null("integer")),
            ("associate_id", or_null("integer")),
            ("lifetime_spend_minor", int()),
            ("currency", or_null("string")),
            ("last_purchase_at", or_null("integer")),
            ("tags", strings()),
        ]),
    );
    add(
        "ClientPage",
        closed(&[
            ("items", array(schema_ref("ClientSummary"))),
            (
                "next_cursor",
                with_description(or_null("string"), "null on the last page"),
            ),
        ]),
    );
    add(
        "Note",
        closed(&[
            ("id", int()),
            ("author_id", or_null("integer")),
            ("author_name", or_null("string")),
            ("text", string()),
            ("at", int()),
        ]),
    );
    add(
        "Assignment",
        closed(&[
            ("associate_id", int()),
            ("associate_name", string()),
            ("store_id", or_null("integer")),
            ("assigned_by", or_null("integer")),
            ("reason", string()),
            ("at", int()),
        ]),
    );
    add(
        "TimelineEntry",
        closed(&[
            ("at", int()),
            ("kind", string()),
            ("channel", or_null("string")),
            ("detail", with_description(any(), "what happened, by kind")),
        ]),
    );
    add(
        "ClientProfile",
        flatten(
            &client_fields(),
            &[
                ("store", ref_or_null("Store")),
                ("associate", ref_or_null("User")),
                ("notes", array(schema_ref("Note"))),
                ("assignments", array(schema_ref("Assignment"))),
                ("timeline", array(schema_ref("TimelineEntry"))),
            ],
        ),
    );
    add(
        "RowError",
        closed(&[("line", int()), ("field", string()), ("message", string())]),
    );
    let import_report = closed(&[
        ("rows", int()),
        ("created", int()),
        ("updated", int()),
        ("imported", boolean()),
        ("errors", array(schema_ref("RowError"))),
    ]);
    add(
        "ImportRefused",
        flatten(
            &import_report,
            &[
                ("error", json!({"const": "invalid_rows"})),
                ("message", string()),
            ],
        ),
    );
    add("ImportReport", import_report);
    add(
        "Card",
        json!({"oneOf": [
            closed(&[("kind", json!({"const": "link"})), ("title", string()), ("description", string()), ("url", string())]),
            closed(&[("kind", json!({"const": "mini_program"})), ("title", string()), ("app_id", string()), ("page_path", string())]),
        ]}),
    );
    add("Message", message_fields());
    add(
        "InboxCounts",
        closed(&[
            ("received", int()),
            ("processed", int()),
            ("pending", int()),
            ("failed", int()),
        ]),
    );
    add(
        "Channel",
        closed(&[
            ("channel", one_of(CHANNELS)),
            ("configured", boolean()),
            ("app_id", or_null("string")),
            ("agent_id", or_null("string")),
            ("api_base", or_null("string")),
            (
                "secret",
                with_description(or_null("string"), "masked; null when not set"),
            ),
            (
                "token",
                with_description(or_null("string"), "masked; null when not set"),
            ),
            (
                "aes_key",
                with_description(or_null("string"), "masked; null when not set"),
            ),
            ("menu", map_of(string())),
            ("updated_at", or_null("integer")),
            ("callback_path", string()),
            ("inbox", schema_ref("InboxCounts")),
        ]),
    );
    add(
        "StaffSyncReport",
        closed(&[
            ("seen", int()),
            ("created", int()),
            ("linked", int()),
            ("departed", int()),
            ("clients_to_transfer", int()),
        ]),
    );
    add(
        "ContactWay",
        closed(&[
            ("id", int()),
            ("state", string()),
            ("label", string()),
            ("kind", one_of(&["store", "associate", "campaign"])),
            ("store_id", or_null("integer")),
            ("user_id", or_null("integer")),
            ("tags", strings()),
            ("welcome_text", string()),
            ("config_id", or_null("string")),
            ("qr_code", or_null("string")),
            ("created_at", int()),
        ]),
    );
    add("AnalyticsReport", analytics_report());
    add(
        "Benchmark",
        closed(&[
            ("brands", int()),
            ("size", one_of(&["large", "small"])),
            ("min_group", int()),
            (
                "figures",
                map_of(closed(&[
                    ("value", rate()),
                    ("higher_is_better", boolean()),
                    ("all", benchmark_group()),
                    ("same_size", benchmark_group()),
                ])),
            ),
        ]),
    );
    add(
        "Forecast",
        closed(&[
            ("organic", number()),
            ("paid", number()),
            ("prospects", number()),
            ("clients", number()),
            ("delta", number()),
            ("fanbase_in_a_year", number()),
            ("note", string()),
        ]),
    );
    let arm = closed(&[
        ("pushes", int()),
        ("recipients", int()),
        ("opens", int()),
        ("engaged", int()),
    ]);
    let comparison = closed(&[
        ("rate_a", rate()),
        ("rate_b", rate()),
        ("z", rate()),
        ("p_value", rate()),
        ("significant", boolean()),
        ("verdict", string()),
    ]);
    add(
        "AbTest",
        closed(&[
            ("a", arm.clone()),
            ("b", arm),
            ("open_rate", comparison.clone()),
            ("engagement_rate", comparison),
        ]),
    );
    add(
        "EventImport",
        closed(&[
            ("read", int()),
            ("added", int()),
            (
                "skipped",
                with_description(strings(), "the lines left out (skip_bad), with why"),
            ),
        ]),
    );
    add(
        "GroupSummary",
        closed(&[
            ("id", int()),
            ("chat_id", string()),
            ("name", string()),
            ("owner_id", or_null("integer")),
            ("store_id", or_null("integer")),
            ("members", int()),
            ("clients", int()),
            ("messages", int()),
            ("last_at", or_null("integer")),
            ("open_flags", int()),
            ("dismissed_at", or_null("integer")),
        ]),
    );
    add(
        "GroupMember",
        closed(&[
            ("member_ref", string()),
            ("kind", one_of(&["staff", "client"])),
            ("user_id", or_null("integer")),
            ("client_id", or_null("integer")),
            ("name", string()),
            ("joined_at", int()),
        ]),
    );
    add(
        "GroupChat",
        closed(&[
            ("id", int()),
            ("chat_id", string()),
            ("name", string()),
            ("owner_ref", string()),
            ("owner_id", or_null("integer")),
            ("store_id", or_null("integer")),
            ("notice", string()),
            ("created_at", int()),
            ("dismissed_at", or_null("integer")),
            ("members", array(schema_ref("GroupMember"))),
        ]),
    );
    add(
        "Sender",
        json!({"oneOf": [
            closed(&[("kind", json!({"const": "associate"})), ("id", int())]),
            closed(&[("kind", json!({"const": "client"})), ("id", int())]),
            closed(&[("kind", json!({"const": "unknown"}))]),
        ]}),
    );
    add("GroupMessage", group_message_fields());
    add(
        "GroupPost",
        closed(&[
            ("id", int()),
            ("brand", int()),
            ("group_id", int()),
            ("associate_id", int()),
            ("body", string()),
            ("idem_key", string()),
            (
                "status",
                one_of(&["queued", "sending", "sent", "failed", "unknown"]),
            ),
            ("msgid", or_null("string")),
            ("error", or_null("string")),
            ("attempt_at", or_null("integer")),
            ("created_at", int()),
            ("updated_at", int()),
        ]),
    );
    add(
        "GroupThread",
        closed(&[
            ("group", schema_ref("GroupChat")),
            ("messages", array(schema_ref("GroupMessage"))),
            ("pending", array(schema_ref("GroupPost"))),
            ("flags", array(schema_ref("Flag"))),
            (
                "associates",
                with_description(map_of(string()), "user id → display name"),
            ),
            ("can_post", boolean()),
        ]),
    );
    add(
        "Conversation",
        closed(&[
            ("client_id", int()),
            ("associate_id", or_null("integer")),
            ("store_id", or_null("integer")),
            ("last", schema_ref("Message")),
            ("messages", int()),
            ("unread", int()),
            ("open_flags", int()),
            ("client_name", string()),
            ("associate_name", or_null("string")),
        ]),
    );
    add(
        "Outbound",
        closed(&[
            ("id", int()),
            ("brand", int()),
            ("client_id", int()),
            ("associate_id", or_null("integer")),
            ("channel", one_of(CHANNELS)),
            ("msg_type", string()),
            ("body", string()),
            ("idem_key", string()),
            ("status", one_of(&["queued", "sending", "sent", "failed"])),
            ("attempts", int()),
            ("provider_id", or_null("string")),
            ("message_id", or_null("integer")),
            ("error", or_null("string")),
            ("created_at", int()),
            ("sent_at", or_null("integer")),
        ]),
    );
    add(
        "Hit",
        closed(&[
            ("rule_id", int()),
            ("rule", string()),
            ("category", one_of(CATEGORIES)),
            ("severity", one_of(SEVERITIES)),
            ("action", one_of(RULE_ACTIONS)),
            ("matched", string()),
        ]),
    );
    add(
        "Sent",
        closed(&[
            ("outbound", schema_ref("Outbound")),
            ("warnings", array(schema_ref("Hit"))),
        ]),
    );
    add(
        "Notice",
        closed(&[("at", int()), ("kind", string()), ("text", string())]),
    );
    add(
        "Thread",
        closed(&[
            ("client", schema_ref("Client")),
            ("messages", array(schema_ref("Message"))),
            ("pending", array(schema_ref("Outbound"))),
            ("flags", array(schema_ref("Flag"))),
            ("notices", array(schema_ref("Notice"))),
            (
                "associates",
                with_description(map_of(string()), "user id → display name"),
            ),
            ("can_send", boolean()),
        ]),
    );
    add(
        "Flag",
        closed(&[
            ("id", int()),
            ("message_id", or_null("integer")),
            ("group_message_id", or_null("integer")),
            ("group_id", or_null("integer")),
            ("client_id", or_null("integer")),
            ("associate_id", or_null("integer")),
            ("store_id", or_null("integer")),
            ("direction", one_of(DIRECTIONS)),
            ("rule_id", int()),
            ("rule", string()),
            ("category", one_of(CATEGORIES)),
            ("severity", one_of(SEVERITIES)),
            ("action", one_of(RULE_ACTIONS)),
            ("matched", string()),
            ("status", one_of(&["open", "resolved", "dismissed"])),
            ("note", or_null("string")),
            ("reviewer_id", or_null("integer")),
            ("created_at", int()),
            ("reviewed_at", or_null("integer")),
        ]),
    );
    add(
        "ServiceReport",
        closed(&[
            (
                "by_associate",
                array(closed(&[
                    ("associate_id", or_null("integer")),
                    ("associate", string()),
                    ("store_id", or_null("integer")),
                    ("turns", int()),
                    ("answered", int()),
                    ("response_rate", number()),
                    ("median_first_response_min", or_null("number")),
                    ("waiting", int()),
                    ("overdue", int()),
                ])),
            ),
            (
                "overdue",
                array(closed(&[
                    ("client_id", int()),
                    ("client_name", string()),
                    ("associate_id", or_null("integer")),
                    ("since", int()),
                    ("waited_min", number()),
                    ("escalated", boolean()),
                ])),
            ),
            ("limit_min", int()),
            (
                "business_hours",
                with_description(pair(int(), int()), "[opening hour, closing hour]"),
            ),
        ]),
    );
    add(
        "Rule",
        closed(&[
            ("id", int()),
            ("name", string()),
            ("category", one_of(CATEGORIES)),
            ("severity", one_of(SEVERITIES)),
            ("action", one_of(RULE_ACTIONS)),
            (
                "matcher",
                json!({"oneOf": [
                    closed(&[("kind", json!({"const": "words"})), ("value", strings())]),
                    closed(&[("kind", json!({"const": "pattern"})), ("value", string())]),
                ]}),
            ),
            ("enabled", boolean()),
        ]),
    );
    add(
        "Verdict",
        closed(&[
            (
                "action",
                json!({"enum": ["flag", "warn", "block", null], "description": "the strongest action of the hits; null when none"}),
            ),
            ("hits", array(schema_ref("Hit"))),
        ]),
    );
    add(
        "FlagCount",
        closed(&[
            ("associate_id", or_null("integer")),
            ("rule", string()),
            ("category", one_of(CATEGORIES)),
            ("open", int()),
            ("total", int()),
        ]),
    );
    add(
        "AuditEntry",
        closed(&[
            ("seq", int()),
            ("at", int()),
            ("actor_id", or_null("integer")),
            ("actor", string()),
            ("action", string()),
            ("subject", string()),
            ("detail", string()),
            ("prev_hash", string()),
            ("hash", string()),
        ]),
    );
    add(
        "AuditVerification",
        json!({"oneOf": [
            closed(&[("ok", json!({"const": true})), ("entries", int())]),
            closed(&[("ok", json!({"const": false})), ("broken_at", int()), ("reason", string())]),
        ]}),
    );
    add(
        "FoundMessage",
        flatten(&message_fields(), &[("client_name", string())]),
    );
    add(
        "FoundGroupMessage",
        flatten(&group_message_fields(), &[("group_name", string())]),
    );
    add(
        "SegmentCount",
        closed(&[
            ("expression", string()),
            ("count", int()),
            ("of", int()),
            ("micros", int()),
        ]),
    );
    add(
        "Segment",
        closed(&[
            ("id", int()),
            ("name", string()),
            ("expression", string()),
            ("created_by", or_null("integer")),
            ("updated_at", int()),
        ]),
    );
    add(
        "ContactPolicy",
        closed(&[
            ("per_week", int()),
            ("per_month", int()),
            (
                "quiet_start",
                with_description(int(), "minutes after midnight"),
            ),
            (
                "quiet_end",
                with_description(int(), "minutes after midnight"),
            ),
            ("sa_daily_quota", int()),
        ]),
    );
    add("Campaign", campaign_fields());
    add(
        "CampaignView",
        flatten(
            &campaign_fields(),
            &[(
                "report",
                closed(&[
                    ("planned", int()),
                    ("sending", int()),
                    ("sent", int()),
                    ("delivered", int()),
                    ("failed", int()),
                    ("suppressed", int()),
                    ("suppressed_by", array(pair(one_of(SUPPRESSIONS), int()))),
                    ("replies", int()),
                ]),
            )],
        ),
    );
    add(
        "PlanCounts",
        closed(&[
            ("planned", int()),
            ("suppressed", int()),
            ("already", int()),
        ]),
    );
    add(
        "CampaignSend",
        closed(&[
            ("client_id", int()),
            ("associate_id", or_null("integer")),
            (
                "status",
                one_of(&["suppressed", "planned", "sending", "sent", "failed"]),
            ),
            ("reason", or_null("string")),
            ("provider_msgid", or_null("string")),
            ("sent_at", or_null("integer")),
            ("delivered_at", or_null("integer")),
        ]),
    );
    add(
        "Task",
        closed(&[
            ("campaign", schema_ref("Campaign")),
            (
                "clients",
                with_description(array(pair(int(), string())), "[client id, name]"),
            ),
            ("preview", string()),
            ("done", int()),
        ]),
    );
    add(
        "Moment",
        closed(&[
            ("id", int()),
            ("brand", int()),
            ("text", string()),
            ("senders", ints()),
            ("asset_ids", ints()),
            (
                "status",
                one_of(&[
                    "queued",
                    "submitting",
                    "submitted",
                    "done",
                    "failed",
                    "unknown",
                ]),
            ),
            ("jobid", or_null("string")),
            ("moment_id", or_null("string")),
            ("error", or_null("string")),
            ("attempt_at", or_null("integer")),
            ("created_by", or_null("integer")),
            ("created_at", int()),
            ("updated_at", int()),
            (
                "reach",
                array(closed(&[
                    ("associate_id", int()),
                    ("published", boolean()),
                    ("seen_by", int()),
                    ("liked_by", ints()),
                    ("commented_by", ints()),
                ])),
            ),
            ("checked_at", or_null("integer")),
        ]),
    );
    add(
        "Asset",
        closed(&[
            ("id", int()),
            ("title", string()),
            ("caption_zh", string()),
            ("caption_en", string()),
            ("talking_points", string()),
            ("guidelines", string()),
            ("tags", strings()),
            ("collection", or_null("string")),
            ("valid_from", or_null("integer")),
            ("valid_to", or_null("integer")),
            ("status", one_of(&["draft", "approved", "retired"])),
            (
                "file",
                closed(&[
                    ("name", string()),
                    ("thumb", string()),
                    ("mime", string()),
                    ("bytes", int()),
                    ("width", int()),
                    ("height", int()),
                ]),
            ),
            ("created_by", or_null("integer")),
            ("created_at", int()),
            ("updated_at", int()),
            ("uses", int()),
            ("clients", int()),
            ("delivered", int()),
            ("replies", int()),
            (
                "in_moments",
                closed(&[
                    ("posts", int()),
                    ("seen_by", int()),
                    ("likes", int()),
                    ("comments", int()),
                ]),
            ),
        ]),
    );
    add("Product", product_fields());
    add(
        "ProductRow",
        flatten(
            &product_fields(),
            &[(
                "stock",
                with_description(int(), "the units the caller may see"),
            )],
        ),
    );
    add(
        "StockLevel",
        closed(&[
            ("sku", string()),
            ("store", string()),
            ("quantity", int()),
            ("updated_at", int()),
        ]),
    );
    add(
        "ProductDetail",
        flatten(
            &product_fields(),
            &[("stock", array(schema_ref("StockLevel")))],
        ),
    );
    add(
        "CatalogueImport",
        closed(&[("lines", int()), ("added", int()), ("changed", int())]),
    );
    add("SalesImport", closed(&[("lines", int()), ("added", int())]));
    add(
        "Statement",
        closed(&[
            ("associate", string()),
            ("sales", int()),
            ("returns", int()),
            ("net", int()),
            ("orders", int()),
            ("commission", int()),
            ("target", or_null("integer")),
        ]),
    );
    add(
        "SalesReport",
        closed(&[
            ("month", with_description(string(), "YYYY-MM")),
            ("currency", string()),
            ("associates", array(schema_ref("Statement"))),
            ("unattributed", int()),
        ]),
    );
    let touch = closed(&[
        ("at", int()),
        ("associate", string()),
        ("client", string()),
        ("kind", one_of(TOUCH_KINDS)),
    ]);
    let why = |rule: &str, more: &[(&str, Value)]| {
        let mut fields = vec![("rule", json!({ "const": rule }))];
        fields.extend(more.iter().cloned());
        closed(&fields)
    };
    add(
        "Why",
        json!({"oneOf": [
            why("sold_by", &[("associate", string())]),
            why("last_touch", &[("touch", touch.clone())]),
            why("split", &[("touches", array(touch))]),
            why("book", &[("associate", string())]),
            why("decided", &[]),
            why("anonymous", &[]),
            why("no_touch", &[]),
        ]}),
    );
    add(
        "Entry",
        closed(&[
            ("associate", or_null("string")),
            ("kind", one_of(&["sale", "return"])),
            ("order_id", string()),
            ("return_id", or_null("string")),
            (
                "source",
                one_of(&["pos", "ecommerce", "mini_store", "livestream"]),
            ),
            ("store", or_null("string")),
            ("client", or_null("string")),
            ("at", int()),
            ("amount", int()),
            ("why", schema_ref("Why")),
        ]),
    );
    add(
        "Dispute",
        closed(&[
            ("id", int()),
            ("order_id", string()),
            ("raised_by", int()),
            ("reason", string()),
            ("status", one_of(&["open", "decided", "rejected"])),
            (
                "shares",
                json!({"anyOf": [array(pair(string(), string())), {"type": "null"}],
                       "description": "[associate, fraction as a decimal string]; null until decided"}),
            ),
            ("decided_by", or_null("integer")),
            ("decided_at", or_null("integer")),
            ("decision_note", or_null("string")),
            ("created_at", int()),
        ]),
    );
    add(
        "MyMonth",
        closed(&[
            ("month", string()),
            ("currency", string()),
            ("statement", schema_ref("Statement")),
            ("rank", int()),
            ("entries", array(schema_ref("Entry"))),
            (
                "leaderboard",
                array(closed(&[
                    ("rank", int()),
                    ("associate", string()),
                    ("name", string()),
                    ("net", int()),
                ])),
            ),
            ("disputes", array(schema_ref("Dispute"))),
        ]),
    );
    add(
        "SalesPolicy",
        closed(&[
            ("model", one_of(&["last_touch", "split"])),
            ("book_credit", boolean()),
            (
                "windows",
                with_description(
                    closed(&TOUCH_KINDS.iter().map(|k| (*k, int())).collect::<Vec<_>>()),
                    "days per touch kind",
                ),
            ),
            ("base_rate", with_description(string(), "a decimal")),
            ("bonus_rate", with_description(string(), "a decimal")),
        ]),
    );
    add(
        "TierThresholds",
        closed(&[(
            "tiers",
            array(closed(&[
                ("tier", string()),
                (
                    "min_spend",
                    with_description(int(), "minor units of the brand's currency"),
                ),
            ])),
        )]),
    );
    let share_link = closed(&[
        ("id", int()),
        ("brand", int()),
        ("code", string()),
        ("associate_id", int()),
        ("client_id", or_null("integer")),
        ("kind", string()),
        ("target", string()),
        ("title", string()),
        ("created_at", int()),
        ("opens", int()),
    ]);
    add(
        "NewShareLink",
        flatten(
            &share_link,
            &[("path", with_description(string(), "/s/{code}"))],
        ),
    );
    add("ShareLink", share_link);
    c
}

// --- Operations ----------------------------------------------------------------------------

fn json_response(description: &str, schema: Value) -> Value {
    json!({"description": description, "content": {"application/json": {"schema": schema}}})
}

/// `{"items": [...]}`.
fn items(of: &str) -> Value {
    closed(&[("items", array(schema_ref(of)))])
}

/// A text export: JSON Lines (one object a line, each as `x-line-schema` says) or CSV, as
/// `format` asks.
fn export_response(line: &str) -> Value {
    json!({"description": "The export: JSON Lines (`format=jsonl`, the default) or CSV (`format=csv`)", "content": {
        "application/x-ndjson": {"schema": {"type": "string"}, "x-line-schema": schema_ref(line)},
        "text/csv": {"schema": {"type": "string"}},
    }})
}

/// The success responses of an operation: status → response object.
fn success(operation: &str) -> Vec<(u16, Value)> {
    let ok = |schema: Value| vec![(200, json_response("OK", schema))];
    let ok_ref = |name: &str| ok(schema_ref(name));
    let created = |name: &str| vec![(201, json_response("Created", schema_ref(name)))];
    let accepted = |name: &str| {
        vec![(
            202,
            json_response("Accepted: queued for delivery", schema_ref(name)),
        )]
    };
    // Imports answer 201 when they stored something new, 200 when everything was held already.
    let imported = |name: &str| {
        vec![
            (
                200,
                json_response("Nothing new: every line was held already", schema_ref(name)),
            ),
            (
                201,
                json_response("Something new was stored", schema_ref(name)),
            ),
        ]
    };
    match operation {
        "getBrand" => ok_ref("Brand"),
        "getMe" => ok_ref("Me"),
        "listClients" => ok_ref("ClientPage"),
        "createClient" => created("Client"),
        "importClients" => ok_ref("ImportReport"),
        "getClient" => ok_ref("ClientProfile"),
        "updateClient" | "assignClient" => ok_ref("Client"),
        "addNote" => created("Note"),
        "editTags" => ok(closed(&[("tags", strings())])),
        "listStores" => ok(items("Store")),
        "createStore" => created("Store"),
        "updateStore" => ok_ref("Store"),
        "listAssociates" => ok(items("Associate")),
        "createAssociate" => created("User"),
        "updateAssociate" | "departAssociate" => ok_ref("User"),
        "transferClients" => ok(closed(&[(
            "moved",
            with_description(int(), "the clients moved"),
        )])),
        "listMessages" => ok(items("Message")),
        "listConversations" => ok(items("Conversation")),
        "getThread" => ok_ref("Thread"),
        "sendMessage" => accepted("Sent"),
        "exportThread" | "exportSearch" => vec![(200, export_response("Message"))],
        "exportGroupChat" => vec![(200, export_response("GroupMessage"))],
        "searchArchive" => ok(items("FoundMessage")),
        "getOutbound" => ok_ref("Outbound"),
        "serviceQuality" => ok_ref("ServiceReport"),
        "listRules" => ok(items("Rule")),
        "createRule" => created("Rule"),
        "updateRule" => ok_ref("Rule"),
        "checkText" => ok_ref("Verdict"),
        "listFlags" => ok(items("Flag")),
        "reviewFlag" => ok_ref("Flag"),
        "flagCounts" => ok(items("FlagCount")),
        "auditLog" => ok(items("AuditEntry")),
        "verifyAudit" => ok_ref("AuditVerification"),
        "getChannel" | "configureChannel" => ok_ref("Channel"),
        "testChannel" => ok(closed(&[
            ("ok", json!({"const": true})),
            ("message", string()),
        ])),
        "syncStaff" => ok_ref("StaffSyncReport"),
        "listContactWays" => ok(items("ContactWay")),
        "createContactWay" => created("ContactWay"),
        "getReport" => ok_ref("AnalyticsReport"),
        "getBenchmark" => ok_ref("Benchmark"),
        "growthForecast" => ok_ref("Forecast"),
        "pushAbTest" => ok_ref("AbTest"),
        "importEvents" => ok_ref("EventImport"),
        "exportEvents" => vec![(
            200,
            json!({"description": "The events, one JSON object a line, oldest first", "content": {
                "application/x-ndjson": {"schema": {"type": "string"}}}}),
        )],
        "countSegment" => ok_ref("SegmentCount"),
        "listSegments" => ok(items("Segment")),
        "createSegment" => created("Segment"),
        "updateSegment" => ok_ref("Segment"),
        "getContactPolicy" | "putContactPolicy" => ok_ref("ContactPolicy"),
        "listCampaigns" => ok(items("CampaignView")),
        "createCampaign" => created("Campaign"),
        "getCampaign" | "cancelCampaign" => ok_ref("CampaignView"),
        "planCampaign" | "sendTask" => ok_ref("PlanCounts"),
        "campaignSends" => ok(items("CampaignSend")),
        "listMoments" | "listMyMoments" => ok(items("Moment")),
        "createMoment" | "postMyMoment" => created("Moment"),
        "listAssets" => ok(items("Asset")),
        "uploadAsset" => created("Asset"),
        "setAssetStatus" => ok_ref("Asset"),
        "assetImage" => vec![(
            200,
            json!({"description": "The image (or its thumbnail)", "content": {
                "image/png": {"schema": {"type": "string", "format": "binary"}},
                "image/jpeg": {"schema": {"type": "string", "format": "binary"}}}}),
        )],
        "sendImage" => accepted("Outbound"),
        "listTasks" => ok(items("Task")),
        "listGroupChats" => ok(items("GroupSummary")),
        "searchGroupChats" => ok(items("FoundGroupMessage")),
        "getGroupChat" => ok_ref("GroupThread"),
        "postToGroup" => accepted("GroupPost"),
        "syncGroupChats" => ok(closed(&[(
            "groups",
            with_description(int(), "the groups read"),
        )])),
        "listProducts" => ok(items("ProductRow")),
        "importProducts" | "putStock" => imported("CatalogueImport"),
        "getProduct" => ok_ref("ProductDetail"),
        "putProduct" => vec![
            (200, json_response("Replaced", schema_ref("Product"))),
            (201, json_response("Created", schema_ref("Product"))),
        ],
        "postOrders" | "postReturns" | "postTouches" | "postFxRates" => imported("SalesImport"),
        "salesReport" => ok_ref("SalesReport"),
        "myMonth" => ok_ref("MyMonth"),
        "exportStatements" => vec![(
            200,
            json!({"description": "The statements as CSV", "content": {
                "text/csv": {"schema": {"type": "string"}}}}),
        )],
        "getSalesPolicy" | "putSalesPolicy" => ok_ref("SalesPolicy"),
        "getTierThresholds" | "putTierThresholds" => ok_ref("TierThresholds"),
        "putTargets" => ok(closed(&[
            ("month", string()),
            ("set", with_description(int(), "the targets set")),
        ])),
        "listDisputes" => ok(items("Dispute")),
        "raiseDispute" => created("Dispute"),
        "decideDispute" => ok_ref("Dispute"),
        "createShareLink" => created("NewShareLink"),
        "listShareLinks" => ok(items("ShareLink")),
        _ => vec![],
    }
}

/// Operations that call WeCom, the asset store or the search index, and answer 502 when it
/// cannot be reached or refuses.
const PROVIDER_CALLS: &[&str] = &[
    "testChannel",
    "syncStaff",
    "createContactWay",
    "syncGroupChats",
    "uploadAsset",
    "assetImage",
    "searchArchive",
    "searchGroupChats",
    "exportSearch",
];

/// Writes that only compute: nothing stored, so nothing to conflict with.
const PURE: &[&str] = &["checkText", "countSegment", "growthForecast"];

/// Reads whose query names rows (a store, an associate, a client, a segment) that may not be
/// found.
const NAMED_IN_QUERY: &[&str] = &[
    "listClients",
    "listAssociates",
    "getReport",
    "listGroupChats",
    "searchArchive",
    "searchGroupChats",
    "exportSearch",
];

/// The error statuses an operation can answer, all in the `Error` shape.
fn errors(operation: &str, method: &str, path: &str) -> Vec<u16> {
    let has_body = request_body(operation).is_some();
    let write = method != "GET";
    let mut out = vec![401, 403];
    if operation == "uploadAsset" {
        // The multipart reader refuses a body that is not `multipart/form-data` by itself.
        out.insert(0, 400);
    }
    if path.contains('{')
        || NAMED_IN_QUERY.contains(&operation)
        || (write && !PURE.contains(&operation))
    {
        out.push(404);
    }
    if write && !PURE.contains(&operation) {
        out.push(409);
    }
    if has_body {
        out.push(413);
    }
    if has_body || !query_params(operation).is_empty() || write {
        out.push(422);
    }
    out.push(500);
    if PROVIDER_CALLS.contains(&operation) {
        out.push(502);
    }
    out.push(503);
    out
}

fn params(path: &str) -> Vec<Value> {
    path.split('/')
        .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .map(|name| {
            let schema = match name {
                "code" | "sku" => string(),
                "channel" => one_of(CHANNELS),
                _ => int(),
            };
            json!({"name": name, "in": "path", "required": true, "schema": schema})
        })
        .collect()
}

fn q(name: &str, schema: Value, description: &str) -> Value {
    json!({"name": name, "in": "query", "required": false, "schema": schema, "description": description})
}

fn q_required(name: &str, schema: Value, description: &str) -> Value {
    json!({"name": name, "in": "query", "required": true, "schema": schema, "description": description})
}

/// `app::archive::ArchiveSearch`.
fn archive_search() -> Vec<Value> {
    vec![
        q("q", string(), "words to find (empty: everything)"),
        q("client", int(), "a client id"),
        q("associate", int(), "an associate's user id"),
        q("store", string(), "store code"),
        q(
            "from",
            json!({"type": "string", "format": "date"}),
            "first day",
        ),
        q(
            "to",
            json!({"type": "string", "format": "date"}),
            "last day",
        ),
        q("flagged", boolean(), "only messages a rule flagged"),
        q("limit", int(), "at most this many"),
        q("group", int(), "a group chat id"),
    ]
}

fn format_param() -> Value {
    q(
        "format",
        one_of(&["jsonl", "csv"]),
        "jsonl (the default) or csv",
    )
}

fn month_param() -> Value {
    q_required(
        "month",
        json!({"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}$"}),
        "YYYY-MM",
    )
}

fn period_params() -> Vec<Value> {
    vec![
        q_required(
            "from",
            json!({"type": "string", "format": "date"}),
            "first day of the period",
        ),
        q_required(
            "to",
            json!({"type": "string", "format": "date"}),
            "the day after the period",
        ),
    ]
}

fn query_params(operation: &str) -> Vec<Value> {
    let limit = |d: &str| q("limit", int(), d);
    match operation {
        "listClients" => vec![
            q(
                "q",
                string(),
                "name words (prefixes), a phone number, an e-mail address or a CRM id",
            ),
            q("tag", string(), "only clients with this tag"),
            q("tier", string(), "only clients of this tier"),
            q("store", string(), "store code"),
            q("associate", string(), "associate id or e-mail"),
            q("cursor", string(), "next_cursor of the previous page"),
            limit("1 to 200, default 50"),
        ],
        "importClients" => vec![q(
            "skip_bad",
            boolean(),
            "import the good rows and report the bad ones",
        )],
        "importEvents" => vec![q(
            "skip_bad",
            boolean(),
            "store the good lines and report the bad ones",
        )],
        "listAssociates" => vec![q("store", string(), "store code")],
        "listMessages" => vec![limit("at most 500, default 100")],
        "listConversations" => vec![limit("default 100")],
        "exportThread" | "exportGroupChat" => vec![format_param()],
        "searchArchive" | "searchGroupChats" => archive_search(),
        "exportSearch" => {
            let mut v = archive_search();
            v.push(format_param());
            v
        }
        "listFlags" => vec![
            q(
                "status",
                one_of(&["open", "resolved", "dismissed", "all"]),
                "default open",
            ),
            limit("default 200"),
        ],
        "auditLog" => vec![
            q("after", int(), "entries after this sequence number"),
            limit("default 1000"),
        ],
        "getReport" => {
            let mut v = period_params();
            v.push(q("tz", string(), "IANA time zone; the brand's by default"));
            v.push(q(
                "segment",
                int(),
                "a saved segment: the report over its clients' followers",
            ));
            v
        }
        "getBenchmark" => period_params(),
        "pushAbTest" => {
            let mut v = period_params();
            v.push(q_required(
                "a",
                string(),
                "arm A: a timeslot (`11-14`) or push ids",
            ));
            v.push(q_required(
                "b",
                string(),
                "arm B: a timeslot (`19-22`) or push ids",
            ));
            v
        }
        "campaignSends" => vec![
            q(
                "status",
                one_of(&["suppressed", "planned", "sending", "sent", "failed"]),
                "only sends in this state",
            ),
            q("after", int(), "client id to start after (keyset)"),
            limit("default 500"),
        ],
        "assetImage" => vec![q("thumb", boolean(), "the thumbnail")],
        "listGroupChats" => vec![q("client", int(), "only this client's groups")],
        "listProducts" => vec![
            q(
                "q",
                string(),
                "words in Chinese or English, or a SKU prefix",
            ),
            q("category", string(), "only this category"),
            q(
                "active",
                boolean(),
                "HQ: only active (true) or inactive (false) products",
            ),
            limit("1 to 200, default 50"),
        ],
        "salesReport" | "myMonth" | "exportStatements" => vec![month_param()],
        "listDisputes" => vec![q(
            "status",
            one_of(&["open", "decided", "rejected"]),
            "only disputes in this state",
        )],
        _ => vec![],
    }
}

fn json_body(schema: Value) -> Value {
    json!({"required": true, "content": {"application/json": {"schema": schema}}})
}

/// One JSON object, an array of them, or JSON Lines (sales and catalogue imports).
fn lines_body(line: Value, csv: bool) -> Value {
    let mut content = json!({
        "application/json": {"schema": {"anyOf": [line.clone(), array(line)]}},
        "application/x-ndjson": {"schema": {"type": "string"}, "description": "one object a line"},
    });
    if csv {
        content["text/csv"] = json!({"schema": {"type": "string"}});
    }
    json!({"required": true, "content": content})
}

fn client_input() -> Value {
    let ns = || or_null("string");
    input(
        &[
            ("first_name", ns()),
            ("last_name", ns()),
            ("chinese_name", ns()),
            ("phone", with_description(ns(), "E.164")),
            ("email", ns()),
            (
                "birthday",
                json!({"type": ["string", "null"], "format": "date"}),
            ),
            ("language", ns()),
            ("city", ns()),
            ("tier", ns()),
            ("store", with_description(ns(), "store code")),
            (
                "associate",
                with_description(or_null("string"), "associate e-mail (creation only)"),
            ),
            (
                "tags",
                json!({"type": ["array", "null"], "items": string()}),
            ),
            (
                "preferences",
                json!({"anyOf": [input(&[("sizes", strings()), ("categories", strings()), ("colours", strings()), ("materials", strings())], &[], false), {"type": "null"}]}),
            ),
            (
                "identities",
                json!({"type": ["array", "null"], "items": input(&[("kind", one_of(IDENTITY_KINDS)), ("value", string())], &["kind", "value"], false)}),
            ),
            (
                "consents",
                json!({"type": ["array", "null"], "items": input(&[
                    ("channel", string()), ("purpose", one_of(&["service", "marketing"])),
                    ("granted", boolean()), ("source", or_null("string"))],
                    &["channel", "purpose", "granted"], false)}),
            ),
        ],
        &[],
        true,
    )
}

fn request_body(operation: &str) -> Option<Value> {
    let ns = || or_null("string");
    let body =
        |fields: &[(&str, Value)], required: &[&str]| json_body(input(fields, required, false));
    let text_body = || body(&[("text", string())], &["text"]);
    let send = || {
        body(
            &[
                ("text", string()),
                (
                    "idempotency_key",
                    with_description(ns(), "the same key again is the same message"),
                ),
            ],
            &["text"],
        )
    };
    let rule = || {
        body(
            &[
                ("name", string()),
                ("category", one_of(CATEGORIES)),
                ("severity", one_of(SEVERITIES)),
                ("action", one_of(RULE_ACTIONS)),
                ("words", with_description(ns(), "comma-separated words")),
                ("pattern", with_description(ns(), "a regular expression")),
                ("enabled", boolean()),
            ],
            &["name", "category", "severity", "action"],
        )
    };
    Some(match operation {
        "createClient" | "updateClient" => json_body(client_input()),
        "importClients" => {
            json!({"required": true, "content": {"text/csv": {"schema": {"type": "string"}}}})
        }
        "addNote" | "checkText" => text_body(),
        "editTags" => body(&[("add", strings()), ("remove", strings())], &[]),
        "assignClient" => body(
            &[
                ("associate", with_description(string(), "id or e-mail")),
                ("reason", ns()),
            ],
            &["associate"],
        ),
        "createStore" | "updateStore" => body(
            &[
                ("code", ns()),
                ("name", ns()),
                ("city", ns()),
                ("country", ns()),
                ("time_zone", ns()),
            ],
            &[],
        ),
        "createAssociate" | "updateAssociate" => body(
            &[
                ("email", ns()),
                ("display_name", ns()),
                (
                    "role",
                    json!({"enum": Role::ALL.map(|r| Some(r.as_str())).into_iter().chain([None]).collect::<Vec<_>>()}),
                ),
                ("store", with_description(ns(), "store code")),
                ("password", ns()),
            ],
            &[],
        ),
        "transferClients" => body(
            &[
                (
                    "to",
                    with_description(
                        or_null("integer"),
                        "the colleague who takes every client; without it, they are spread over the store",
                    ),
                ),
                ("reason", ns()),
            ],
            &[],
        ),
        "sendMessage" | "postToGroup" => send(),
        "createRule" | "updateRule" => rule(),
        "reviewFlag" => body(
            &[
                (
                    "outcome",
                    one_of(&["resolve", "resolved", "dismiss", "dismissed"]),
                ),
                ("note", string()),
            ],
            &["outcome"],
        ),
        "configureChannel" => body(
            &[
                ("app_id", with_description(ns(), "also accepted as corp_id")),
                ("corp_id", ns()),
                ("agent_id", ns()),
                ("secret", ns()),
                ("token", ns()),
                ("aes_key", ns()),
                ("api_base", ns()),
                (
                    "menu",
                    json!({"type": ["object", "null"], "additionalProperties": string()}),
                ),
            ],
            &[],
        ),
        "createContactWay" => body(
            &[
                (
                    "kind",
                    json!({"enum": ["store", "associate", "campaign", null]}),
                ),
                ("label", ns()),
                ("store", with_description(ns(), "store code")),
                ("associate", or_null("integer")),
                ("campaign", ns()),
                ("tags", strings()),
                ("welcome_text", ns()),
            ],
            &[],
        ),
        "growthForecast" => body(
            &[
                "current_fanbase",
                "organic_growth_rate",
                "marketing_budget",
                "cost_per_follower",
                "points_of_sale",
                "daily_foot_traffic",
                "store_onboarding_rate",
                "crm_customers",
                "expected_new_customers",
                "client_onboarding_rate",
            ]
            .map(|k| (k, number())),
            &[],
        ),
        "importEvents" => {
            json!({"required": true, "content": {"application/x-ndjson": {"schema": {"type": "string"}, "description": "one event a line"}}})
        }
        "countSegment" => body(&[("expression", string())], &["expression"]),
        "createSegment" | "updateSegment" => body(
            &[("name", string()), ("expression", string())],
            &["name", "expression"],
        ),
        "putContactPolicy" => json_body(schema_ref("ContactPolicy")),
        "createCampaign" => body(
            &[
                ("name", string()),
                ("kind", json!({"enum": ["broadcast", "prepared", null]})),
                ("segment_id", or_null("integer")),
                ("expression", ns()),
                (
                    "text",
                    with_description(string(), "a template: {client.first_name}, {sa.name} …"),
                ),
                (
                    "send_at",
                    with_description(ns(), "RFC 3339; now when absent"),
                ),
                ("max_recipients", or_null("integer")),
                ("asset_ids", ints()),
            ],
            &["name", "text"],
        ),
        "createMoment" | "postMyMoment" => body(
            &[
                ("text", string()),
                (
                    "senders",
                    with_description(ints(), "associate ids; all linked associates when empty"),
                ),
                ("asset_ids", ints()),
            ],
            &["text"],
        ),
        "uploadAsset" => {
            json!({"required": true, "content": {"multipart/form-data": {"schema": input(&[
            ("file", json!({"type": "string", "format": "binary", "description": "PNG or JPEG, up to 10 MiB"})),
            ("title", string()), ("caption_zh", string()), ("caption_en", string()),
            ("talking_points", string()), ("guidelines", string()),
            ("tags", with_description(string(), "comma-separated")),
            ("collection", string()),
            ("valid_from", json!({"type": "string", "format": "date"})),
            ("valid_to", json!({"type": "string", "format": "date"})),
        ], &["file"], false)}}})
        }
        "setAssetStatus" => body(
            &[("status", one_of(&["draft", "approved", "retired"]))],
            &["status"],
        ),
        "sendImage" => body(
            &[("asset_id", int()), ("idempotency_key", ns())],
            &["asset_id"],
        ),
        "importProducts" => lines_body(product_input(), true),
        "putProduct" => json_body(product_input()),
        "putStock" => lines_body(
            input(
                &[
                    ("sku", string()),
                    ("store", with_description(string(), "store code")),
                    ("quantity", int()),
                ],
                &["sku", "store", "quantity"],
                false,
            ),
            true,
        ),
        "postOrders" => lines_body(
            input(
                &[
                    ("order_id", string()),
                    (
                        "source",
                        one_of(&["pos", "ecommerce", "mini_store", "livestream"]),
                    ),
                    ("client", with_description(ns(), "the client's CRM id")),
                    (
                        "store",
                        with_description(ns(), "store code; required for a pos order"),
                    ),
                    ("placed_at", with_description(string(), "RFC 3339")),
                    ("currency", string()),
                    ("sold_by", with_description(ns(), "the associate's e-mail")),
                    (
                        "lines",
                        array(input(
                            &[
                                ("line", int()),
                                ("sku", string()),
                                ("qty", int()),
                                ("amount", with_description(int(), "minor units")),
                            ],
                            &["line", "sku", "qty", "amount"],
                            false,
                        )),
                    ),
                ],
                &["order_id", "source", "placed_at", "currency", "lines"],
                false,
            ),
            false,
        ),
        "postReturns" => lines_body(
            input(
                &[
                    ("return_id", string()),
                    ("order_id", string()),
                    ("line", int()),
                    ("qty", int()),
                    ("amount", with_description(int(), "minor units")),
                    ("at", with_description(string(), "RFC 3339")),
                ],
                &["return_id", "order_id", "line", "qty", "amount", "at"],
                false,
            ),
            false,
        ),
        "postTouches" => lines_body(
            input(
                &[
                    ("at", with_description(string(), "RFC 3339")),
                    ("associate", with_description(string(), "e-mail")),
                    ("client", with_description(string(), "the client's CRM id")),
                    ("kind", one_of(TOUCH_KINDS)),
                ],
                &["at", "associate", "client", "kind"],
                false,
            ),
            false,
        ),
        "postFxRates" => lines_body(
            input(
                &[
                    ("date", json!({"type": "string", "format": "date"})),
                    ("currency", string()),
                    (
                        "rate",
                        with_description(string(), "a decimal: one unit in the brand's currency"),
                    ),
                ],
                &["date", "currency", "rate"],
                false,
            ),
            false,
        ),
        "putSalesPolicy" => json_body(input(
            &[
                ("model", one_of(&["last_touch", "split"])),
                ("book_credit", boolean()),
                (
                    "windows",
                    with_description(map_of(int()), "days per touch kind"),
                ),
                ("base_rate", string()),
                ("bonus_rate", string()),
                (
                    "targets",
                    with_description(map_of(map_of(int())), "YYYY-MM → associate e-mail → amount"),
                ),
            ],
            &[],
            false,
        )),
        "putTierThresholds" => json_body(input(
            &[(
                "tiers",
                array(input(
                    &[("tier", string()), ("min_spend", int())],
                    &["tier", "min_spend"],
                    true,
                )),
            )],
            &["tiers"],
            true,
        )),
        "putTargets" => body(
            &[
                ("month", string()),
                (
                    "targets",
                    array(input(
                        &[
                            ("associate", with_description(string(), "e-mail")),
                            ("amount", int()),
                        ],
                        &["associate", "amount"],
                        false,
                    )),
                ),
            ],
            &["month", "targets"],
        ),
        "raiseDispute" => body(
            &[("order_id", string()), ("reason", string())],
            &["order_id", "reason"],
        ),
        "decideDispute" => body(
            &[
                (
                    "shares",
                    array(input(
                        &[
                            ("associate", with_description(string(), "e-mail")),
                            (
                                "fraction",
                                json!({"type": ["string", "number"], "description": "fractions add up to 1"}),
                            ),
                        ],
                        &["associate", "fraction"],
                        false,
                    )),
                ),
                ("note", ns()),
            ],
            &[],
        ),
        "createShareLink" => body(
            &[
                ("url", ns()),
                ("title", ns()),
                ("kind", ns()),
                ("client_id", or_null("integer")),
            ],
            &[],
        ),
        _ => return None,
    })
}

fn product_input() -> Value {
    input(
        &[
            ("sku", string()),
            ("name_zh", string()),
            ("name_en", string()),
            ("category", string()),
            ("material", string()),
            ("colours", strings()),
            ("sizes", strings()),
            (
                "prices",
                with_description(
                    map_of(json!({"type": ["string", "number"]})),
                    "ISO 4217 code → price in major units",
                ),
            ),
            ("images", with_description(ints(), "asset ids")),
            ("active", or_null("boolean")),
            (
                "url",
                with_description(or_null("string"), "the product's page on the e-shop"),
            ),
        ],
        &[],
        true,
    )
}

fn error_response(status: u16) -> Value {
    json!({
        "description": match status {
            400 => "The body is not what the route reads (not multipart/form-data)",
            401 => "No valid bearer token",
            403 => "The token's role may not do this",
            404 => "Not found (in the caller's brand and scope)",
            409 => "Conflicts with the current state (a duplicate, a state that does not allow it, a row changed meanwhile)",
            413 => "The request body is larger than this route accepts",
            422 => "Invalid input; `fields` names each problem (`blocked_by_rule`: a monitoring rule blocks the text)",
            500 => "Internal error",
            502 => "A provider (WeCom, the asset store, the search index) could not be reached or refused",
            503 => "Busy: nothing was done; retry after `Retry-After` seconds",
            _ => "An error",
        },
        "content": {"application/json": {"schema": schema_ref("Error")}},
    })
}

pub fn build() -> Value {
    let mut paths = Map::new();
    for r in super::routes() {
        let roles: Vec<&str> = Role::ALL
            .iter()
            .filter(|role| r.action.allowed(**role))
            .map(|role| role.as_str())
            .collect();
        let method = r.method.as_str();
        let mut responses = Map::new();
        for (status, response) in success(r.operation) {
            responses.insert(status.to_string(), response);
        }
        for status in errors(r.operation, method, r.path) {
            responses.insert(
                status.to_string(),
                json!({"$ref": format!("#/components/responses/E{status}")}),
            );
        }
        if r.operation == "importClients" {
            // A file with bad rows (without skip_bad) is refused whole, with every bad row.
            responses.insert(
                "422".into(),
                json_response(
                    "Nothing was imported: the bad rows (or the request) are named",
                    json!({"anyOf": [schema_ref("ImportRefused"), schema_ref("Error")]}),
                ),
            );
        }
        let mut op = json!({
            "operationId": r.operation,
            "summary": r.summary,
            "description": format!("Roles: {}. Results are limited to the caller's scope (an associate's own clients, a manager's store).", roles.join(", ")),
            "x-roles": roles,
            "parameters": params(r.path).into_iter().chain(query_params(r.operation)).collect::<Vec<_>>(),
            "responses": responses,
        });
        if let Some(b) = request_body(r.operation) {
            op["requestBody"] = b;
        }
        let entry = paths.entry(r.path.to_owned()).or_insert_with(|| json!({}));
        entry[method.to_lowercase()] = op;
    }
    let error_responses: Map<String, Value> = [400, 401, 403, 404, 409, 413, 422, 500, 502, 503]
        .into_iter()
        .map(|s| (format!("E{s}"), error_response(s)))
        .collect();
    json!({
        "openapi": "3.1.0",
        "info": {"title": "Salon API", "version": env!("CARGO_PKG_VERSION"),
                 "description": "Clienteling for luxury brands. Every request is scoped to the brand of its bearer token (`salon token create`)."},
        "servers": [{"url": "/api/v1"}],
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "responses": error_responses,
            "schemas": components(),
        }
    })
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    /// Every `$ref` in `v`, as its pointer into the document.
    fn refs(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                if let Some(Value::String(r)) = m.get("$ref") {
                    out.push(r.clone());
                }
                m.values().for_each(|x| refs(x, out));
            }
            Value::Array(a) => a.iter().for_each(|x| refs(x, out)),
            _ => {}
        }
    }

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

    /// Every operation answers a documented success with a real schema for each of its media
    /// types (an empty `{}` schema says nothing), and its errors in the Error shape.
    #[test]
    fn every_operation_has_a_response_schema_for_its_success() {
        let doc = super::build();
        for r in super::super::routes() {
            let op = &doc["paths"][r.path][r.method.as_str().to_lowercase()];
            let responses = op["responses"].as_object().expect("responses");
            let successes: Vec<_> = responses
                .iter()
                .filter(|(status, _)| status.starts_with('2'))
                .collect();
            assert!(!successes.is_empty(), "{} has no success", r.operation);
            for (status, response) in successes {
                if status == "204" {
                    assert!(response.get("content").is_none(), "{}", r.operation);
                    continue;
                }
                let content = response["content"].as_object().expect("content");
                assert!(!content.is_empty(), "{} {status}: no content", r.operation);
                for (media, m) in content {
                    let schema = m["schema"].as_object();
                    assert!(
                        schema.is_some_and(|s| !s.is_empty()),
                        "{} {status} {media}: no schema",
                        r.operation
                    );
                }
            }
            for status in ["401", "403", "500"] {
                assert!(
                    responses.contains_key(status),
                    "{} lacks {status}",
                    r.operation
                );
            }
            if r.method != axum::http::Method::GET || op.get("requestBody").is_some() {
                assert!(
                    responses.contains_key("422"),
                    "{} takes input but documents no 422",
                    r.operation
                );
            }
        }
    }

    /// Every `$ref` names something the document has, and every shared schema is used.
    #[test]
    fn every_reference_resolves_and_every_schema_is_used() {
        let doc = super::build();
        let mut all = Vec::new();
        refs(&doc, &mut all);
        for r in &all {
            let pointer = r.strip_prefix('#').expect("a local reference");
            assert!(doc.pointer(pointer).is_some(), "{r} does not resolve");
        }
        for name in doc["components"]["schemas"]
            .as_object()
            .expect("schemas")
            .keys()
        {
            assert!(
                all.contains(&format!("#/components/schemas/{name}")),
                "{name} is never used"
            );
        }
    }
}
