//! One conformance suite for every storage backend. Each check runs on SQLite and, when a
//! PostgreSQL server is reachable (`SALON_TEST_POSTGRES_URL`, which CI sets), on PostgreSQL,
//! each in a fresh database. Without PostgreSQL the PostgreSQL half says plainly that it was
//! skipped; under CI (`CI=true`) a missing PostgreSQL fails the suite.

use std::sync::Arc;

use domain::ports::{Repo, StoredEvent};
use domain::*;
use sqlx::Connection;
use store::{Keyring, PgRepo, SqliteRepo};

const CANARY_PHONE: &str = "+8613912345678";

struct Db {
    name: &'static str,
    repo: Arc<dyn Repo>,
    sqlite_dir: Option<std::path::PathBuf>,
    _pg: Option<PgDatabase>,
    _sqlite_files: Option<TempDir>,
}

/// A throw-away SQLite directory, removed at the end of the test.
struct TempDir(std::path::PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A throw-away PostgreSQL database, dropped at the end of the test.
struct PgDatabase {
    admin_url: String,
    name: String,
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        let admin_url = self.admin_url.clone();
        let name = self.name.clone();
        // Drop from a fresh runtime: the test's runtime may be shutting down.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            rt.block_on(async {
                let mut conn = sqlx::PgConnection::connect(&admin_url).await.ok()?;
                let sql = format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
                sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                    .execute(&mut conn)
                    .await
                    .ok()
            })
        })
        .join();
    }
}

fn keys() -> Keyring {
    Keyring::new(&[42u8; 32]).expect("32-byte key")
}

fn unique_name(prefix: &str) -> String {
    use rand::Rng;
    format!("{prefix}_{:016x}", rand::thread_rng().r#gen::<u64>())
}

async fn sqlite() -> Db {
    let dir = std::env::temp_dir().join(unique_name("salon_conformance"));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let url = format!("sqlite://{}", dir.join("salon.db").display());
    let repo = SqliteRepo::connect(&url, keys())
        .await
        .expect("sqlite connects and migrates");
    Db {
        name: "sqlite",
        repo: Arc::new(repo),
        sqlite_dir: Some(dir.clone()),
        _pg: None,
        _sqlite_files: Some(TempDir(dir)),
    }
}

async fn postgres() -> Option<Db> {
    let Ok(admin_url) = std::env::var("SALON_TEST_POSTGRES_URL") else {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!(
                "CI=true but SALON_TEST_POSTGRES_URL is not set: the PostgreSQL conformance run must not be skipped"
            );
        }
        eprintln!(
            "SKIPPED: PostgreSQL conformance (set SALON_TEST_POSTGRES_URL=postgres://user:pass@host/db to run it)"
        );
        return None;
    };
    let name = unique_name("salon_test");
    let mut conn = sqlx::PgConnection::connect(&admin_url)
        .await
        .expect("PostgreSQL at SALON_TEST_POSTGRES_URL answers");
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
        .execute(&mut conn)
        .await
        .expect("create test database");
    let guard = PgDatabase {
        admin_url: admin_url.clone(),
        name: name.clone(),
    };
    let (base, _) = admin_url.rsplit_once('/').expect("URL has a database name");
    let url = format!("{base}/{name}");
    let repo = PgRepo::connect(&url, keys())
        .await
        .expect("postgres connects and migrates");
    Some(Db {
        name: "postgres",
        repo: Arc::new(repo),
        sqlite_dir: None,
        _sqlite_files: None,
        _pg: Some(guard),
    })
}

async fn backends() -> Vec<Db> {
    let mut all = vec![sqlite().await];
    all.extend(postgres().await);
    all
}

async fn brand(repo: &dyn Repo, slug: &str) -> Brand {
    repo.create_brand(&NewBrand {
        slug: Slug::parse("slug", slug).expect("slug"),
        name: format!("Brand {slug}"),
        time_zone: TimeZoneName::shanghai(),
        currencies: vec![Currency::parse("c", "CNY").expect("currency")],
        locales: vec![Locale::parse("l", "zh-CN").expect("locale")],
        tiers: vec!["Silver".into(), "Gold".into(), "Platinum".into()],
    })
    .await
    .expect("brand")
}

async fn store(repo: &dyn Repo, b: BrandId, code: &str) -> Store {
    repo.create_store(
        b,
        &NewStore {
            code: StoreCode::parse("code", code).expect("code"),
            name: format!("Store {code}"),
            city: "Shanghai".into(),
            country: "CN".into(),
            time_zone: TimeZoneName::shanghai(),
        },
    )
    .await
    .expect("store")
}

async fn user(
    repo: &dyn Repo,
    b: BrandId,
    email: &str,
    role: Role,
    store: Option<StoreId>,
) -> User {
    repo.create_user(
        b,
        &NewUser {
            email: Email::parse("email", email).expect("email"),
            display_name: email.split('@').next().unwrap_or("x").to_owned(),
            role,
            store_id: store,
            password_hash: None,
        },
    )
    .await
    .expect("user")
}

fn client(first: &str, last: &str, crm: &str) -> NewClient {
    NewClient {
        pii: Pii {
            first_name: Some(first.into()),
            last_name: Some(last.into()),
            ..Pii::default()
        },
        tier: Some("Gold".into()),
        identities: vec![Identity::parse(IdentityKind::Crm, crm).expect("crm")],
        ..NewClient::default()
    }
}

#[tokio::test]
async fn brands_stores_and_staff() {
    for db in backends().await {
        let r = &*db.repo;
        let b = brand(r, "maison").await;
        assert_eq!(
            r.brand_by_slug("maison").await.expect("q").map(|x| x.id),
            Some(b.id),
            "{}",
            db.name
        );
        assert_eq!(b.tiers, vec!["Silver", "Gold", "Platinum"]);
        let dup = r
            .create_brand(&NewBrand {
                slug: b.slug.clone(),
                name: "x".into(),
                time_zone: TimeZoneName::shanghai(),
                currencies: vec![],
                locales: vec![],
                tiers: vec![],
            })
            .await;
        assert!(
            matches!(dup, Err(RepoError::Conflict(_))),
            "{}: duplicate slug is a conflict",
            db.name
        );

        let sh = store(r, b.id, "SH01").await;
        assert!(matches!(
            r.create_store(
                b.id,
                &NewStore {
                    code: sh.code.clone(),
                    name: "x".into(),
                    city: "x".into(),
                    country: "CN".into(),
                    time_zone: TimeZoneName::shanghai()
                }
            )
            .await,
            Err(RepoError::Conflict(_))
        ));
        let renamed = r
            .update_store(
                b.id,
                sh.id,
                &StorePatch {
                    name: Some("Plaza 66".into()),
                    ..StorePatch::default()
                },
            )
            .await
            .expect("update");
        assert_eq!(
            (renamed.name.as_str(), renamed.city.as_str()),
            ("Plaza 66", "Shanghai")
        );
        assert_eq!(
            r.store_by_code(b.id, "sh01")
                .await
                .expect("q")
                .map(|s| s.id),
            Some(sh.id)
        );

        let sa = user(r, b.id, "Li@Maison.example", Role::Associate, Some(sh.id)).await;
        assert_eq!(sa.email.as_str(), "li@maison.example");
        assert_eq!(
            r.user_by_email(b.id, "LI@maison.example")
                .await
                .expect("q")
                .map(|u| u.id),
            Some(sa.id)
        );
        let mgr = r
            .update_user(
                b.id,
                sa.id,
                &UserPatch {
                    role: Some(Role::StoreManager),
                    ..UserPatch::default()
                },
            )
            .await
            .expect("update user");
        assert_eq!((mgr.role, mgr.store_id), (Role::StoreManager, Some(sh.id)));
        let moved = r
            .update_user(
                b.id,
                sa.id,
                &UserPatch {
                    store_id: Some(None),
                    ..UserPatch::default()
                },
            )
            .await
            .expect("update user");
        assert_eq!(moved.store_id, None);
        let gone = r.mark_departed(b.id, sa.id, 5).await.expect("depart");
        assert_eq!(
            (gone.status, gone.departed_at),
            (UserStatus::Departed, Some(5))
        );
        r.ready().await.expect("ready");
    }
}

#[tokio::test]
async fn tokens_and_sessions_are_found_by_hash_only() {
    for db in backends().await {
        let r = &*db.repo;
        let b = brand(r, "maison").await;
        let u = user(r, b.id, "hq@maison.example", Role::Hq, None).await;
        r.create_api_token(
            b"hash-1",
            &ApiToken {
                brand_id: b.id,
                role: Role::Hq,
                user_id: Some(u.id),
                store_id: None,
                label: "ci".into(),
            },
        )
        .await
        .expect("token");
        let t = r.api_token(b"hash-1").await.expect("q").expect("found");
        assert_eq!(
            (t.brand_id, t.role, t.user_id),
            (b.id, Role::Hq, Some(u.id))
        );
        assert!(r.api_token(b"hash-2").await.expect("q").is_none());

        r.create_session(
            b"s-1",
            &Session {
                brand_id: b.id,
                user_id: u.id,
                csrf_token: "c".into(),
                expires_at: 1_000,
            },
        )
        .await
        .expect("session");
        assert!(
            r.session(b"s-1", 999).await.expect("q").is_some(),
            "{}",
            db.name
        );
        assert!(
            r.session(b"s-1", 1_000).await.expect("q").is_none(),
            "{}: expired",
            db.name
        );
        r.delete_session(b"s-1").await.expect("delete");
        assert!(r.session(b"s-1", 0).await.expect("q").is_none());

        // A departed user's sessions and tokens end with them.
        r.create_session(
            b"s-2",
            &Session {
                brand_id: b.id,
                user_id: u.id,
                csrf_token: "c".into(),
                expires_at: i64::MAX,
            },
        )
        .await
        .expect("session");
        r.mark_departed(b.id, u.id, 1).await.expect("depart");
        assert!(
            r.session(b"s-2", 0).await.expect("q").is_none(),
            "{}",
            db.name
        );
        assert!(
            r.api_token(b"hash-1").await.expect("q").is_none(),
            "{}",
            db.name
        );
    }
}

#[tokio::test]
async fn client_profile_round_trips() {
    for db in backends().await {
        let r = &*db.repo;
        let b = brand(r, "maison").await;
        let sh = store(r, b.id, "SH01").await;
        let sa = user(r, b.id, "sa@maison.example", Role::Associate, Some(sh.id)).await;
        let mut c = client("Hélène", "Dubois", "CRM-1");
        c.pii.chinese_name = Some("杜海伦".into());
        c.pii.phone = Some(Phone::parse("phone", CANARY_PHONE).expect("phone"));
        c.pii.email = Some(Email::parse("email", "helene@example.com").expect("email"));
        c.pii.birthday = Some(date("birthday", "1988-04-12").expect("date"));
        c.associate_id = Some(sa.id);
        c.tags = vec![
            Tag::parse("tag", "VIC").expect("tag"),
            Tag::parse("tag", "bags").expect("tag"),
        ];
        c.preferences.sizes = vec!["38".into()];
        c.identities
            .push(Identity::parse(IdentityKind::Wecom, "wmABC").expect("id"));
        c.consents =
            vec![Consent::parse("wecom", "marketing", true, "in_store_form", 10).expect("consent")];
        let id = r
            .create_client(b.id, &c, Some(sa.id))
            .await
            .expect("create");

        let got = r.client(b.id, id).await.expect("q").expect("found");
        assert_eq!(got.pii, c.pii, "{}", db.name);
        assert_eq!(got.associate_id, Some(sa.id));
        assert_eq!(
            got.store_id,
            Some(sh.id),
            "{}: assignment brings the associate's store",
            db.name
        );
        assert_eq!(
            got.tags.iter().map(|t| t.as_str()).collect::<Vec<_>>(),
            vec!["VIC", "bags"]
        );
        assert_eq!(got.preferences.sizes, vec!["38"]);
        assert_eq!(got.identities.len(), 2);
        assert_eq!(got.consents, c.consents);
        assert_eq!(r.assignments(b.id, id).await.expect("q").len(), 1);

        // Lookups through the blind indexes.
        let phone = Phone::parse("p", "+86 139 1234 5678").expect("phone");
        assert_eq!(
            r.clients_by_phone(b.id, &phone).await.expect("q"),
            vec![id],
            "{}",
            db.name
        );
        assert_eq!(
            r.client_by_identity(
                b.id,
                &Identity::parse(IdentityKind::Wecom, "wmABC").expect("id")
            )
            .await
            .expect("q"),
            Some(id)
        );

        // Updates re-encrypt and re-index; clearing a field works.
        let patch = ClientPatch {
            last_name: Some(Some("Martin".into())),
            phone: Some(None),
            tier: Some(Some("Platinum".into())),
            consents: vec![
                Consent::parse("wecom", "marketing", false, "client_request", 20).expect("consent"),
            ],
            ..ClientPatch::default()
        };
        r.update_client(b.id, id, &patch, Some(sa.id))
            .await
            .expect("update");
        let got = r.client(b.id, id).await.expect("q").expect("found");
        assert_eq!(got.pii.last_name.as_deref(), Some("Martin"));
        assert_eq!(got.pii.phone, None);
        assert_eq!(got.tier.as_deref(), Some("Platinum"));
        assert!(
            !got.consents[0].granted,
            "{}: the latest consent is in force",
            db.name
        );
        assert!(
            r.clients_by_phone(b.id, &phone)
                .await
                .expect("q")
                .is_empty()
        );
        let q = |text: &str| ClientQuery {
            q: Some(text.into()),
            ..ClientQuery::new(Scope::Brand)
        };
        assert_eq!(
            r.list_clients(b.id, &q("martin"))
                .await
                .expect("q")
                .items
                .len(),
            1,
            "{}",
            db.name
        );
        assert!(
            r.list_clients(b.id, &q("dubois"))
                .await
                .expect("q")
                .items
                .is_empty(),
            "{}: old name terms are gone",
            db.name
        );

        // Notes, purchases and the timeline.
        r.add_note(b.id, id, Some(sa.id), "Prefers appointments after 6pm", 1)
            .await
            .expect("note");
        let notes = r.notes(b.id, id).await.expect("q");
        assert_eq!(notes[0].text, "Prefers appointments after 6pm");
        assert_eq!(notes[0].author_name.as_deref(), Some("sa"));
        r.add_purchases(
            b.id,
            &[(
                id,
                NewPurchase {
                    at: 1_000,
                    amount_minor: 520_000,
                    currency: "CNY".into(),
                    store_id: Some(sh.id),
                    associate_id: Some(sa.id),
                    items: vec!["Lune bag".into()],
                },
            )],
        )
        .await
        .expect("purchase");
        let got = r.client(b.id, id).await.expect("q").expect("found");
        assert_eq!(
            (
                got.lifetime_spend_minor,
                got.first_purchase_at,
                got.last_purchase_at
            ),
            (520_000, Some(1_000), Some(1_000))
        );
        let kinds: Vec<String> = r
            .timeline(b.id, id, 50)
            .await
            .expect("q")
            .into_iter()
            .map(|e| e.kind)
            .collect();
        for k in ["created", "assigned", "consent", "note", "purchase"] {
            assert!(
                kinds.contains(&k.to_owned()),
                "{}: timeline has {k}: {kinds:?}",
                db.name
            );
        }
    }
}

#[tokio::test]
async fn client_books_filter_search_and_paginate() {
    for db in backends().await {
        let r = &*db.repo;
        let b = brand(r, "maison").await;
        let sh = store(r, b.id, "SH01").await;
        let bj = store(r, b.id, "BJ01").await;
        let a = user(r, b.id, "a@maison.example", Role::Associate, Some(sh.id)).await;
        let z = user(r, b.id, "z@maison.example", Role::Associate, Some(bj.id)).await;
        for i in 0..30 {
            let mut c = client(
                &format!("Anna{i}"),
                if i % 2 == 0 { "Wang" } else { "Smith" },
                &format!("C{i}"),
            );
            c.associate_id = Some(if i < 20 { a.id } else { z.id });
            if i % 3 == 0 {
                c.tags = vec![Tag::parse("t", "VIC").expect("tag")];
                c.tier = Some("Platinum".into());
            }
            r.create_client(b.id, &c, None).await.expect("create");
        }
        let count = |scope| async move { r.count_clients(b.id, scope).await.expect("count") };
        assert_eq!(count(Scope::Brand).await, 30);
        assert_eq!(count(Scope::Associate(a.id)).await, 20);
        assert_eq!(count(Scope::Store(bj.id)).await, 10);
        assert_eq!(count(Scope::Nothing).await, 0);

        // Keyset pagination walks every client of the scope exactly once.
        let mut seen = Vec::new();
        let mut query = ClientQuery {
            limit: 7,
            ..ClientQuery::new(Scope::Associate(a.id))
        };
        loop {
            let page = r.list_clients(b.id, &query).await.expect("page");
            seen.extend(page.items.iter().map(|c| c.id));
            match page.next_cursor {
                Some(c) => query.after = Some(ClientId(c.parse().expect("cursor"))),
                None => break,
            }
        }
        let mut dedup = seen.clone();
        dedup.dedup();
        assert_eq!((seen.len(), dedup.len()), (20, 20), "{}", db.name);

        let find = |f: fn(&mut ClientQuery)| async move {
            let mut q = ClientQuery {
                limit: 100,
                ..ClientQuery::new(Scope::Brand)
            };
            f(&mut q);
            r.list_clients(b.id, &q).await.expect("list").items
        };
        assert_eq!(
            find(|q| q.tag = Some(Tag::parse("t", "VIC").expect("tag")))
                .await
                .len(),
            10,
            "{}",
            db.name
        );
        assert!(
            find(|q| q.tag = Some(Tag::parse("t", "VIC").expect("tag")))
                .await
                .iter()
                .all(|c| c.tags.iter().any(|t| t.as_str() == "VIC"))
        );
        assert_eq!(find(|q| q.tier = Some("Platinum".into())).await.len(), 10);
        assert_eq!(
            find(|q| q.q = Some("wang".into())).await.len(),
            15,
            "{}",
            db.name
        );
        assert_eq!(
            find(|q| q.q = Some("anna12 wa".into())).await.len(),
            1,
            "{}: all words must match",
            db.name
        );
        assert_eq!(
            find(|q| q.q = Some("C7".into())).await.len(),
            1,
            "{}: CRM id",
            db.name
        );
        assert!(find(|q| q.q = Some("nobody".into())).await.is_empty());
    }
}

