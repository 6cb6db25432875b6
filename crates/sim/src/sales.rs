//! A synthetic brand's year of sales in the exchange files of spec/attribution.md (orders,
//! returns, touches, exchange rates, a policy with targets), for the sales benchmark and
//! DuckDB's side of it. Deterministic for a seed; written line by line, never held whole.

use std::io::{BufWriter, Write};
use std::path::Path;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

pub struct SalesParams {
    pub clients: u64,
    pub associates: u64,
    pub orders: u64,
    pub touches: u64,
    pub seed: u64,
    /// The first day (Asia/Shanghai); a year of days follows.
    pub start: jiff::civil::Date,
    pub days: i64,
}

#[derive(Debug, Default)]
pub struct SalesCounts {
    pub orders: u64,
    pub returns: u64,
    pub touches: u64,
    pub rates: u64,
}

const KINDS: [(&str, u32); 5] = [
    ("message", 50),
    ("share_click", 25),
    ("broadcast", 15),
    ("live_view", 6),
    ("appointment", 4),
];

fn stamp(ms: i64) -> String {
    // RFC 3339 in China Standard Time, to the second.
    let ts = jiff::Timestamp::from_millisecond(ms - ms.rem_euclid(1000)).unwrap_or_default();
    let off = jiff::tz::Offset::from_hours(8).unwrap_or(jiff::tz::Offset::UTC);
    ts.display_with_offset(off).to_string()
}

fn associate(i: u64) -> String {
    format!("sa{i:05}@maison.example")
}

