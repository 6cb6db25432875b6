//! The brand and its organisation: stores and staff, and the credentials staff use.

use serde::Serialize;

use crate::{
    BrandId, Currency, Email, Locale, Millis, Role, Slug, StoreCode, StoreId, TimeZoneName, UserId,
};

/// A brand: the tenant. Everything in Salon belongs to exactly one.
#[derive(Debug, Clone, Serialize)]
pub struct Brand {
    pub id: BrandId,
    pub slug: Slug,
    pub name: String,
    pub time_zone: TimeZoneName,
    pub currencies: Vec<Currency>,
    pub locales: Vec<Locale>,
    /// Loyalty tiers, lowest first.
    pub tiers: Vec<String>,
    pub created_at: Millis,
}

#[derive(Debug, Clone)]
pub struct NewBrand {
    pub slug: Slug,
    pub name: String,
    pub time_zone: TimeZoneName,
    pub currencies: Vec<Currency>,
    pub locales: Vec<Locale>,
    pub tiers: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Store {
    pub id: StoreId,
    pub code: StoreCode,
    pub name: String,
    pub city: String,
    /// ISO 3166-1 alpha-2.
    pub country: String,
    pub time_zone: TimeZoneName,
}

#[derive(Debug, Clone)]
pub struct NewStore {
    pub code: StoreCode,
    pub name: String,
    pub city: String,
    pub country: String,
    pub time_zone: TimeZoneName,
}

#[derive(Debug, Clone, Default)]
pub struct StorePatch {
    pub name: Option<String>,
    pub city: Option<String>,
    pub country: Option<String>,
    pub time_zone: Option<TimeZoneName>,
}

/// Whether a staff member still works for the brand.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum UserStatus {
    Active,
    Departed,
}

impl UserStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            UserStatus::Active => "active",
            UserStatus::Departed => "departed",
        }
    }
    pub fn from_db(s: &str) -> Self {
        if s == "departed" {
            UserStatus::Departed
        } else {
            UserStatus::Active
        }
    }
}

/// A staff member. Associates serve clients; the other roles run the brand.
#[derive(Debug, Clone, Serialize)]
pub struct User {
    pub id: UserId,
    pub email: Email,
    pub display_name: String,
    pub role: Role,
    pub store_id: Option<StoreId>,
    pub status: UserStatus,
    pub created_at: Millis,
    pub departed_at: Option<Millis>,
    #[serde(skip)]
    pub password_hash: Option<String>,
}

#[derive(Debug, Clone)]
pub struct NewUser {
    pub email: Email,
    pub display_name: String,
    pub role: Role,
    pub store_id: Option<StoreId>,
    pub password_hash: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct UserPatch {
    pub display_name: Option<String>,
    pub role: Option<Role>,
    pub store_id: Option<Option<StoreId>>,
}

/// An API bearer token as stored: only its hash is kept.
#[derive(Debug, Clone)]
pub struct ApiToken {
    pub brand_id: BrandId,
    pub role: Role,
    pub user_id: Option<UserId>,
    pub store_id: Option<StoreId>,
    pub label: String,
}

/// A web session as stored: only the hash of the cookie value is kept.
#[derive(Debug, Clone)]
pub struct Session {
    pub brand_id: BrandId,
    pub user_id: UserId,
    pub csrf_token: String,
    pub expires_at: Millis,
}