#[tokio::test]
async fn brands_never_see_each_other() {
    for db in backends().await {
        let r = &*db.repo;
        let a = brand(r, "alpha").await;
        let b = brand(r, "beta").await;
        let id = r
            .create_client(a.id, &client("Ada", "Lovelace", "X1"), None)
            .await
            .expect("create");
        assert!(
            r.client(b.id, id).await.expect("q").is_none(),
            "{}",
            db.name
        );
        assert!(matches!(
            r.add_note(b.id, id, None, "x", 1).await,
            Err(RepoError::NotFound(_))
        ));
        assert!(matches!(
            r.edit_tags(b.id, id, &[], &[]).await,
            Err(RepoError::NotFound(_))
        ));
        assert!(
            r.list_clients(b.id, &ClientQuery::new(Scope::Brand))
                .await
                .expect("q")
                .items
                .is_empty()
        );
        assert!(
            r.list_clients(
                b.id,
                &ClientQuery {
                    q: Some("ada".into()),
                    ..ClientQuery::new(Scope::Brand)
                }
            )
            .await
            .expect("q")
            .items
            .is_empty()
        );
        // The same CRM id may exist in two brands.
        r.create_client(b.id, &client("Ada", "Other", "X1"), None)
            .await
            .expect("same CRM id elsewhere");
        // But not twice in one.
        assert!(
            matches!(
                r.create_client(a.id, &client("Eve", "Twin", "X1"), None)
                    .await,
                Err(RepoError::Conflict(_))
            ),
            "{}",
            db.name
        );
    }
}

#[tokio::test]
async fn reassignment_keeps_history_and_refuses_departed_associates() {
    for db in backends().await {
        let r = &*db.repo;
        let b = brand(r, "maison").await;
        let sh = store(r, b.id, "SH01").await;
        let bj = store(r, b.id, "BJ01").await;
        let old = user(r, b.id, "old@maison.example", Role::Associate, Some(sh.id)).await;
        let new = user(r, b.id, "new@maison.example", Role::Associate, Some(bj.id)).await;
        let mut c = client("Mei", "Chen", "M1");
        c.associate_id = Some(old.id);
        let id = r.create_client(b.id, &c, None).await.expect("create");
        r.add_note(b.id, id, Some(old.id), "history stays", 1)
            .await
            .expect("note");
        r.mark_departed(b.id, old.id, 7).await.expect("depart");
        assert!(
            matches!(
                r.assign(b.id, id, old.id, None, "x").await,
                Err(RepoError::Invalid(_))
            ),
            "{}",
            db.name
        );
        r.assign(b.id, id, new.id, None, "departure")
            .await
            .expect("assign");
        let got = r.client(b.id, id).await.expect("q").expect("found");
        assert_eq!(
            (got.associate_id, got.store_id),
            (Some(new.id), Some(bj.id)),
            "{}",
            db.name
        );
        let hist = r.assignments(b.id, id).await.expect("q");
        assert_eq!(
            hist.iter().map(|a| a.associate_id).collect::<Vec<_>>(),
            vec![new.id, old.id]
        );
        assert_eq!(r.notes(b.id, id).await.expect("q").len(), 1);
        let users = r.list_users(b.id, None).await.expect("q");
        let count_of = |u: UserId| users.iter().find(|(x, _)| x.id == u).map(|(_, n)| *n);
        assert_eq!((count_of(old.id), count_of(new.id)), (Some(0), Some(1)));
    }
}

#[tokio::test]
async fn import_is_idempotent_on_crm_id_and_atomic() {
    for db in backends().await {
        let r = &*db.repo;
        let b = brand(r, "maison").await;
        let rows: Vec<NewClient> = (0..50)
            .map(|i| client(&format!("N{i}"), "Imported", &format!("CRM-{i}")))
            .collect();
        let first = r.import_clients(b.id, &rows, None).await.expect("import");
        assert_eq!(
            first,
            ImportCounts {
                created: 50,
                updated: 0
            },
            "{}",
            db.name
        );
        let again = r
            .import_clients(b.id, &rows, None)
            .await
            .expect("re-import");
        assert_eq!(
            again,
            ImportCounts {
                created: 0,
                updated: 50
            },
            "{}",
            db.name
        );
        assert_eq!(
            r.count_clients(b.id, Scope::Brand).await.expect("count"),
            50
        );

        // A row that breaks a rule rolls the whole import back.
        let other = r
            .create_client(
                b.id,
                &{
                    let mut c = client("Owner", "Of-wecom", "CRM-X");
                    c.identities
                        .push(Identity::parse(IdentityKind::Wecom, "wm-taken").expect("id"));
                    c
                },
                None,
            )
            .await
            .expect("create");
        let mut bad = vec![client("New", "One", "CRM-NEW")];
        bad.push({
            let mut c = client("Thief", "X", "CRM-Y");
            c.identities
                .push(Identity::parse(IdentityKind::Wecom, "wm-taken").expect("id"));
            c
        });
        assert!(
            matches!(
                r.import_clients(b.id, &bad, None).await,
                Err(RepoError::Conflict(_))
            ),
            "{}",
            db.name
        );
        assert_eq!(
            r.count_clients(b.id, Scope::Brand).await.expect("count"),
            51,
            "{}: nothing of a failed import stays",
            db.name
        );
        assert!(r.client(b.id, other).await.expect("q").is_some());
    }
}

const CANARY_ID_NUMBER: &str = "110101199003077777";
const CANARY_OPENID: &str = "oCanaryOpenId7xQ";

#[tokio::test]
async fn personal_data_never_reaches_the_database_file_in_clear() {
    let db = sqlite().await;
    let r = &*db.repo;
    let b = brand(r, "maison").await;
    let mut c = client("Canary", "Bird", "CRM-CANARY");
    c.pii.phone = Some(Phone::parse("phone", CANARY_PHONE).expect("phone"));
    c.pii.email = Some(Email::parse("email", "canary.bird@example.com").expect("email"));
    c.identities
        .push(Identity::parse(IdentityKind::WechatOa, "oCanaryIdentity9").expect("openid"));
    let id = r.create_client(b.id, &c, None).await.expect("create");
    r.add_note(b.id, id, None, "canary note text", 1)
        .await
        .expect("note");
    r.put_channel_settings(b.id, &settings("canary-app-secret-value"))
        .await
        .expect("settings");
    put(r, &[inbox_item(b.id, "k1", "<xml>canary inbox body</xml>")]).await;
    let m = r
        .add_message(b.id, &message(id, "m1", "canary message body"))
        .await
        .expect("message")
        .expect("new");
    // What a rule matched (an ID-card number) and a compliance officer's search words.
    let flag = NewFlag {
        message_id: Some(m),
        group_message_id: None,
        group_id: None,
        client_id: Some(id),
        associate_id: None,
        store_id: None,
        direction: Direction::In,
        hit: ::rules::Hit {
            rule_id: 1,
            rule: "ID numbers".into(),
            category: Category::PersonalData,
            severity: Severity::High,
            action: RuleAction::Flag,
            matched: CANARY_ID_NUMBER.into(),
        },
        at: 5,
    };
    assert_eq!(r.add_flags(b.id, &[flag]).await.expect("flag"), 1);
    let entry = r
        .audit(
            b.id,
            &NewAudit {
                at: 6,
                actor_id: None,
                actor: "compliance:Zhou".into(),
                action: "compliance_read".into(),
                subject: "archive search".into(),
                detail: serde_json::json!({"search": {"q": "canary search words"}}),
            },
        )
        .await
        .expect("audit");
    // Both read back in clear, and the audit chain still verifies over the clear detail.
    let flags = r
        .flags(
            b.id,
            &FlagQuery {
                limit: 10,
                ..FlagQuery::default()
            },
        )
        .await
        .expect("flags");
    assert_eq!(flags[0].matched, CANARY_ID_NUMBER);
    let log = r.audit_log(b.id, 0, 10).await.expect("log");
    assert_eq!(log, vec![entry]);
    assert!(log[0].detail.contains("canary search words"));
    // An Official Account follower in the event stream.
    r.put_events(
        b.id,
        &[StoredEvent {
            ts: 7,
            kind: "follow".into(),
            follower: Some(CANARY_OPENID.into()),
            line: format!(r#"{{"follower":"{CANARY_OPENID}","kind":"follow","source":"search","ts":"1970-01-01T00:00:00.007Z"}}"#),
        }],
    )
    .await
    .expect("event");
    drop(db.repo);
    let dir = db.sqlite_dir.expect("sqlite dir");
    let mut scanned = 0;
    for entry in std::fs::read_dir(&dir).expect("dir") {
        let bytes = std::fs::read(entry.expect("entry").path()).expect("read");
        scanned += bytes.len();
        for needle in [
            CANARY_PHONE,
            "8613912345678",
            "canary.bird@example.com",
            "Canary",
            "canary note text",
            "canary-app-secret-value",
            "canary inbox body",
            "canary message body",
            CANARY_ID_NUMBER,
            "canary search words",
            CANARY_OPENID,
            "oCanaryIdentity9",
        ] {
            assert!(
                !bytes.windows(needle.len()).any(|w| w == needle.as_bytes()),
                "{needle} found in clear"
            );
        }
    }
    assert!(scanned > 0);
}

#[tokio::test]
async fn schemas_stay_in_step() {
    let Some(pg) = postgres().await else { return };
    let lite = sqlite().await;
    let sqlite_url = format!(
        "sqlite://{}",
        lite.sqlite_dir
            .as_ref()
            .expect("dir")
            .join("salon.db")
            .display()
    );
    let mut sconn = sqlx::SqliteConnection::connect(&sqlite_url)
        .await
        .expect("sqlite");
    let tables: Vec<String> = sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
        .fetch_all(&mut sconn)
        .await
        .expect("tables");
    let mut lite_cols = Vec::new();
    for t in &tables {
        let rows: Vec<(String, String, i64)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT name, type, \"notnull\" FROM pragma_table_info('{t}') ORDER BY name"
        )))
        .fetch_all(&mut sconn)
        .await
        .expect("columns");
        for (name, ty, notnull) in rows {
            let ty = match ty.to_ascii_uppercase().as_str() {
                "INTEGER" | "BIGINT" => "int",
                "BLOB" => "bytes",
                "TEXT" => "text",
                "BOOLEAN" => "bool",
                other => panic!("unexpected SQLite type {other}"),
            };
            // SQLite's INTEGER PRIMARY KEY is NOT NULL in effect though not declared so.
            let notnull = notnull != 0 || name == "id" || name == "version";
            lite_cols.push(format!("{t}.{name}:{ty}:{notnull}"));
        }
    }
    let admin = std::env::var("SALON_TEST_POSTGRES_URL").expect("url");
    let (base, _) = admin.rsplit_once('/').expect("db name");
    let name = pg._pg.as_ref().map(|g| g.name.clone()).expect("pg db");
    let mut pconn = sqlx::PgConnection::connect(&format!("{base}/{name}"))
        .await
        .expect("pg");
    let rows: Vec<(String, String, String, String)> = sqlx::query_as(
        "SELECT table_name::text, column_name::text, data_type::text, is_nullable::text FROM information_schema.columns \
         WHERE table_schema = 'public' ORDER BY table_name, column_name",
    )
    .fetch_all(&mut pconn)
    .await
    .expect("pg columns");
    let mut pg_cols: Vec<String> = rows
        .into_iter()
        .map(|(t, c, ty, nullable)| {
            let ty = match ty.as_str() {
                "bigint" | "integer" => "int",
                "bytea" => "bytes",
                "text" => "text",
                "boolean" => "bool",
                other => panic!("unexpected PostgreSQL type {other}"),
            };
            format!("{t}.{c}:{ty}:{}", nullable == "NO")
        })
        .collect();
    lite_cols.sort();
    pg_cols.sort();
    assert_eq!(
        lite_cols, pg_cols,
        "the SQLite and PostgreSQL schemas differ"
    );
}

fn settings(secret: &str) -> ChannelSettings {
    ChannelSettings {
        channel: ChannelKind::Wecom,
        app_id: "ww1436e0e65a779aee".into(),
        agent_id: Some("1000002".into()),
        api_base: "http://127.0.0.1:1".into(),
        secret: secret.into(),
        token: "hJqcu3uJ9Tn2gXPmxx2w9kkCkCE2EPYo".into(),
        aes_key: Some("6qkdMrq68nTKduznJYO1A37W2oEgpkMUvkttRToqhUt".into()),
        menu: [("NEW".to_owned(), "new_arrivals".to_owned())].into(),
        updated_at: 5,
    }
}

fn inbox_item(b: BrandId, key: &str, body: &str) -> InboxItem {
    InboxItem {
        brand: b,
        channel: ChannelKind::Wecom,
        dedup_key: key.into(),
        received_at: 10,
        body: body.into(),
        replay: None,
    }
}

/// Stores callbacks of which none may be refused as a replay.
async fn put(r: &dyn Repo, items: &[InboxItem]) -> Vec<InboxReceipt> {
    r.inbox_put(items)
        .await
        .expect("inbox put")
        .into_iter()
        .map(|x| x.expect("not a replay"))
        .collect()
}

fn message(c: ClientId, provider_id: &str, body: &str) -> NewMessage {
    NewMessage {
        client_id: c,
        channel: ChannelKind::Wecom,
        direction: Direction::In,
        associate_id: None,
        provider_id: Some(provider_id.into()),
        msg_type: "text".into(),
        body: body.into(),
        at: 20,
    }
}

#[tokio::test]
async fn channel_settings_round_trip_sealed_per_brand() {
    for db in backends().await {
        let r = &*db.repo;
        let a = brand(r, "alpha").await;
        let b = brand(r, "beta").await;
        assert!(
            r.channel_settings(a.id, ChannelKind::Wecom)
                .await
                .expect("read")
                .is_none(),
            "{}",
            db.name
        );
        r.put_channel_settings(a.id, &settings("s1"))
            .await
            .expect("put");
        let mut changed = settings("s2");
        changed.agent_id = None;
        r.put_channel_settings(a.id, &changed)
            .await
            .expect("replace");
        assert_eq!(
            r.channel_settings(a.id, ChannelKind::Wecom)
                .await
                .expect("read"),
            Some(changed),
            "{}",
            db.name
        );
        assert!(
            r.channel_settings(b.id, ChannelKind::Wecom)
                .await
                .expect("read")
                .is_none()
        );
        assert!(
            r.channel_settings(a.id, ChannelKind::WechatOa)
                .await
                .expect("read")
                .is_none()
        );
    }
}

#[tokio::test]
async fn the_inbox_keeps_each_callback_once_until_processed() {
    for db in backends().await {
        let r = &*db.repo;
        let a = brand(r, "alpha").await;
        let b = brand(r, "beta").await;
        let first = put(
            r,
            &[
                inbox_item(a.id, "k1", "one"),
                inbox_item(a.id, "k2", "two"),
                inbox_item(a.id, "k1", "one again"),
            ],
        )
        .await;
        assert!(first[0].fresh && first[1].fresh, "{}", db.name);
        assert_eq!(
            first[2],
            InboxReceipt {
                id: first[0].id,
                fresh: false
            },
            "{}",
            db.name
        );
        // The same key for another brand is another callback.
        let other = put(r, &[inbox_item(b.id, "k1", "b")]).await;
        assert!(other[0].fresh);
        let retried = put(r, &[inbox_item(a.id, "k1", "one")]).await;
        assert_eq!(
            retried[0],
            InboxReceipt {
                id: first[0].id,
                fresh: false
            }
        );
        let pending = r.inbox_pending(10, 3).await.expect("pending");
        assert_eq!(pending.len(), 3, "{}", db.name);
        assert_eq!(pending[0].item.body, "one");
        r.inbox_done(first[0].id, "ok", 11).await.expect("done");
        for _ in 0..3 {
            r.inbox_failed(first[1].id, "boom").await.expect("failed");
        }
        let pending = r.inbox_pending(10, 3).await.expect("pending");
        assert_eq!(pending.len(), 1);
        assert_eq!(pending[0].item.brand, b.id);
        assert_eq!(
            r.inbox_counts(a.id, ChannelKind::Wecom, 3)
                .await
                .expect("counts"),
            InboxCounts {
                received: 2,
                processed: 1,
                pending: 0,
                failed: 1
            },
            "{}",
            db.name
        );
    }
}

