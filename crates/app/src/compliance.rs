//! Compliance: the brand's monitoring rules, the check every message goes through, the review
//! queue, and the hash-chained audit log.

use std::sync::Arc;

use serde::Deserialize;

use domain::{
    Action, AuditEntry, BrandId, ChainBreak, ClientId, Direction, Flag, FlagCount, FlagQuery,
    FlagStatus, NewAudit, NewFlag, Role, Rule, StoreId, UserId, now_millis,
};
use rules::{Category, Matcher, RuleAction, RuleSet, Severity, Verdict};

use crate::{Actor, AppError, AppResult, Salon};

/// A rule as a person submits it (the API's JSON body, the rules page's form).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct RuleInput {
    pub name: String,
    pub category: String,
    pub severity: String,
    pub action: String,
    /// Words, one per line or comma-separated; or empty when `pattern` is given.
    #[serde(default)]
    pub words: Option<String>,
    #[serde(default)]
    pub pattern: Option<String>,
    #[serde(default = "yes")]
    pub enabled: bool,
}

fn yes() -> bool {
    true
}

impl RuleInput {
    /// The rule, validated; every wrong field is named.
    pub fn parse(&self, id: i64) -> AppResult<Rule> {
        let mut errors = Vec::new();
        let category = Category::parse(self.category.trim());
        if category.is_none() {
            errors.push(domain::FieldError::new(
                "category",
                "expected harassment, price_promise, off_platform_payment, competitor, personal_data or other",
            ));
        }
        let severity = Severity::parse(self.severity.trim());
        if severity.is_none() {
            errors.push(domain::FieldError::new(
                "severity",
                "expected low, medium or high",
            ));
        }
        let action = RuleAction::parse(self.action.trim());
        if action.is_none() {
            errors.push(domain::FieldError::new(
                "action",
                "expected block, warn or flag",
            ));
        }
        let words: Vec<String> = self
            .words
            .as_deref()
            .unwrap_or("")
            .split(['\n', ',', '，'])
            .map(str::trim)
            .filter(|w| !w.is_empty())
            .map(str::to_owned)
            .collect();
        let pattern = self
            .pattern
            .as_deref()
            .map(str::trim)
            .filter(|p| !p.is_empty());
        let matcher = match (words.is_empty(), pattern) {
            (false, None) => Some(Matcher::Words(words)),
            (true, Some(p)) => Some(Matcher::Pattern(p.to_owned())),
            (false, Some(_)) => {
                errors.push(domain::FieldError::new(
                    "pattern",
                    "give either words or a pattern, not both",
                ));
                None
            }
            (true, None) => {
                errors.push(domain::FieldError::new(
                    "words",
                    "give the words to watch for, or a pattern",
                ));
                None
            }
        };
        match (category, severity, action, matcher) {
            (Some(category), Some(severity), Some(action), Some(matcher)) if errors.is_empty() => {
                let rule = Rule {
                    id,
                    name: self.name.trim().to_owned(),
                    category,
                    severity,
                    action,
                    matcher,
                    enabled: self.enabled,
                };
                rules::validate(&rule).map_err(|e| {
                    let field = match &e {
                        rules::RuleError::Invalid { what, .. } if what.contains("name") => "name",
                        rules::RuleError::Invalid { what, .. } if what.contains("pattern") => {
                            "pattern"
                        }
                        _ => "words",
                    };
                    AppError::invalid(field, e.to_string())
                })?;
                Ok(rule)
            }
            _ => Err(AppError::Invalid(errors)),
        }
    }
}

/// How an actor is named in the audit log.
pub fn actor_label(actor: &Actor) -> String {
    match &actor.user {
        Some(u) => format!("{}:{}", actor.role, u.display_name),
        None => format!("{}:token", actor.role),
    }
}

