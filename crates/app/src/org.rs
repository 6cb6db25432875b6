//! Stores and staff.

use serde::Deserialize;

use domain::*;

use crate::error::Errors;
use crate::{Actor, AppError, AppResult, Salon};

#[derive(Debug, Clone, Default, Deserialize)]
pub struct StoreInput {
    pub code: Option<String>,
    pub name: Option<String>,
    pub city: Option<String>,
    pub country: Option<String>,
    pub time_zone: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct AssociateInput {
    pub email: Option<String>,
    pub display_name: Option<String>,
    pub role: Option<String>,
    /// A store code; an empty string takes the person off any store.
    pub store: Option<String>,
    pub password: Option<String>,
}

fn country(field: &str, s: &str) -> Result<String, FieldError> {
    let s = s.trim().to_ascii_uppercase();
    if s.len() == 2 && s.chars().all(|c| c.is_ascii_uppercase()) {
        Ok(s)
    } else {
        Err(FieldError::new(
            field,
            "must be a two-letter ISO 3166 country code such as CN or FR",
        ))
    }
}

fn required<'a>(errors: &mut Errors, field: &str, v: &'a Option<String>) -> Option<&'a str> {
    match v.as_deref().map(str::trim) {
        Some(s) if !s.is_empty() => Some(s),
        _ => {
            errors.0.push(FieldError::new(field, "is required"));
            None
        }
    }
}

impl Salon {
    pub async fn list_stores(&self, actor: &Actor) -> AppResult<Vec<Store>> {
        actor.require(Action::ReadStores)?;
        Ok(self.repo.list_stores(actor.brand.id).await?)
    }

    pub async fn store_by_code(&self, actor: &Actor, code: &str) -> AppResult<Store> {
        actor.require(Action::ReadStores)?;
        self.repo
            .store_by_code(actor.brand.id, code)
            .await?
            .ok_or(AppError::NotFound("store"))
    }

    pub async fn create_store(&self, actor: &Actor, input: &StoreInput) -> AppResult<Store> {
        actor.require(Action::ManageStores)?;
        let mut e = Errors::default();
        let code =
            required(&mut e, "code", &input.code).and_then(|c| e.take(StoreCode::parse("code", c)));
        let name = required(&mut e, "name", &input.name).and_then(|n| e.take(text("name", n, 100)));
        let city = required(&mut e, "city", &input.city).and_then(|n| e.take(text("city", n, 100)));
        let ctry =
            required(&mut e, "country", &input.country).and_then(|n| e.take(country("country", n)));
        let tz = match input.time_zone.as_deref() {
            Some(t) if !t.trim().is_empty() => e.take(TimeZoneName::parse("time_zone", t)),
            _ => Some(actor.brand.time_zone.clone()),
        };
        e.finish()?;
        let (Some(code), Some(name), Some(city), Some(country), Some(time_zone)) =
            (code, name, city, ctry, tz)
        else {
            return Err(AppError::Internal(
                "validated store input incomplete".into(),
            ));
        };
        Ok(self
            .repo
            .create_store(
                actor.brand.id,
                &NewStore {
                    code,
                    name,
                    city,
                    country,
                    time_zone,
                },
            )
            .await?)
    }

    pub async fn update_store(
        &self,
        actor: &Actor,
        code: &str,
        input: &StoreInput,
    ) -> AppResult<Store> {
        actor.require(Action::ManageStores)?;
        let store = self
            .repo
            .store_by_code(actor.brand.id, code)
            .await?
            .ok_or(AppError::NotFound("store"))?;
        let mut e = Errors::default();
        fn opt(v: &Option<String>) -> Option<&str> {
            v.as_deref().map(str::trim).filter(|s| !s.is_empty())
        }
        let patch = StorePatch {
            name: opt(&input.name).and_then(|n| e.take(text("name", n, 100))),
            city: opt(&input.city).and_then(|n| e.take(text("city", n, 100))),
            country: opt(&input.country).and_then(|n| e.take(country("country", n))),
            time_zone: opt(&input.time_zone)
                .and_then(|n| e.take(TimeZoneName::parse("time_zone", n))),
        };
        e.finish()?;
        Ok(self
            .repo
            .update_store(actor.brand.id, store.id, &patch)
            .await?)
    }