#[tokio::test]
async fn contact_ways_staff_ids_messages_and_interactions() {
    for db in backends().await {
        let r = &*db.repo;
        let a = brand(r, "alpha").await;
        let s = store(r, a.id, "SH01").await;
        let u = user(r, a.id, "li@a.example", Role::Associate, Some(s.id)).await;
        let way = r
            .create_contact_way(
                a.id,
                &NewContactWay {
                    state: "store:SH01:li".into(),
                    label: "Li at SH01".into(),
                    kind: ContactWayKind::Associate,
                    store_id: Some(s.id),
                    user_id: Some(u.id),
                    tags: vec![Tag::parse("t", "walk-in").expect("tag")],
                    welcome_text: "Welcome".into(),
                },
            )
            .await
            .expect("way");
        assert!(
            matches!(
                r.create_contact_way(
                    a.id,
                    &NewContactWay {
                        label: "dup".into(),
                        ..NewContactWay {
                            state: way.state.clone(),
                            label: String::new(),
                            kind: ContactWayKind::Store,
                            store_id: None,
                            user_id: None,
                            tags: vec![],
                            welcome_text: String::new()
                        }
                    }
                )
                .await,
                Err(RepoError::Conflict(_))
            ),
            "{}",
            db.name
        );
        r.set_contact_way_code(a.id, way.id, "cfg1", "http://qr/1")
            .await
            .expect("code");
        let found = r
            .contact_way_by_state(a.id, "store:SH01:li")
            .await
            .expect("by state")
            .expect("found");
        assert_eq!(found.qr_code.as_deref(), Some("http://qr/1"));
        assert_eq!(found.tags, way.tags);
        assert_eq!(r.contact_ways(a.id).await.expect("list").len(), 1);

        r.link_staff(a.id, u.id, "wecom", "LiNa")
            .await
            .expect("link");
        r.link_staff(a.id, u.id, "wecom", "LiNa2")
            .await
            .expect("relink");
        assert_eq!(
            r.staff_by_provider_id(a.id, "wecom", "LiNa")
                .await
                .expect("find"),
            None
        );
        assert_eq!(
            r.staff_by_provider_id(a.id, "wecom", "LiNa2")
                .await
                .expect("find"),
            Some(u.id)
        );
        assert_eq!(
            r.staff_provider_ids(a.id, "wecom").await.expect("all"),
            vec![(u.id, "LiNa2".to_owned())]
        );

        let c = r
            .create_client(a.id, &client("Mei", "Wang", "CRM-1"), None)
            .await
            .expect("client");
        assert!(
            r.add_message(a.id, &message(c, "m1", "你好"))
                .await
                .expect("msg")
                .is_some(),
            "{}",
            db.name
        );
        assert!(
            r.add_message(a.id, &message(c, "m1", "你好"))
                .await
                .expect("msg")
                .is_none(),
            "{}",
            db.name
        );
        let msgs = r.messages(a.id, c, 10).await.expect("messages");
        assert_eq!(msgs.len(), 1);
        assert_eq!(msgs[0].body, "你好");
        let follow = NewInteraction {
            client_id: c,
            at: 30,
            kind: "follow".into(),
            channel: Some("wechat_oa".into()),
            detail: serde_json::json!({"source": "qr_code"}),
            reference: Some("inbox:1".into()),
        };
        assert!(r.add_interaction(a.id, &follow).await.expect("add"));
        assert!(
            !r.add_interaction(a.id, &follow).await.expect("again"),
            "{}",
            db.name
        );
        let timeline = r.timeline(a.id, c, 50).await.expect("timeline");
        assert_eq!(timeline.iter().filter(|e| e.kind == "follow").count(), 1);
        assert_eq!(
            timeline.iter().filter(|e| e.kind == "message").count(),
            1,
            "{}",
            db.name
        );
    }
}

