//! Broadcasts and prepared messages: the brand's contact policy, the planning of a campaign
//! into one send decision per client (consent, opt-out, caps, quiet hours, quotas), and the
//! message templates. Pure: the store supplies the candidates, the app sends.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::{ClientId, FieldError, Millis, UserId};

/// The days of the Unix epoch, as civil dates count them.
pub fn day_number(d: jiff::civil::Date) -> i32 {
    d.since((jiff::Unit::Day, jiff::civil::date(1970, 1, 1)))
        .map(|s| s.get_days())
        .unwrap_or(0)
}

/// How often and when the brand contacts a client with marketing. One broadcast per client per
/// calendar day (in the client's time zone) is not a setting: it is the rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContactPolicy {
    /// Broadcasts per client per calendar week (Monday to Sunday).
    pub per_week: u32,
    /// Broadcasts per client per calendar month.
    pub per_month: u32,
    /// Quiet hours, minutes after local midnight: nothing is sent from `quiet_start` to
    /// `quiet_end` (spanning midnight when start > end; none when equal).
    pub quiet_start: u16,
    pub quiet_end: u16,
    /// Clients one associate may be asked to send to per day, across campaigns.
    pub sa_daily_quota: u32,
}

impl Default for ContactPolicy {
    fn default() -> Self {
        Self {
            per_week: 3,
            per_month: 8,
            quiet_start: 22 * 60,
            quiet_end: 9 * 60,
            sa_daily_quota: 200,
        }
    }
}

impl ContactPolicy {
    pub fn validate(&self) -> Result<(), FieldError> {
        if self.per_week == 0 || self.per_week > 7 {
            return Err(FieldError::new("per_week", "must be 1 to 7"));
        }
        if self.per_month < self.per_week || self.per_month > 31 {
            return Err(FieldError::new(
                "per_month",
                "must be at least per_week and at most 31",
            ));
        }
        if self.quiet_start >= 1440 || self.quiet_end >= 1440 {
            return Err(FieldError::new(
                "quiet_start",
                "quiet hours are minutes after midnight, below 1440",
            ));
        }
        if self.sa_daily_quota == 0 {
            return Err(FieldError::new("sa_daily_quota", "must be at least 1"));
        }
        Ok(())
    }

    fn quiet(&self, minute: u16) -> bool {
        let (s, e) = (self.quiet_start, self.quiet_end);
        if s == e {
            false
        } else if s < e {
            (s..e).contains(&minute)
        } else {
            minute >= s || minute < e
        }
    }
}

/// Why a client is left out of a campaign.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Suppression {
    /// The client withdrew marketing consent on the channel.
    OptedOut,
    /// The client never gave marketing consent on the channel.
    NoConsent,
    /// The client cannot be reached on the channel.
    NoAddress,
    /// No associate of the client is linked to the channel to send from.
    NoSender,
    /// Already one broadcast on that calendar day.
    DailyCap,
    WeeklyCap,
    MonthlyCap,
    /// The campaign's own limit of recipients was reached.
    BrandQuota,
    /// The associate's daily quota was reached.
    SaQuota,
    /// The channel refused the client (not a contact, or its own cap).
    ChannelLimit,
    /// The campaign was cancelled before the send was handed to the channel.
    Cancelled,
}

