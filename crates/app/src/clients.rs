//! The client book: listing, the profile, changes, notes, tags and assignments, each checked
//! against the actor's role and scope. A client outside the actor's scope is "not found",
//! exactly like a client of another brand.

use serde::{Deserialize, Deserializer, Serialize};

use domain::*;

use crate::error::Errors;
use crate::{Actor, AppError, AppResult, Salon};

/// Distinguishes a missing field (`None`) from an explicit `null` (`Some(None)`).
fn double_option<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// A client as a person or an API call describes it. Every field is optional; what is given
/// is validated, and every problem is reported at once.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientInput {
    #[serde(default, deserialize_with = "double_option")]
    pub first_name: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    pub last_name: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    pub chinese_name: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    pub phone: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    pub email: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    pub birthday: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    pub language: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    pub city: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    pub tier: Option<Option<String>>,
    /// Store code.
    #[serde(default, deserialize_with = "double_option")]
    pub store: Option<Option<String>>,
    /// Associate e-mail, at creation only (use assign afterwards).
    #[serde(default)]
    pub associate: Option<String>,
    #[serde(default)]
    pub tags: Option<Vec<String>>,
    #[serde(default)]
    pub preferences: Option<Preferences>,
    #[serde(default)]
    pub identities: Option<Vec<IdentityInput>>,
    #[serde(default)]
    pub consents: Option<Vec<ConsentInput>>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct IdentityInput {
    pub kind: String,
    pub value: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ConsentInput {
    pub channel: String,
    pub purpose: String,
    pub granted: bool,
    #[serde(default)]
    pub source: Option<String>,
}

/// Filters of a client book, as given in a URL.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ListParams {
    pub q: Option<String>,
    pub tag: Option<String>,
    pub tier: Option<String>,
    /// Store code.
    pub store: Option<String>,
    /// Associate id or e-mail.
    pub associate: Option<String>,
    pub cursor: Option<String>,
    pub limit: Option<u32>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct AssignInput {
    /// The new associate: id or e-mail.
    pub associate: String,
    #[serde(default)]
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct TagsInput {
    #[serde(default)]
    pub add: Vec<String>,
    #[serde(default)]
    pub remove: Vec<String>,
}

/// Everything the profile page shows.
#[derive(Debug, Clone, Serialize)]
pub struct ClientProfile {
    #[serde(flatten)]
    pub client: Client,
    pub store: Option<Store>,
    pub associate: Option<User>,
    pub notes: Vec<Note>,
    pub assignments: Vec<Assignment>,
    pub timeline: Vec<TimelineEntry>,
}

fn nonempty(v: &Option<Option<String>>) -> Option<Option<&str>> {
    v.as_ref()
        .map(|o| o.as_deref().map(str::trim).filter(|s| !s.is_empty()))
}

fn visible(actor: &Actor, client: &Client) -> bool {
    match actor.scope() {
        Scope::Brand => true,
        Scope::Store(s) => client.store_id == Some(s),
        Scope::Associate(u) => client.associate_id == Some(u),
        Scope::Nothing => false,
    }
}

impl Salon {
    async fn parse_patch(&self, actor: &Actor, input: &ClientInput, e: &mut Errors) -> ClientPatch {
        let mut p = ClientPatch::default();
        let name = |e: &mut Errors, f: &str, v: &Option<Option<String>>| {
            nonempty(v).map(|o| o.and_then(|s| e.take(text(f, s, 100))))
        };
        p.first_name = name(e, "first_name", &input.first_name);
        p.last_name = name(e, "last_name", &input.last_name);
        p.chinese_name = name(e, "chinese_name", &input.chinese_name);
        p.city = name(e, "city", &input.city);
        p.phone = nonempty(&input.phone).map(|o| o.and_then(|s| e.take(Phone::parse("phone", s))));
        p.email = nonempty(&input.email).map(|o| o.and_then(|s| e.take(Email::parse("email", s))));
        p.birthday = nonempty(&input.birthday).map(|o| {
            o.and_then(|s| e.take(date("birthday", s))).and_then(|d| {
                let today = jiff::Zoned::now().date();
                if d > today || d.year() < 1900 {
                    e.0.push(FieldError::new(
                        "birthday",
                        "must be a date between 1900 and today",
                    ));
                    None
                } else {
                    Some(d)
                }
            })
        });
        p.language = nonempty(&input.language).map(|o| {
            o.and_then(|s| e.take(Locale::parse("language", s)))
                .map(|l| l.to_string())
        });
        p.tier = nonempty(&input.tier)
            .map(|o| o.and_then(|s| e.take(tier("tier", s, &actor.brand.tiers))));
        if let Some(store) = nonempty(&input.store) {
            p.store_id = Some(match store {
                None => None,
                Some(code) => match self.repo.store_by_code(actor.brand.id, code).await {
                    Ok(Some(s)) => Some(s.id),
                    Ok(None) => {
                        e.0.push(FieldError::new(
                            "store",
                            format!("no store has the code {code:?}"),
                        ));
                        None
                    }
                    Err(err) => {
                        e.0.push(FieldError::new("store", err.to_string()));
                        None
                    }
                },
            });
        }
        p.preferences = input.preferences.clone();
        for i in input.identities.iter().flatten() {
            if let Some(kind) = e.take(i.kind.trim().parse::<IdentityKind>()) {
                p.identities.extend(e.take(Identity::parse(kind, &i.value)));
            }
        }
        let now = now_millis();
        for c in input.consents.iter().flatten() {
            let source = c.source.as_deref().unwrap_or("associate");
            p.consents.extend(e.take(Consent::parse(
                &c.channel, &c.purpose, c.granted, source, now,
            )));
        }
        p
    }

    fn parse_tags(e: &mut Errors, tags: &[String]) -> Vec<Tag> {
        tags.iter()
            .filter(|t| !t.trim().is_empty())
            .filter_map(|t| e.take(Tag::parse("tags", t)))
            .collect()
    }

    async fn associate_by_ref(&self, actor: &Actor, field: &str, r: &str) -> AppResult<User> {
        let r = r.trim();
        let user = match r.parse::<i64>() {
            Ok(id) => self.repo.user(actor.brand.id, UserId(id)).await?,
            Err(_) => self.repo.user_by_email(actor.brand.id, r).await?,
        };
        let user = user
            .ok_or_else(|| AppError::invalid(field, format!("no associate is known as {r:?}")))?;
        if user.status != UserStatus::Active {
            return Err(AppError::invalid(
                field,
                format!(
                    "{} has departed; choose an active associate",
                    user.display_name
                ),
            ));
        }
        if !matches!(user.role, Role::Associate | Role::StoreManager) {
            return Err(AppError::invalid(
                field,
                format!("{} is not an associate or store manager", user.display_name),
            ));
        }
        if actor.role == Role::StoreManager && user.store_id != actor.store {
            return Err(AppError::invalid(
                field,
                "a store manager assigns clients within their own store",
            ));
        }
        Ok(user)
    }

    /// A client the actor may see; any other is "not found".
    pub async fn client(&self, actor: &Actor, id: ClientId) -> AppResult<Client> {
        actor.require(Action::ReadClients)?;
        let c = self
            .repo
            .client(actor.brand.id, id)
            .await?
            .ok_or(AppError::NotFound("client"))?;
        if visible(actor, &c) {
            Ok(c)
        } else {
            Err(AppError::NotFound("client"))
        }
    }

    pub async fn client_profile(&self, actor: &Actor, id: ClientId) -> AppResult<ClientProfile> {
        let client = self.client(actor, id).await?;
        let b = actor.brand.id;
        let store = match client.store_id {
            Some(s) => self.repo.store(b, s).await?,
            None => None,
        };
        let associate = match client.associate_id {
            Some(u) => self.repo.user(b, u).await?,
            None => None,
        };
        Ok(ClientProfile {
            notes: self.repo.notes(b, id).await?,
            assignments: self.repo.assignments(b, id).await?,
            timeline: self.repo.timeline(b, id, 100).await?,
            client,
            store,
            associate,
        })
    }

    pub async fn list_clients(
        &self,
        actor: &Actor,
        p: &ListParams,
    ) -> AppResult<Page<ClientSummary>> {
        actor.require(Action::ReadClients)?;
        let mut e = Errors::default();
        let mut q = ClientQuery::new(actor.scope());
        let some = |v: &Option<String>| {
            v.as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
        };
        q.q = some(&p.q);
        if let Some(t) = some(&p.tag) {
            q.tag = e.take(Tag::parse("tag", &t));
        }
        if let Some(t) = some(&p.tier) {
            q.tier = e.take(tier("tier", &t, &actor.brand.tiers));
        }
        if let Some(code) = some(&p.store) {
            match self.repo.store_by_code(actor.brand.id, &code).await? {
                Some(s) => q.store = Some(s.id),
                None => e.0.push(FieldError::new(
                    "store",
                    format!("no store has the code {code:?}"),
                )),
            }
        }
        if let Some(a) = some(&p.associate) {
            let user = match a.parse::<i64>() {
                Ok(id) => self.repo.user(actor.brand.id, UserId(id)).await?,
                Err(_) => self.repo.user_by_email(actor.brand.id, &a).await?,
            };
            match user {
                Some(u) => q.associate = Some(u.id),
                None => e.0.push(FieldError::new(
                    "associate",
                    format!("no associate is known as {a:?}"),
                )),
            }
        }
        if let Some(c) = some(&p.cursor) {
            q.after =
                e.take(c.parse::<i64>().map(ClientId).map_err(|_| {
                    FieldError::new("cursor", "is not a cursor from a previous page")
                }));
        }
        match p.limit {
            Some(l) if !(1..=200).contains(&l) => {
                e.0.push(FieldError::new("limit", "must be between 1 and 200"))
            }
            Some(l) => q.limit = l,
            None => {}
        }
        e.finish()?;
        Ok(self.repo.list_clients(actor.brand.id, &q).await?)
    }

    pub async fn count_clients(&self, actor: &Actor) -> AppResult<i64> {
        actor.require(Action::ReadClients)?;
        Ok(self
            .repo
            .count_clients(actor.brand.id, actor.scope())
            .await?)
    }

    pub async fn create_client(&self, actor: &Actor, input: &ClientInput) -> AppResult<Client> {
        actor.require(Action::CreateClient)?;
        let mut e = Errors::default();
        let p = self.parse_patch(actor, input, &mut e).await;
        let tags = Self::parse_tags(&mut e, input.tags.as_deref().unwrap_or_default());
        let named = [&p.first_name, &p.last_name, &p.chinese_name]
            .iter()
            .any(|n| matches!(n, Some(Some(_))));
        if !named && e.0.is_empty() {
            e.0.push(FieldError::new(
                "first_name",
                "a client needs a first, last or Chinese name",
            ));
        }
        // Who serves the new client: an associate serves their own; a manager's stay in the store.
        let associate = match (
            actor.role,
            input.associate.as_deref().filter(|a| !a.trim().is_empty()),
        ) {
            (Role::Associate, _) => actor.user.clone(),
            (_, Some(a)) => match self.associate_by_ref(actor, "associate", a).await {
                Ok(u) => Some(u),
                Err(AppError::Invalid(mut f)) => {
                    e.0.append(&mut f);
                    None
                }
                Err(other) => return Err(other),
            },
            (_, None) => None,
        };
        e.finish()?;
        let store_id = match actor.role {
            Role::Associate | Role::StoreManager => actor.store,
            _ => p
                .store_id
                .flatten()
                .or(associate.as_ref().and_then(|a| a.store_id)),
        };
        let mut pii = Pii::default();
        p.apply_pii(&mut pii);
        let new = NewClient {
            pii,
            language: p.language.flatten(),
            city: p.city.flatten(),
            tier: p.tier.flatten(),
            store_id,
            associate_id: associate.map(|a| a.id),
            tags,
            preferences: p.preferences.unwrap_or_default(),
            identities: p.identities,
            consents: p.consents,
            ..NewClient::default()
        };
        let id = self
            .repo
            .create_client(actor.brand.id, &new, actor.user_id())
            .await?;
        self.client(actor, id).await
    }

    pub async fn update_client(
        &self,
        actor: &Actor,
        id: ClientId,
        input: &ClientInput,
    ) -> AppResult<Client> {
        actor.require(Action::UpdateClient)?;
        self.client(actor, id).await?;
        if input.associate.is_some() {
            return Err(AppError::invalid(
                "associate",
                "use the assign action to change a client's associate",
            ));
        }
        let mut e = Errors::default();
        let mut p = self.parse_patch(actor, input, &mut e).await;
        let tags = Self::parse_tags(&mut e, input.tags.as_deref().unwrap_or_default());
        if p.store_id.is_some() && matches!(actor.role, Role::Associate | Role::StoreManager) {
            e.0.push(FieldError::new(
                "store",
                "only HQ moves a client to another store",
            ));
            p.store_id = None;
        }
        e.finish()?;
        self.repo
            .update_client(actor.brand.id, id, &p, actor.user_id())
            .await?;
        if input.tags.is_some() {
            let current = self.client(actor, id).await?.tags;
            let remove: Vec<Tag> = current.into_iter().filter(|t| !tags.contains(t)).collect();
            self.repo
                .edit_tags(actor.brand.id, id, &tags, &remove)
                .await?;
        }
        self.client(actor, id).await
    }

    pub async fn add_note(&self, actor: &Actor, id: ClientId, body: &str) -> AppResult<Note> {
        actor.require(Action::AddNote)?;
        self.client(actor, id).await?;
        let body = text("text", body, 4_000)?;
        let note = self
            .repo
            .add_note(actor.brand.id, id, actor.user_id(), &body, now_millis())
            .await?;
        self.repo
            .notes(actor.brand.id, id)
            .await?
            .into_iter()
            .find(|n| n.id == note)
            .ok_or(AppError::NotFound("note"))
    }

    pub async fn edit_tags(
        &self,
        actor: &Actor,
        id: ClientId,
        input: &TagsInput,
    ) -> AppResult<Vec<Tag>> {
        actor.require(Action::EditTags)?;
        self.client(actor, id).await?;
        let mut e = Errors::default();
        let add = Self::parse_tags(&mut e, &input.add);
        let remove = Self::parse_tags(&mut e, &input.remove);
        e.finish()?;
        self.repo
            .edit_tags(actor.brand.id, id, &add, &remove)
            .await?;
        Ok(self.client(actor, id).await?.tags)
    }

    pub async fn assign_client(
        &self,
        actor: &Actor,
        id: ClientId,
        input: &AssignInput,
    ) -> AppResult<Client> {
        actor.require(Action::AssignClient)?;
        self.client(actor, id).await?;
        let to = self
            .associate_by_ref(actor, "associate", &input.associate)
            .await?;
        let reason = domain::optional_text("reason", input.reason.as_deref(), 200)?
            .unwrap_or_else(|| "reassigned".into());
        self.repo
            .assign(actor.brand.id, id, to.id, actor.user_id(), &reason)
            .await?;
        self.audit(
            actor,
            "transfer",
            &format!("client:{}", id.0),
            serde_json::json!({"to": to.id.0, "reason": reason}),
        )
        .await?;
        // The manager may no longer see a client moved to another store: answer from the repo.
        self.repo
            .client(actor.brand.id, id)
            .await?
            .ok_or(AppError::NotFound("client"))
    }

    /// Moves every client of one associate (typically a departed one) to others: all to one
    /// associate, or spread evenly over the active associates of the store. History stays.
    pub async fn transfer_book(
        &self,
        actor: &Actor,
        from: UserId,
        to: Option<UserId>,
        reason: &str,
    ) -> AppResult<u64> {
        actor.require(Action::AssignClient)?;
        let from_user = self.associate(actor, from).await?;
        if to == Some(from) {
            return Err(AppError::invalid(
                "to",
                "choose another associate than the one the clients leave",
            ));
        }
        let targets: Vec<User> = match to {
            Some(t) => vec![self.associate_by_ref(actor, "to", &t.0.to_string()).await?],
            None => {
                let store = from_user.store_id.ok_or_else(|| {
                    AppError::invalid(
                        "to",
                        "this associate has no store to spread the clients over",
                    )
                })?;
                self.repo
                    .list_users(actor.brand.id, Some(store))
                    .await?
                    .into_iter()
                    .map(|(u, _)| u)
                    .filter(|u| {
                        u.id != from && u.status == UserStatus::Active && u.role == Role::Associate
                    })
                    .collect()
            }
        };
        if targets.is_empty() {
            return Err(AppError::invalid(
                "to",
                "no active associate to transfer the clients to",
            ));
        }
        let mut moved = 0u64;
        let mut moves = Vec::new();
        loop {
            let mut q = ClientQuery::new(Scope::Associate(from));
            q.limit = 200;
            let page = self.repo.list_clients(actor.brand.id, &q).await?;
            if page.items.is_empty() {
                break;
            }
            for c in page.items {
                let target = &targets[(moved as usize) % targets.len()];
                self.repo
                    .assign(actor.brand.id, c.id, target.id, actor.user_id(), reason)
                    .await?;
                moves.push((c.id, target.id));
                moved += 1;
            }
        }
        self.audit(
            actor,
            "transfer",
            &format!("user:{}", from.0),
            serde_json::json!({
                "clients": moved,
                "to": targets.iter().map(|t| t.id.0).collect::<Vec<_>>(),
                "departed": from_user.status == UserStatus::Departed,
                "reason": reason,
            }),
        )
        .await?;
        // The clients' WeChat relationship follows the book (WeCom's transfer APIs).
        self.follow_on_wecom(actor.brand.id, &from_user, &moves)
            .await;
        Ok(moved)
    }
}