#[tokio::test]
async fn the_event_stream_adds_each_event_once() {
    use domain::ports::StoredEvent;
    for db in backends().await {
        let r = &*db.repo;
        let a = brand(r, "alpha").await;
        let b = brand(r, "beta").await;
        let ev = |ts: i64, who: &str| StoredEvent {
            ts,
            kind: "follow".into(),
            follower: Some(who.into()),
            line: format!(r#"{{"ts":{ts},"kind":"follow","follower":"{who}","source":"qr_code"}}"#),
        };
        let batch = vec![ev(30, "o3"), ev(10, "o1"), ev(20, "o2")];
        assert_eq!(
            r.put_events(a.id, &batch).await.expect("put"),
            3,
            "{}",
            db.name
        );
        assert_eq!(
            r.put_events(a.id, &batch).await.expect("again"),
            0,
            "{}",
            db.name
        );
        assert_eq!(
            r.put_events(b.id, &batch[..1]).await.expect("other brand"),
            1
        );
        assert_eq!(r.count_events(a.id).await.expect("count"), 3);
        // Held with their followers keyed (see followers_are_held_keyed_in_the_event_stream).
        let keyed = |e: &StoredEvent| {
            let who = e.follower.as_deref().expect("follower");
            e.line.replace(
                &format!(r#""follower":"{who}""#),
                &format!(r#""follower":"{}""#, r.follower_key(a.id, who)),
            )
        };
        let lines = r.event_lines(a.id, Some(30)).await.expect("lines");
        assert_eq!(
            lines,
            vec![keyed(&batch[1]), keyed(&batch[2])],
            "{}",
            db.name
        );
        assert_eq!(r.event_lines(a.id, None).await.expect("all").len(), 3);
        // In the order stored, numbered, and from any number on: how a live index catches up.
        let stored = r.event_lines_after(a.id, 0).await.expect("after 0");
        assert_eq!(
            stored.iter().map(|(_, l)| l.clone()).collect::<Vec<_>>(),
            batch.iter().map(keyed).collect::<Vec<_>>(),
            "{}",
            db.name
        );
        assert!(stored.windows(2).all(|w| w[0].0 < w[1].0));
        r.put_events(a.id, &[ev(5, "o4")]).await.expect("later");
        let newer = r.event_lines_after(a.id, stored[2].0).await.expect("after");
        assert_eq!(newer.len(), 1, "{}", db.name);
        assert!(newer[0].1.contains(&r.follower_key(a.id, "o4")));
        assert!(
            r.event_lines_after(b.id, 0)
                .await
                .expect("b")
                .iter()
                .all(|(id, _)| !stored.iter().any(|(a, _)| a == id)),
            "another brand's events are not this brand's"
        );
    }
}

#[tokio::test]
async fn rules_flags_and_read_markers() {
    for db in backends().await {
        let r = &*db.repo;
        let b = brand(r, "rules").await;
        let other = brand(r, "others").await;
        let s1 = store(r, b.id, "SH01").await;
        let li = user(r, b.id, "li@x.example", Role::Associate, Some(s1.id)).await;
        let mut rules = Vec::new();
        for rule in ::rules::default_rules() {
            rules.push(r.put_rule(b.id, &rule, 1).await.expect("rule"));
        }
        assert_eq!(r.rules(b.id).await.expect("rules"), rules, "{}", db.name);
        assert!(r.rules(other.id).await.expect("rules").is_empty());
        // Names are unique per brand; a change keeps the id.
        let mut dup = rules[1].clone();
        dup.id = 0;
        assert!(matches!(
            r.put_rule(b.id, &dup, 2).await,
            Err(RepoError::Conflict(_))
        ));
        let mut off = rules[0].clone();
        off.enabled = false;
        assert_eq!(r.put_rule(b.id, &off, 3).await.expect("update"), off);
        assert!(matches!(
            r.put_rule(other.id, &off, 3).await,
            Err(RepoError::NotFound(_))
        ));

        let mut c = client("Mei", "Lin", "CRM-R1");
        c.store_id = Some(s1.id);
        c.associate_id = Some(li.id);
        let cid = r.create_client(b.id, &c, None).await.expect("client");
        let m1 = r
            .add_message(b.id, &message(cid, "m1", "加我私人微信"))
            .await
            .expect("m")
            .expect("new");
        let set = ::rules::RuleSet::compile(&rules).expect("compile");
        let hit = set.check("加我私人微信").hits.remove(0);
        let flag = NewFlag {
            message_id: Some(m1),
            group_message_id: None,
            group_id: None,
            client_id: Some(cid),
            associate_id: Some(li.id),
            store_id: Some(s1.id),
            direction: Direction::In,
            hit,
            at: 30,
        };
        assert_eq!(
            r.add_flags(b.id, &[flag.clone(), flag.clone()])
                .await
                .expect("flags"),
            1
        );
        assert_eq!(
            r.add_flags(b.id, &[flag]).await.expect("again"),
            0,
            "once per message and rule"
        );
        let open = r
            .flags(
                b.id,
                &FlagQuery {
                    status: Some(FlagStatus::Open),
                    store: Some(s1.id),
                    limit: 10,
                    ..FlagQuery::default()
                },
            )
            .await
            .expect("queue");
        assert_eq!(open.len(), 1);
        assert_eq!(open[0].rule, "Off-platform payment");
        assert!(
            r.flags(
                other.id,
                &FlagQuery {
                    limit: 10,
                    ..FlagQuery::default()
                }
            )
            .await
            .expect("q")
            .is_empty()
        );
        let done = r
            .review_flag(
                b.id,
                open[0].id,
                FlagStatus::Resolved,
                "talked to Li",
                Some(li.id),
                40,
            )
            .await
            .expect("review");
        assert_eq!(
            (done.status, done.note.as_deref()),
            (FlagStatus::Resolved, Some("talked to Li"))
        );
        assert!(matches!(
            r.review_flag(b.id, open[0].id, FlagStatus::Dismissed, "", None, 41)
                .await,
            Err(RepoError::Conflict(_))
        ));
        assert!(matches!(
            r.review_flag(other.id, open[0].id, FlagStatus::Dismissed, "", None, 41)
                .await,
            Err(RepoError::NotFound(_))
        ));
        let counts = r.flag_counts(b.id).await.expect("counts");
        assert_eq!((counts[0].open, counts[0].total), (0, 1));

        // The inbox: unread until read, in scope only.
        let m2 = r
            .add_message(b.id, &message(cid, "m2", "还在吗"))
            .await
            .expect("m")
            .expect("new");
        let inbox = r
            .conversations(b.id, Scope::Associate(li.id), Some(li.id), 10)
            .await
            .expect("inbox");
        assert_eq!(inbox.len(), 1);
        assert_eq!(
            (inbox[0].unread, inbox[0].messages, inbox[0].last.id),
            (2, 2, m2)
        );
        assert_eq!(inbox[0].last.body, "还在吗");
        r.mark_read(b.id, cid, li.id, m2).await.expect("read");
        r.mark_read(b.id, cid, li.id, m1)
            .await
            .expect("an older mark changes nothing");
        let inbox = r
            .conversations(b.id, Scope::Associate(li.id), Some(li.id), 10)
            .await
            .expect("inbox");
        assert_eq!(inbox[0].unread, 0);
        assert!(
            r.conversations(b.id, Scope::Nothing, None, 10)
                .await
                .expect("none")
                .is_empty()
        );
        assert!(
            r.conversations(other.id, Scope::Brand, None, 10)
                .await
                .expect("other")
                .is_empty()
        );
        assert_eq!(
            r.message(b.id, m1).await.expect("m").map(|m| m.body),
            Some("加我私人微信".into())
        );
        assert!(r.message(other.id, m1).await.expect("m").is_none());
        assert_eq!(
            r.message_by_provider_id(b.id, ChannelKind::Wecom, "m2")
                .await
                .expect("p"),
            Some(m2)
        );
        let all = r.messages_after(b.id, 0, 10).await.expect("after");
        assert_eq!(all.iter().map(|m| m.id).collect::<Vec<_>>(), vec![m1, m2]);
    }
}

#[tokio::test]
async fn the_outbox_leases_sends_once_and_retries() {
    for db in backends().await {
        let r = &*db.repo;
        let b = brand(r, "outbox").await;
        let cid = r
            .create_client(b.id, &client("Mei", "Lin", "CRM-O1"), None)
            .await
            .expect("client");
        let new = |key: &str| NewOutbound {
            client_id: cid,
            associate_id: None,
            channel: ChannelKind::Wecom,
            msg_type: "text".into(),
            body: "新季手袋已到店".into(),
            idem_key: key.into(),
            at: 100,
        };
        let a = r.enqueue(b.id, &new("k1")).await.expect("enqueue");
        let again = r.enqueue(b.id, &new("k1")).await.expect("same key");
        assert_eq!(a.id, again.id, "{}: one row per key", db.name);
        let second = r.enqueue(b.id, &new("k2")).await.expect("enqueue");
        assert!(matches!(
            r.enqueue(
                b.id,
                &NewOutbound {
                    client_id: ClientId(999_999),
                    ..new("k3")
                }
            )
            .await,
            Err(RepoError::NotFound(_))
        ));
        // Leased once: a second dispatcher finds nothing until the lease ends.
        let claimed = r.outbox_claim(200, 1_000, 10).await.expect("claim");
        assert_eq!(
            claimed.iter().map(|o| o.id).collect::<Vec<_>>(),
            vec![a.id, second.id]
        );
        assert_eq!(claimed[0].body, "新季手袋已到店");
        assert_eq!(claimed[0].attempts, 1);
        assert!(
            r.outbox_claim(500, 1_500, 10)
                .await
                .expect("claim")
                .is_empty()
        );
        // One is sent; the other fails to send and is retried later.
        let mut m = message(cid, "s1-o1", "新季手袋已到店");
        m.direction = Direction::Out;
        let mid = r.outbox_sent(a.id, "s1-o1", &m).await.expect("sent");
        assert_eq!(
            r.outbox_sent(a.id, "s1-o1", &m).await.expect("again"),
            mid,
            "the same message"
        );
        r.outbox_retry(second.id, "busy", 2_000)
            .await
            .expect("retry");
        assert!(
            r.outbox_claim(1_500, 3_000, 10)
                .await
                .expect("not due")
                .is_empty()
        );
        // The crashed lease comes back after it ends, with its attempt counted.
        let again = r.outbox_claim(2_000, 3_000, 10).await.expect("due");
        assert_eq!(
            again.iter().map(|o| (o.id, o.attempts)).collect::<Vec<_>>(),
            vec![(second.id, 2)]
        );
        let back = r.outbox_claim(3_000, 4_000, 10).await.expect("lease over");
        assert_eq!(
            back.iter().map(|o| (o.id, o.attempts)).collect::<Vec<_>>(),
            vec![(second.id, 3)]
        );
        r.outbox_failed(second.id, "gave up").await.expect("failed");
        let sent = r.outbound(b.id, a.id).await.expect("row").expect("exists");
        assert_eq!(
            (sent.status, sent.message_id, sent.provider_id.as_deref()),
            (OutboundStatus::Sent, Some(mid), Some("s1-o1"))
        );
        let failed = r
            .outbound(b.id, second.id)
            .await
            .expect("row")
            .expect("exists");
        assert_eq!(
            (failed.status, failed.error.as_deref()),
            (OutboundStatus::Failed, Some("gave up"))
        );
        assert_eq!(r.outbox_of_client(b.id, cid).await.expect("rows").len(), 2);
        assert_eq!(r.messages(b.id, cid, 10).await.expect("messages").len(), 1);
    }
}

#[tokio::test]
async fn the_audit_log_is_a_hash_chain_even_under_concurrent_appends() {
    for db in backends().await {
        let b = brand(&*db.repo, "audit").await;
        let other = brand(&*db.repo, "audit2").await;
        let mut tasks = Vec::new();
        for i in 0..24 {
            let repo = db.repo.clone();
            tasks.push(tokio::spawn(async move {
                repo.audit(
                    b.id,
                    &NewAudit {
                        at: i,
                        actor_id: None,
                        actor: "system:test".into(),
                        action: "export".into(),
                        subject: format!("client:{i}"),
                        detail: serde_json::json!({"n": i}),
                    },
                )
                .await
            }));
        }
        for t in tasks {
            t.await.expect("join").expect("append");
        }
        db.repo
            .audit(
                other.id,
                &NewAudit {
                    at: 1,
                    actor_id: None,
                    actor: "x".into(),
                    action: "export".into(),
                    subject: "s".into(),
                    detail: serde_json::json!({}),
                },
            )
            .await
            .expect("other brand");
        let log = db.repo.audit_log(b.id, 0, 100).await.expect("log");
        assert_eq!(log.len(), 24, "{}", db.name);
        assert_eq!(verify_chain(b.id, &log), Ok(24));
        assert_eq!(
            db.repo.audit_log(b.id, 20, 100).await.expect("tail").len(),
            4
        );
        let theirs = db.repo.audit_log(other.id, 0, 100).await.expect("log");
        assert_eq!(
            (theirs.len(), theirs[0].seq),
            (1, 1),
            "each brand has its own chain"
        );
    }
}

#[tokio::test]
async fn inbound_messages_are_stored_a_run_at_a_time_with_their_events_and_inbox_closed() {
    for db in backends().await {
        let r = &*db.repo;
        let b = brand(r, "runs").await;
        let s1 = store(r, b.id, "SH01").await;
        let li = user(r, b.id, "li@x.example", Role::Associate, Some(s1.id)).await;
        let mut c = client("Mei", "Lin", "CRM-I1");
        c.store_id = Some(s1.id);
        c.associate_id = Some(li.id);
        let cid = r.create_client(b.id, &c, None).await.expect("client");
        assert_eq!(
            r.client_assignment(b.id, cid).await.expect("q"),
            Some((Some(li.id), Some(s1.id)))
        );
        assert_eq!(
            r.client_assignment(b.id, ClientId(999_999))
                .await
                .expect("q"),
            None
        );
        let mut wecom = client("Wei", "Zhao", "CRM-I2");
        wecom.associate_id = Some(li.id);
        wecom
            .identities
            .push(Identity::parse(IdentityKind::Wecom, "wmWei").expect("id"));
        let wid = r.create_client(b.id, &wecom, None).await.expect("client");
        let found = r
            .clients_by_identities(
                b.id,
                IdentityKind::Wecom,
                &["wmWei".into(), "wmNobody".into()],
            )
            .await
            .expect("lookup");
        assert_eq!(
            found,
            vec![("wmWei".to_owned(), wid, Some(li.id))],
            "{}",
            db.name
        );
        assert!(
            r.clients_by_identities(b.id, IdentityKind::Crm, &["wmWei".into()])
                .await
                .expect("lookup")
                .is_empty()
        );
        let receipts = put(
            r,
            &[
                inbox_item(b.id, "k1", "<xml/>"),
                inbox_item(b.id, "k2", "<xml/>"),
            ],
        )
        .await;
        let run: Vec<InboundMessage> = receipts
            .iter()
            .enumerate()
            .map(|(i, rc)| InboundMessage {
                inbox_id: rc.id,
                event: Some(ports::StoredEvent {
                    ts: 20 + i as i64,
                    kind: "message".into(),
                    follower: Some("wmMei".into()),
                    line: format!("{{\"n\":{i}}}"),
                }),
                message: message(cid, &format!("run-{i}"), "在吗"),
            })
            .collect();
        let ids = r.store_inbound(b.id, &run, 99).await.expect("run");
        assert_eq!(ids.len(), 2, "{}", db.name);
        // The same run again (a retry after a crash) stores nothing twice and answers the ids.
        assert_eq!(r.store_inbound(b.id, &run, 100).await.expect("again"), ids);
        assert_eq!(r.messages(b.id, cid, 10).await.expect("messages").len(), 2);
        assert_eq!(r.count_events(b.id).await.expect("events"), 2);
        let counts = r
            .inbox_counts(b.id, ChannelKind::Wecom, 5)
            .await
            .expect("counts");
        assert_eq!((counts.processed, counts.pending), (2, 0));
    }
}

/// The audience of `ids` as the app reads it from the segment facts.
async fn audience(r: &dyn Repo, b: BrandId, ids: &[ClientId]) -> domain::ports::Audience {
    let version = r.facts_version(b).await.expect("version");
    let facts = r.segment_facts(b).await.expect("facts");
    let candidates = facts
        .iter()
        .filter(|f| ids.contains(&ClientId(f.client_id)))
        .map(|f| Candidate {
            client_id: ClientId(f.client_id),
            associate: f.associate.map(UserId),
            has_address: f.channels.iter().any(|c| c == "wecom"),
            has_sender: false,
            consent: if f.consents.iter().any(|c| c == "wecom") {
                Some(true)
            } else if f.withdrawn.iter().any(|c| c == "wecom") {
                Some(false)
            } else {
                None
            },
            zone: 0,
            broadcast_days: vec![],
        })
        .collect();
    domain::ports::Audience {
        candidates,
        zones: vec!["Asia/Shanghai".into()],
        version,
        per_batch: 2,
    }
}

fn planner(send_at: Millis, max: Option<u32>) -> Box<domain::ports::Planner> {
    Box::new(move |c, zones, counts| {
        let zones: Vec<jiff::tz::TimeZone> = zones
            .iter()
            .map(|z| jiff::tz::TimeZone::get(z).expect("zone"))
            .collect();
        let policy = ContactPolicy::default();
        plan(
            c,
            &PlanContext {
                send_at,
                policy: &policy,
                zones: &zones,
                max_recipients: max,
                sa_day_counts: counts,
            },
        )
    })
}

#[tokio::test]
async fn campaigns_plan_once_per_client_and_day_and_batches_lease_once() {
    for db in backends().await {
        let r = &*db.repo;
        let b = brand(r, "bcast").await;
        let s = store(r, b.id, "SH01").await;
        let sa = user(r, b.id, "sa@bcast.test", Role::Associate, Some(s.id)).await;
        r.link_staff(b.id, sa.id, "wecom", "sa-wecom")
            .await
            .expect("link");
        let consent = |granted| {
            Consent::parse("wecom", "marketing", granted, "in_store_form", 10).expect("consent")
        };
        let mut ids = Vec::new();
        for i in 0..6 {
            let mut c = client("Mei", &format!("Lin{i}"), &format!("CRM-B{i}"));
            c.store_id = Some(s.id);
            c.associate_id = Some(sa.id);
            c.tags = vec![Tag::parse("tag", "vip").expect("tag")];
            c.pii.birthday = Some(jiff::civil::date(1990, 3, 14));
            c.consents = match i {
                4 => vec![
                    consent(true),
                    Consent {
                        at: 20,
                        ..consent(false)
                    },
                ],
                5 => vec![],
                _ => vec![consent(true)],
            };
            if i != 3 {
                c.identities
                    .push(Identity::parse(IdentityKind::Wecom, &format!("wm{i}")).expect("id"));
            }
            ids.push(r.create_client(b.id, &c, None).await.expect("client"));
        }
        // Segments: saved, renamed, unique by name.
        let seg = r
            .save_segment(b.id, None, "VIP", "tag:vip", Some(sa.id), 1)
            .await
            .expect("segment");
        assert!(matches!(
            r.save_segment(b.id, None, "VIP", "tier:gold", None, 2)
                .await,
            Err(RepoError::Conflict(_))
        ));
        let seg = r
            .save_segment(
                b.id,
                Some(seg.id),
                "VIP clients",
                "tag:vip AND consent:wecom",
                None,
                3,
            )
            .await
            .expect("rename");
        assert_eq!(r.segments(b.id).await.expect("list").len(), 1);
        assert_eq!(
            r.segment(b.id, seg.id).await.expect("one").map(|s| s.name),
            Some("VIP clients".to_owned())
        );
        let facts = r.segment_facts(b.id).await.expect("facts");
        assert_eq!(facts.len(), 6, "{}", db.name);
        assert_eq!(facts[0].tags, vec!["vip".to_owned()]);
        assert_eq!(facts[0].birth_month, Some(3));
        assert_eq!(facts[0].store.as_deref(), Some("SH01"));
        assert_eq!(facts[4].consents, Vec::<String>::new(), "withdrawn");
        assert_eq!(facts[0].consents, vec!["wecom".to_owned()]);
        assert!(facts[0].channels.contains(&"wecom".to_owned()));
        assert!(!facts[3].channels.contains(&"wecom".to_owned()));

        // 10:00 in Shanghai.
        let send_at = 1_795_485_600_000;
        let new = |name: &str| NewCampaign {
            name: name.into(),
            kind: CampaignKind::Broadcast,
            segment_id: Some(seg.id),
            expression: seg.expression.clone(),
            channel: ChannelKind::Wecom,
            asset_ids: vec![],
            template: Template::parse("{sa.name} invites you to the preview").expect("template"),
            send_at,
            max_recipients: None,
            created_by: None,
            at: 5,
        };
        let c1 = r
            .create_campaign(b.id, &new("Preview"))
            .await
            .expect("campaign");
        assert_eq!(c1.status, CampaignStatus::Draft);
        let counts = r
            .plan_campaign(
                b.id,
                c1.id,
                &audience(r, b.id, &ids).await,
                &*planner(send_at, None),
                100,
            )
            .await
            .expect("plan");
        assert_eq!(
            (counts.planned, counts.suppressed, counts.already),
            (3, 3, 0),
            "{}",
            db.name
        );
        let again = r
            .plan_campaign(
                b.id,
                c1.id,
                &audience(r, b.id, &ids).await,
                &*planner(send_at, None),
                101,
            )
            .await
            .expect("plan again");
        assert_eq!(again.already, 6, "nothing planned twice");
        let other = r
            .create_client(b.id, &client("Wu", "Lei", "CRM-B9"), None)
            .await
            .expect("client");
        assert_eq!(
            r.clients_with_sends(b.id, c1.id, &[ids[0], other, ids[5]])
                .await
                .expect("had"),
            vec![ids[0], ids[5]],
            "planned and suppressed clients, not a stranger"
        );
        let rep = r.campaign_report(b.id, c1.id).await.expect("report");
        assert_eq!(rep.planned, 3);
        // Every client is listed, in client order, page by page.
        let listed = r
            .campaign_sends(b.id, c1.id, None, 0, 100)
            .await
            .expect("sends");
        assert_eq!(
            listed.iter().map(|s| s.client_id).collect::<Vec<_>>(),
            ids,
            "{}",
            db.name
        );
        assert_eq!(listed[0].status, SendStatus::Planned);
        assert_eq!(listed[0].associate_id, Some(sa.id));
        assert_eq!(listed[5].reason.as_deref(), Some("no_consent"));
        let page = r
            .campaign_sends(b.id, c1.id, Some(SendStatus::Planned), ids[0].0, 1)
            .await
            .expect("page");
        assert_eq!(
            page.iter().map(|s| s.client_id).collect::<Vec<_>>(),
            vec![ids[1]]
        );
        assert_eq!(
            rep.suppressed_by,
            vec![
                (Suppression::OptedOut, 1),
                (Suppression::NoConsent, 1),
                (Suppression::NoAddress, 1)
            ]
        );
        // A second broadcast the same day reaches nobody who had the first.
        let c2 = r
            .create_campaign(b.id, &new("Second"))
            .await
            .expect("campaign");
        let counts = r
            .plan_campaign(
                b.id,
                c2.id,
                &audience(r, b.id, &ids[..3]).await,
                &*planner(send_at + 3_600_000, None),
                102,
            )
            .await
            .expect("plan");
        assert_eq!(counts.planned, 0);
        let rep2 = r.campaign_report(b.id, c2.id).await.expect("report");
        assert_eq!(rep2.suppressed_by, vec![(Suppression::DailyCap, 3)]);
        // A planner that ignores the cap is refused by the store, and nothing is stored.
        let c3 = r
            .create_campaign(b.id, &new("Careless"))
            .await
            .expect("campaign");
        let careless: Box<domain::ports::Planner> = Box::new(|c, _, _| {
            c.iter()
                .map(|_| Decision::Send {
                    day: day_number(jiff::civil::date(2026, 11, 24)),
                    not_before: 0,
                })
                .collect()
        });
        assert!(matches!(
            r.plan_campaign(
                b.id,
                c3.id,
                &audience(r, b.id, &ids[..1]).await,
                &*careless,
                103
            )
            .await,
            Err(RepoError::Conflict(_))
        ));
        assert_eq!(
            r.campaign_report(b.id, c3.id).await.expect("report"),
            CampaignReport::default()
        );

        // Batches: leased once, with the sender and the addresses.
        assert!(
            r.claim_batch(send_at - 1, send_at + 1_000)
                .await
                .expect("not due")
                .is_none()
        );
        let batch = r
            .claim_batch(send_at, send_at + 1_000)
            .await
            .expect("claim")
            .expect("a batch");
        assert_eq!(batch.sender, "sa-wecom");
        assert_eq!(batch.sends.len(), 2);
        assert_eq!(batch.sends[0].2, "wm0");
        let other = r
            .claim_batch(send_at, send_at + 1_000)
            .await
            .expect("claim")
            .expect("the rest");
        assert_eq!(other.sends.len(), 1);
        assert!(
            r.claim_batch(send_at, send_at + 1_000)
                .await
                .expect("claim")
                .is_none()
        );
        // A holder that dies before calling the channel: the batch comes back as it was.
        let back = r
            .claim_batch(send_at + 1_000, send_at + 2_000)
            .await
            .expect("claim")
            .expect("back");
        assert_eq!(back.id, batch.id);
        // A holder that dies after calling: only the reconciliation sees it.
        r.batch_attempt(
            batch.id,
            "Li Na invites you",
            send_at + 1_100,
            send_at + 1_500,
        )
        .await
        .expect("attempt");
        r.batch_attempt(
            other.id,
            "Li Na invites you",
            send_at + 1_100,
            send_at + 5_000,
        )
        .await
        .expect("attempt");
        assert!(
            r.claim_batch(send_at + 1_600, send_at + 3_000)
                .await
                .expect("claim")
                .is_none()
        );
        let stale = r
            .stale_batches(send_at + 1_600, send_at + 9_000, 10)
            .await
            .expect("stale");
        assert_eq!(stale.len(), 1);
        assert_eq!(stale[0].body.as_deref(), Some("Li Na invites you"));
        assert_eq!(stale[0].attempts, 1);
        assert!(
            r.stale_batches(send_at + 1_700, send_at + 9_000, 10)
                .await
                .expect("leased")
                .is_empty()
        );
        r.batch_sent(batch.id, "msgA", &[ids[1]], send_at + 2_000)
            .await
            .expect("sent");
        r.batch_retry(other.id, "busy", send_at + 6_000)
            .await
            .expect("retry");
        let retried = r
            .claim_batch(send_at + 6_000, send_at + 7_000)
            .await
            .expect("claim")
            .expect("retry due");
        assert_eq!((retried.id, retried.attempts), (other.id, 1));
        r.batch_failed(other.id, "gave up").await.expect("failed");
        assert_eq!(
            r.mark_delivered(batch.id, &ids, send_at + 3_000)
                .await
                .expect("delivered"),
            1
        );
        let to_confirm = r
            .batches_to_confirm(send_at + 10_000, 10)
            .await
            .expect("confirm");
        assert_eq!(
            to_confirm,
            vec![(b.id, batch.id, "msgA".to_owned(), "sa-wecom".to_owned())]
        );
        r.batch_checked(batch.id, None).await.expect("checked");
        assert!(
            r.batches_to_confirm(send_at + 10_000, 10)
                .await
                .expect("none")
                .is_empty()
        );
        let rep = r.campaign_report(b.id, c1.id).await.expect("report");
        assert_eq!(
            (
                rep.sent,
                rep.delivered,
                rep.failed,
                rep.planned,
                rep.sending
            ),
            (1, 1, 2, 0, 0)
        );
        let sends = r
            .campaign_sends(b.id, c1.id, Some(SendStatus::Sent), 0, 100)
            .await
            .expect("sends");
        assert_eq!(sends.len(), 1);
        assert_eq!(sends[0].provider_msgid.as_deref(), Some("msgA"));
        let archived = r.messages(b.id, ids[0], 10).await.expect("messages");
        assert_eq!(archived.len(), 1);
        assert_eq!(archived[0].body, "Li Na invites you");
        // An audience read before a consent changed is refused as stale.
        let old = audience(r, b.id, &ids).await;
        r.update_client(
            b.id,
            ids[0],
            &ClientPatch {
                consents: vec![
                    Consent::parse("wecom", "marketing", false, "client_request", 50).expect("c"),
                ],
                ..ClientPatch::default()
            },
            None,
        )
        .await
        .expect("opt out");
        let c5 = r
            .create_campaign(b.id, &new("Stale"))
            .await
            .expect("campaign");
        assert!(matches!(
            r.plan_campaign(
                b.id,
                c5.id,
                &old,
                &*planner(send_at + 2 * 86_400_000, None),
                106
            )
            .await,
            Err(RepoError::Stale(_))
        ));
        // Cancelling withdraws what was not handed over, and frees the day.
        let c4 = r
            .create_campaign(b.id, &new("Tomorrow"))
            .await
            .expect("campaign");
        let counts = r
            .plan_campaign(
                b.id,
                c4.id,
                &audience(r, b.id, &ids).await,
                &*planner(send_at + 86_400_000, None),
                104,
            )
            .await
            .expect("plan");
        assert_eq!(counts.planned, 2, "client 0 opted out");
        r.set_campaign_status(b.id, c4.id, CampaignStatus::Cancelled)
            .await
            .expect("cancel");
        let rep = r.campaign_report(b.id, c4.id).await.expect("report");
        assert_eq!((rep.planned, rep.suppressed), (0, 6));
        assert!(matches!(
            r.plan_campaign(
                b.id,
                c4.id,
                &audience(r, b.id, &ids).await,
                &*planner(send_at, None),
                105
            )
            .await,
            Err(RepoError::Conflict(_))
        ));
        // A personalised text is planned in batches and handed over one client at a time.
        let later = send_at + 14 * 86_400_000;
        let c6 = r
            .create_campaign(
                b.id,
                &NewCampaign {
                    template: Template::parse("{client.first_name}, the private preview")
                        .expect("template"),
                    send_at: later,
                    ..new("Personal")
                },
            )
            .await
            .expect("campaign");
        let counts = r
            .plan_campaign(
                b.id,
                c6.id,
                &audience(r, b.id, &ids[1..3]).await,
                &*planner(later, None),
                107,
            )
            .await
            .expect("plan");
        assert_eq!(counts.planned, 2, "{}", db.name);
        let one = r
            .claim_batch(later, later + 1_000)
            .await
            .expect("claim")
            .expect("the first client");
        assert_eq!(one.sends.len(), 1);
        assert_eq!(one.sends[0].1, ids[1]);
        assert_eq!(
            r.campaign_report(b.id, c6.id)
                .await
                .expect("report")
                .planned,
            1
        );
        let two = r
            .claim_batch(later, later + 1_000)
            .await
            .expect("claim")
            .expect("the second client");
        assert_eq!((two.sends.len(), two.sends[0].1), (1, ids[2]));
        assert_ne!(one.id, two.id);
        assert!(
            r.claim_batch(later, later + 1_000)
                .await
                .expect("claim")
                .is_none()
        );

        // Policies: defaults until saved.
        assert_eq!(
            r.contact_policy(b.id).await.expect("policy"),
            ContactPolicy::default()
        );
        let p = ContactPolicy {
            per_week: 2,
            ..ContactPolicy::default()
        };
        r.put_contact_policy(b.id, &p, 7).await.expect("put");
        assert_eq!(r.contact_policy(b.id).await.expect("policy"), p);
        assert!(r.delete_segment(b.id, seg.id).await.expect("delete"));
    }
}

#[tokio::test]
async fn assets_follow_their_workflow_and_moments_move_once() {
    for db in backends().await {
        let r = &*db.repo;
        let b = brand(r, "assets").await;
        let other = brand(r, "assets2").await;
        let text = AssetText::parse(
            "Bag",
            "手袋",
            "Bag",
            "Say it is handmade",
            "No discounts",
            "bags",
            "Winter",
            Some(10),
            Some(20),
        )
        .expect("text");
        let file = AssetFile {
            name: "a.png".into(),
            thumb: "a.thumb.png".into(),
            mime: "image/png".into(),
            bytes: 123,
            width: 64,
            height: 48,
        };
        let a = r
            .create_asset(b.id, &text, &file, None, 5)
            .await
            .expect("asset");
        assert_eq!(
            (a.status, a.file.clone(), a.tags.len()),
            (AssetStatus::Draft, file.clone(), 1),
            "{}",
            db.name
        );
        assert!(
            r.asset(other.id, a.id).await.expect("q").is_none(),
            "another brand's"
        );
        assert!(matches!(
            r.set_asset_status(b.id, a.id, AssetStatus::Draft, 6).await,
            Err(RepoError::Conflict(_))
        ));
        let a = r
            .set_asset_status(b.id, a.id, AssetStatus::Approved, 6)
            .await
            .expect("approve");
        assert!(a.usable_at(15) && !a.usable_at(25));
        let mut t2 = text.clone();
        t2.title = "Bag, renamed".into();
        assert_eq!(
            r.update_asset(b.id, a.id, &t2, 7)
                .await
                .expect("update")
                .title,
            "Bag, renamed"
        );
        let c = r
            .create_client(b.id, &client("Mei", "Lin", "CRM-A1"), None)
            .await
            .expect("client");
        let uses = vec![
            AssetUse {
                asset_id: a.id,
                client_id: c,
                associate_id: None,
                campaign_id: None,
                at: 8,
            },
            AssetUse {
                asset_id: a.id,
                client_id: c,
                associate_id: None,
                campaign_id: None,
                at: 9,
            },
        ];
        r.record_asset_uses(b.id, &uses).await.expect("uses");
        let listed = r.assets(b.id).await.expect("list");
        assert_eq!((listed[0].uses, listed[0].clients), (2, 1));
        assert!(r.assets(other.id).await.expect("list").is_empty());

        let u = user(r, b.id, "sa@assets.test", Role::Associate, None).await;
        let m = r
            .create_moment(b.id, "新品到店", &[u.id], &[a.id], Some(u.id), 10)
            .await
            .expect("moment");
        assert_eq!(
            (m.status, m.senders.clone(), m.asset_ids.clone()),
            (MomentStatus::Queued, vec![u.id], vec![a.id])
        );
        assert!(
            r.moment_update(
                m.id,
                MomentStatus::Queued,
                MomentStatus::Submitting,
                None,
                None,
                None,
                11
            )
            .await
            .expect("lease")
        );
        assert!(
            !r.moment_update(
                m.id,
                MomentStatus::Queued,
                MomentStatus::Submitting,
                None,
                None,
                None,
                11
            )
            .await
            .expect("again"),
            "a second dispatcher does not get it"
        );
        assert!(
            r.moment_update(
                m.id,
                MomentStatus::Submitting,
                MomentStatus::Submitted,
                Some("job1"),
                None,
                None,
                12
            )
            .await
            .expect("submitted")
        );
        let due = r.moments_due(10).await.expect("due");
        assert_eq!(
            (due.len(), due[0].jobid.as_deref(), due[0].attempt_at),
            (1, Some("job1"), Some(11))
        );
        r.moment_update(
            m.id,
            MomentStatus::Submitted,
            MomentStatus::Done,
            None,
            Some("mom1"),
            None,
            13,
        )
        .await
        .expect("done");
        assert!(r.moments_due(10).await.expect("due").is_empty());
        // What came of it is read again until it is old; least recently asked first.
        let follow = r.moments_to_follow(5, 100, 10).await.expect("follow");
        assert_eq!(follow.len(), 1);
        assert_eq!(
            (follow[0].checked_at, follow[0].reach.clone()),
            (None, vec![])
        );
        let reach = vec![MomentReach {
            associate_id: u.id,
            published: true,
            seen_by: 12,
            liked_by: vec![ClientId(3), ClientId(4)],
            commented_by: vec![ClientId(4)],
        }];
        r.moment_reach(m.id, &reach, 200).await.expect("reach");
        assert!(
            r.moments_to_follow(5, 100, 10)
                .await
                .expect("asked recently")
                .is_empty()
        );
        let again = r.moments_to_follow(5, 300, 10).await.expect("follow");
        assert_eq!(
            (again[0].checked_at, again[0].reach.clone()),
            (Some(200), reach)
        );
        assert_eq!(again[0].totals(), (1, 12, 2, 1));
        assert!(
            r.moments_to_follow(20, 300, 10)
                .await
                .expect("too old")
                .is_empty()
        );
        assert_eq!(
            r.moments(b.id, 10).await.expect("list")[0]
                .moment_id
                .as_deref(),
            Some("mom1")
        );
        assert!(r.moments(other.id, 10).await.expect("list").is_empty());
    }
}

fn member(
    r: &str,
    kind: MemberKind,
    user: Option<UserId>,
    client: Option<ClientId>,
) -> GroupMember {
    GroupMember {
        member_ref: r.into(),
        kind,
        user_id: user,
        client_id: client,
        name: format!("name of {r}"),
        joined_at: 1_000,
    }
}

fn said(group: i64, id: &str, sender: Sender, body: &str, at: Millis) -> NewGroupMessage {
    NewGroupMessage {
        group_id: group,
        provider_id: id.into(),
        sender_ref: format!("ref-{id}"),
        sender,
        msg_type: "text".into(),
        body: body.into(),
        at,
    }
}

#[tokio::test]
async fn group_chats_keep_their_roster_their_words_once_and_the_archive_position() {
    for db in backends().await {
        let r = &*db.repo;
        let n = db.name;
        let b = brand(r, "groups").await;
        let other = brand(r, "groups-other").await;
        let s1 = store(r, b.id, "SH01").await;
        let s2 = store(r, b.id, "BJ01").await;
        let li = user(r, b.id, "li@g.example", Role::Associate, Some(s1.id)).await;
        let wang = user(r, b.id, "wang@g.example", Role::Associate, Some(s2.id)).await;
        let c1 = r
            .create_client(b.id, &client("Mei", "Lin", "G-1"), None)
            .await
            .expect("c1");
        let c2 = r
            .create_client(b.id, &client("Ann", "Wu", "G-2"), None)
            .await
            .expect("c2");
        let roster = |name: &str, members: Vec<GroupMember>| NewGroupChat {
            chat_id: "wrA".into(),
            name: name.into(),
            owner_ref: "li".into(),
            owner_id: Some(li.id),
            notice: "Welcome".into(),
            created_at: 500,
            members,
            at: 2_000,
        };
        let g = r
            .put_group(
                b.id,
                &roster(
                    "VIP",
                    vec![
                        member("li", MemberKind::Staff, Some(li.id), None),
                        member("wm1", MemberKind::Client, None, Some(c1)),
                        member("wm2", MemberKind::Client, None, Some(c2)),
                        member("wmX", MemberKind::Client, None, None),
                    ],
                ),
            )
            .await
            .expect("put");
        let got = r.group(b.id, g).await.expect("q").expect("stored");
        assert_eq!(got.members.len(), 4, "{n}");
        assert_eq!(
            got.members[1].name, "name of wm1",
            "{n}: names round-trip sealed"
        );
        assert_eq!(got.store_id, Some(s1.id), "{n}: the owner's store");
        assert_eq!(got.notice, "Welcome");
        assert!(got.has_associate(li.id) && !got.has_associate(wang.id));
        assert_eq!(
            r.group_by_chat_id(b.id, "wrA")
                .await
                .expect("q")
                .map(|g| g.id),
            Some(g)
        );
        assert!(
            r.group(other.id, g).await.expect("q").is_none(),
            "{n}: brands apart"
        );
        assert!(
            r.group_by_chat_id(other.id, "wrA")
                .await
                .expect("q")
                .is_none()
        );
        // A second reading replaces the roster and keeps the id.
        let again = r
            .put_group(
                b.id,
                &roster(
                    "VIP salon",
                    vec![
                        member("li", MemberKind::Staff, Some(li.id), None),
                        member("wm1", MemberKind::Client, None, Some(c1)),
                    ],
                ),
            )
            .await
            .expect("again");
        assert_eq!(again, g, "{n}");
        let got = r.group(b.id, g).await.expect("q").expect("stored");
        assert_eq!(
            (got.name.as_str(), got.members.len()),
            ("VIP salon", 2),
            "{n}"
        );
        // Another brand's client cannot be made a member.
        let foreign = r
            .create_client(other.id, &client("Zoe", "Ma", "G-3"), None)
            .await
            .expect("c3");
        assert!(
            r.put_group(
                b.id,
                &roster(
                    "x",
                    vec![member("wmZ", MemberKind::Client, None, Some(foreign))]
                )
            )
            .await
            .is_err(),
            "{n}"
        );
        assert_eq!(
            r.group(b.id, g)
                .await
                .expect("q")
                .expect("kept")
                .members
                .len(),
            2,
            "{n}: nothing lost"
        );

        // Who sees the group.
        let seen = |scope: Scope, client: Option<ClientId>| async move {
            r.groups(b.id, scope, client, 10)
                .await
                .expect("groups")
                .len()
        };
        assert_eq!(seen(Scope::Brand, None).await, 1, "{n}");
        assert_eq!(seen(Scope::Store(s1.id), None).await, 1, "{n}");
        assert_eq!(seen(Scope::Store(s2.id), None).await, 0, "{n}");
        assert_eq!(seen(Scope::Associate(li.id), None).await, 1, "{n}");
        assert_eq!(seen(Scope::Associate(wang.id), None).await, 0, "{n}");
        assert_eq!(seen(Scope::Brand, Some(c1)).await, 1, "{n}");
        assert_eq!(seen(Scope::Brand, Some(c2)).await, 0, "{n}: c2 left");

        // Words, once per provider id.
        let batch = vec![
            said(g, "m1", Sender::Client(c1), "能打八折吗", 10_000),
            said(g, "m2", Sender::Associate(li.id), "我问一下", 11_000),
            said(g, "m3", Sender::Unknown, "hello", 12_000),
        ];
        let ids = r
            .add_group_messages(b.id, &batch, 20_000)
            .await
            .expect("add");
        assert!(ids.iter().all(|(_, fresh)| *fresh), "{n}");
        let twice = r
            .add_group_messages(b.id, &batch, 21_000)
            .await
            .expect("again");
        assert_eq!(
            twice,
            ids.iter().map(|(id, _)| (*id, false)).collect::<Vec<_>>(),
            "{n}: a batch sent again stores nothing"
        );
        assert!(matches!(
            r.add_group_messages(other.id, &batch[..1], 0).await,
            Err(RepoError::NotFound(_))
        ));
        let all = r.group_messages(b.id, g, None, 10).await.expect("messages");
        assert_eq!(
            all.iter()
                .map(|m| (m.body.as_str(), m.sender))
                .collect::<Vec<_>>(),
            vec![
                ("能打八折吗", Sender::Client(c1)),
                ("我问一下", Sender::Associate(li.id)),
                ("hello", Sender::Unknown)
            ],
            "{n}"
        );
        let before = r
            .group_messages(b.id, g, Some(ids[2].0), 1)
            .await
            .expect("page");
        assert_eq!(
            before.iter().map(|m| m.id).collect::<Vec<_>>(),
            vec![ids[1].0],
            "{n}"
        );
        let by_ids = r
            .group_messages_by_ids(b.id, &[ids[2].0, ids[0].0])
            .await
            .expect("ids");
        assert_eq!(
            by_ids.iter().map(|m| m.id).collect::<Vec<_>>(),
            vec![ids[2].0, ids[0].0]
        );
        assert!(
            r.group_messages_by_ids(other.id, &[ids[0].0])
                .await
                .expect("ids")
                .is_empty()
        );

        // A flag on a group message, with and without a client.
        let rules = ::rules::default_rules();
        let mut stored = Vec::new();
        for rule in &rules {
            stored.push(r.put_rule(b.id, rule, 1).await.expect("rule"));
        }
        let set = ::rules::RuleSet::compile(&stored).expect("compile");
        let hit = set.check("能打八折吗").hits.remove(0);
        let flag = |id: i64, client: Option<ClientId>, associate: Option<UserId>| NewFlag {
            message_id: None,
            group_message_id: Some(id),
            group_id: Some(g),
            client_id: client,
            associate_id: associate,
            store_id: Some(s1.id),
            direction: if client.is_some() {
                Direction::In
            } else {
                Direction::Out
            },
            hit: hit.clone(),
            at: 30_000,
        };
        let added = r
            .add_flags(
                b.id,
                &[
                    flag(ids[0].0, Some(c1), None),
                    flag(ids[1].0, None, Some(li.id)),
                ],
            )
            .await
            .expect("flags");
        assert_eq!(added, 2, "{n}");
        assert_eq!(
            r.add_flags(b.id, &[flag(ids[0].0, Some(c1), None)])
                .await
                .expect("again"),
            0,
            "{n}: once per message and rule"
        );
        let flags = r
            .flags(
                b.id,
                &FlagQuery {
                    group: Some(g),
                    limit: 10,
                    ..FlagQuery::default()
                },
            )
            .await
            .expect("flags");
        assert_eq!(flags.len(), 2, "{n}");
        assert!(
            flags
                .iter()
                .any(|f| f.client_id.is_none() && f.associate_id == Some(li.id))
        );
        let indexed = settled(3, || {
            r.group_messages_for_index(b.id, domain::ports::StreamPos::default(), 10)
        })
        .await;
        assert_eq!(
            indexed
                .iter()
                .map(|(m, s, f, _)| (m.id, *s, *f))
                .collect::<Vec<_>>(),
            vec![
                (ids[0].0, Some(s1.id), true),
                (ids[1].0, Some(s1.id), true),
                (ids[2].0, Some(s1.id), false)
            ],
            "{n}"
        );
        let summary = &r
            .groups(b.id, Scope::Brand, None, 10)
            .await
            .expect("groups")[0];
        assert_eq!(
            (
                summary.members,
                summary.clients,
                summary.messages,
                summary.open_flags,
                summary.last_at
            ),
            (2, 1, 3, 2, Some(12_000)),
            "{n}"
        );
        // A client's thread counts only its own one-to-one flags.
        let threads = r
            .conversations(b.id, Scope::Brand, None, 10)
            .await
            .expect("threads");
        assert!(threads.is_empty(), "{n}");

        // Dismissed, and back.
        assert!(r.dismiss_group(b.id, "wrA", 40_000).await.expect("dismiss"));
        assert!(
            !r.dismiss_group(b.id, "wrNone", 40_000)
                .await
                .expect("unknown")
        );
        assert_eq!(
            r.group(b.id, g)
                .await
                .expect("q")
                .expect("kept")
                .dismissed_at,
            Some(40_000)
        );
        r.put_group(b.id, &roster("VIP salon", vec![]))
            .await
            .expect("back");
        assert_eq!(
            r.group(b.id, g)
                .await
                .expect("q")
                .expect("kept")
                .dismissed_at,
            None,
            "{n}"
        );

        // Posts to the group: once per key, leased once, moved only from where they are.
        let new_post = |key: &str| NewGroupPost {
            group_id: g,
            associate_id: li.id,
            body: "Preview on Saturday".into(),
            idem_key: key.into(),
            at: 50_000,
        };
        let p1 = r
            .enqueue_group_post(b.id, &new_post("k1"))
            .await
            .expect("post");
        let p1b = r
            .enqueue_group_post(b.id, &new_post("k1"))
            .await
            .expect("again");
        assert_eq!(
            (p1.id, p1.status, p1.body.as_str()),
            (p1b.id, GroupPostStatus::Queued, "Preview on Saturday"),
            "{n}"
        );
        assert!(matches!(
            r.enqueue_group_post(other.id, &new_post("k9")).await,
            Err(RepoError::NotFound(_))
        ));
        let mut by_wang = new_post("k1");
        by_wang.associate_id = wang.id;
        assert!(
            matches!(
                r.enqueue_group_post(b.id, &by_wang).await,
                Err(RepoError::Conflict(_))
            ),
            "{n}"
        );
        assert_eq!(
            r.group_posts_due(0, 10)
                .await
                .expect("due")
                .iter()
                .filter(|p| p.id == p1.id)
                .count(),
            1
        );
        assert!(
            r.group_post_update(
                p1.id,
                GroupPostStatus::Queued,
                GroupPostStatus::Sending,
                None,
                None,
                60_000
            )
            .await
            .expect("lease")
        );
        assert!(
            !r.group_post_update(
                p1.id,
                GroupPostStatus::Queued,
                GroupPostStatus::Sending,
                None,
                None,
                60_000
            )
            .await
            .expect("twice"),
            "{n}: leased once"
        );
        assert!(
            r.group_posts_due(60_000, 10)
                .await
                .expect("due")
                .iter()
                .all(|p| p.id != p1.id),
            "{n}: a fresh lease is not due"
        );
        assert!(
            r.group_posts_due(60_001, 10)
                .await
                .expect("due")
                .iter()
                .any(|p| p.id == p1.id),
            "{n}: a stale one is"
        );
        assert!(
            r.group_post_update(
                p1.id,
                GroupPostStatus::Sending,
                GroupPostStatus::Sent,
                Some("msgG"),
                None,
                61_000
            )
            .await
            .expect("sent")
        );
        let posts = r.group_posts(b.id, g, 10).await.expect("posts");
        assert_eq!(
            (
                posts[0].status,
                posts[0].msgid.as_deref(),
                posts[0].attempt_at
            ),
            (GroupPostStatus::Sent, Some("msgG"), Some(60_000)),
            "{n}"
        );
        assert!(
            r.group_posts(other.id, g, 10)
                .await
                .expect("posts")
                .is_empty()
        );

        // The archive's position only moves forward.
        assert_eq!(r.archive_seq(b.id).await.expect("seq"), 0, "{n}");
        r.set_archive_seq(b.id, 10, 1).await.expect("set");
        r.set_archive_seq(b.id, 5, 2).await.expect("back");
        assert_eq!(r.archive_seq(b.id).await.expect("seq"), 10, "{n}");
        assert_eq!(r.archive_seq(other.id).await.expect("seq"), 0, "{n}");
    }
}

fn sales_order(id: &str, client: Option<&str>, at: &str, amount: i64) -> sales::Order {
    let client = client.map_or("null".to_owned(), |c| format!("{c:?}"));
    sales::input::order(
        1,
        &format!(
            r#"{{"order_id":"{id}","source":"ecommerce","client":{client},"placed_at":"{at}","currency":"CNY","lines":[{{"line":1,"sku":"BAG","qty":2,"amount":{amount}}},{{"line":2,"sku":"SCARF","qty":1,"amount":5}}]}}"#
        ),
    )
    .expect("order")
}

fn at(s: &str) -> Millis {
    sales::input::instant(s).expect("instant")
}

#[tokio::test]
async fn sales_orders_returns_touches_rates_policy_and_disputes() {
    for db in backends().await {
        let r = &*db.repo;
        let n = db.name;
        let b = brand(r, "maison").await.id;
        let rival = brand(r, "rival").await.id;
        let g0 = r.sales_generation(b).await.expect("generation");

        // Orders: stored once by id, whatever the second copy says.
        let o1 = sales_order("O1", Some("CRM-1"), "2026-01-09T15:02:00+08:00", 3_250_000);
        let o2 = sales_order("O2", None, "2026-01-31T23:59:59+08:00", 10);
        let o3 = sales_order("O3", Some("CRM-1"), "2026-02-01T00:00:00+08:00", 20);
        let new = r
            .put_orders(b, &[o1.clone(), o2.clone()])
            .await
            .expect("orders");
        assert_eq!(new, vec!["O1".to_owned(), "O2".to_owned()], "{n}");
        let mut changed = o1.clone();
        changed.lines[0].amount = 1;
        let new = r
            .put_orders(b, &[changed, o3.clone()])
            .await
            .expect("again");
        assert_eq!(new, vec!["O3".to_owned()], "{n}");
        let g1 = r.sales_generation(b).await.expect("generation");
        assert!(g1 > g0, "{n}: orders move the generation");
        assert_eq!(
            r.put_orders(b, std::slice::from_ref(&o1))
                .await
                .expect("held"),
            Vec::<String>::new()
        );
        assert_eq!(
            r.sales_generation(b).await.expect("g"),
            g1,
            "{n}: nothing new, no move"
        );
        let got = r
            .orders_by_id(b, &["O1".into(), "nope".into()])
            .await
            .expect("by id");
        assert_eq!(got, vec![o1.clone()], "{n}: an order reads back exactly");
        let jan = r
            .orders_placed(
                b,
                at("2026-01-01T00:00:00+08:00"),
                at("2026-02-01T00:00:00+08:00"),
            )
            .await
            .expect("placed");
        assert_eq!(
            jan.iter().map(|o| o.order_id.as_str()).collect::<Vec<_>>(),
            ["O1", "O2"],
            "{n}"
        );
        let mine = r.orders_of_client(b, "CRM-1", 10).await.expect("client's");
        assert_eq!(
            mine.iter().map(|o| o.order_id.as_str()).collect::<Vec<_>>(),
            ["O3", "O1"],
            "{n}"
        );
        assert!(
            r.orders_by_id(rival, &["O1".into()])
                .await
                .expect("rival")
                .is_empty(),
            "{n}"
        );

        // Returns.
        let ret = sales::Return {
            return_id: "R1".into(),
            order_id: "O1".into(),
            line: 1,
            qty: 1,
            amount: 1_000_000,
            at: at("2026-02-03T10:00:00+08:00"),
        };
        assert_eq!(
            r.put_returns(b, std::slice::from_ref(&ret))
                .await
                .expect("returns"),
            1,
            "{n}"
        );
        assert_eq!(
            r.put_returns(b, std::slice::from_ref(&ret))
                .await
                .expect("again"),
            0,
            "{n}"
        );
        let feb = r
            .returns_made(
                b,
                at("2026-02-01T00:00:00+08:00"),
                at("2026-03-01T00:00:00+08:00"),
            )
            .await
            .expect("made");
        assert_eq!(feb, vec![ret.clone()], "{n}");
        assert_eq!(
            r.returns_of_orders(b, &["O1".into()]).await.expect("of"),
            vec![ret],
            "{n}"
        );

        // Touches: once each; (after, until].
        let t = |s: &str, who: &str, kind| sales::Touch {
            at: at(s),
            associate: who.into(),
            client: "CRM-1".into(),
            kind,
        };
        let touches = [
            t(
                "2026-01-02T15:02:00+08:00",
                "li.na@x.example",
                sales::TouchKind::ShareClick,
            ),
            t(
                "2026-01-09T15:02:00+08:00",
                "wang@x.example",
                sales::TouchKind::Message,
            ),
            t(
                "2026-01-09T15:02:00+08:00",
                "wang@x.example",
                sales::TouchKind::Message,
            ),
        ];
        assert_eq!(
            r.put_touches(b, &touches, "import").await.expect("touches"),
            2,
            "{n}"
        );
        assert_eq!(
            r.put_touches(b, &touches, "import").await.expect("again"),
            0,
            "{n}"
        );
        assert_eq!(r.count_touches(b).await.expect("count"), 2, "{n}");
        let got = r
            .touches_of_clients(
                b,
                &["CRM-1".into()],
                at("2026-01-02T15:02:00+08:00"),
                at("2026-01-09T15:02:00+08:00"),
            )
            .await
            .expect("of clients");
        assert_eq!(
            got,
            vec![touches[1].clone()],
            "{n}: after is open, until is closed"
        );
        assert_eq!(r.count_touches(rival).await.expect("rival"), 0, "{n}");

        // Rates: exact decimals; the same rate again changes nothing.
        let rate = |d: &str, v: &str| sales::FxRate {
            date: d.parse().expect("date"),
            currency: "EUR".into(),
            rate: v.parse().expect("rate"),
        };
        assert_eq!(
            r.put_fx_rates(b, &[rate("2026-01-09", "7.812500000001")])
                .await
                .expect("fx"),
            1
        );
        let g2 = r.sales_generation(b).await.expect("g");
        assert_eq!(
            r.put_fx_rates(b, &[rate("2026-01-09", "7.812500000001")])
                .await
                .expect("fx"),
            0
        );
        assert_eq!(r.sales_generation(b).await.expect("g"), g2, "{n}");
        assert_eq!(
            r.put_fx_rates(b, &[rate("2026-01-09", "7.9")])
                .await
                .expect("fx"),
            1
        );
        assert_eq!(
            r.fx_rates(b).await.expect("rates"),
            vec![rate("2026-01-09", "7.9")],
            "{n}"
        );

        // Policy and targets.
        assert_eq!(r.sales_policy(b).await.expect("none"), None, "{n}");
        let targets = vec![(
            "2026-01".to_owned(),
            "li.na@x.example".to_owned(),
            30_000_000,
        )];
        r.put_sales_policy(b, r#"{"model":"split"}"#, &targets, None)
            .await
            .expect("policy");
        assert_eq!(
            r.sales_policy(b).await.expect("policy").as_deref(),
            Some(r#"{"model":"split"}"#)
        );
        r.put_targets(
            b,
            &[
                ("2026-01".into(), "li.na@x.example".into(), 1),
                ("2026-01".into(), "bo@x.example".into(), 2),
            ],
        )
        .await
        .expect("targets");
        assert_eq!(
            r.targets(b, "2026-01").await.expect("targets"),
            vec![
                ("bo@x.example".to_owned(), 2),
                ("li.na@x.example".to_owned(), 1)
            ],
            "{n}"
        );
        assert!(
            r.targets(rival, "2026-01").await.expect("rival").is_empty(),
            "{n}"
        );

        // Book history and clients by CRM id.
        let s = store(r, b, "SH01").await;
        let li = user(r, b, "li.na@x.example", Role::Associate, Some(s.id)).await;
        let c = r
            .create_client(b, &client("Ting", "Wang", "CRM-1"), None)
            .await
            .expect("client");
        r.assign(b, c, li.id, None, "test").await.expect("assign");
        assert_eq!(
            r.clients_by_crm(b, &["CRM-1".into(), "CRM-9".into()])
                .await
                .expect("crm"),
            vec![("CRM-1".to_owned(), c)]
        );
        let book = r.book_history(b, &["CRM-1".into()]).await.expect("book");
        assert_eq!(book.len(), 1, "{n}");
        assert_eq!(
            book[0].1.associate.as_deref(),
            Some("li.na@x.example"),
            "{n}"
        );

        // Disputes: decided once; a decision's shares read back exactly.
        let d = r
            .create_dispute(b, "O2", li.id, "I served her", 7)
            .await
            .expect("dispute");
        assert_eq!(d.status, DisputeStatus::Open);
        let other = r
            .create_dispute(b, "O3", li.id, "mine too", 8)
            .await
            .expect("dispute");
        assert_eq!(
            r.disputes(b, Some(DisputeStatus::Open))
                .await
                .expect("open")
                .len(),
            2,
            "{n}"
        );
        let shares = vec![
            (
                "li.na@x.example".to_owned(),
                "0.333333333333".parse().expect("f"),
            ),
            (
                "bo@x.example".to_owned(),
                "0.666666666667".parse().expect("f"),
            ),
        ];
        let g3 = r.sales_generation(b).await.expect("g");
        let decided = r
            .decide_dispute(b, d.id, Some(&shares), Some(li.id), "agreed", 9)
            .await
            .expect("decide");
        assert_eq!(decided.status, DisputeStatus::Decided);
        assert!(r.sales_generation(b).await.expect("g") > g3, "{n}");
        assert!(
            matches!(
                r.decide_dispute(b, d.id, None, None, "again", 10).await,
                Err(RepoError::Stale(_))
            ),
            "{n}"
        );
        r.decide_dispute(b, other.id, None, None, "no", 11)
            .await
            .expect("reject");
        let decisions = r.decisions(b).await.expect("decisions");
        assert_eq!(
            decisions,
            vec![sales::Decision {
                order_id: "O2".into(),
                shares
            }],
            "{n}"
        );
        assert!(
            r.dispute(rival, d.id).await.expect("rival").is_none(),
            "{n}"
        );
        assert!(r.decisions(rival).await.expect("rival").is_empty(), "{n}");
    }
}

/// Eight writers at once (notes, client updates, sends queued, a dispatcher leasing and marking
/// rows sent) while readers read: every write succeeds. On SQLite a deferred transaction that
/// read before writing failed at once with SQLITE_BUSY (5) or SQLITE_BUSY_SNAPSHOT (517),
/// "database is locked", whatever the busy timeout: writes must take the write lock up front.
#[tokio::test]
async fn concurrent_writers_all_succeed() {
    for db in backends().await {
        let r = db.repo.clone();
        let b = brand(&*r, "busy").await;
        let mut clients = Vec::new();
        for i in 0..8 {
            clients.push(
                r.create_client(b.id, &client("Mei", "Lin", &format!("CRM-B{i}")), None)
                    .await
                    .expect("client"),
            );
        }
        const ROUNDS: usize = 25;
        let mut tasks = Vec::new();
        for (w, cid) in clients.iter().copied().enumerate() {
            let r = r.clone();
            tasks.push(tokio::spawn(async move {
                let mut failures = Vec::new();
                for i in 0..ROUNDS {
                    let outcome = match (w + i) % 3 {
                        0 => r
                            .add_note(b.id, cid, None, &format!("note {w}/{i}"), 1_000 + i as i64)
                            .await
                            .map(|_| ()),
                        1 => {
                            r.update_client(
                                b.id,
                                cid,
                                &ClientPatch {
                                    city: Some(Some(format!("City {i}"))),
                                    tier: Some(Some(["Silver", "Gold"][i % 2].into())),
                                    ..ClientPatch::default()
                                },
                                None,
                            )
                            .await
                        }
                        _ => r
                            .enqueue(
                                b.id,
                                &NewOutbound {
                                    client_id: cid,
                                    associate_id: None,
                                    channel: ChannelKind::Wecom,
                                    msg_type: "text".into(),
                                    body: format!("message {w}/{i}"),
                                    idem_key: format!("busy-{w}-{i}"),
                                    at: 100,
                                },
                            )
                            .await
                            .map(|_| ()),
                    };
                    if let Err(e) = outcome {
                        failures.push(e.to_string());
                    }
                    // A reader between writes, as a page would.
                    if let Err(e) = r.client(b.id, cid).await {
                        failures.push(e.to_string());
                    }
                }
                failures
            }));
        }
        // The dispatcher: leases what is queued and marks it sent, concurrently.
        let dispatcher = {
            let r = r.clone();
            tokio::spawn(async move {
                let mut failures = Vec::new();
                let mut sent = 0;
                for round in 0..200 {
                    match r.outbox_claim(i64::MAX / 2, i64::MAX / 2 + 1, 8).await {
                        Ok(rows) => {
                            for o in rows {
                                let provider_id = format!("sent-{}", o.id);
                                let m = NewMessage {
                                    client_id: o.client_id,
                                    channel: ChannelKind::Wecom,
                                    direction: Direction::Out,
                                    associate_id: None,
                                    provider_id: Some(provider_id.clone()),
                                    msg_type: "text".into(),
                                    body: o.body.clone(),
                                    at: 200,
                                };
                                match r.outbox_sent(o.id, &provider_id, &m).await {
                                    Ok(_) => sent += 1,
                                    Err(e) => failures.push(e.to_string()),
                                }
                            }
                        }
                        Err(e) => failures.push(e.to_string()),
                    }
                    if round % 10 == 9 {
                        tokio::task::yield_now().await;
                    }
                }
                (failures, sent)
            })
        };
        let mut failures = Vec::new();
        for t in tasks {
            failures.extend(t.await.expect("join"));
        }
        let (dispatch_failures, _) = dispatcher.await.expect("join");
        failures.extend(dispatch_failures);
        assert!(
            failures.is_empty(),
            "{}: {} of {} operations failed under concurrency, e.g. {:?}",
            db.name,
            failures.len(),
            8 * ROUNDS * 2,
            failures.first()
        );
        for cid in &clients {
            let notes = r.notes(b.id, *cid).await.expect("notes");
            assert!(!notes.is_empty(), "{}: notes were written", db.name);
        }
    }
}

#[tokio::test]
async fn a_signature_signs_one_callback_until_it_expires() {
    for db in backends().await {
        let r = &*db.repo;
        let b = brand(r, "replay").await;
        let signed = |key: &str, body: &str, sig: &str, at: Millis| InboxItem {
            received_at: at,
            replay: Some(ReplayGuard {
                signature: sig.into(),
                expires_at: at + 600_000,
            }),
            ..inbox_item(b.id, key, body)
        };
        let first = r
            .inbox_put(&[signed("k1", "<xml>follow</xml>", "sig-1", 1_000)])
            .await
            .expect("put");
        let first = first[0].expect("first use");
        assert!(first.fresh, "{}", db.name);
        // Tencent's retry: the same signature over the same callback is a retry.
        let again = r
            .inbox_put(&[signed("k1", "<xml>follow</xml>", "sig-1", 2_000)])
            .await
            .expect("put");
        assert_eq!(
            again[0],
            Ok(InboxReceipt {
                id: first.id,
                fresh: false
            }),
            "{}",
            db.name
        );
        // The same query string with another body (plain mode signs no body): refused, and
        // within one batch too.
        let forged = r
            .inbox_put(&[
                signed("k2", "<xml>forged</xml>", "sig-1", 3_000),
                signed("k3", "<xml>a</xml>", "sig-2", 3_000),
                signed("k4", "<xml>b</xml>", "sig-2", 3_000),
            ])
            .await
            .expect("put");
        assert_eq!(forged[0], Err(Replayed), "{}", db.name);
        assert!(forged[1].is_ok_and(|x| x.fresh));
        assert_eq!(forged[2], Err(Replayed));
        // Another brand's or channel's signature space is its own.
        let other = brand(r, "replay2").await;
        let theirs = r
            .inbox_put(&[InboxItem {
                brand: other.id,
                ..signed("k2", "<xml>x</xml>", "sig-1", 3_000)
            }])
            .await
            .expect("put");
        assert!(theirs[0].is_ok(), "{}", db.name);
        // Once expired, the signature is forgotten (its timestamp would be refused anyway).
        let later = r
            .inbox_put(&[signed("k5", "<xml>later</xml>", "sig-1", 700_000)])
            .await
            .expect("put");
        assert!(later[0].is_ok_and(|x| x.fresh), "{}", db.name);
        assert_eq!(
            r.inbox_counts(b.id, ChannelKind::Wecom, 5)
                .await
                .expect("counts")
                .received,
            3,
            "{}: k1, k3 and k5 only",
            db.name
        );
    }
}

#[tokio::test]
async fn rate_counters_count_in_fixed_windows() {
    for db in backends().await {
        let r = &*db.repo;
        let w = 1_000;
        for i in 1..=3 {
            let c = r
                .rate_hit("signin:addr:10.0.0.1", 100 + i, w)
                .await
                .expect("hit");
            assert_eq!((c.hits, c.window_start), (i as u32, 101), "{}", db.name);
        }
        assert_eq!(
            r.rate_peek("signin:addr:10.0.0.1", 500, w)
                .await
                .expect("peek")
                .hits,
            3
        );
        assert_eq!(
            r.rate_peek("signin:addr:10.0.0.2", 500, w)
                .await
                .expect("peek")
                .hits,
            0
        );
        r.rate_refund("signin:addr:10.0.0.1").await.expect("refund");
        assert_eq!(
            r.rate_peek("signin:addr:10.0.0.1", 500, w)
                .await
                .expect("peek")
                .hits,
            2
        );
        // The window ends a second after its first hit; the next hit starts another.
        assert_eq!(
            r.rate_peek("signin:addr:10.0.0.1", 1_101, w)
                .await
                .expect("peek")
                .hits,
            0
        );
        let c = r
            .rate_hit("signin:addr:10.0.0.1", 1_101, w)
            .await
            .expect("hit");
        assert_eq!((c.hits, c.window_start), (1, 1_101), "{}", db.name);
        r.rate_clear("signin:addr:10.0.0.1").await.expect("clear");
        assert_eq!(
            r.rate_peek("signin:addr:10.0.0.1", 1_200, w)
                .await
                .expect("peek")
                .hits,
            0
        );
        // Concurrent hits are each counted once.
        let mut tasks = Vec::new();
        for _ in 0..16 {
            let repo = db.repo.clone();
            tasks.push(tokio::spawn(async move {
                repo.rate_hit("join:addr:x", 5_000, w).await
            }));
        }
        let mut seen: Vec<u32> = Vec::new();
        for t in tasks {
            seen.push(t.await.expect("join").expect("hit").hits);
        }
        seen.sort_unstable();
        assert_eq!(seen, (1..=16).collect::<Vec<_>>(), "{}", db.name);
        assert_eq!(r.rate_purge(5_001).await.expect("purge"), 1);
        // The keys are not stored in clear.
        if let Some(dir) = &db.sqlite_dir {
            let bytes = std::fs::read(dir.join("salon.db")).unwrap_or_default();
            let wal = std::fs::read(dir.join("salon.db-wal")).unwrap_or_default();
            for b in [bytes, wal] {
                assert!(
                    !b.windows(8).any(|x| x == b"10.0.0.1"),
                    "an address in clear"
                );
            }
        }
    }
}

#[tokio::test]
async fn touches_in_bulk_tier_thresholds_and_refunds() {
    for db in backends().await {
        let r = &*db.repo;
        let n = db.name;
        let b = brand(r, "maison").await.id;
        let rival = brand(r, "rival").await.id;

        // More touches than one statement carries, with repeats across statements and the same
        // CRM ids in another brand: each held once, each brand its own.
        let touch = |i: usize, who: &str| sales::Touch {
            client: format!("C{:05}", i % 7_000),
            at: 1_767_225_600_000 + (i as i64 % 9_000) * 60_000,
            associate: who.into(),
            kind: sales::TouchKind::ALL[i % 5],
        };
        let many: Vec<sales::Touch> = (0..25_000)
            .map(|i| {
                touch(
                    i,
                    if i % 2 == 0 {
                        "a@m.example"
                    } else {
                        "b@m.example"
                    },
                )
            })
            .collect();
        let distinct: std::collections::HashSet<_> = many
            .iter()
            .map(|t| (t.client.clone(), t.at, t.associate.clone(), t.kind))
            .collect();
        assert_eq!(
            r.put_touches(b, &many, "import").await.expect("many"),
            distinct.len() as u64,
            "{n}"
        );
        assert_eq!(
            r.put_touches(b, &many, "import").await.expect("again"),
            0,
            "{n}"
        );
        assert_eq!(
            r.put_touches(rival, &many[..10], "import")
                .await
                .expect("rival"),
            10,
            "{n}"
        );
        assert_eq!(
            r.count_touches(b).await.expect("count"),
            distinct.len() as i64,
            "{n}"
        );
        let clients: Vec<String> = (0..7_000).map(|i| format!("C{i:05}")).collect();
        let mut got = r
            .touches_of_clients(b, &clients, 0, i64::MAX)
            .await
            .expect("all");
        got.sort_by(|x, y| (&x.client, x.at, &x.associate).cmp(&(&y.client, y.at, &y.associate)));
        assert_eq!(got.len(), distinct.len(), "{n}");
        assert!(
            got.iter().all(|t| distinct.contains(&(
                t.client.clone(),
                t.at,
                t.associate.clone(),
                t.kind
            ))),
            "{n}: every touch reads back as it was"
        );
        assert_eq!(
            r.touches_of_clients(rival, &clients, 0, i64::MAX)
                .await
                .expect("rival")
                .len(),
            10,
            "{n}"
        );

        // The same order id twice in one batch: the first wins, even when the second is earlier.
        let first = sales_order("DUP", Some("CRM-D"), "2026-03-09T15:02:00+08:00", 70);
        let second = sales_order("DUP", Some("CRM-D"), "2026-03-01T15:02:00+08:00", 10);
        assert_eq!(
            r.put_orders(b, &[first.clone(), second])
                .await
                .expect("dup"),
            vec!["DUP".to_owned()],
            "{n}"
        );
        assert_eq!(
            r.orders_by_id(b, &["DUP".into()]).await.expect("by id"),
            vec![first],
            "{n}: the first of the same id is held"
        );

        // Tier thresholds: replaced whole.
        r.put_tier_thresholds(b, &[("Silver".into(), 100), ("Gold".into(), 500)])
            .await
            .expect("tiers");
        r.put_tier_thresholds(b, &[("Gold".into(), 700)])
            .await
            .expect("tiers again");
        assert_eq!(
            r.tier_thresholds(b).await.expect("read"),
            vec![("Gold".to_owned(), 700)],
            "{n}"
        );
        assert!(r.tier_thresholds(rival).await.expect("rival").is_empty());

        // Refunds lower the lifetime spend once per return, with a timeline entry.
        let mut c = client("Ana", "Lee", "CRM-R");
        c.lifetime_spend_minor = 1_000;
        let id = r.create_client(b, &c, None).await.expect("client");
        let refund = NewRefund {
            at: 1_767_225_600_000,
            amount_minor: 300,
            currency: "CNY".into(),
            order_id: "O1".into(),
            return_id: "R1".into(),
            items: vec!["BAG".into()],
        };
        for _ in 0..2 {
            r.add_refunds(b, &[(id, refund.clone())])
                .await
                .expect("refund");
        }
        let got = r.client(b, id).await.expect("q").expect("client");
        assert_eq!(got.lifetime_spend_minor, 700, "{n}");
        let timeline = r.timeline(b, id, 10).await.expect("timeline");
        assert_eq!(
            timeline.iter().filter(|e| e.kind == "return").count(),
            1,
            "{n}"
        );
        assert!(
            r.add_refunds(rival, &[(id, refund)]).await.is_err(),
            "{n}: another brand's client is refused"
        );
    }
}

fn product(sku: &str, zh: &str, en: &str, category: &str, cny: &str) -> Product {
    ProductInput {
        sku: sku.into(),
        name_zh: zh.into(),
        name_en: en.into(),
        category: category.into(),
        material: "Calfskin".into(),
        colours: vec!["Black".into(), "Rouge".into()],
        sizes: vec!["S".into(), "M".into()],
        prices: [
            ("CNY".to_owned(), PriceInput::Text(cny.into())),
            ("EUR".to_owned(), PriceInput::Text("4100.50".into())),
        ]
        .into_iter()
        .collect(),
        images: vec![],
        active: Some(true),
        url: Some(format!("https://shop.example/{sku}")),
    }
    .parse(1_000)
    .expect("product")
}

#[tokio::test]
async fn catalogue_products_and_stock_upsert_per_brand() {
    use domain::ports::ProductFilter;
    for db in backends().await {
        let r = &*db.repo;
        let n = db.name;
        let b = brand(r, "maison").await.id;
        let rival = brand(r, "rival").await.id;
        store(r, b, "SH01").await;
        store(r, b, "PA01").await;
        store(r, rival, "RV01").await;
        let g0 = r.catalogue_generation(b).await.expect("generation");
        let bag = product("LM-BAG-001", "经典手袋", "Classic Bag", "Bags", "32000");
        let scarf = product("LM-SCA-001", "真丝围巾", "Silk Scarf", "Scarves", "4200.00");
        assert_eq!(
            r.put_products(b, &[bag.clone(), scarf.clone()])
                .await
                .expect("put"),
            (2, 0),
            "{n}"
        );
        let g1 = r.catalogue_generation(b).await.expect("generation");
        assert!(g1 > g0, "{n}");
        // The same again changes nothing, not even the generation or the time.
        let mut later = bag.clone();
        later.updated_at = 9_999;
        assert_eq!(
            r.put_products(b, &[later, scarf.clone()])
                .await
                .expect("again"),
            (0, 0),
            "{n}"
        );
        assert_eq!(r.catalogue_generation(b).await.expect("g"), g1, "{n}");
        let held = r.product(b, "LM-BAG-001").await.expect("q").expect("bag");
        assert_eq!(held, bag, "{n}: round trip");
        assert_eq!(held.price("EUR"), Some(410_050), "{n}");
        // A change replaces the product.
        let mut cheaper = bag.clone();
        cheaper.prices[0].minor = 100;
        cheaper.active = false;
        cheaper.url = None;
        cheaper.updated_at = 2_000;
        assert_eq!(
            r.put_products(b, std::slice::from_ref(&cheaper))
                .await
                .expect("change"),
            (0, 1),
            "{n}"
        );
        assert_eq!(
            r.product(b, "LM-BAG-001").await.expect("q"),
            Some(cheaper.clone()),
            "{n}"
        );
        // Filters, and nothing of another brand.
        assert!(
            r.product(rival, "LM-BAG-001").await.expect("q").is_none(),
            "{n}"
        );
        let all = |f: ProductFilter| async move { r.products(b, &f).await.expect("list") };
        let skus = |v: Vec<Product>| v.into_iter().map(|p| p.sku).collect::<Vec<_>>();
        assert_eq!(
            skus(
                all(ProductFilter {
                    limit: 10,
                    ..ProductFilter::default()
                })
                .await
            ),
            vec!["LM-BAG-001", "LM-SCA-001"],
            "{n}"
        );
        assert_eq!(
            skus(
                all(ProductFilter {
                    active: Some(true),
                    limit: 10,
                    ..ProductFilter::default()
                })
                .await
            ),
            vec!["LM-SCA-001"],
            "{n}"
        );
        assert_eq!(
            skus(
                all(ProductFilter {
                    category: Some("Bags".into()),
                    limit: 10,
                    ..ProductFilter::default()
                })
                .await
            ),
            vec!["LM-BAG-001"],
            "{n}"
        );
        assert_eq!(
            skus(
                all(ProductFilter {
                    skus: Some(vec!["LM-SCA-001".into(), "NOPE".into()]),
                    limit: 10,
                    ..ProductFilter::default()
                })
                .await
            ),
            vec!["LM-SCA-001"],
            "{n}"
        );
        assert!(
            r.products(
                rival,
                &ProductFilter {
                    limit: 10,
                    ..ProductFilter::default()
                }
            )
            .await
            .expect("rival")
            .is_empty(),
            "{n}"
        );
        assert_eq!(
            r.product_categories(b).await.expect("c"),
            vec!["Bags", "Scarves"],
            "{n}"
        );
        assert_eq!(
            r.known_skus(b, &["LM-BAG-001".into(), "X".into()])
                .await
                .expect("known"),
            vec!["LM-BAG-001"],
            "{n}"
        );

        // Stock: upserted per SKU and store; an unknown SKU or store stores nothing.
        let level = |sku: &str, store: &str, q: i64| StockLevel {
            sku: sku.into(),
            store: store.into(),
            quantity: q,
            updated_at: 5,
        };
        let g2 = r.catalogue_generation(b).await.expect("g");
        assert_eq!(
            r.put_stock(
                b,
                &[
                    level("LM-BAG-001", "SH01", 3),
                    level("LM-BAG-001", "PA01", 1),
                    level("LM-SCA-001", "SH01", 7)
                ]
            )
            .await
            .expect("stock"),
            3,
            "{n}"
        );
        assert!(r.catalogue_generation(b).await.expect("g") > g2, "{n}");
        assert_eq!(
            r.put_stock(b, &[level("LM-BAG-001", "SH01", 3)])
                .await
                .expect("same"),
            0,
            "{n}"
        );
        assert_eq!(
            r.put_stock(
                b,
                &[
                    level("LM-BAG-001", "SH01", 2),
                    level("LM-BAG-001", "SH01", 4)
                ]
            )
            .await
            .expect("twice"),
            1,
            "{n}: the last line wins"
        );
        for bad in [level("NOPE", "SH01", 1), level("LM-BAG-001", "RV01", 1)] {
            let e = r
                .put_stock(b, &[level("LM-SCA-001", "PA01", 9), bad])
                .await
                .expect_err("refused");
            assert!(matches!(e, RepoError::Invalid(_)), "{n}: {e}");
        }
        let stock = r.stock(b, None, None).await.expect("stock");
        assert_eq!(
            stock
                .iter()
                .map(|l| (l.sku.as_str(), l.store.as_str(), l.quantity))
                .collect::<Vec<_>>(),
            vec![
                ("LM-BAG-001", "PA01", 1),
                ("LM-BAG-001", "SH01", 4),
                ("LM-SCA-001", "SH01", 7)
            ],
            "{n}: nothing of the refused writes"
        );
        assert_eq!(
            r.stock(b, Some(&["LM-SCA-001".to_owned()]), Some("SH01"))
                .await
                .expect("one")
                .len(),
            1,
            "{n}"
        );
        assert!(
            r.stock(rival, None, None).await.expect("rival").is_empty(),
            "{n}"
        );
        // The rival may hold the same SKU: its own.
        assert_eq!(
            r.put_products(rival, std::slice::from_ref(&bag))
                .await
                .expect("rival"),
            (1, 0),
            "{n}"
        );
        assert_eq!(
            r.product(b, "LM-BAG-001").await.expect("q"),
            Some(cheaper),
            "{n}"
        );
    }
}

/// A raw connection to the test's database, whichever backend, for reading the schema.
enum Raw {
    Lite(sqlx::SqliteConnection),
    Pg(sqlx::PgConnection),
}

async fn raw(db: &Db) -> Raw {
    if let Some(dir) = &db.sqlite_dir {
        let url = format!("sqlite://{}", dir.join("salon.db").display());
        return Raw::Lite(sqlx::SqliteConnection::connect(&url).await.expect("sqlite"));
    }
    let admin = std::env::var("SALON_TEST_POSTGRES_URL").expect("url");
    let (base, _) = admin.rsplit_once('/').expect("db name");
    let name = db._pg.as_ref().map(|g| g.name.clone()).expect("pg db");
    Raw::Pg(
        sqlx::PgConnection::connect(&format!("{base}/{name}"))
            .await
            .expect("pg"),
    )
}

impl Raw {
    /// Every table with a `brand_id` column, read from the schema (so new tables count too).
    async fn brand_tables(&mut self) -> Vec<String> {
        match self {
            Raw::Lite(c) => sqlx::query_scalar(
                "SELECT m.name FROM sqlite_master m JOIN pragma_table_info(m.name) p \
                 WHERE m.type = 'table' AND p.name = 'brand_id' ORDER BY m.name",
            )
            .fetch_all(c)
            .await
            .expect("tables"),
            Raw::Pg(c) => sqlx::query_scalar(
                "SELECT table_name::text FROM information_schema.columns \
                 WHERE table_schema = 'public' AND column_name = 'brand_id' ORDER BY 1",
            )
            .fetch_all(c)
            .await
            .expect("tables"),
        }
    }

    /// Rows of `table` that belong to brand `b` (`brands` itself: by id).
    async fn rows_of(&mut self, table: &str, b: BrandId) -> i64 {
        let column = if table == "brands" { "id" } else { "brand_id" };
        let sql = format!("SELECT COUNT(*) FROM {table} WHERE {column} = $1");
        match self {
            Raw::Lite(c) => sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                .bind(b.0)
                .fetch_one(c)
                .await
                .expect("count"),
            Raw::Pg(c) => sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                .bind(b.0)
                .fetch_one(c)
                .await
                .expect("count"),
        }
    }

    /// Rows of a table keyed only by its parent (no brand_id column).
    async fn count(&mut self, sql: &str, b: BrandId) -> i64 {
        match self {
            Raw::Lite(c) => sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_owned()))
                .bind(b.0)
                .fetch_one(c)
                .await
                .expect("count"),
            Raw::Pg(c) => sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_owned()))
                .bind(b.0)
                .fetch_one(c)
                .await
                .expect("count"),
        }
    }
}

/// The child tables without a brand_id column, counted through their parent.
const PARENT_KEYED: [(&str, &str); 3] = [
    (
        "share_opens",
        "SELECT COUNT(*) FROM share_opens WHERE link_id IN (SELECT id FROM share_links WHERE brand_id = $1)",
    ),
    (
        "group_members",
        "SELECT COUNT(*) FROM group_members WHERE group_id IN (SELECT id FROM group_chats WHERE brand_id = $1)",
    ),
    (
        "campaign_suppressions",
        "SELECT COUNT(*) FROM campaign_suppressions WHERE campaign_id IN (SELECT id FROM campaigns WHERE brand_id = $1)",
    ),
];

/// Gives brand `b` a little of everything: staff, credentials, clients with notes, tags and
/// identities, channel settings and callbacks, a QR code, messages, events, the audit log,
/// orders and touches, products and stock.
async fn fill(r: &dyn Repo, b: BrandId) {
    let s = store(r, b, "SH01").await;
    let u = user(r, b, "li@fill.example", Role::Associate, Some(s.id)).await;
    r.create_api_token(
        format!("token-{}", b.0).as_bytes(),
        &ApiToken {
            brand_id: b,
            role: Role::Hq,
            user_id: Some(u.id),
            store_id: None,
            label: "fill".into(),
        },
    )
    .await
    .expect("token");
    r.create_session(
        format!("session-{}", b.0).as_bytes(),
        &Session {
            brand_id: b,
            user_id: u.id,
            csrf_token: "c".into(),
            expires_at: i64::MAX / 2,
        },
    )
    .await
    .expect("session");
    let c = r
        .create_client(b, &client("Na", "Li", "CRM-1"), Some(u.id))
        .await
        .expect("client");
    r.add_note(b, c, Some(u.id), "likes silk", 5)
        .await
        .expect("note");
    r.put_channel_settings(b, &settings("sandbox-secret"))
        .await
        .expect("settings");
    put(r, &[inbox_item(b, "k1", "<xml/>")]).await;
    r.create_contact_way(
        b,
        &NewContactWay {
            state: "store:SH01:li".into(),
            label: "Li".into(),
            kind: ContactWayKind::Associate,
            store_id: Some(s.id),
            user_id: Some(u.id),
            tags: vec![],
            welcome_text: "Welcome".into(),
        },
    )
    .await
    .expect("way");
    r.link_staff(b, u.id, "wecom", "li").await.expect("link");
    r.add_message(b, &message(c, "m1", "你好"))
        .await
        .expect("message");
    r.audit(
        b,
        &NewAudit {
            at: 1,
            actor_id: None,
            actor: "system:test".into(),
            action: "export".into(),
            subject: "s".into(),
            detail: serde_json::json!({}),
        },
    )
    .await
    .expect("audit");
    r.put_orders(
        b,
        &[sales_order(
            "O1",
            Some("CRM-1"),
            "2026-01-05T10:00:00+08:00",
            100,
        )],
    )
    .await
    .expect("orders");
    r.put_touches(
        b,
        &[sales::Touch {
            at: at("2026-01-02T15:02:00+08:00"),
            associate: "li@fill.example".into(),
            client: "CRM-1".into(),
            kind: sales::TouchKind::Message,
        }],
        "import",
    )
    .await
    .expect("touches");
    r.put_products(b, &[product("LM-BAG-001", "手袋", "Bag", "bags", "1000")])
        .await
        .expect("products");
    r.put_stock(
        b,
        &[StockLevel {
            sku: "LM-BAG-001".into(),
            store: "SH01".into(),
            quantity: 2,
            updated_at: 5,
        }],
    )
    .await
    .expect("stock");
}

#[tokio::test]
async fn deleting_a_brand_leaves_nothing_of_it() {
    for db in backends().await {
        let r = &*db.repo;
        let n = db.name;
        let gone = brand(r, "demo").await;
        let kept = brand(r, "maison").await;
        fill(r, gone.id).await;
        fill(r, kept.id).await;
        let mut conn = raw(&db).await;
        let tables = conn.brand_tables().await;
        assert!(tables.len() > 40, "{n}: {tables:?}");
        let mut before = Vec::new();
        let mut filled = 0;
        for t in &tables {
            let of_gone = conn.rows_of(t, gone.id).await;
            if of_gone > 0 {
                filled += 1;
            }
            before.push(conn.rows_of(t, kept.id).await);
        }
        assert!(filled >= 20, "{n}: the brand has rows in {filled} tables");

        let removed = r.delete_brand(gone.id).await.expect("delete");
        assert!(removed > 20, "{n}: {removed} rows");
        assert!(r.brand_by_slug("demo").await.expect("q").is_none(), "{n}");
        assert!(
            r.session(format!("session-{}", gone.id.0).as_bytes(), 0)
                .await
                .expect("q")
                .is_none(),
            "{n}: the brand's sessions are gone"
        );
        assert!(
            r.api_token(format!("token-{}", gone.id.0).as_bytes())
                .await
                .expect("q")
                .is_none(),
            "{n}: the brand's tokens are gone"
        );
        assert!(
            r.channel_settings(gone.id, ChannelKind::Wecom)
                .await
                .expect("q")
                .is_none(),
            "{n}: the brand's channel secrets are gone"
        );
        for (t, kept_before) in tables.iter().zip(&before) {
            assert_eq!(conn.rows_of(t, gone.id).await, 0, "{n}: {t} keeps rows");
            assert_eq!(
                conn.rows_of(t, kept.id).await,
                *kept_before,
                "{n}: {t} of the other brand changed"
            );
        }
        for (t, sql) in PARENT_KEYED {
            assert_eq!(conn.count(sql, gone.id).await, 0, "{n}: {t} keeps rows");
        }
        // The other brand works as before.
        assert_eq!(r.count_clients(kept.id, Scope::Brand).await.expect("n"), 1);
        assert!(
            r.channel_settings(kept.id, ChannelKind::Wecom)
                .await
                .expect("q")
                .is_some(),
            "{n}"
        );
        // Deleting again removes nothing; the slug can be used again.
        assert_eq!(r.delete_brand(gone.id).await.expect("again"), 0, "{n}");
        brand(r, "demo").await;
    }
}

/// Every table with a `brand_id` column has its line in the brand deletion, so that a table
/// added later without one fails here even before data reaches it.
#[tokio::test]
async fn the_brand_deletion_names_every_table_of_a_brand() {
    let db = sqlite().await;
    let mut conn = raw(&db).await;
    for t in conn.brand_tables().await {
        let line = format!("DELETE FROM {t} WHERE brand_id = $1");
        assert!(
            store::DELETE_BRAND.contains(&line.as_str()),
            "{t} has a brand_id column but `salon brand delete` does not clear it"
        );
    }
    for (t, _) in PARENT_KEYED {
        assert!(
            store::DELETE_BRAND
                .iter()
                .any(|s| s.starts_with(&format!("DELETE FROM {t} "))),
            "{t}"
        );
    }
}

#[cfg(unix)]
#[tokio::test]
async fn the_sqlite_files_are_readable_by_their_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let mode =
        |p: &std::path::Path| std::fs::metadata(p).expect("metadata").permissions().mode() & 0o777;
    // A new database, and one an older install left world-readable.
    for old in [false, true] {
        let dir = std::env::temp_dir().join(unique_name("salon_modes"));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let file = dir.join("salon.db");
        if old {
            std::fs::write(&file, b"").expect("file");
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).expect("mode");
        }
        let repo = SqliteRepo::connect(&format!("sqlite://{}", file.display()), keys())
            .await
            .expect("connects");
        brand(&repo, "maison").await;
        assert_eq!(mode(&file), 0o600, "old install: {old}");
        let wal = dir.join("salon.db-wal");
        assert!(wal.exists());
        assert_eq!(mode(&wal), 0o600, "the WAL too (old install: {old})");
        drop(repo);
        let _ = std::fs::remove_dir_all(&dir);
    }
}