impl Suppression {
    pub const ALL: [Suppression; 11] = [
        Suppression::OptedOut,
        Suppression::NoConsent,
        Suppression::NoAddress,
        Suppression::NoSender,
        Suppression::DailyCap,
        Suppression::WeeklyCap,
        Suppression::MonthlyCap,
        Suppression::BrandQuota,
        Suppression::SaQuota,
        Suppression::ChannelLimit,
        Suppression::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Suppression::OptedOut => "opted_out",
            Suppression::NoConsent => "no_consent",
            Suppression::NoAddress => "no_address",
            Suppression::NoSender => "no_sender",
            Suppression::DailyCap => "daily_cap",
            Suppression::WeeklyCap => "weekly_cap",
            Suppression::MonthlyCap => "monthly_cap",
            Suppression::BrandQuota => "brand_quota",
            Suppression::SaQuota => "sa_quota",
            Suppression::ChannelLimit => "channel_limit",
            Suppression::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

/// One client a campaign may reach, with what the checks need to know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub client_id: ClientId,
    pub associate: Option<UserId>,
    /// The client can be reached on the campaign's channel.
    pub has_address: bool,
    /// The associate can send on the channel (linked to a provider account).
    pub has_sender: bool,
    /// The marketing consent in force on the channel: none, granted or withdrawn.
    pub consent: Option<bool>,
    /// Index into [`PlanContext::zones`]: the client's time zone.
    pub zone: usize,
    /// Days (see [`day_number`], in the client's zone) on which a broadcast already went or
    /// will go to the client.
    pub broadcast_days: Vec<i32>,
}

/// The time and limits a campaign is planned with.
#[derive(Debug, Clone)]
pub struct PlanContext<'a> {
    pub send_at: Millis,
    pub policy: &'a ContactPolicy,
    pub zones: &'a [jiff::tz::TimeZone],
    /// The campaign's own limit of recipients.
    pub max_recipients: Option<u32>,
    /// Sends already asked of each associate per day, by other campaigns.
    pub sa_day_counts: &'a HashMap<(i64, i32), u32>,
}

/// What happens to one candidate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Send, not before this instant (after quiet hours), counted on this day.
    Send {
        day: i32,
        not_before: Millis,
    },
    Suppress(Suppression),
}

/// Where `send_at` falls in one zone: the day it counts on and when it may go.
#[derive(Debug, Clone, Copy)]
struct Slot {
    day: i32,
    week: i32,
    month: i32,
    not_before: Millis,
}

fn slot(send_at: Millis, zone: &jiff::tz::TimeZone, policy: &ContactPolicy) -> Slot {
    let ts = jiff::Timestamp::from_millisecond(send_at).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    let mut local = ts.to_zoned(zone.clone());
    let minute = (local.hour() as u16) * 60 + local.minute() as u16;
    if policy.quiet(minute) {
        // The next end of quiet hours, today or tomorrow.
        let end = jiff::civil::Time::new(
            (policy.quiet_end / 60) as i8,
            (policy.quiet_end % 60) as i8,
            0,
            0,
        )
        .unwrap_or(jiff::civil::Time::midnight());
        let today_end = local.date().to_datetime(end);
        let target = if local.datetime() < today_end {
            today_end
        } else {
            local
                .date()
                .tomorrow()
                .unwrap_or(local.date())
                .to_datetime(end)
        };
        if let Ok(z) = target.to_zoned(zone.clone()) {
            local = z;
        }
    }
    let date = local.date();
    let day = day_number(date);
    let monday = day - i32::from(date.weekday().to_monday_zero_offset());
    Slot {
        day,
        week: monday,
        month: i32::from(date.year()) * 12 + i32::from(date.month()) - 1,
        not_before: local.timestamp().as_millisecond().max(send_at),
    }
}

fn week_of(day: i32) -> i32 {
    // 1970-01-01 was a Thursday: Monday-based weeks start 3 days before it.
    day - (day + 3).rem_euclid(7)
}

fn month_of(day: i32) -> i32 {
    let d = jiff::civil::date(1970, 1, 1)
        .checked_add(jiff::Span::new().days(i64::from(day)))
        .unwrap_or(jiff::civil::date(1970, 1, 1));
    i32::from(d.year()) * 12 + i32::from(d.month()) - 1
}

