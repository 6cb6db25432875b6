//! How numbers, money and instants read on a page.

use domain::Millis;

pub fn money(minor: i64, currency: Option<&str>) -> String {
    if minor < 0 {
        return format!("-{}", money(minor.saturating_neg(), currency));
    }
    let symbol = match currency {
        Some("CNY") => "¥",
        Some("EUR") => "€",
        Some("USD") => "$",
        Some("GBP") => "£",
        Some("JPY") => "¥",
        Some(other) => return format!("{} {}", grouped(minor / 100), other),
        None => "¥",
    };
    let whole = grouped(minor / 100);
    let cents = minor % 100;
    if cents == 0 {
        format!("{symbol}{whole}")
    } else {
        format!("{symbol}{whole}.{cents:02}")
    }
}

pub fn grouped(n: i64) -> String {
    let s = n.abs().to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 { format!("-{out}") } else { out }
}

fn zoned(ms: Millis, tz: &str) -> Option<jiff::Zoned> {
    let ts = jiff::Timestamp::from_millisecond(ms).ok()?;
    let tz = jiff::tz::TimeZone::get(tz).ok()?;
    Some(ts.to_zoned(tz))
}

pub fn date(ms: Millis, tz: &str) -> String {
    zoned(ms, tz)
        .map(|z| z.strftime("%Y-%m-%d").to_string())
        .unwrap_or_default()
}

pub fn datetime(ms: Millis, tz: &str) -> String {
    zoned(ms, tz)
        .map(|z| z.strftime("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_are_grouped() {
        assert_eq!(grouped(1_234_567), "1,234,567");
        assert_eq!(grouped(-1000), "-1,000");
        assert_eq!(grouped(12), "12");
    }

    #[test]
    fn money_reads_naturally() {
        assert_eq!(money(1_299_950, Some("CNY")), "¥12,999.50");
        assert_eq!(money(100_000_000, Some("EUR")), "€1,000,000");
        assert_eq!(money(0, None), "¥0");
        assert_eq!(money(12_300, Some("CHF")), "123 CHF");
        assert_eq!(money(-6_401, Some("EUR")), "-€64.01");
        assert_eq!(money(-1, Some("CNY")), "-¥0.01");
    }

    #[test]
    fn instants_read_in_the_brand_time_zone() {
        // 2026-01-31T16:30Z is already February 1st in Shanghai.
        let ms = 1_769_877_000_000;
        assert_eq!(date(ms, "Asia/Shanghai"), "2026-02-01");
        assert_eq!(date(ms, "Europe/Paris"), "2026-01-31");
    }
}
