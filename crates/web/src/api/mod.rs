//! The JSON API under `/api/v1`. Every route is declared once in [`routes`], with the action
//! it performs; the router, the role check and the OpenAPI document are all built from that
//! table, so a route cannot exist without a policy.

mod catalogue;
mod handlers;
mod openapi;
mod sales;

pub use sales::webhook as sales_webhook;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{Method, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, patch, post, put};

use app::{Actor, AppError};
use domain::Action;

use crate::{ApiError, AppState};

/// One API route: where it is, what it does, and the handler.
pub struct ApiRoute {
    pub method: Method,
    /// The path under `/api/v1`, with `{param}` placeholders.
    pub path: &'static str,
    pub operation: &'static str,
    pub summary: &'static str,
    pub action: Action,
    pub handler: MethodRouter<AppState>,
}

macro_rules! route {
    ($m:ident, $method:ident, $path:literal, $op:literal, $action:ident, $handler:path, $summary:literal) => {
        ApiRoute {
            method: Method::$method,
            path: $path,
            operation: $op,
            summary: $summary,
            action: Action::$action,
            handler: $m($handler),
        }
    };
}

/// Every route of the API.
pub fn routes() -> Vec<ApiRoute> {
    use handlers::*;
    vec![
        route!(
            get,
            GET,
            "/brand",
            "getBrand",
            ReadBrand,
            get_brand,
            "The brand the token belongs to"
        ),
        route!(
            get,
            GET,
            "/me",
            "getMe",
            ReadBrand,
            get_me,
            "Who the token is: role, user, store"
        ),
        route!(
            get,
            GET,
            "/clients",
            "listClients",
            ReadClients,
            list_clients,
            "The client book in the caller's scope, with filters and cursor pagination"
        ),
        route!(
            post,
            POST,
            "/clients",
            "createClient",
            CreateClient,
            create_client,
            "Create a client"
        ),
        route!(
            post,
            POST,
            "/clients/import",
            "importClients",
            ImportClients,
            import_clients,
            "Import clients from CSV (text/csv body)"
        ),
        route!(
            get,
            GET,
            "/clients/{id}",
            "getClient",
            ReadClients,
            get_client,
            "The client profile: details, preferences, notes, tags, identities, consents, assignments, timeline"
        ),
        route!(
            patch,
            PATCH,
            "/clients/{id}",
            "updateClient",
            UpdateClient,
            update_client,
            "Change a client; null clears a field"
        ),
        route!(
            post,
            POST,
            "/clients/{id}/notes",
            "addNote",
            AddNote,
            add_note,
            "Add a note to a client"
        ),
        route!(
            post,
            POST,
            "/clients/{id}/tags",
            "editTags",
            EditTags,
            edit_tags,
            "Add and remove tags"
        ),
        route!(
            post,
            POST,
            "/clients/{id}/assign",
            "assignClient",
            AssignClient,
            assign_client,
            "Assign the client to another associate, keeping the history"
        ),
        route!(
            get,
            GET,
            "/stores",
            "listStores",
            ReadStores,
            list_stores,
            "The brand's stores"
        ),
        route!(
            post,
            POST,
            "/stores",
            "createStore",
            ManageStores,
            create_store,
            "Create a store"
        ),
        route!(
            patch,
            PATCH,
            "/stores/{code}",
            "updateStore",
            ManageStores,
            update_store,
            "Change a store"
        ),
        route!(
            get,
            GET,
            "/associates",
            "listAssociates",
            ReadAssociates,
            list_associates,
            "Staff with their client counts (associates and managers: their store's)"
        ),
        route!(
            post,
            POST,
            "/associates",
            "createAssociate",
            ManageAssociates,
            create_associate,
            "Create a staff member"
        ),
        route!(
            patch,
            PATCH,
            "/associates/{id}",
            "updateAssociate",
            ManageAssociates,
            update_associate,
            "Change a staff member's name, role or store"
        ),
        route!(
            post,
            POST,
            "/associates/{id}/depart",
            "departAssociate",
            DepartAssociate,
            depart_associate,
            "Mark a staff member as departed; their sessions and tokens end"
        ),
        route!(
            post,
            POST,
            "/associates/{id}/transfer",
            "transferClients",
            AssignClient,
            transfer_clients,
            "Move all of an associate's clients to one colleague or spread them over the store"
        ),
        route!(
            get,
            GET,
            "/clients/{id}/messages",
            "listMessages",
            ReadConversations,
            list_messages,
            "The client's messages on every channel, newest first (`limit`, at most 500)"
        ),
        route!(
            get,
            GET,
            "/conversations",
            "listConversations",
            ReadConversations,
            list_conversations,
            "Threads in the caller's scope, latest first, with unread counts and open flags (`limit`)"
        ),
        route!(
            get,
            GET,
            "/conversations/{id}",
            "getThread",
            ReadConversations,
            get_thread,
            "A client's whole thread, oldest first, with pending outbox rows and flags; marks it read (a compliance read is audited)"
        ),
        route!(
            post,
            POST,
            "/conversations/{id}/messages",
            "sendMessage",
            SendMessages,
            send_message,
            "Write to the client: checked against the rules (422 `blocked_by_rule` names the rule), then queued; `idempotency_key` makes a retry one message"
        ),
        route!(
            get,
            GET,
            "/conversations/{id}/export",
            "exportThread",
            ExportConversations,
            export_thread,
            "The thread as JSON Lines or CSV (`format`); written to the audit log"
        ),
        route!(
            get,
            GET,
            "/archive/search",
            "searchArchive",
            ReadConversations,
            search_archive,
            "Full-text search of the archive in the caller's scope (`q` in Chinese or English; `client`, `associate`, `store`, `from`, `to`, `flagged`, `limit`); a compliance search is audited"
        ),
        route!(
            get,
            GET,
            "/archive/export",
            "exportSearch",
            ExportConversations,
            export_search,
            "A search's results as JSON Lines or CSV (`format`); written to the audit log"
        ),
        route!(
            get,
            GET,
            "/outbox/{id}",
            "getOutbound",
            SendMessages,
            get_outbound,
            "An outbox row: queued, sending, sent (with the provider's id) or failed (with the reason)"
        ),
        route!(
            get,
            GET,
            "/service-quality",
            "serviceQuality",
            ReadConversationFigures,
            service_quality,
            "First-response time and response rate per associate in business hours, and clients waiting past the limit"
        ),
        route!(
            get,
            GET,
            "/compliance/rules",
            "listRules",
            ReadRules,
            list_rules,
            "The brand's monitoring rules"
        ),
        route!(
            post,
            POST,
            "/compliance/rules",
            "createRule",
            ManageRules,
            create_rule,
            "Create a rule: name, category, severity, action (block, warn, flag), words or pattern; audited"
        ),
        route!(
            put,
            PUT,
            "/compliance/rules/{id}",
            "updateRule",
            ManageRules,
            update_rule,
            "Replace a rule (enable, disable, change); audited"
        ),
        route!(
            post,
            POST,
            "/compliance/check",
            "checkText",
            ReadRules,
            check_text,
            "Check a text against the brand's rules without sending it"
        ),
        route!(
            get,
            GET,
            "/compliance/flags",
            "listFlags",
            ReadFlags,
            list_flags,
            "The review queue (`status`: open, resolved, dismissed, all); store managers see their store's"
        ),
        route!(
            post,
            POST,
            "/compliance/flags/{id}/review",
            "reviewFlag",
            ReviewFlags,
            review_flag,
            "Resolve or dismiss an open item with a note"
        ),
        route!(
            get,
            GET,
            "/compliance/counts",
            "flagCounts",
            ReadConversationFigures,
            flag_counts,
            "Flags per associate and rule"
        ),
        route!(
            get,
            GET,
            "/audit",
            "auditLog",
            ReadAudit,
            audit_log,
            "The hash-chained audit log from `after` (a sequence number)"
        ),
        route!(
            get,
            GET,
            "/audit/verify",
            "verifyAudit",
            ReadAudit,
            verify_audit,
            "Check the audit chain: the number of entries, or the first broken one"
        ),
        route!(
            get,
            GET,
            "/channels/{channel}",
            "getChannel",
            ReadChannels,
            get_channel,
            "A channel's settings (`wecom` or `wechat-oa`), secrets masked, and its callback inbox"
        ),
        route!(
            put,
            PUT,
            "/channels/{channel}",
            "configureChannel",
            ManageChannels,
            configure_channel,
            "Set a channel's settings; empty secrets keep the stored ones"
        ),
        route!(
            post,
            POST,
            "/channels/{channel}/test",
            "testChannel",
            ManageChannels,
            test_channel,
            "Test the connection: fetch an access token (and, for WeCom, the staff list)"
        ),
        route!(
            post,
            POST,
            "/channels/wecom/staff-sync",
            "syncStaff",
            ManageChannels,
            sync_staff,
            "Sync associates from WeCom's staff list; those who left are departed"
        ),
        route!(
            get,
            GET,
            "/contact-ways",
            "listContactWays",
            ReadStores,
            list_contact_ways,
            "Channel QR codes in the caller's scope"
        ),
        route!(
            post,
            POST,
            "/contact-ways",
            "createContactWay",
            ManageContactWays,
            create_contact_way,
            "Create a channel QR code for a store, an associate or a campaign (WeCom add_contact_way)"
        ),
        route!(
            get,
            GET,
            "/analytics/report",
            "getReport",
            ReadAnalytics,
            get_report,
            "The Luxury Index report over the brand's events: `from`, `to` (YYYY-MM-DD, `to` exclusive), optional `tz`; optional `segment` (a saved segment's id): the report over its clients' followers, with a `segment` object"
        ),
        route!(
            get,
            GET,
            "/analytics/benchmark",
            "getBenchmark",
            ReadAnalytics,
            get_benchmark,
            "The brand's figures against every brand of the installation: rank and percentiles, overall and by account size (`from`, `to`)"
        ),
        route!(
            post,
            POST,
            "/analytics/forecast",
            "growthForecast",
            ReadAnalytics,
            growth_forecast,
            "The growth forecast: organic, paid, store prospects and CRM clients over a year"
        ),
        route!(
            get,
            GET,
            "/analytics/ab-test",
            "pushAbTest",
            ReadAnalytics,
            push_ab_test,
            "Compare two push timeslots (`a=12-14&b=19-22`) or push sets (`a=p1,p2`) over `from`..`to`: open and engagement rates, two-proportion test"
        ),
        route!(
            post,
            POST,
            "/events/import",
            "importEvents",
            ImportEvents,
            import_events,
            "Import events (JSON Lines of spec/events.md; `skip_bad`); the same events twice add nothing"
        ),
        route!(
            post,
            POST,
            "/segments/count",
            "countSegment",
            ReadSegments,
            count_segment,
            "How many clients an expression holds, in the caller's scope (the live count while it is edited)"
        ),
        route!(
            get,
            GET,
            "/segments",
            "listSegments",
            ReadSegments,
            list_segments,
            "Saved segments"
        ),
        route!(
            post,
            POST,
            "/segments",
            "createSegment",
            ManageCampaigns,
            create_segment,
            "Save a segment: a name and an expression (tags, tier, store, sa, spend, last_purchase, last_interaction, birthday, consent, channel; AND, OR, NOT)"
        ),
        route!(
            put,
            PUT,
            "/segments/{id}",
            "updateSegment",
            ManageCampaigns,
            update_segment,
            "Rename or rewrite a segment"
        ),
        route!(
            get,
            GET,
            "/contact-policy",
            "getContactPolicy",
            ReadCampaigns,
            get_contact_policy,
            "The brand's contact policy: weekly and monthly caps, quiet hours, associates' daily quota"
        ),
        route!(
            put,
            PUT,
            "/contact-policy",
            "putContactPolicy",
            ManageCampaigns,
            put_contact_policy,
            "Set the contact policy (one broadcast per client per day is fixed); audited"
        ),
        route!(
            get,
            GET,
            "/campaigns",
            "listCampaigns",
            ReadCampaigns,
            list_campaigns,
            "Campaigns, newest first, each with its report"
        ),
        route!(
            post,
            POST,
            "/campaigns",
            "createCampaign",
            ManageCampaigns,
            create_campaign,
            "Create a broadcast (a draft until planned) or a prepared message for associates (`kind`): name, segment_id or expression, text with {client.first_name} {client.name} {sa.name}, send_at, max_recipients"
        ),
        route!(
            get,
            GET,
            "/campaigns/{id}",
            "getCampaign",
            ReadCampaigns,
            get_campaign,
            "A campaign and its report: planned, sending, sent, delivered, failed, suppressed by reason, replies"
        ),
        route!(
            post,
            POST,
            "/campaigns/{id}/plan",
            "planCampaign",
            ManageCampaigns,
            plan_campaign,
            "Expand a broadcast into one send per client of its segment, with consent, caps, quiet hours and quotas checked in one transaction"
        ),
        route!(
            post,
            POST,
            "/campaigns/{id}/cancel",
            "cancelCampaign",
            ManageCampaigns,
            cancel_campaign,
            "Cancel: sends not yet handed to the channel are withdrawn"
        ),
        route!(
            get,
            GET,
            "/campaigns/{id}/sends",
            "campaignSends",
            ReadCampaigns,
            campaign_sends,
            "A campaign's sends (`status`, keyset `after`, `limit`), with suppression reasons"
        ),
        route!(
            get,
            GET,
            "/moments",
            "listMoments",
            ReadCampaigns,
            list_moments,
            "Posts to clients' Moments and where each is (queued, submitted, done, failed, unknown)"
        ),
        route!(
            post,
            POST,
            "/moments",
            "createMoment",
            ManageCampaigns,
            create_moment,
            "Queue a Moments post (WeCom add_moment_task) for the associates in `senders` (all linked associates when empty); the text passes the monitoring rules"
        ),
        route!(
            get,
            GET,
            "/me/moments",
            "listMyMoments",
            SendPrepared,
            list_moments,
            "An associate's Moments posts, with what came of each (published, seen by, likes, comments)"
        ),
        route!(
            post,
            POST,
            "/me/moments",
            "postMyMoment",
            SendPrepared,
            create_moment,
            "An associate's Moments post, seen by their own clients"
        ),
        route!(
            get,
            GET,
            "/assets",
            "listAssets",
            ReadAssets,
            list_assets,
            "The asset pool (associates: what is approved and valid now), with use counts"
        ),
        route!(
            post_upload,
            POST,
            "/assets",
            "uploadAsset",
            ManageCampaigns,
            upload_asset,
            "Upload an image (multipart `file`, PNG or JPEG up to 10 MiB) with its captions, talking points, guidelines, tags, collection and validity; a draft"
        ),
        route!(
            post,
            POST,
            "/assets/{id}/status",
            "setAssetStatus",
            ManageCampaigns,
            set_asset_status,
            "Approve, retire or send back to draft; audited"
        ),
        route!(
            get,
            GET,
            "/assets/{id}/image",
            "assetImage",
            ReadAssets,
            asset_image,
            "The image (`thumb=true`: its thumbnail)"
        ),
        route!(
            post,
            POST,
            "/conversations/{id}/images",
            "sendImage",
            SendMessages,
            send_image,
            "Send an approved image of the asset pool to the client (`asset_id`, `idempotency_key`), through the outbox"
        ),
        route!(
            get,
            GET,
            "/tasks",
            "listTasks",
            SendPrepared,
            list_tasks,
            "The associate's prepared messages, each with their own clients still to send to"
        ),
        route!(
            post,
            POST,
            "/tasks/{id}/send",
            "sendTask",
            SendPrepared,
            send_task,
            "Send a prepared message to each of the associate's clients in its segment (through the checks and the dispatcher)"
        ),
        route!(
            get,
            GET,
            "/groups",
            "listGroupChats",
            ReadGroupChats,
            list_groups,
            "Customer group chats in the caller's scope, latest spoken in first, with members, clients, messages and open flags (`client` narrows to a client's groups)"
        ),
        route!(
            get,
            GET,
            "/groups/search",
            "searchGroupChats",
            ReadConversations,
            search_groups,
            "Full-text search of what was said in group chats (`q`, `group`, `associate`, `store`, `from`, `to`, `flagged`, `limit`), in the caller's scope (an associate: their own groups); a compliance search is audited"
        ),
        route!(
            get,
            GET,
            "/groups/{id}",
            "getGroupChat",
            ReadConversations,
            get_group,
            "A group chat: its members and its words from the chat archive, oldest first, with its flags (a compliance read is audited)"
        ),
        route!(
            get,
            GET,
            "/groups/{id}/export",
            "exportGroupChat",
            ExportConversations,
            export_group,
            "A group chat's words as JSON Lines or CSV (`format`); written to the audit log"
        ),
        route!(
            post,
            POST,
            "/groups/{id}/messages",
            "postToGroup",
            SendMessages,
            post_to_group,
            "Post to a group one owns: checked against the rules (422 `blocked_by_rule` names the rule), queued, and handed to WeCom as a group message to the owner's group; `idempotency_key` makes a retry one post"
        ),
        route!(
            post,
            POST,
            "/groups/sync",
            "syncGroupChats",
            ManageChannels,
            sync_groups,
            "Read every customer group from WeCom (`groupchat/list`, `groupchat/get`) and store the rosters"
        ),
        route!(
            get,
            GET,
            "/events/export",
            "exportEvents",
            ImportEvents,
            export_events,
            "The brand's events as JSON Lines"
        ),
        route!(
            get,
            GET,
            "/products",
            "listProducts",
            ReadCatalogue,
            catalogue::list_products,
            "Search the catalogue in Chinese or English (names, category, material, colours) or by SKU prefix (`q`), with `category` and `active` filters (HQ; others see active products); each with the stock the caller may see (HQ: every store, others: their store)"
        ),
        route!(
            post,
            POST,
            "/products",
            "importProducts",
            ManageCatalogue,
            catalogue::import_products,
            "Create or replace products by SKU: JSON (one object, an array or JSON Lines) or CSV (`text/csv`, columns as `salon import products`); the same again changes nothing; a bad line names its line and field and nothing is stored"
        ),
        route!(
            get,
            GET,
            "/products/{sku}",
            "getProduct",
            ReadCatalogue,
            catalogue::get_product,
            "A product with its stock per store (associates and store managers: their store)"
        ),
        route!(
            put,
            PUT,
            "/products/{sku}",
            "putProduct",
            ManageCatalogue,
            catalogue::put_product,
            "Create (201) or replace (200) a product; prices in major units per currency (`{\"CNY\": \"32000.00\"}`), images as asset ids"
        ),
        route!(
            put,
            PUT,
            "/stock",
            "putStock",
            SetStock,
            catalogue::put_stock,
            "Set stock levels (`sku`, `store`, `quantity`) as JSON or CSV; every SKU and store must exist (store managers: their store only); nothing is stored when a line is bad"
        ),
        route!(
            post,
            POST,
            "/orders",
            "postOrders",
            ImportSales,
            sales::post_orders,
            "Orders from the POS or the e-commerce site (spec/attribution.md): one object, an array or JSON Lines; idempotent on `order_id` (201 when something was new, 200 when all was held); a bad order names its line and field and nothing is stored"
        ),
        route!(
            post,
            POST,
            "/returns",
            "postReturns",
            ImportSales,
            sales::post_returns,
            "Returns, idempotent on `return_id`; each names a held order and line and may not exceed what is left of it"
        ),
        route!(
            post,
            POST,
            "/touches",
            "postTouches",
            ImportSales,
            sales::post_touches,
            "Touches from other systems (message, share_click, live_view, appointment, broadcast); the same touch twice is held once"
        ),
        route!(
            post,
            POST,
            "/fx",
            "postFxRates",
            ImportSales,
            sales::post_fx,
            "Daily exchange rates: one unit of a currency in the brand's currency, an exact decimal"
        ),
        route!(
            get,
            GET,
            "/sales/report",
            "salesReport",
            ReadSales,
            sales::get_report,
            "A month's statements (`month=YYYY-MM`) as spec/attribution.md's report: HQ the brand, a store manager their store's associates, an associate their own"
        ),
        route!(
            get,
            GET,
            "/sales/me",
            "myMonth",
            ReadOwnSales,
            sales::get_my_month,
            "An associate's month: statement, credited orders with the touch that earned each, the store's ranks (net only), their disputes"
        ),
        route!(
            get,
            GET,
            "/sales/statements.csv",
            "exportStatements",
            DecideDisputes,
            sales::export_statements,
            "A month's statements as CSV for payroll (written to the audit log)"
        ),
        route!(
            get,
            GET,
            "/sales/policy",
            "getSalesPolicy",
            ReadSales,
            sales::get_policy,
            "The brand's attribution and commission policy"
        ),
        route!(
            put,
            PUT,
            "/sales/policy",
            "putSalesPolicy",
            ManageSalesPolicy,
            sales::put_policy,
            "Set the policy from the spec's policy file (absent keys take their defaults; the targets it names are set)"
        ),
        route!(
            get,
            GET,
            "/sales/tiers",
            "getTierThresholds",
            ReadSales,
            sales::get_tiers,
            "The lifetime spend (minor units of the brand's currency) each loyalty tier asks for"
        ),
        route!(
            put,
            PUT,
            "/sales/tiers",
            "putTierThresholds",
            ManageSalesPolicy,
            sales::put_tiers,
            "Replace the tier thresholds: {\"tiers\": [{\"tier\", \"min_spend\"}]}; clients move (on their timeline) when their spend next changes"
        ),
        route!(
            put,
            PUT,
            "/sales/targets",
            "putTargets",
            SetTargets,
            sales::put_targets,
            "Set monthly targets: `{\"month\", \"targets\": [{\"associate\", \"amount\"}]}` (store managers: their store's associates)"
        ),
        route!(
            get,
            GET,
            "/sales/disputes",
            "listDisputes",
            ReadSales,
            sales::list_disputes,
            "Disputes in scope, newest first (`status` narrows them)"
        ),
        route!(
            post,
            POST,
            "/sales/disputes",
            "raiseDispute",
            DisputeCredit,
            sales::raise_dispute,
            "Contest an order's credit: `{\"order_id\", \"reason\"}`"
        ),
        route!(
            post,
            POST,
            "/sales/disputes/{id}/decision",
            "decideDispute",
            DecideDisputes,
            sales::decide_dispute,
            "Decide a dispute: explicit `shares` (fractions adding up to 1) replace the order's credit everywhere, or none keeps it; `note` says why (audited)"
        ),
        route!(
            post,
            POST,
            "/share-links",
            "createShareLink",
            ShareLinks,
            sales::create_share_link,
            "Share a product, an asset or a page as a tracked short link (`/s/{code}`), for one client (`client_id`) or anyone; each open is recorded, and an open by the client it was made for is a `share_click` touch"
        ),
        route!(
            get,
            GET,
            "/share-links",
            "listShareLinks",
            ShareLinks,
            sales::list_share_links,
            "The caller's share links, newest first, with how often each was opened"
        ),
    ]
}