#[tokio::test]
async fn a_first_load_of_orders_and_batches_mixing_new_and_held() {
    for db in backends().await {
        let r = &*db.repo;
        let n = db.name;
        let b = brand(r, "maison").await.id;
        let rival = brand(r, "rival").await.id;
        // A small history in another brand first: the first load below is still most of the
        // table (SQLite then builds the indexes after the rows).
        let small: Vec<sales::Order> = (0..20)
            .map(|i| {
                sales_order(
                    &format!("R{i:03}"),
                    Some("CRM-R"),
                    "2026-01-05T10:00:00+08:00",
                    10 + i,
                )
            })
            .collect();
        assert_eq!(
            r.put_orders(rival, &small).await.expect("rival").len(),
            20,
            "{n}"
        );

        // Sixty thousand orders in no particular order, one id twice (the first wins).
        let day = |i: usize| {
            format!(
                "2026-0{}-{:02}T{:02}:{:02}:00+08:00",
                1 + i % 6,
                1 + i % 28,
                i % 24,
                i % 60
            )
        };
        let mut many: Vec<sales::Order> = (0..60_000)
            .map(|i| {
                let k = (i * 7_919) % 60_000;
                sales_order(
                    &format!("L{k:05}"),
                    Some(&format!("CRM-{}", k % 5_000)),
                    &day(k),
                    100 + k as i64,
                )
            })
            .collect();
        let again = sales_order("L00007", Some("CRM-7"), "2025-12-01T09:00:00+08:00", 1);
        many.push(again);
        let stored = r.put_orders(b, &many).await.expect("load");
        assert_eq!(stored.len(), 60_000, "{n}");
        let held = r.orders_by_id(b, &["L00007".into()]).await.expect("by id");
        assert_eq!(held.len(), 1, "{n}");
        assert_eq!(
            held[0].placed_at,
            at(&day(7)),
            "{n}: the first of the same id is held"
        );

        // The table keeps its indexes: an id is held whatever time a copy says, and a client's
        // orders read back by client.
        let moved = sales_order("L00042", Some("CRM-42"), "2024-06-01T09:00:00+08:00", 5);
        assert!(
            r.put_orders(b, &[moved]).await.expect("moved").is_empty(),
            "{n}"
        );
        let of_client = r.orders_of_client(b, "CRM-42", 100).await.expect("client");
        let mut ids: Vec<&str> = of_client.iter().map(|o| o.order_id.as_str()).collect();
        ids.sort_unstable();
        let expected: Vec<String> = (0..12).map(|i| format!("L{:05}", 42 + i * 5_000)).collect();
        assert_eq!(ids, expected, "{n}: CRM-42's orders");

        // A batch mixing new orders with held ones (under other times): only the new count.
        let mixed = vec![
            sales_order("NEW-1", None, "2026-02-02T10:00:00+08:00", 9),
            sales_order("L00100", None, "2023-01-01T10:00:00+08:00", 9),
            sales_order("NEW-2", None, "2026-02-03T10:00:00+08:00", 9),
        ];
        let mut got = r.put_orders(b, &mixed).await.expect("mixed");
        got.sort_unstable();
        assert_eq!(got, vec!["NEW-1".to_owned(), "NEW-2".to_owned()], "{n}");
        // The whole load again: nothing new.
        assert!(
            r.put_orders(b, &many).await.expect("again").is_empty(),
            "{n}"
        );
        // The other brand's history is untouched and still found by id.
        assert_eq!(
            r.orders_by_id(rival, &["R003".into()])
                .await
                .expect("rival")[0]
                .total(),
            13 + 5,
            "{n}"
        );
    }
}