/// Writes `orders.jsonl`, `returns.jsonl`, `touches.jsonl`, `fx.jsonl` and `policy.json`.
pub fn write(dir: &Path, p: &SalesParams) -> std::io::Result<SalesCounts> {
    std::fs::create_dir_all(dir)?;
    let mut rng = ChaCha8Rng::seed_from_u64(p.seed);
    let open = |name: &str| -> std::io::Result<BufWriter<std::fs::File>> {
        Ok(BufWriter::with_capacity(
            1 << 20,
            std::fs::File::create(dir.join(name))?,
        ))
    };
    let tz = jiff::tz::TimeZone::get("Asia/Shanghai").map_err(std::io::Error::other)?;
    let start = p
        .start
        .to_zoned(tz)
        .map_err(std::io::Error::other)?
        .timestamp()
        .as_millisecond();
    let day = 86_400_000i64;
    let span = p.days * day;
    let mut counts = SalesCounts::default();

    let mut fx = open("fx.jsonl")?;
    let mut d = p
        .start
        .checked_sub(jiff::Span::new().days(10))
        .map_err(std::io::Error::other)?;
    let end = p
        .start
        .checked_add(jiff::Span::new().days(p.days + 1))
        .map_err(std::io::Error::other)?;
    while d < end {
        for (cur, base) in [("EUR", 7_812_500_000_000i64), ("USD", 7_100_000_000_000)] {
            let units = base + rng.gen_range(-200_000_000_000i64..200_000_000_000);
            writeln!(
                fx,
                r#"{{"date": "{d}", "currency": "{cur}", "rate": "{}.{:012}"}}"#,
                units / 1_000_000_000_000,
                units % 1_000_000_000_000
            )?;
            counts.rates += 1;
        }
        d = d.tomorrow().map_err(std::io::Error::other)?;
    }
    fx.flush()?;

    let mut orders = open("orders.jsonl")?;
    let mut returns = open("returns.jsonl")?;
    let stores = (p.associates / 20).max(1);
    for i in 0..p.orders {
        let client = rng.gen_range(0..p.clients);
        let home = client % p.associates;
        let at = start + rng.gen_range(0..span);
        let roll: f64 = rng.r#gen();
        let source = if roll < 0.4 {
            "pos"
        } else if roll < 0.75 {
            "ecommerce"
        } else if roll < 0.92 {
            "mini_store"
        } else {
            "livestream"
        };
        let currency = match rng.gen_range(0..100) {
            0..=89 => "CNY",
            90..=96 => "EUR",
            _ => "USD",
        };
        let n_lines = rng.gen_range(1..=3);
        let mut lines = String::new();
        let mut first_amount = 0;
        for l in 1..=n_lines {
            let amount: i64 = rng.gen_range(5_000..5_000_000);
            if l == 1 {
                first_amount = amount;
            }
            if l > 1 {
                lines.push_str(", ");
            }
            lines.push_str(&format!(
                r#"{{"line": {l}, "sku": "SKU-{:05}", "qty": {}, "amount": {amount}}}"#,
                rng.gen_range(0..20_000),
                rng.gen_range(1..3)
            ));
        }
        let client_json = if rng.gen_bool(0.05) {
            "null".to_owned()
        } else {
            format!("\"C{client:07}\"")
        };
        let mut extra = String::new();
        if source == "pos" {
            extra.push_str(&format!(r#", "store": "S{:03}""#, home % stores));
            if rng.gen_bool(0.6) {
                extra.push_str(&format!(r#", "sold_by": "{}""#, associate(home)));
            }
        }
        let id = format!("O{i:08}");
        writeln!(
            orders,
            r#"{{"order_id": "{id}", "source": "{source}", "client": {client_json}, "placed_at": "{}", "currency": "{currency}"{extra}, "lines": [{lines}]}}"#,
            stamp(at)
        )?;
        counts.orders += 1;
        if rng.gen_bool(0.03) {
            let back = at + rng.gen_range(day..20 * day);
            writeln!(
                returns,
                r#"{{"return_id": "R{i:08}", "order_id": "{id}", "line": 1, "qty": 1, "amount": {}, "at": "{}"}}"#,
                rng.gen_range(0..=first_amount),
                stamp(back)
            )?;
            counts.returns += 1;
        }
    }
    orders.flush()?;
    returns.flush()?;

    let mut touches = open("touches.jsonl")?;
    let total: u32 = KINDS.iter().map(|(_, w)| w).sum();
    for _ in 0..p.touches {
        let client = rng.gen_range(0..p.clients);
        let who = if rng.gen_bool(0.8) {
            client % p.associates
        } else {
            rng.gen_range(0..p.associates)
        };
        let mut pick = rng.gen_range(0..total);
        let mut kind = KINDS[0].0;
        for (k, w) in KINDS {
            if pick < w {
                kind = k;
                break;
            }
            pick -= w;
        }
        let at = start - 30 * day + rng.gen_range(0..span + 30 * day);
        writeln!(
            touches,
            r#"{{"at": "{}", "associate": "{}", "client": "C{client:07}", "kind": "{kind}"}}"#,
            stamp(at),
            associate(who)
        )?;
        counts.touches += 1;
    }
    touches.flush()?;

    // Targets for every associate and month: about their share of the year's sales.
    let mut policy = String::from(r#"{"model": "last_touch", "targets": {"#);
    let mut month = jiff::civil::Date::new(p.start.year(), p.start.month(), 1)
        .map_err(std::io::Error::other)?;
    let months = (p.days / 30).max(1);
    for m in 0..months {
        if m > 0 {
            policy.push_str(", ");
        }
        policy.push_str(&format!(r#""{}": {{"#, &month.to_string()[..7]));
        let each = (p.orders / p.associates / 12).max(1) as i64 * 3_000_000;
        for a in 0..p.associates {
            if a > 0 {
                policy.push_str(", ");
            }
            policy.push_str(&format!(r#""{}": {each}"#, associate(a)));
        }
        policy.push('}');
        month = month
            .checked_add(jiff::Span::new().months(1))
            .map_err(std::io::Error::other)?;
    }
    policy.push_str("}}\n");
    std::fs::write(dir.join("policy.json"), policy)?;
    Ok(counts)
}
