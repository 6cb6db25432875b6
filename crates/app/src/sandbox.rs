//! The sandbox channel: the brand's WeCom app and Official Account connected to the local
//! provider simulator (`sim::tencent`), so that a newcomer sees clients arrive and talk
//! without any Tencent account. The same wiring serves the demo and the end-to-end tests.

use domain::*;
use sim::tencent::Simulator;

use crate::channels::{ChannelInput, ContactWayInput};
use crate::{Actor, AppError, AppResult, Salon};

/// The sandbox OA menu: keys to the categories of the event spec.
pub const MENU: [(&str, &str); 3] = [
    ("NEW_ARRIVALS", "ecommerce"),
    ("BOUTIQUES", "information"),
    ("MY_ACCOUNT", "crm"),
];

/// Gives the brand's channels that point at the sandbox (or have no settings yet) the
/// simulator's current secrets, at once and without calling it: settings kept from an earlier
/// run (or an older Salon, whose sandbox secrets were constants) stop verifying callbacks
/// before the server answers its first request. A channel with real settings of its own is
/// left alone. Returns how many channels were set.
pub async fn rekey(
    salon: &Salon,
    sim: &Simulator,
    brand_slug: &str,
    api_base: &str,
) -> AppResult<usize> {
    let brand = salon.brand_by_slug(brand_slug).await?;
    let c = sim.config();
    let mut set = 0;
    for (kind, app_id) in [
        (ChannelKind::Wecom, c.corp_id.as_str()),
        (ChannelKind::WechatOa, c.oa_app_id.as_str()),
    ] {
        match salon.repo.channel_settings(brand.id, kind).await? {
            Some(s) if s.app_id != app_id => continue,
            _ => {}
        }
        let input = if kind == ChannelKind::Wecom {
            ChannelInput {
                app_id: Some(c.corp_id.clone()),
                agent_id: Some(c.agent_id.clone()),
                secret: Some(c.corp_secret.clone()),
                token: Some(c.token.clone()),
                aes_key: Some(c.aes_key.clone()),
                api_base: Some(api_base.to_owned()),
                menu: None,
            }
        } else {
            oa_input(sim, api_base)
        };
        salon.set_channel_settings(brand.id, kind, &input).await?;
        set += 1;
    }
    Ok(set)
}

fn oa_input(sim: &Simulator, api_base: &str) -> ChannelInput {
    let c = sim.config();
    ChannelInput {
        app_id: Some(c.oa_app_id.clone()),
        agent_id: None,
        secret: Some(c.oa_secret.clone()),
        token: Some(c.oa_token.clone()),
        aes_key: Some(c.oa_aes_key.clone()),
        api_base: Some(api_base.to_owned()),
        menu: Some(
            MENU.iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        ),
    }
}

/// Connects the brand to the simulator reached at `api_base`: the simulator learns the
/// brand's staff, the brand's settings point at the simulator, staff are linked by a staff
/// sync, and every associate has a channel QR code (restored into the simulator when the
/// brand already has them from an earlier run).
pub async fn wire(
    salon: &Salon,
    sim: &Simulator,
    brand_slug: &str,
    api_base: &str,
) -> AppResult<()> {
    let brand = salon.brand_by_slug(brand_slug).await?;
    let staff = salon.repo.list_users(brand.id, None).await?;
    for (u, _) in &staff {
        if u.status == UserStatus::Active && matches!(u.role, Role::Associate | Role::StoreManager)
        {
            let userid = u.email.as_str().split('@').next().unwrap_or_default();
            sim.add_staff(userid, &u.display_name, Some(u.email.as_str()));
        }
    }
    let c = sim.config();
    salon
        .set_channel_settings(
            brand.id,
            ChannelKind::Wecom,
            &ChannelInput {
                app_id: Some(c.corp_id.clone()),
                agent_id: Some(c.agent_id.clone()),
                secret: Some(c.corp_secret.clone()),
                token: Some(c.token.clone()),
                aes_key: Some(c.aes_key.clone()),
                api_base: Some(api_base.to_owned()),
                menu: None,
            },
        )
        .await?;
    salon
        .set_channel_settings(brand.id, ChannelKind::WechatOa, &oa_input(sim, api_base))
        .await?;
    salon.sync_staff_of(brand.id).await?;
    restore_contacts(salon, sim, brand.id).await?;
    restore_conversations(salon, sim, brand.id).await?;
    restore_groups(salon, sim, brand.id).await?;
    let ways = salon.repo.contact_ways(brand.id).await?;
    let linked = salon
        .repo
        .staff_provider_ids(brand.id, crate::channels::WECOM_STAFF)
        .await?;
    if ways.iter().any(|w| w.config_id.is_some()) {
        for w in &ways {
            let users: Vec<String> = linked
                .iter()
                .filter(|(u, _)| Some(*u) == w.user_id)
                .map(|(_, v)| v.clone())
                .collect();
            if let (Some(cfg), false) = (&w.config_id, users.is_empty()) {
                sim.restore_way(cfg, &w.state, &users);
            }
        }
        return Ok(());
    }
    let hq = Actor {
        brand: brand.clone(),
        role: Role::Hq,
        user: None,
        store: None,
    };
    let stores = salon.repo.list_stores(brand.id).await?;
    for (u, _) in &staff {
        if u.status != UserStatus::Active || u.role != Role::Associate {
            continue;
        }
        let store = stores.iter().find(|s| Some(s.id) == u.store_id);
        salon
            .create_contact_way(
                &hq,
                &ContactWayInput {
                    kind: Some("associate".into()),
                    label: Some(u.display_name.clone()),
                    associate: Some(u.id.0),
                    tags: vec!["qr-onboarding".into()],
                    welcome_text: Some(format!(
                        "您好，我是{}的{}。Welcome to {} — write to me here any time.",
                        store
                            .map(|s| s.name.as_str())
                            .unwrap_or(brand.name.as_str()),
                        u.display_name,
                        brand.name
                    )),
                    ..ContactWayInput::default()
                },
            )
            .await?;
    }
    Ok(())
}