#[tokio::test]
async fn followers_are_held_keyed_in_the_event_stream() {
    for db in backends().await {
        let r = &*db.repo;
        let n = db.name;
        let b = brand(r, "maison").await.id;
        let rival = brand(r, "rival").await.id;
        let event = |follower: &str, ts: i64| StoredEvent {
            ts,
            kind: "follow".into(),
            follower: Some(follower.into()),
            line: format!(
                r#"{{"follower":{},"kind":"follow","source":"search","ts":"{ts}"}}"#,
                serde_json::Value::from(follower)
            ),
        };
        let events = [
            event("oAlice", 1),
            event("oBob", 2),
            event("oAlice", 3),
            event("o\"q\"", 4),
        ];
        assert_eq!(r.put_events(b, &events).await.expect("put"), 4, "{n}");
        assert_eq!(
            r.put_events(b, &events).await.expect("again"),
            0,
            "{n}: the same events once"
        );
        let lines = r.event_lines(b, None).await.expect("lines");
        let alice = r.follower_key(b, "oAlice");
        assert!(
            alice.starts_with("k:") && alice != r.follower_key(b, "oBob"),
            "{n}"
        );
        assert_ne!(
            alice,
            r.follower_key(rival, "oAlice"),
            "{n}: each brand its own keys"
        );
        assert_eq!(
            r.follower_key(b, &alice),
            alice,
            "{n}: a key is its own key"
        );
        let followers: Vec<String> = lines
            .iter()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).expect("json");
                v["follower"].as_str().expect("follower").to_owned()
            })
            .collect();
        assert_eq!(
            followers,
            vec![
                alice.clone(),
                r.follower_key(b, "oBob"),
                alice.clone(),
                r.follower_key(b, "o\"q\"")
            ],
            "{n}"
        );
        assert!(
            lines
                .iter()
                .all(|l| !l.contains("oAlice") && !l.contains("oBob")),
            "{n}"
        );
        // Keyed followers (an export imported again) stay as they are.
        assert_eq!(
            r.put_events(b, &[event(&alice, 9)]).await.expect("keyed"),
            1,
            "{n}"
        );
        assert!(
            r.event_lines(b, None).await.expect("lines")[4].contains(&alice),
            "{n}"
        );
    }
}

