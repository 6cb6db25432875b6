//! Roles and the one policy table that says which role may do what.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

use crate::{FieldError, StoreId, UserId};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// A sales associate: works their own client book.
    Associate,
    /// Runs one store: its team and its clients.
    StoreManager,
    /// Brand headquarters: every store and client.
    Hq,
    /// Compliance officer: reads every conversation, never writes to a client; owns the
    /// monitoring rules and the review queue.
    Compliance,
    /// Configuration: stores, staff, channels. No client data.
    Admin,
}

impl Role {
    pub const ALL: [Role; 5] = [
        Role::Associate,
        Role::StoreManager,
        Role::Hq,
        Role::Compliance,
        Role::Admin,
    ];

    /// Who may give this role to someone, take it away from them, or change or depart the
    /// account of someone who holds it. The operator at the command line (`salon user …`)
    /// may do all of it.
    ///
    /// | role | granted, revoked and managed by |
    /// |---|---|
    /// | associate, store manager | HQ, admin (a store manager departs their store's associates) |
    /// | HQ | HQ — an admin, who sees no client data, must not mint an account that does |
    /// | compliance | the operator only: a second person besides HQ and the admin, who can neither make an officer (and read every conversation through them) nor remove one (and stop the reading) |
    /// | admin | admin |
    pub fn managed_by(self, actor: Role) -> bool {
        match self {
            Role::Associate | Role::StoreManager => matches!(actor, Role::Hq | Role::Admin),
            Role::Hq => actor == Role::Hq,
            Role::Compliance => false,
            Role::Admin => actor == Role::Admin,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Associate => "associate",
            Role::StoreManager => "store_manager",
            Role::Hq => "hq",
            Role::Compliance => "compliance",
            Role::Admin => "admin",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = FieldError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL.into_iter().find(|r| r.as_str() == s).ok_or_else(|| {
            FieldError::new(
                "role",
                format!(
                    "unknown role {s:?}; expected one of associate, store_manager, hq, compliance, admin"
                ),
            )
        })
    }
}

/// Which clients an actor may see. Derived from the role, never chosen by the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Every client of the brand.
    Brand,
    /// The clients whose preferred store is this one.
    Store(StoreId),
    /// The clients assigned to this associate.
    Associate(UserId),
    /// No client at all (admin).
    Nothing,
}

/// Everything a person can ask Salon to do. Each API route and page names one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    ReadBrand,
    ReadClients,
    CreateClient,
    UpdateClient,
    AddNote,
    EditTags,
    AssignClient,
    ImportClients,
    ReadStores,
    ManageStores,
    ReadAssociates,
    ManageAssociates,
    DepartAssociate,
    /// See the brand's channel settings (secrets masked) and inbox health.
    ReadChannels,
    /// Change channel settings and secrets; run a staff sync.
    ManageChannels,
    /// Create channel QR codes for stores, associates and campaigns.
    ManageContactWays,
    /// Import and export the brand's event stream.
    ImportEvents,
    /// The Luxury Index report and dashboard (aggregates only).
    ReadAnalytics,
    /// Read conversation threads (message text) in the actor's scope.
    ReadConversations,
    /// Write to a client through the outbox.
    SendMessages,
    /// Conversation figures without message text: volumes, response times, rule counts.
    ReadConversationFigures,
    /// Read the monitoring rules.
    ReadRules,
    /// Create and change monitoring rules (audited).
    ManageRules,
    /// See the review queue (store managers: their store's).
    ReadFlags,
    /// Resolve or dismiss review-queue items.
    ReviewFlags,
    /// Export a thread or a search of the archive (audited).
    ExportConversations,
    /// Read and verify the audit log.
    ReadAudit,
    /// Count and read segments.
    ReadSegments,
    /// Save segments, set the contact policy, create, plan and cancel campaigns.
    ManageCampaigns,
    /// Read campaigns and their reports.
    ReadCampaigns,
    /// Send a prepared message to one's own clients.
    SendPrepared,
    /// See the asset pool (associates: what is approved and valid now).
    ReadAssets,
    /// List the customer group chats in scope, with their figures (HQ: figures only; the
    /// words need [`Action::ReadConversations`]).
    ReadGroupChats,
    /// Import orders, returns, touches and exchange rates; post orders and returns (the POS and
    /// the e-commerce site's integration).
    ImportSales,
    /// Sales statements and leaderboards in scope (associates: their own statement and their
    /// store's ranks; store managers: their store; HQ: the brand).
    ReadSales,
    /// One's own month: statement, credited orders, the store's ranks.
    ReadOwnSales,
    /// Set the brand's attribution and commission policy.
    ManageSalesPolicy,
    /// Set monthly targets (store managers: their store's associates).
    SetTargets,
    /// Contest an order's credit.
    DisputeCredit,
    /// Share a product, an asset or a page as a tracked short link, and see one's links.
    ShareLinks,
    /// Decide disputes (store managers: their store's; audited) and export statements for
    /// payroll (audited).
    DecideDisputes,
    /// Search the catalogue and see stock (associates and store managers: their store's).
    ReadCatalogue,
    /// Create and change products, import the catalogue and stock.
    ManageCatalogue,
    /// Set stock levels (store managers: their store's).
    SetStock,
}

