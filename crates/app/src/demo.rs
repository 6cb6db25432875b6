//! Seeds the demo brand into an empty store, so that a newcomer sees a living product at once.

use std::collections::{HashMap, HashSet};

use domain::*;
use sim::demo as fake;

use crate::{AppError, AppResult, Salon};

const DAY_MS: i64 = 24 * 60 * 60 * 1000;

/// What the seeding did.
pub struct Seeded {
    pub brand: Brand,
    pub clients: usize,
}

impl Salon {
    /// Creates the demo brand with `clients` clients, unless a brand `demo` already exists.
    pub async fn seed_demo(&self, seed: u64, clients: usize) -> AppResult<Option<Seeded>> {
        let repo = &self.repo;
        if repo.brand_by_slug(fake::DEMO_SLUG).await?.is_some() {
            return Ok(None);
        }
        let brand = repo
            .create_brand(&NewBrand {
                slug: Slug::parse("slug", fake::DEMO_SLUG)?,
                name: fake::DEMO_NAME.to_owned(),
                time_zone: TimeZoneName::shanghai(),
                currencies: vec![
                    Currency::parse("currency", "CNY")?,
                    Currency::parse("currency", "EUR")?,
                ],
                locales: vec![
                    Locale::parse("locale", "zh-CN")?,
                    Locale::parse("locale", "en")?,
                    Locale::parse("locale", "fr")?,
                ],
                tiers: fake::TIERS.iter().map(|t| t.to_string()).collect(),
            })
            .await?;
        let b = brand.id;
        let mut stores = HashMap::new();
        for s in &fake::STORES {
            let store = repo
                .create_store(
                    b,
                    &NewStore {
                        code: StoreCode::parse("code", s.code)?,
                        name: s.name.to_owned(),
                        city: s.city.to_owned(),
                        country: s.country.to_owned(),
                        time_zone: TimeZoneName::parse("time_zone", s.time_zone)?,
                    },
                )
                .await?;
            stores.insert(s.code, store.id);
        }
        // One hash for the one demo password keeps start-up fast.
        let hash = crate::auth::hash_password(fake::DEMO_PASSWORD)?;
        let mut staff = HashMap::new();
        let mut departed = Vec::new();
        for s in fake::staff() {
            let user = repo
                .create_user(
                    b,
                    &NewUser {
                        email: Email::parse("email", &s.email)?,
                        display_name: s.name.to_owned(),
                        role: s.role,
                        store_id: s.store.and_then(|c| stores.get(c).copied()),
                        password_hash: Some(hash.clone()),
                    },
                )
                .await?;
            if s.departed {
                departed.push(user.id);
            }
            staff.insert(s.email.clone(), user.id);
        }
        let now = now_millis();
        let demo = fake::clients(seed, clients);
        let mut rows = Vec::with_capacity(demo.len());
        for c in &demo {
            let consents = if c.marketing_consent {
                vec![Consent::parse(
                    "wecom",
                    "marketing",
                    true,
                    "in_store_form",
                    now - 400 * DAY_MS,
                )?]
            } else {
                vec![]
            };
            let mut identities = vec![Identity::parse(IdentityKind::Crm, &c.crm_id)?];
            if let Some(w) = &c.wecom_id {
                identities.push(Identity::parse(IdentityKind::Wecom, w)?);
            }
            rows.push(NewClient {
                pii: Pii {
                    first_name: Some(c.first_name.clone()),
                    last_name: Some(c.last_name.clone()),
                    chinese_name: c.chinese_name.clone(),
                    phone: Some(Phone::parse("phone", &c.phone)?),
                    email: c
                        .email
                        .as_deref()
                        .map(|e| Email::parse("email", e))
                        .transpose()?,
                    birthday: Some(date("birthday", &c.birthday)?),
                },
                language: Some(c.language.to_owned()),
                city: Some(c.city.to_owned()),
                tier: Some(c.tier.to_owned()),
                store_id: stores.get(c.store).copied(),
                associate_id: staff.get(&c.associate_email).copied(),
                tags: c
                    .tags
                    .iter()
                    .map(|t| Tag::parse("tag", t))
                    .collect::<Result<_, _>>()?,
                preferences: Preferences {
                    sizes: c.sizes.iter().map(|s| s.to_string()).collect(),
                    categories: c.categories.iter().map(|s| s.to_string()).collect(),
                    colours: c.colours.iter().map(|s| s.to_string()).collect(),
                    materials: c.materials.iter().map(|s| s.to_string()).collect(),
                },
                identities,
                consents,
                ..NewClient::default()
            });
        }
        repo.import_clients(b, &rows, None).await?;
        let mut ids = Vec::with_capacity(demo.len());
        for c in &demo {
            let id = repo
                .client_by_identity(b, &Identity::parse(IdentityKind::Crm, &c.crm_id)?)
                .await?
                .ok_or(AppError::Internal("seeded client missing".into()))?;
            ids.push(id);
        }
        self.seed_demo_catalogue(&brand, seed, now).await?;
        self.seed_demo_sales(&brand, &demo, seed, now).await?;
        for (c, id) in demo.iter().zip(&ids) {
            for n in &c.notes {
                repo.add_note(
                    b,
                    *id,
                    staff.get(&n.author_email).copied(),
                    &n.text,
                    now - n.days_ago * DAY_MS,
                )
                .await?;
            }
        }
        // The departed associate's clients go to a colleague: the history shows the transfer.
        let departed_count = departed.len();
        for gone in departed {
            let to = staff
                .get(&format!("zhao.lei@{}", fake::DEMO_EMAIL_DOMAIN))
                .copied();
            repo.mark_departed(b, gone, now - 30 * DAY_MS).await?;
            if let Some(to) = to {
                loop {
                    let page = repo
                        .list_clients(
                            b,
                            &ClientQuery {
                                limit: 200,
                                ..ClientQuery::new(Scope::Associate(gone))
                            },
                        )
                        .await?;
                    if page.items.is_empty() {
                        break;
                    }
                    for c in page.items {
                        repo.assign(b, c.id, to, None, "associate departed").await?;
                    }
                }
            }
        }
        self.seed_demo_conversations(b, &ids, &staff, departed_count, now)
            .await?;
        self.seed_demo_campaigns(b, now).await?;
        tracing::info!(clients = demo.len(), "seeded the demo brand");
        Ok(Some(Seeded {
            brand,
            clients: demo.len(),
        }))
    }
}