#[tokio::test]
async fn official_account_openids_are_held_keyed_and_read_back() {
    for db in backends().await {
        let r = &*db.repo;
        let n = db.name;
        let b = brand(r, "maison").await.id;
        let rival = brand(r, "rival").await.id;
        let mut c = client("Mei", "Lin", "CRM-OA1");
        c.identities
            .push(Identity::parse(IdentityKind::WechatOa, "oMeiOpenId").expect("openid"));
        let id = r.create_client(b, &c, None).await.expect("create");
        let oa = Identity::parse(IdentityKind::WechatOa, "oMeiOpenId").expect("openid");
        assert_eq!(
            r.client_by_identity(b, &oa).await.expect("by openid"),
            Some(id),
            "{n}"
        );
        assert_eq!(
            r.client_by_identity(rival, &oa).await.expect("rival"),
            None,
            "{n}"
        );
        let held = r.client(b, id).await.expect("client").expect("held");
        assert!(held.identities.contains(&oa), "{n}: {:?}", held.identities);
        assert_eq!(
            r.identities_of_kind(b, IdentityKind::WechatOa)
                .await
                .expect("kind"),
            vec![(id, "oMeiOpenId".to_owned())],
            "{n}"
        );
        let found = r
            .clients_by_identities(
                b,
                IdentityKind::WechatOa,
                &["oMeiOpenId".into(), "oNobody".into()],
            )
            .await
            .expect("by identities");
        assert_eq!(found.len(), 1, "{n}");
        assert_eq!((found[0].0.as_str(), found[0].1), ("oMeiOpenId", id), "{n}");
        // Another client cannot take the same openid.
        let mut other = client("Lan", "Wu", "CRM-OA2");
        other.identities.push(oa.clone());
        assert!(r.create_client(b, &other, None).await.is_err(), "{n}");
    }
}