impl Action {
    /// The policy: whether `role` may perform this action at all. Row-level scoping (which
    /// clients, which store) is applied on top by [`Scope`].
    pub fn allowed(self, role: Role) -> bool {
        use Action::*;
        use Role::*;
        match self {
            ReadBrand | ReadStores | ReadAssociates => true,
            ReadClients => matches!(role, Associate | StoreManager | Hq | Compliance),
            CreateClient | UpdateClient | AddNote | EditTags => {
                matches!(role, Associate | StoreManager | Hq)
            }
            AssignClient => matches!(role, StoreManager | Hq),
            DepartAssociate => matches!(role, StoreManager | Hq | Admin),
            ImportClients => matches!(role, Hq | Admin),
            ManageStores | ManageAssociates => matches!(role, Hq | Admin),
            ReadChannels | ManageChannels => matches!(role, Hq | Admin),
            ManageContactWays => matches!(role, StoreManager | Hq | Admin),
            ImportEvents => matches!(role, Hq | Admin),
            ReadAnalytics => matches!(role, Hq | Compliance),
            // HQ sees figures, not message text; compliance reads everything and writes nothing
            // to clients.
            ReadConversations => matches!(role, Associate | StoreManager | Compliance),
            SendMessages => matches!(role, Associate | StoreManager),
            ReadConversationFigures => matches!(role, StoreManager | Hq | Compliance),
            ReadRules => matches!(role, StoreManager | Hq | Compliance),
            ManageRules | ReviewFlags | ExportConversations => matches!(role, Compliance),
            ReadFlags => matches!(role, StoreManager | Compliance),
            ReadAudit => matches!(role, Compliance | Admin),
            ReadSegments | ReadCampaigns => matches!(role, StoreManager | Hq),
            ManageCampaigns => matches!(role, Hq),
            SendPrepared => matches!(role, Associate),
            ReadAssets => matches!(role, Associate | StoreManager | Hq),
            ReadGroupChats => matches!(role, Associate | StoreManager | Hq | Compliance),
            ImportSales => matches!(role, Hq | Admin),
            ReadSales => matches!(role, Associate | StoreManager | Hq),
            ReadOwnSales => matches!(role, Associate | StoreManager),
            ManageSalesPolicy => matches!(role, Hq),
            SetTargets | DecideDisputes => matches!(role, StoreManager | Hq),
            DisputeCredit => matches!(role, Associate),
            ShareLinks => matches!(role, Associate | StoreManager),
            ReadCatalogue => matches!(role, Associate | StoreManager | Hq),
            ManageCatalogue => matches!(role, Hq),
            SetStock => matches!(role, StoreManager | Hq),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compliance_never_writes() {
        use Action::*;
        for a in [
            CreateClient,
            UpdateClient,
            AddNote,
            EditTags,
            AssignClient,
            ImportClients,
        ] {
            assert!(!a.allowed(Role::Compliance), "{a:?}");
        }
    }

    #[test]
    fn no_role_grants_what_it_could_not_see_or_escapes_review() {
        for actor in Role::ALL {
            // Nobody in the brand makes or removes a compliance officer.
            assert!(!Role::Compliance.managed_by(actor), "{actor}");
        }
        // HQ does not touch the admin; the admin mints nobody who reads client data beyond
        // the store roles it staffs.
        assert!(!Role::Admin.managed_by(Role::Hq));
        assert!(!Role::Hq.managed_by(Role::Admin));
        for r in [
            Role::Associate,
            Role::StoreManager,
            Role::Compliance,
            Role::Hq,
            Role::Admin,
        ] {
            assert!(
                !r.managed_by(Role::Associate) && !r.managed_by(Role::StoreManager),
                "{r}"
            );
        }
        assert!(Role::Associate.managed_by(Role::Admin) && Role::StoreManager.managed_by(Role::Hq));
    }

    #[test]
    fn admin_reads_no_client() {
        assert!(!Action::ReadClients.allowed(Role::Admin));
    }

    #[test]
    fn roles_round_trip() {
        for r in Role::ALL {
            assert_eq!(r.as_str().parse::<Role>().ok(), Some(r));
        }
        assert!("boss".parse::<Role>().is_err());
    }
}