/// Decides, for each candidate in order, whether the campaign reaches them and when. The
/// first check a client fails is the reason recorded.
pub fn plan(candidates: &[Candidate], ctx: &PlanContext<'_>) -> Vec<Decision> {
    let slots: Vec<Slot> = ctx
        .zones
        .iter()
        .map(|z| slot(ctx.send_at, z, ctx.policy))
        .collect();
    let mut sa_counts: HashMap<(i64, i32), u32> = HashMap::new();
    let mut planned: u32 = 0;
    let mut out = Vec::with_capacity(candidates.len());
    for c in candidates {
        let Some(s) = slots.get(c.zone).or(slots.first()) else {
            out.push(Decision::Suppress(Suppression::NoAddress));
            continue;
        };
        let decision = (|| {
            match c.consent {
                Some(false) => return Err(Suppression::OptedOut),
                None => return Err(Suppression::NoConsent),
                Some(true) => {}
            }
            if !c.has_address {
                return Err(Suppression::NoAddress);
            }
            let Some(sa) = c.associate.filter(|_| c.has_sender) else {
                return Err(Suppression::NoSender);
            };
            if c.broadcast_days.contains(&s.day) {
                return Err(Suppression::DailyCap);
            }
            let week = c
                .broadcast_days
                .iter()
                .filter(|d| week_of(**d) == s.week)
                .count();
            if week >= ctx.policy.per_week as usize {
                return Err(Suppression::WeeklyCap);
            }
            let month = c
                .broadcast_days
                .iter()
                .filter(|d| month_of(**d) == s.month)
                .count();
            if month >= ctx.policy.per_month as usize {
                return Err(Suppression::MonthlyCap);
            }
            if ctx.max_recipients.is_some_and(|m| planned >= m) {
                return Err(Suppression::BrandQuota);
            }
            let key = (sa.0, s.day);
            let before = ctx.sa_day_counts.get(&key).copied().unwrap_or(0);
            let n = sa_counts.entry(key).or_default();
            if before + *n >= ctx.policy.sa_daily_quota {
                return Err(Suppression::SaQuota);
            }
            *n += 1;
            planned += 1;
            Ok(Decision::Send {
                day: s.day,
                not_before: s.not_before,
            })
        })();
        out.push(decision.unwrap_or_else(Decision::Suppress));
    }
    out
}

/// The placeholders a message template may use.
pub const PLACEHOLDERS: [&str; 4] = [
    "client.first_name",
    "client.last_name",
    "client.name",
    "sa.name",
];

/// A message with placeholders, checked once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Template(String);

impl Template {
    pub fn parse(text: &str) -> Result<Self, FieldError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(FieldError::new("text", "the message is empty"));
        }
        if text.chars().count() > 2_000 {
            return Err(FieldError::new("text", "longer than 2,000 characters"));
        }
        let mut rest = text;
        while let Some(open) = rest.find('{') {
            let after = &rest[open + 1..];
            let close = after.find('}').ok_or_else(|| {
                FieldError::new("text", "a '{' is not closed: write {client.first_name}")
            })?;
            let name = after[..close].trim();
            if !PLACEHOLDERS.contains(&name) {
                return Err(FieldError::new(
                    "text",
                    format!(
                        "unknown placeholder {{{name}}}; use {}",
                        PLACEHOLDERS.map(|p| format!("{{{p}}}")).join(", ")
                    ),
                ));
            }
            rest = &after[close + 1..];
        }
        Ok(Self(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether the text differs from client to client (then each is sent alone).
    pub fn per_client(&self) -> bool {
        PLACEHOLDERS
            .iter()
            .filter(|p| p.starts_with("client."))
            .any(|p| self.0.contains(&format!("{{{p}}}")))
    }

    /// The text for one client, from one associate.
    pub fn render(&self, first: Option<&str>, last: Option<&str>, name: &str, sa: &str) -> String {
        self.0
            .replace("{client.first_name}", first.unwrap_or(name))
            .replace("{client.last_name}", last.unwrap_or(""))
            .replace("{client.name}", name)
            .replace("{sa.name}", sa)
    }
}

/// What a campaign is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CampaignKind {
    /// Sent to the whole segment at the scheduled time.
    Broadcast,
    /// Prepared by HQ; each associate sends it to their own clients in the segment.
    Prepared,
}