    /// Staff with their client counts. Associates and managers see their own store's.
    pub async fn list_associates(
        &self,
        actor: &Actor,
        store: Option<&str>,
    ) -> AppResult<Vec<(User, i64)>> {
        actor.require(Action::ReadAssociates)?;
        let filter = match actor.role {
            Role::Associate | Role::StoreManager => {
                Some(actor.store.ok_or(AppError::NotFound("store"))?)
            }
            _ => match store.filter(|s| !s.is_empty()) {
                Some(code) => Some(self.store_by_code(actor, code).await?.id),
                None => None,
            },
        };
        Ok(self.repo.list_users(actor.brand.id, filter).await?)
    }

    /// A staff member the actor may see; others are "not found".
    pub async fn associate(&self, actor: &Actor, id: UserId) -> AppResult<User> {
        actor.require(Action::ReadAssociates)?;
        let user = self
            .repo
            .user(actor.brand.id, id)
            .await?
            .ok_or(AppError::NotFound("associate"))?;
        let visible = match actor.role {
            Role::Associate | Role::StoreManager => {
                user.store_id.is_some() && user.store_id == actor.store
            }
            _ => true,
        };
        if visible {
            Ok(user)
        } else {
            Err(AppError::NotFound("associate"))
        }
    }

    async fn store_field(
        &self,
        actor: &Actor,
        e: &mut Errors,
        v: &Option<String>,
    ) -> Option<Option<StoreId>> {
        let code = v.as_deref()?.trim();
        if code.is_empty() {
            return Some(None);
        }
        match self.repo.store_by_code(actor.brand.id, code).await {
            Ok(Some(s)) => Some(Some(s.id)),
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
        }
    }

    /// Creates a staff member, with a role the actor may grant (see [`Role::managed_by`]).
    pub async fn create_associate(&self, actor: &Actor, input: &AssociateInput) -> AppResult<User> {
        actor.require(Action::ManageAssociates)?;
        self.create_staff(actor, input, false).await
    }

    /// The operator at the command line (`salon user create`): any role, compliance included.
    pub async fn create_staff_as_operator(
        &self,
        actor: &Actor,
        input: &AssociateInput,
    ) -> AppResult<User> {
        self.create_staff(actor, input, true).await
    }

    async fn create_staff(
        &self,
        actor: &Actor,
        input: &AssociateInput,
        operator: bool,
    ) -> AppResult<User> {
        let mut e = Errors::default();
        let email =
            required(&mut e, "email", &input.email).and_then(|v| e.take(Email::parse("email", v)));
        let name = required(&mut e, "display_name", &input.display_name)
            .and_then(|v| e.take(text("display_name", v, 100)));
        let role = match input
            .role
            .as_deref()
            .map(str::trim)
            .filter(|r| !r.is_empty())
        {
            Some(r) => e.take(r.parse::<Role>()),
            None => Some(Role::Associate),
        };
        let store = self
            .store_field(actor, &mut e, &input.store)
            .await
            .flatten();
        if matches!(role, Some(Role::Associate | Role::StoreManager))
            && store.is_none()
            && e.0.is_empty()
        {
            e.0.push(FieldError::new(
                "store",
                "associates and store managers belong to a store",
            ));
        }
        if let Some(r) = role
            && !operator
        {
            may_manage(actor, r)?;
        }
        let password_hash = match input.password.as_deref().filter(|p| !p.is_empty()) {
            Some(p) => match crate::auth::hash_password(p) {
                Ok(h) => Some(h),
                Err(AppError::Invalid(mut f)) => {
                    e.0.append(&mut f);
                    None
                }
                Err(other) => return Err(other),
            },
            None => None,
        };
        e.finish()?;
        let (Some(email), Some(display_name), Some(role)) = (email, name, role) else {
            return Err(AppError::Internal(
                "validated associate input incomplete".into(),
            ));
        };
        let user = self
            .repo
            .create_user(
                actor.brand.id,
                &NewUser {
                    email,
                    display_name,
                    role,
                    store_id: store,
                    password_hash,
                },
            )
            .await?;
        self.audit(
            actor,
            "role_change",
            &format!("user:{}", user.id.0),
            serde_json::json!({"created": true, "role": user.role, "store_id": user.store_id}),
        )
        .await?;
        Ok(user)
    }