impl Salon {
    /// The demo's audiences and prepared messages: saved segments HQ works with, and a
    /// prepared message open to every associate, so that an associate's "To send" page has
    /// something to send on first start.
    async fn seed_demo_campaigns(&self, b: BrandId, now: Millis) -> AppResult<()> {
        let repo = &self.repo;
        for (name, expr) in [
            (
                "VIC reachable on WeCom",
                "tag:vic AND consent:wecom AND channel:wecom",
            ),
            (
                "Birthdays this month",
                "birthday:this_month AND consent:wecom",
            ),
            (
                "Gold and above, quiet for 60 days",
                "(tier:gold OR tier:platinum OR tier:black) AND NOT last_interaction:60d",
            ),
        ] {
            let expression = segments::parse(expr)
                .map_err(|e| AppError::Internal(e.to_string()))?
                .to_string();
            repo.save_segment(b, None, name, &expression, None, now)
                .await?;
        }
        let prepared = repo
            .create_campaign(
                b,
                &NewCampaign {
                    name: "Winter preview invitation".into(),
                    kind: CampaignKind::Prepared,
                    segment_id: None,
                    expression: "consent:wecom AND channel:wecom".into(),
                    channel: ChannelKind::Wecom,
                    asset_ids: vec![],
                    template: Template::parse(
                        "Dear {client.first_name}, {sa.name} would be delighted to welcome you to our private winter preview.",
                    )?,
                    send_at: now,
                    max_recipients: None,
                    created_by: None,
                    at: now,
                },
            )
            .await?;
        repo.set_campaign_status(b, prepared.id, CampaignStatus::Planned)
            .await?;
        // The asset pool: approved visuals with their texts, and one still in draft.
        let brand = self.brand(b).await?.ok_or(AppError::NotFound("brand"))?;
        let hq = crate::Actor {
            brand,
            role: Role::Hq,
            user: None,
            store: None,
        };
        for (i, (title, zh, en, points, rgb, approved)) in [
            (
                "Winter preview — the Camille bag",
                "冬季预览：Camille 手袋，手工缝制，限量发售。",
                "Winter preview: the Camille bag, hand-stitched, in limited numbers.",
                "Hand-stitched in our atelier; 18 hours of work; three colours; invite to try it in store.",
                [88, 44, 52],
                true,
            ),
            (
                "Silk scarf, snow print",
                "雪景印花真丝围巾，适合节日礼赠。",
                "The snow-print silk scarf, a gift for the season.",
                "Twill silk; 90 × 90 cm; gift wrapping in store.",
                [38, 62, 96],
                true,
            ),
            (
                "Holiday window (draft)",
                "节日橱窗",
                "The holiday window",
                "",
                [150, 120, 60],
                false,
            ),
        ]
        .into_iter()
        .enumerate()
        {
            let text = AssetText::parse(
                title,
                zh,
                en,
                points,
                "Send with a personal line; never with a price or a discount.",
                "winter, demo",
                "Winter 2026",
                None,
                None,
            )?;
            let image = ::assets::swatch(480 + i as u32 * 40, 600, rgb);
            match self.upload_asset(&hq, image, text).await {
                Ok(a) if approved => {
                    repo.set_asset_status(b, a.id, AssetStatus::Approved, now)
                        .await?;
                }
                Ok(_) => {}
                // Without an asset store (some tests), the pool stays empty.
                Err(AppError::Unavailable(_)) => break,
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// The demo's conversations, rules and audit history: the brand's default monitoring
    /// rules; a few threads between clients and their associates (one client asking for a
    /// discount, which the rules flag; one left waiting); and the audit entries a year of
    /// running would have left (staff roles, the departed associate's transfer, an export).
    async fn seed_demo_conversations(
        &self,
        b: BrandId,
        clients: &[ClientId],
        staff: &HashMap<String, UserId>,
        departed: usize,
        now: i64,
    ) -> AppResult<()> {
        let repo = &self.repo;
        self.seed_default_rules(b).await?;
        let system = |action: &str, subject: String, detail: serde_json::Value, at: i64| NewAudit {
            at,
            actor_id: None,
            actor: "system:demo".into(),
            action: action.to_owned(),
            subject,
            detail,
        };
        let mut users: Vec<User> = repo
            .list_users(b, None)
            .await?
            .into_iter()
            .map(|(u, _)| u)
            .collect();
        users.sort_by_key(|u| u.id.0);
        for u in &users {
            repo.audit(
                b,
                &system(
                    "role_change",
                    format!("user:{}", u.id.0),
                    serde_json::json!({"created": true, "role": u.role, "store_id": u.store_id}),
                    now - 365 * DAY_MS,
                ),
            )
            .await?;
        }
        if departed > 0
            && let Some(to) = staff.get(&format!("zhao.lei@{}", fake::DEMO_EMAIL_DOMAIN))
        {
            repo.audit(
                b,
                &system(
                    "transfer",
                    "departed associates".into(),
                    serde_json::json!({"to": to.0, "reason": "associate departed"}),
                    now - 30 * DAY_MS,
                ),
            )
            .await?;
        }
        // Threads with the first clients who have a WeCom contact.
        let script: [(&[(Direction, &str)], i64); 4] = [
            (
                &[
                    (Direction::In, "您好，新季的手袋到店了吗？"),
                    (
                        Direction::Out,
                        "您好！已经到店了，周六下午我为您留一只看看？",
                    ),
                    (Direction::In, "好的，周六三点见"),
                ],
                6 * DAY_MS,
            ),
            (
                &[
                    (Direction::In, "Hello, is the silk scarf available in navy?"),
                    (
                        Direction::Out,
                        "Good afternoon! Yes, I set one aside for you.",
                    ),
                ],
                3 * DAY_MS,
            ),
            (
                &[
                    (Direction::In, "这款能给我打八折吗？"),
                    (
                        Direction::Out,
                        "价格是全国统一的，不过我可以为您安排私人预约和礼品包装。",
                    ),
                ],
                2 * DAY_MS,
            ),
            (&[(Direction::In, "请问周末有营业吗？")], 5 * 3_600_000),
        ];
        let mut with_wecom = Vec::new();
        for id in clients {
            if let Some(c) = repo.client(b, *id).await?
                && c.identities.iter().any(|i| i.kind == IdentityKind::Wecom)
                && c.associate_id.is_some()
            {
                with_wecom.push(c);
            }
            if with_wecom.len() == script.len() {
                break;
            }
        }
        for (n, (c, (lines, ago))) in with_wecom.iter().zip(script.iter()).enumerate() {
            for (k, (direction, text)) in lines.iter().enumerate() {
                let at = now - ago + k as i64 * 7 * 60_000;
                let stored = repo
                    .add_message(
                        b,
                        &NewMessage {
                            client_id: c.id,
                            channel: ChannelKind::Wecom,
                            direction: *direction,
                            associate_id: c.associate_id,
                            provider_id: Some(format!("demo-{n}-{k}")),
                            msg_type: "text".into(),
                            body: (*text).to_owned(),
                            at,
                        },
                    )
                    .await?;
                if let Some(id) = stored {
                    self.flag_message(b, id, c.id, c.associate_id, *direction, text)
                        .await?;
                }
            }
        }
        // The scarf client shares the product page she was looking at: a card in the thread.
        if let Some(c) = with_wecom.get(1) {
            let card = Card::Link {
                title: "Silk scarf, snow print".into(),
                description: "Twill silk, 90 × 90 cm, hand-rolled edges".into(),
                url: format!("https://{}/scarves/snow-print", fake::DEMO_EMAIL_DOMAIN),
            };
            repo.add_message(
                b,
                &NewMessage {
                    client_id: c.id,
                    channel: ChannelKind::Wecom,
                    direction: Direction::In,
                    associate_id: c.associate_id,
                    provider_id: Some("demo-card-1".into()),
                    msg_type: "link".into(),
                    body: card.body(),
                    at: now - 3 * DAY_MS - 60_000,
                },
            )
            .await?;
        }
        if let Some(c) = with_wecom.first() {
            repo.audit(
                b,
                &system(
                    "export",
                    format!("client:{}", c.id.0),
                    serde_json::json!({"format": "jsonl", "messages": 3, "reason": "client data request"}),
                    now - DAY_MS,
                ),
            )
            .await?;
        }
        Ok(())
    }

    /// Gives the demo brand a year of WeChat community history (`sim::events`), ending today,
    /// so that its Luxury Index dashboard is full on first start. Does nothing when the brand
    /// already has events. Returns how many were added.
    pub async fn seed_demo_events(&self, people: usize) -> AppResult<Option<u64>> {
        let Some(brand) = self.repo.brand_by_slug(sim::demo::DEMO_SLUG).await? else {
            return Ok(None);
        };
        if self.repo.count_events(brand.id).await? > 0 {
            return Ok(None);
        }
        let today = jiff::Timestamp::now()
            .in_tz(brand.time_zone.as_str())
            .map(|z| z.date())
            .map_err(|e| AppError::Internal(e.to_string()))?;
        let start = today
            .checked_sub(jiff::Span::new().days(365))
            .map_err(|e| AppError::Internal(e.to_string()))?;
        let events = sim::events::generate(&sim::events::Params {
            people,
            days: 365,
            seed: 2026,
            start,
        });
        let mut added = 0;
        for chunk in events.chunks(20_000) {
            let rows: Vec<_> = chunk.iter().map(crate::analytics::stored).collect();
            added += self.repo.put_events(brand.id, &rows).await?;
        }
        // The demo's clients follow the Official Account too: each without an openid is
        // given one of the community's followers, so that a segment's report has people.
        let linked: HashSet<i64> = self
            .repo
            .identities_of_kind(brand.id, IdentityKind::WechatOa)
            .await?
            .into_iter()
            .map(|(c, _)| c.0)
            .collect();
        let mut seen = HashSet::new();
        let mut followers = events
            .iter()
            .filter_map(|e| e.follower.as_deref())
            .filter(|f| seen.insert(*f));
        for facts in self.repo.segment_facts(brand.id).await? {
            if linked.contains(&facts.client_id) {
                continue;
            }
            let Some(openid) = followers.next() else {
                break;
            };
            let patch = ClientPatch {
                identities: vec![Identity::parse(IdentityKind::WechatOa, openid)?],
                ..ClientPatch::default()
            };
            self.repo
                .update_client(brand.id, ClientId(facts.client_id), &patch, None)
                .await?;
        }
        Ok(Some(added))
    }
}

impl Salon {
    /// The demo's catalogue (forty products with Chinese and English names, prices in yuan
    /// and euros; one no longer sold) and its stock in each store.
    async fn seed_demo_catalogue(&self, brand: &Brand, seed: u64, now: Millis) -> AppResult<()> {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed ^ 0xca7a);
        let mut products = Vec::with_capacity(fake::PRODUCTS.len());
        for (i, (sku, zh, en, category, material, colours, sizes, cny, eur)) in
            fake::PRODUCTS.iter().enumerate()
        {
            let input = ProductInput {
                sku: (*sku).to_owned(),
                name_zh: (*zh).to_owned(),
                name_en: (*en).to_owned(),
                category: (*category).to_owned(),
                material: (*material).to_owned(),
                colours: colours.iter().map(|c| c.to_string()).collect(),
                sizes: sizes.iter().map(|c| c.to_string()).collect(),
                prices: [
                    ("CNY".to_owned(), PriceInput::Text(cny.to_string())),
                    ("EUR".to_owned(), PriceInput::Text(eur.to_string())),
                ]
                .into_iter()
                .collect(),
                images: Vec::new(),
                active: Some(i != fake::PRODUCTS.len() - 3),
                url: None,
            };
            products.push(input.parse(now)?);
        }
        self.repo.put_products(brand.id, &products).await?;
        let mut levels = Vec::new();
        for p in &products {
            for s in &fake::STORES {
                levels.push(StockLevel {
                    sku: p.sku.clone(),
                    store: s.code.to_owned(),
                    quantity: if rng.gen_bool(0.15) {
                        0
                    } else {
                        rng.gen_range(1..12)
                    },
                    updated_at: now,
                });
            }
        }
        self.repo.put_stock(brand.id, &levels).await?;
        Ok(())
    }

    /// The demo's purchase history as real orders with real attribution: store sales rung up
    /// by associates, e-commerce, mini-store and livestream orders that follow an associate's
    /// message, shared link, livestream invitation or appointment, a few returns, the euro's
    /// rate for Paris, and this month's targets, so that My month and the sales pages are
    /// alive on first start.
    async fn seed_demo_sales(
        &self,
        brand: &Brand,
        demo: &[fake::DemoClient],
        seed: u64,
        now: Millis,
    ) -> AppResult<()> {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed ^ 0x5a1e5);
        let b = brand.id;
        let tz = crate::sales::tz_of(brand);
        let month_start = sales::Month::of(sales::day_of(now, &tz)).bounds(&tz).0;
        let first_day = jiff::Timestamp::from_millisecond(now - 1_200 * DAY_MS)
            .map(|t| t.to_zoned(tz.clone()).date())
            .map_err(|e| AppError::Internal(e.to_string()))?;
        let rates = vec![sales::FxRate {
            date: first_day,
            currency: "EUR".into(),
            rate: sales::Dec::from_units(7_812_500_000_000),
        }];
        self.repo.put_fx_rates(b, &rates).await?;
        let mut orders = Vec::new();
        let mut touches = Vec::new();
        let mut returns = Vec::new();
        let kinds = [
            (sales::TouchKind::Message, 10),
            (sales::TouchKind::ShareClick, 5),
            (sales::TouchKind::Appointment, 20),
            (sales::TouchKind::LiveView, 2),
            (sales::TouchKind::Broadcast, 2),
        ];
        for (i, c) in demo.iter().enumerate() {
            let mut when: Vec<(i64, i64, &'static str, Vec<&'static str>)> = c
                .purchases
                .iter()
                .map(|p| {
                    (
                        now - p.days_ago * DAY_MS,
                        p.amount_minor,
                        p.currency,
                        p.items.clone(),
                    )
                })
                .collect();
            // A living month: some clients buy in this one.
            if i % 50 == 0 && now > month_start {
                let at = rng.gen_range(month_start..now);
                let (cny, items) = c
                    .purchases
                    .first()
                    .map_or((1_250_000, vec!["Silk scarf"]), |p| {
                        (p.amount_minor, p.items.clone())
                    });
                let currency = c.purchases.first().map_or("CNY", |p| p.currency);
                when.push((at, cny, currency, items));
            }
            for (k, (at, amount, currency, items)) in when.into_iter().enumerate() {
                let roll: f64 = rng.r#gen();
                let source = if roll < 0.45 {
                    sales::Source::Pos
                } else if roll < 0.75 {
                    sales::Source::Ecommerce
                } else if roll < 0.9 {
                    sales::Source::MiniStore
                } else {
                    sales::Source::Livestream
                };
                let n = items.len().max(1) as i64;
                let lines = items
                    .iter()
                    .enumerate()
                    .map(|(j, item)| sales::OrderLine {
                        line: j as u32 + 1,
                        sku: fake::sku_of(item)
                            .map_or_else(|| item.to_uppercase().replace(' ', "-"), str::to_owned),
                        qty: 1,
                        amount: amount / n + if j == 0 { amount % n } else { 0 },
                    })
                    .collect();
                let sold_by = (source == sales::Source::Pos && rng.gen_bool(0.7))
                    .then(|| c.associate_email.clone());
                if sold_by.is_none() && rng.gen_bool(0.75) {
                    let (kind, days) = kinds[rng.gen_range(0..kinds.len())];
                    touches.push(sales::Touch {
                        at: at - rng.gen_range(3_600_000..days * DAY_MS),
                        associate: c.associate_email.clone(),
                        client: c.crm_id.clone(),
                        kind,
                    });
                }
                let order_id = format!(
                    "{}-{}-{k:02}",
                    if source == sales::Source::Pos {
                        "POS"
                    } else {
                        "WEB"
                    },
                    c.crm_id
                );
                if rng.gen_bool(0.04) {
                    returns.push(sales::Return {
                        return_id: format!("R-{order_id}"),
                        order_id: order_id.clone(),
                        line: 1,
                        qty: 1,
                        amount: amount / n + amount % n,
                        at: (at + rng.gen_range(DAY_MS..14 * DAY_MS)).min(now),
                    });
                }
                orders.push(sales::Order {
                    order_id,
                    source,
                    client: Some(c.crm_id.clone()),
                    store: (source == sales::Source::Pos).then(|| c.store.to_owned()),
                    placed_at: at,
                    currency: currency.to_owned(),
                    sold_by,
                    lines,
                });
            }
        }
        orders.sort_by_key(|o| o.placed_at);
        let fx = sales::FxTable::new(rates);
        for chunk in orders.chunks(5_000) {
            self.repo.put_orders(b, chunk).await?;
            let refs: Vec<&sales::Order> = chunk.iter().collect();
            self.record_purchases(brand, &fx, &refs).await?;
        }
        self.repo.put_returns(b, &returns).await?;
        self.repo.put_touches(b, &touches, "demo").await?;
        // This month's targets: a little above what each associate sold last month.
        let month = sales::Month::of(sales::day_of(now, &tz));
        let last = self.month_figures(brand, month.prev()).await?;
        let targets: Vec<ports::Target> = last
            .report
            .associates
            .iter()
            .filter(|s| s.net > 0)
            .map(|s| {
                (
                    month.to_string(),
                    s.associate.clone(),
                    (s.net / 100_000 + 1) * 110_000,
                )
            })
            .collect();
        self.repo.put_targets(b, &targets).await?;
        Ok(())
    }
}

impl Salon {
    /// The demo brand's active accounts that still sign in with the published demo password:
    /// anyone who read the README can use them. Empty without a demo brand.
    pub async fn demo_accounts(&self) -> AppResult<Vec<User>> {
        let Some(brand) = self.repo.brand_by_slug(fake::DEMO_SLUG).await? else {
            return Ok(Vec::new());
        };
        // The demo's accounts share one hash: each distinct hash is checked once.
        let mut checked: HashMap<String, bool> = HashMap::new();
        let mut open = Vec::new();
        for (u, _) in self.repo.list_users(brand.id, None).await? {
            if u.status != UserStatus::Active {
                continue;
            }
            let Some(hash) = u.password_hash.clone() else {
                continue;
            };
            let published = *checked
                .entry(hash.clone())
                .or_insert_with(|| crate::auth::verify_password(fake::DEMO_PASSWORD, &hash));
            if published {
                open.push(u);
            }
        }
        Ok(open)
    }

    /// Removes a brand and everything of it: the database rows (one transaction) and its
    /// search indexes. Returns how many rows went.
    pub async fn delete_brand(&self, slug: &str) -> AppResult<u64> {
        let brand = self
            .repo
            .brand_by_slug(slug)
            .await?
            .ok_or(AppError::NotFound("brand"))?;
        let removed = self.repo.delete_brand(brand.id).await?;
        self.changed(brand.id, crate::processes::Topic::Brand)
            .await?;
        if let Some(archive) = &self.archive {
            archive
                .remove_brand(brand.id.0)
                .map_err(|e| AppError::Internal(format!("the brand's search index: {e}")))?;
        }
        tracing::warn!(brand = %brand.slug, rows = removed, "brand deleted");
        Ok(removed)
    }
}