impl Salon {
    /// The brand's enabled rules, compiled once and kept until a rule changes.
    pub async fn rule_set(&self, brand: BrandId) -> AppResult<Arc<RuleSet>> {
        if let Some(set) = self
            .rule_sets
            .lock()
            .ok()
            .and_then(|m| m.get(&brand).cloned())
        {
            return Ok(set);
        }
        let rules = self.repo.rules(brand).await?;
        let set = Arc::new(
            RuleSet::compile(&rules)
                .map_err(|e| AppError::Internal(format!("stored rules: {e}")))?,
        );
        if let Ok(mut m) = self.rule_sets.lock() {
            m.insert(brand, set.clone());
        }
        Ok(set)
    }

    pub(crate) fn forget_rules(&self, brand: BrandId) {
        if let Ok(mut m) = self.rule_sets.lock() {
            m.remove(&brand);
        }
    }

    /// Gives a brand the default rules when it has none (new brands, the demo).
    pub async fn seed_default_rules(&self, brand: BrandId) -> AppResult<usize> {
        if !self.repo.rules(brand).await?.is_empty() {
            return Ok(0);
        }
        let defaults = rules::default_rules();
        for r in &defaults {
            self.repo.put_rule(brand, r, now_millis()).await?;
        }
        self.changed(brand, crate::processes::Topic::Rules).await?;
        Ok(defaults.len())
    }

    pub async fn list_rules(&self, actor: &Actor) -> AppResult<Vec<Rule>> {
        actor.require(Action::ReadRules)?;
        Ok(self.repo.rules(actor.brand.id).await?)
    }

    /// Creates (`id` None) or changes a rule; the change is in the audit log.
    pub async fn put_rule(
        &self,
        actor: &Actor,
        id: Option<i64>,
        input: &RuleInput,
    ) -> AppResult<Rule> {
        actor.require(Action::ManageRules)?;
        let rule = input.parse(id.unwrap_or(0))?;
        let before = match id {
            Some(id) => Some(
                self.repo
                    .rules(actor.brand.id)
                    .await?
                    .into_iter()
                    .find(|r| r.id == id)
                    .ok_or(AppError::NotFound("rule"))?,
            ),
            None => None,
        };
        let saved = self
            .repo
            .put_rule(actor.brand.id, &rule, now_millis())
            .await?;
        self.changed(actor.brand.id, crate::processes::Topic::Rules)
            .await?;
        self.audit(
            actor,
            "rule_change",
            &format!("rule:{}", saved.id),
            serde_json::json!({"before": before, "after": saved}),
        )
        .await?;
        Ok(saved)
    }

    /// Checks a text against the brand's rules.
    pub async fn check_text(&self, brand: BrandId, text: &str) -> AppResult<Verdict> {
        Ok(self.rule_set(brand).await?.check(text))
    }

    /// Checks a stored message and puts what it matched in the review queue. Client messages
    /// cannot be refused, so every hit is flagged; an associate's message that got through
    /// (warn, flag) is flagged too.
    pub(crate) async fn flag_message(
        &self,
        brand: BrandId,
        message_id: i64,
        client: ClientId,
        associate: Option<UserId>,
        direction: Direction,
        text: &str,
    ) -> AppResult<Verdict> {
        let verdict = self.check_text(brand, text).await?;
        if verdict.is_clean() {
            return Ok(verdict);
        }
        let store = self
            .repo
            .client_assignment(brand, client)
            .await?
            .and_then(|(_, s)| s);
        let at = now_millis();
        let flags: Vec<NewFlag> = verdict
            .hits
            .iter()
            .map(|hit| NewFlag {
                message_id: Some(message_id),
                client_id: Some(client),
                group_message_id: None,
                group_id: None,
                associate_id: associate,
                store_id: store,
                direction,
                hit: hit.clone(),
                at,
            })
            .collect();
        self.repo.add_flags(brand, &flags).await?;
        Ok(verdict)
    }