    pub async fn update_associate(
        &self,
        actor: &Actor,
        id: UserId,
        input: &AssociateInput,
    ) -> AppResult<User> {
        actor.require(Action::ManageAssociates)?;
        self.associate(actor, id).await?;
        let mut e = Errors::default();
        let patch = UserPatch {
            display_name: input
                .display_name
                .as_deref()
                .filter(|s| !s.trim().is_empty())
                .and_then(|v| e.take(text("display_name", v, 100))),
            role: input
                .role
                .as_deref()
                .filter(|s| !s.trim().is_empty())
                .and_then(|r| e.take(r.trim().parse::<Role>())),
            store_id: self.store_field(actor, &mut e, &input.store).await,
        };
        let before = self.associate(actor, id).await?;
        // Whom they are, and whom they would become: both must be the actor's to manage.
        may_manage(actor, before.role)?;
        if let Some(r) = patch.role {
            may_manage(actor, r)?;
        }
        e.finish()?;
        let user = self.repo.update_user(actor.brand.id, id, &patch).await?;
        self.changed(actor.brand.id, crate::processes::Topic::Staff)
            .await?;
        if before.role != user.role || before.store_id != user.store_id {
            self.audit(
                actor,
                "role_change",
                &format!("user:{}", id.0),
                serde_json::json!({
                    "before": {"role": before.role, "store_id": before.store_id},
                    "after": {"role": user.role, "store_id": user.store_id},
                }),
            )
            .await?;
        }
        Ok(user)
    }

    /// Marks a staff member as departed: their sessions and tokens end, their clients stay
    /// assigned until reassigned (see [`Salon::clients_to_transfer`]).
    pub async fn depart_associate(&self, actor: &Actor, id: UserId) -> AppResult<User> {
        actor.require(Action::DepartAssociate)?;
        self.depart_staff(actor, id, false).await
    }

    /// The operator at the command line (`salon user depart`): anyone, compliance included.
    pub async fn depart_staff_as_operator(&self, actor: &Actor, id: UserId) -> AppResult<User> {
        self.depart_staff(actor, id, true).await
    }

    async fn depart_staff(&self, actor: &Actor, id: UserId, operator: bool) -> AppResult<User> {
        let user = self.associate(actor, id).await?;
        // A store manager departs their store's associates (the scope is checked above).
        let own_store_associate = actor.role == Role::StoreManager && user.role == Role::Associate;
        if !(operator || own_store_associate) {
            may_manage(actor, user.role)?;
        }
        if actor.user_id() == Some(user.id) {
            return Err(AppError::invalid(
                "associate",
                "you cannot mark yourself as departed",
            ));
        }
        let user = self
            .repo
            .mark_departed(actor.brand.id, id, now_millis())
            .await?;
        self.changed(actor.brand.id, crate::processes::Topic::Staff)
            .await?;
        self.audit(
            actor,
            "role_change",
            &format!("user:{}", id.0),
            serde_json::json!({"departed": true, "role": user.role}),
        )
        .await?;
        Ok(user)
    }
}

/// Refuses what the actor's role may not grant, revoke or manage (see [`Role::managed_by`]).
fn may_manage(actor: &Actor, role: Role) -> AppResult<()> {
    if role.managed_by(actor.role) {
        Ok(())
    } else if role == Role::Compliance {
        Err(AppError::Forbidden(
            "compliance officers are appointed and removed by the operator at the command line (salon user create --role compliance), never by HQ or an admin".into(),
        ))
    } else {
        Err(AppError::Forbidden(format!(
            "the {} role may not grant, revoke or manage the {role} role",
            actor.role
        )))
    }
}