/// Every client with a WeCom contact becomes the simulator's contact of their associate again:
/// broadcasts and prepared messages reach them.
async fn restore_contacts(salon: &Salon, sim: &Simulator, brand: domain::BrandId) -> AppResult<()> {
    let linked: std::collections::HashMap<domain::UserId, String> = salon
        .repo
        .staff_provider_ids(brand, crate::channels::WECOM_STAFF)
        .await?
        .into_iter()
        .collect();
    let mut q = domain::ClientQuery::new(domain::Scope::Brand);
    q.limit = 500;
    loop {
        let page = salon.repo.list_clients(brand, &q).await?;
        for c in &page.items {
            let Some(client) = salon.repo.client(brand, c.id).await? else {
                continue;
            };
            let follows = client.associate_id.and_then(|u| linked.get(&u));
            for i in &client.identities {
                if i.kind == domain::IdentityKind::Wecom {
                    sim.restore_contact(
                        &i.value,
                        &client.pii.display_name(),
                        follows.map(String::as_str),
                        None,
                    );
                }
            }
        }
        match page.items.last() {
            Some(last) if page.next_cursor.is_some() => q.after = Some(last.id),
            _ => break,
        }
    }
    Ok(())
}

/// The brand's customer groups become the simulator's again, and its chat archive goes on
/// after where Salon stands.
async fn restore_groups(salon: &Salon, sim: &Simulator, brand: domain::BrandId) -> AppResult<()> {
    sim.set_archive_seq(salon.archive_seq(brand).await?);
    let known = salon
        .repo
        .groups(brand, domain::Scope::Brand, None, 1000)
        .await?;
    for g in &known {
        let Some(g) = salon.repo.group(brand, g.id).await? else {
            continue;
        };
        let members = g
            .members
            .iter()
            .map(|m| {
                let kind = if m.kind == domain::MemberKind::Staff {
                    1
                } else {
                    2
                };
                (m.member_ref.clone(), kind, m.joined_at / 1000)
            })
            .collect();
        sim.restore_group(&g.chat_id, &g.name, &g.owner_ref, members);
    }
    Ok(())
}

/// The demo's customer groups, on its first run (when the brand has none): two associates
/// each open a VIP group with three of their clients, and a few words are said in them (one a
/// discount request, for the review queue), archived through the reader like any other.
/// Returns how many groups were opened.
pub async fn open_demo_groups(
    salon: &Salon,
    sim: &Simulator,
    brand_slug: &str,
) -> AppResult<usize> {
    let brand = salon.brand_by_slug(brand_slug).await?.id;
    if !salon
        .repo
        .groups(brand, domain::Scope::Brand, None, 1)
        .await?
        .is_empty()
    {
        return Ok(0);
    }
    let linked = salon
        .repo
        .staff_provider_ids(brand, crate::channels::WECOM_STAFF)
        .await?;
    let mut opened = 0;
    for (_, userid) in &linked {
        let clients = sim.contacts_of(userid);
        if clients.len() < 3 || opened == 2 {
            continue;
        }
        let picked: Vec<&str> = clients.iter().take(3).map(String::as_str).collect();
        let chat = match sim
            .create_group(userid, &format!("VIP salon · {userid}"), &picked)
            .await
        {
            Ok(c) => c,
            Err(e) => return Err(AppError::Unavailable(e.to_string())),
        };
        let lines = [
            (picked[0], "请问新款 Camille 手袋什么时候到店？"),
            (userid.as_str(), "下周二到店，我先为您预留一只黑色的。"),
            (picked[1], "Could you do 20% off if I take two?"),
            (picked[2], "期待周末的私享会！"),
        ];
        for (who, text) in lines {
            sim.group_says(&chat, who, text)
                .map_err(|e| AppError::Unavailable(e.to_string()))?;
        }
        opened += 1;
    }
    if opened > 0 {
        sim.deliver_archive()
            .await
            .map_err(|e| AppError::Unavailable(e.to_string()))?;
    }
    Ok(opened)
}

/// The clients the brand is talking with become the simulator's contacts again, each with the
/// customer-service window their last message opened: an associate can answer them.
async fn restore_conversations(
    salon: &Salon,
    sim: &Simulator,
    brand: domain::BrandId,
) -> AppResult<()> {
    let linked: std::collections::HashMap<domain::UserId, String> = salon
        .repo
        .staff_provider_ids(brand, crate::channels::WECOM_STAFF)
        .await?
        .into_iter()
        .collect();
    for thread in salon
        .repo
        .conversations(brand, domain::Scope::Brand, None, 500)
        .await?
    {
        let Some(client) = salon.repo.client(brand, thread.client_id).await? else {
            continue;
        };
        let Some(external) = client
            .identities
            .iter()
            .find(|i| i.kind == domain::IdentityKind::Wecom)
        else {
            continue;
        };
        let last_in = salon
            .repo
            .messages(brand, thread.client_id, 50)
            .await?
            .into_iter()
            .filter(|m| m.direction == domain::Direction::In)
            .map(|m| m.at / 1000)
            .max();
        let follows = client.associate_id.and_then(|u| linked.get(&u));
        sim.restore_contact(
            external.value.as_str(),
            &client.pii.display_name(),
            follows.map(String::as_str),
            last_in,
        );
    }
    Ok(())
}