    /// The review queue: compliance sees the brand's, a store manager their store's.
    pub async fn review_queue(
        &self,
        actor: &Actor,
        status: Option<FlagStatus>,
        limit: u32,
    ) -> AppResult<Vec<Flag>> {
        actor.require(Action::ReadFlags)?;
        let mut q = FlagQuery {
            status,
            limit: limit.clamp(1, 1000),
            ..FlagQuery::default()
        };
        if actor.role == Role::StoreManager {
            q.store = Some(actor.store.ok_or(AppError::NotFound("store"))?);
        }
        Ok(self.repo.flags(actor.brand.id, &q).await?)
    }

    /// Open review items in a manager's store: the notice the manager sees.
    pub async fn open_flags_in_store(&self, brand: BrandId, store: StoreId) -> AppResult<i64> {
        let q = FlagQuery {
            status: Some(FlagStatus::Open),
            store: Some(store),
            limit: 1000,
            ..FlagQuery::default()
        };
        Ok(self.repo.flags(brand, &q).await?.len() as i64)
    }

    /// Resolves or dismisses an open item, with a note.
    pub async fn review_flag(
        &self,
        actor: &Actor,
        id: i64,
        outcome: &str,
        note: &str,
    ) -> AppResult<Flag> {
        actor.require(Action::ReviewFlags)?;
        let status = match outcome {
            "resolve" | "resolved" => FlagStatus::Resolved,
            "dismiss" | "dismissed" => FlagStatus::Dismissed,
            _ => return Err(AppError::invalid("outcome", "expected resolve or dismiss")),
        };
        let note = domain::optional_text("note", Some(note), 2000)?.unwrap_or_default();
        Ok(self
            .repo
            .review_flag(
                actor.brand.id,
                id,
                status,
                &note,
                actor.user_id(),
                now_millis(),
            )
            .await?)
    }

    pub async fn flag_counts(&self, actor: &Actor) -> AppResult<Vec<FlagCount>> {
        actor.require(Action::ReadConversationFigures)?;
        let counts = self.repo.flag_counts(actor.brand.id).await?;
        if actor.role == Role::StoreManager {
            let team: std::collections::HashSet<Option<UserId>> = self
                .repo
                .list_users(actor.brand.id, actor.store)
                .await?
                .into_iter()
                .map(|(u, _)| Some(u.id))
                .collect();
            return Ok(counts
                .into_iter()
                .filter(|c| team.contains(&c.associate_id))
                .collect());
        }
        Ok(counts)
    }

    /// Appends to the brand's audit log on the actor's behalf.
    pub async fn audit(
        &self,
        actor: &Actor,
        action: &str,
        subject: &str,
        detail: serde_json::Value,
    ) -> AppResult<AuditEntry> {
        Ok(self
            .repo
            .audit(
                actor.brand.id,
                &NewAudit {
                    at: now_millis(),
                    actor_id: actor.user_id(),
                    actor: actor_label(actor),
                    action: action.to_owned(),
                    subject: subject.to_owned(),
                    detail,
                },
            )
            .await?)
    }

    /// The audit log, newest last, from `after` on.
    pub async fn audit_log(
        &self,
        actor: &Actor,
        after: i64,
        limit: u32,
    ) -> AppResult<Vec<AuditEntry>> {
        actor.require(Action::ReadAudit)?;
        Ok(self
            .repo
            .audit_log(actor.brand.id, after, limit.clamp(1, 5000))
            .await?)
    }

    /// Checks the whole chain of a brand: the number of entries, or the first break.
    pub async fn verify_audit(&self, brand: BrandId) -> AppResult<Result<usize, ChainBreak>> {
        let mut all = Vec::new();
        let mut after = 0;
        loop {
            let page = self.repo.audit_log(brand, after, 5000).await?;
            let Some(last) = page.last() else { break };
            after = last.seq;
            all.extend(page);
        }
        Ok(domain::verify_chain(brand, &all))
    }
}