impl CampaignKind {
    pub fn as_str(self) -> &'static str {
        match self {
            CampaignKind::Broadcast => "broadcast",
            CampaignKind::Prepared => "prepared",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        [CampaignKind::Broadcast, CampaignKind::Prepared]
            .into_iter()
            .find(|k| k.as_str() == s)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CampaignStatus {
    Draft,
    /// Broadcast: expanded into sends. Prepared: open to associates.
    Planned,
    Done,
    Cancelled,
}

impl CampaignStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            CampaignStatus::Draft => "draft",
            CampaignStatus::Planned => "planned",
            CampaignStatus::Done => "done",
            CampaignStatus::Cancelled => "cancelled",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        [
            CampaignStatus::Draft,
            CampaignStatus::Planned,
            CampaignStatus::Done,
            CampaignStatus::Cancelled,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

/// A saved audience.
#[derive(Debug, Clone, Serialize)]
pub struct Segment {
    pub id: i64,
    pub name: String,
    pub expression: String,
    pub created_by: Option<UserId>,
    pub updated_at: Millis,
}

#[derive(Debug, Clone)]
pub struct NewCampaign {
    pub name: String,
    pub kind: CampaignKind,
    pub segment_id: Option<i64>,
    /// The segment expression as it was when the campaign was made.
    pub expression: String,
    pub channel: crate::ChannelKind,
    pub template: Template,
    /// Approved images sent with the text.
    pub asset_ids: Vec<i64>,
    pub send_at: Millis,
    pub max_recipients: Option<u32>,
    pub created_by: Option<UserId>,
    pub at: Millis,
}

#[derive(Debug, Clone, Serialize)]
pub struct Campaign {
    pub id: i64,
    pub name: String,
    pub kind: CampaignKind,
    pub segment_id: Option<i64>,
    pub expression: String,
    pub channel: crate::ChannelKind,
    pub template: Template,
    pub asset_ids: Vec<i64>,
    pub send_at: Millis,
    pub max_recipients: Option<u32>,
    pub status: CampaignStatus,
    pub created_by: Option<UserId>,
    pub created_at: Millis,
    pub planned_at: Option<Millis>,
}

/// The state of one send intent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SendStatus {
    Suppressed,
    Planned,
    Sending,
    Sent,
    Failed,
}

impl SendStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            SendStatus::Suppressed => "suppressed",
            SendStatus::Planned => "planned",
            SendStatus::Sending => "sending",
            SendStatus::Sent => "sent",
            SendStatus::Failed => "failed",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        [
            SendStatus::Suppressed,
            SendStatus::Planned,
            SendStatus::Sending,
            SendStatus::Sent,
            SendStatus::Failed,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

/// A campaign's figures.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CampaignReport {
    pub planned: u64,
    pub sending: u64,
    pub sent: u64,
    /// Reported received by the channel.
    pub delivered: u64,
    pub failed: u64,
    pub suppressed: u64,
    /// Suppressed clients by reason, in [`Suppression::ALL`] order.
    pub suppressed_by: Vec<(Suppression, u64)>,
    /// Clients who wrote back after their send.
    pub replies: u64,
}

/// One group of sends handed to the channel in one call.
#[derive(Debug, Clone)]
pub struct SendBatch {
    pub id: i64,
    pub brand: crate::BrandId,
    pub campaign_id: i64,
    pub associate_id: UserId,
    /// The associate's account on the channel.
    pub sender: String,
    /// (send id, client, the client's address on the channel).
    pub sends: Vec<(i64, ClientId, String)>,
    /// The text as last handed to the channel, if it was.
    pub body: Option<String>,
    pub attempt_at: Option<Millis>,
    pub attempts: i32,
}

/// A client's send of a campaign as the report lists it.
#[derive(Debug, Clone, Serialize)]
pub struct SendRow {
    pub client_id: ClientId,
    pub associate_id: Option<UserId>,
    pub status: SendStatus,
    pub reason: Option<String>,
    pub provider_msgid: Option<String>,
    pub sent_at: Option<Millis>,
    pub delivered_at: Option<Millis>,
}

/// Where a Moments post is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MomentStatus {
    /// Waiting for the dispatcher.
    Queued,
    /// Being handed to WeCom.
    Submitting,
    /// WeCom has the task; the associates publish it.
    Submitted,
    Done,
    Failed,
    /// The call went unanswered: WeCom may have the task. Never resent blindly.
    Unknown,
}

impl MomentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            MomentStatus::Queued => "queued",
            MomentStatus::Submitting => "submitting",
            MomentStatus::Submitted => "submitted",
            MomentStatus::Done => "done",
            MomentStatus::Failed => "failed",
            MomentStatus::Unknown => "unknown",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        [
            MomentStatus::Queued,
            MomentStatus::Submitting,
            MomentStatus::Submitted,
            MomentStatus::Done,
            MomentStatus::Failed,
            MomentStatus::Unknown,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

/// A post to clients' Moments (朋友圈), published by the associates in its visible range.
#[derive(Debug, Clone, Serialize)]
pub struct Moment {
    pub id: i64,
    pub brand: crate::BrandId,
    pub text: String,
    /// The associates whose clients see it.
    pub senders: Vec<UserId>,
    /// Approved images of the asset pool it shows.
    pub asset_ids: Vec<i64>,
    pub status: MomentStatus,
    pub jobid: Option<String>,
    pub moment_id: Option<String>,
    pub error: Option<String>,
    pub attempt_at: Option<Millis>,
    pub created_by: Option<UserId>,
    pub created_at: Millis,
    pub updated_at: Millis,
    /// What came of it per associate, as WeCom last reported (empty until asked).
    pub reach: Vec<MomentReach>,
    /// When WeCom was last asked.
    pub checked_at: Option<Millis>,
}

/// What came of a Moments post for one associate, as WeCom reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct MomentReach {
    pub associate_id: UserId,
    /// Whether the associate published it (WeCom asks each associate to confirm).
    pub published: bool,
    /// Clients who can see it in their Moments.
    pub seen_by: u32,
    /// The brand's clients who liked it, and who commented on it.
    pub liked_by: Vec<ClientId>,
    pub commented_by: Vec<ClientId>,
}

impl Moment {
    /// Totals over the associates: (published by, seen by, likes, comments).
    pub fn totals(&self) -> (usize, u32, usize, usize) {
        self.reach.iter().fold((0, 0, 0, 0), |(p, s, l, c), r| {
            (
                p + usize::from(r.published),
                s + r.seen_by,
                l + r.liked_by.len(),
                c + r.commented_by.len(),
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shanghai() -> jiff::tz::TimeZone {
        jiff::tz::TimeZone::get("Asia/Shanghai").expect("tz")
    }

    fn at(s: &str) -> Millis {
        s.parse::<jiff::Timestamp>().expect("ts").as_millisecond()
    }

    fn cand(id: i64) -> Candidate {
        Candidate {
            client_id: ClientId(id),
            associate: Some(UserId(1)),
            has_address: true,
            has_sender: true,
            consent: Some(true),
            zone: 0,
            broadcast_days: vec![],
        }
    }

    #[test]
    fn each_check_suppresses_with_its_own_reason() {
        let zones = [shanghai()];
        let policy = ContactPolicy {
            sa_daily_quota: 8,
            ..ContactPolicy::default()
        };
        let counts = HashMap::new();
        // Tuesday 2026-11-24, 10:00 in Shanghai.
        let send_at = at("2026-11-24T02:00:00Z");
        let today = day_number(jiff::civil::date(2026, 11, 24));
        let ctx = PlanContext {
            send_at,
            policy: &policy,
            zones: &zones,
            max_recipients: None,
            sa_day_counts: &counts,
        };
        let mut cs: Vec<Candidate> = (1..=12).map(cand).collect();
        cs[0].consent = Some(false);
        cs[1].consent = None;
        cs[2].has_address = false;
        cs[3].has_sender = false;
        cs[4].broadcast_days = vec![today];
        // Monday and Sunday before: last week; Monday this week + 2 more → the week is full.
        cs[5].broadcast_days = vec![today - 1, today + 2, today + 4];
        cs[6].broadcast_days = vec![today - 2, today - 8];
        // Eight earlier this month, on weeks apart.
        cs[7].broadcast_days = (0..8).map(|i| today - 4 - i).collect();
        let d = plan(&cs, &ctx);
        let reasons: Vec<Option<Suppression>> = d
            .iter()
            .map(|d| match d {
                Decision::Suppress(s) => Some(*s),
                Decision::Send { .. } => None,
            })
            .collect();
        use Suppression::*;
        assert_eq!(
            reasons,
            vec![
                Some(OptedOut),
                Some(NoConsent),
                Some(NoAddress),
                Some(NoSender),
                Some(DailyCap),
                Some(WeeklyCap),
                None,
                Some(MonthlyCap),
                None,
                None,
                None,
                None,
            ]
        );
        assert_eq!(
            d[6],
            Decision::Send {
                day: today,
                not_before: send_at
            }
        );
        // Quotas: the campaign's, then the associate's for the day.
        let ctx = PlanContext {
            max_recipients: Some(3),
            ..ctx
        };
        let d = plan(&(1..=5).map(cand).collect::<Vec<_>>(), &ctx);
        assert_eq!(d[3], Decision::Suppress(BrandQuota));
        let mut counts = HashMap::new();
        counts.insert((1, today), 7);
        let ctx = PlanContext {
            max_recipients: None,
            sa_day_counts: &counts,
            ..ctx
        };
        let d = plan(&(1..=3).map(cand).collect::<Vec<_>>(), &ctx);
        assert!(matches!(d[0], Decision::Send { .. }));
        assert_eq!(d[1], Decision::Suppress(SaQuota));
    }

    #[test]
    fn quiet_hours_move_the_send_and_its_day_in_the_clients_zone() {
        let zones = [
            shanghai(),
            jiff::tz::TimeZone::get("Europe/Paris").expect("tz"),
        ];
        let policy = ContactPolicy::default();
        let counts = HashMap::new();
        // 23:30 in Shanghai on the 24th = 16:30 in Paris.
        let send_at = at("2026-11-24T15:30:00Z");
        let ctx = PlanContext {
            send_at,
            policy: &policy,
            zones: &zones,
            max_recipients: None,
            sa_day_counts: &counts,
        };
        let mut paris = cand(2);
        paris.zone = 1;
        let d = plan(&[cand(1), paris], &ctx);
        assert_eq!(
            d[0],
            Decision::Send {
                day: day_number(jiff::civil::date(2026, 11, 25)),
                not_before: at("2026-11-25T01:00:00Z")
            }
        );
        assert_eq!(
            d[1],
            Decision::Send {
                day: day_number(jiff::civil::date(2026, 11, 24)),
                not_before: send_at
            }
        );
        // A client capped on the 25th (Shanghai) is suppressed although it is the 24th in UTC.
        let mut capped = cand(3);
        capped.broadcast_days = vec![day_number(jiff::civil::date(2026, 11, 25))];
        assert_eq!(
            plan(&[capped], &ctx)[0],
            Decision::Suppress(Suppression::DailyCap)
        );
    }

    #[test]
    fn weeks_start_on_monday() {
        let monday = day_number(jiff::civil::date(2026, 11, 23));
        assert_eq!(week_of(monday), monday);
        assert_eq!(week_of(monday + 6), monday);
        assert_eq!(week_of(monday + 7), monday + 7);
        assert_eq!(month_of(monday), 2026 * 12 + 10);
    }

    #[test]
    fn templates_name_their_unknown_placeholders() {
        let t = Template::parse("Dear {client.first_name}, {sa.name} has news").expect("ok");
        assert!(t.per_client());
        assert_eq!(
            t.render(Some("Li"), None, "Li Wei", "Chen"),
            "Dear Li, Chen has news"
        );
        assert!(
            !Template::parse("{sa.name} invites you")
                .expect("ok")
                .per_client()
        );
        let e = Template::parse("Hi {client.nickname}").expect_err("unknown");
        assert!(e.to_string().contains("{client.nickname}"), "{e}");
        assert!(Template::parse("Hi {client.name").is_err());
        assert!(Template::parse("  ").is_err());
    }
}