/// Reads a message stream until it gives `want` rows: on PostgreSQL, rows become readable
/// once every transaction older than theirs has ended, in any database of the server, and the
/// other tests write meanwhile.
async fn settled<T, F, Fut>(want: usize, read: F) -> Vec<T>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = domain::ports::RepoResult<Vec<T>>>,
{
    let started = std::time::Instant::now();
    loop {
        let rows = read().await.expect("read the stream");
        if rows.len() >= want || started.elapsed() > std::time::Duration::from_secs(60) {
            return rows;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// What several processes on one database share: a lease has one holder at a time (renewed by
/// its holder, taken over once it runs out); cache versions move per brand and topic; and the
/// search index's reader never skips a message that commits after a larger id was read
/// (PostgreSQL numbers rows when they are inserted, not when they commit).
#[tokio::test]
async fn leases_cache_versions_and_a_message_stream_without_gaps() {
    use domain::ports::StreamPos;
    for db in backends().await {
        let r = db.repo.as_ref();
        let n = db.name;
        assert!(
            r.lease_take("inbox", "a", 1_000, 2_000)
                .await
                .expect("take"),
            "{n}"
        );
        assert!(
            !r.lease_take("inbox", "b", 1_500, 2_500)
                .await
                .expect("held"),
            "{n}"
        );
        assert!(
            r.lease_take("inbox", "a", 1_500, 2_500)
                .await
                .expect("renew"),
            "{n}"
        );
        assert!(
            r.lease_take("inbox", "b", 2_600, 3_600)
                .await
                .expect("ran out"),
            "{n}"
        );
        r.lease_release("inbox", "a")
            .await
            .expect("not a's to give");
        assert!(
            !r.lease_take("inbox", "a", 2_700, 3_700)
                .await
                .expect("b holds"),
            "{n}"
        );
        r.lease_release("inbox", "b").await.expect("release");
        assert!(
            r.lease_take("inbox", "a", 2_800, 3_800)
                .await
                .expect("free"),
            "{n}"
        );
        assert!(
            r.lease_take("other", "b", 2_800, 3_800)
                .await
                .expect("own name"),
            "{n}"
        );

        let b = brand(r, "gapless").await;
        let other = brand(r, "gapless-other").await;
        assert!(
            r.cache_versions().await.expect("versions").is_empty(),
            "{n}"
        );
        r.cache_bump(b.id, "rules").await.expect("bump");
        r.cache_bump(b.id, "rules").await.expect("bump");
        r.cache_bump(other.id, "rules").await.expect("bump");
        r.cache_bump(b.id, "staff").await.expect("bump");
        let mut v = r.cache_versions().await.expect("versions");
        v.sort();
        assert_eq!(
            v,
            vec![
                (b.id, "rules".to_owned(), 2),
                (b.id, "staff".to_owned(), 1),
                (other.id, "rules".to_owned(), 1),
            ],
            "{n}"
        );

        // The stream in order, on both backends.
        let c = r
            .create_client(b.id, &client("Gap", "Less", "G1"), None)
            .await
            .expect("client");
        for i in 0..3 {
            r.add_message(b.id, &message(c, &format!("g{i}"), &format!("word{i}")))
                .await
                .expect("message");
        }
        let read = settled(2, || r.messages_for_index(b.id, StreamPos::default(), 2)).await;
        assert_eq!(read.len(), 2, "{n}");
        let after = read[1].3;
        let rest = settled(1, || r.messages_for_index(b.id, after, 10)).await;
        assert_eq!(
            rest.iter().map(|m| m.0.body.as_str()).collect::<Vec<_>>(),
            vec!["word2"],
            "{n}"
        );
        let last = rest[0].3;

        let Some(pg) = db._pg.as_ref() else { continue };
        // Two writers: the first takes the smaller id and commits last.
        let admin = std::env::var("SALON_TEST_POSTGRES_URL").expect("url");
        let (base, _) = admin.rsplit_once('/').expect("db name");
        let url = format!("{base}/{}", pg.name);
        let mut slow = sqlx::PgConnection::connect(&url).await.expect("pg");
        let mut fast = sqlx::PgConnection::connect(&url).await.expect("pg");
        let sealed: Vec<u8> = sqlx::query_scalar("SELECT sealed_body FROM messages WHERE id = $1")
            .bind(last.id)
            .fetch_one(&mut slow)
            .await
            .expect("a sealed body to copy");
        let insert = "INSERT INTO messages (brand_id, client_id, channel, direction, provider_id, msg_type, sealed_body, at) \
                      VALUES ($1, $2, 'wecom', 'in', $3, 'text', $4, 30) RETURNING id";
        sqlx::raw_sql("BEGIN")
            .execute(&mut slow)
            .await
            .expect("begin");
        let first: i64 = sqlx::query_scalar(insert)
            .bind(b.id.0)
            .bind(c.0)
            .bind("slow")
            .bind(&sealed)
            .fetch_one(&mut slow)
            .await
            .expect("slow insert");
        let second: i64 = sqlx::query_scalar(insert)
            .bind(b.id.0)
            .bind(c.0)
            .bind("fast")
            .bind(&sealed)
            .fetch_one(&mut fast)
            .await
            .expect("fast insert, committed at once");
        assert!(second > first);
        // The larger id is committed, the smaller one not yet: nothing may be read past it.
        let early = r.messages_for_index(b.id, last, 10).await.expect("read");
        assert!(
            early.is_empty(),
            "read {:?} while a smaller id was still being written",
            early.iter().map(|m| m.0.id).collect::<Vec<_>>()
        );
        sqlx::raw_sql("COMMIT")
            .execute(&mut slow)
            .await
            .expect("commit");
        let both = settled(2, || r.messages_for_index(b.id, last, 10)).await;
        assert_eq!(
            both.iter().map(|m| m.0.id).collect::<Vec<_>>(),
            vec![first, second],
            "both, in the order their transactions began"
        );
        assert!(
            r.messages_for_index(b.id, both[1].3, 10)
                .await
                .expect("read")
                .is_empty()
        );
    }
}