/// A POST whose body may be an image of up to 10 MiB, over axum's default body limit.
fn post_upload<H, T>(h: H) -> MethodRouter<AppState>
where
    H: axum::handler::Handler<T, AppState>,
    T: 'static,
{
    post(h).layer(axum::extract::DefaultBodyLimit::max(
        crate::ui::ASSET_BODY_LIMIT,
    ))
}

/// The API router: each route behind the bearer-token check and its action's role check.
pub fn router(state: AppState) -> Router<AppState> {
    let mut router = Router::new().route("/openapi.json", get(openapi::document));
    for r in routes() {
        let action = r.action;
        let guarded = r.handler.route_layer(middleware::from_fn_with_state(
            state.clone(),
            move |s: State<AppState>, req: Request, next: Next| authorize(s, action, req, next),
        ));
        router = router.route(r.path, guarded);
    }
    router.fallback(|| async { ApiError(AppError::NotFound("route")) })
}

/// Authenticates the bearer token, checks the role may perform `action`, and hands the
/// [`Actor`] to the handler.
async fn authorize(
    State(state): State<AppState>,
    action: Action,
    mut req: Request,
    next: Next,
) -> Response {
    let token = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty());
    let Some(token) = token else {
        return ApiError(AppError::Unauthenticated).into_response();
    };
    let actor = match state.salon.actor_for_token(token).await {
        Ok(a) => a,
        Err(e) => return ApiError(e).into_response(),
    };
    if let Err(e) = actor.require(action) {
        return ApiError(e).into_response();
    }
    req.extensions_mut().insert(actor);
    next.run(req).await
}

/// The actor the guard put on the request.
pub(crate) struct Caller(pub Actor);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Caller {
    type Rejection = ApiError;
    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, ApiError> {
        parts
            .extensions
            .get::<Actor>()
            .cloned()
            .map(Caller)
            .ok_or(ApiError(AppError::Unauthenticated))
    }
}
