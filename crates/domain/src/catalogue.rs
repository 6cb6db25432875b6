//! The catalogue: what a brand sells (products, with names in Chinese and English, prices per
//! currency, images from the asset pool) and how many of each every store holds.
//!
//! A product is parsed whole from a [`ProductInput`] (the API's body, a JSON line, a CSV row):
//! every problem names its field.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{FieldError, Millis, text};

/// Longest SKU, in characters.
pub const SKU_MAX: usize = 64;
/// Most colours, sizes, prices or images one product may list.
pub const LIST_MAX: usize = 50;
/// Largest price in minor units (10^15: a thousand billion yuan), and largest stock quantity.
pub const AMOUNT_MAX: i64 = 1_000_000_000_000_000;
pub const QUANTITY_MAX: i64 = 1_000_000_000;

/// A SKU as the brand writes it: 1 to 64 printable characters without spaces, kept as given
/// (SKUs are compared exactly).
pub fn sku(field: &str, s: &str) -> Result<String, FieldError> {
    let s = s.trim();
    if s.is_empty() {
        return Err(FieldError::new(field, "must not be empty"));
    }
    if s.chars().count() > SKU_MAX {
        return Err(FieldError::new(
            field,
            format!("must be at most {SKU_MAX} characters"),
        ));
    }
    if s.chars()
        .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '/' | '\\' | '?' | '#'))
    {
        return Err(FieldError::new(
            field,
            "must not contain spaces, control characters, '/', '\\', '?' or '#'",
        ));
    }
    Ok(s.to_owned())
}

/// How many digits a currency's minor unit has (ISO 4217): 0 for yen and won, 3 for the Gulf
/// dinars, 2 for the others.
pub fn minor_digits(currency: &str) -> u32 {
    match currency {
        "JPY" | "KRW" | "VND" | "CLP" | "ISK" | "XAF" | "XOF" | "XPF" | "UGX" | "PYG" | "RWF"
        | "KMF" | "GNF" | "DJF" | "BIF" | "VUV" => 0,
        "BHD" | "KWD" | "OMR" | "JOD" | "TND" | "LYD" | "IQD" => 3,
        _ => 2,
    }
}

/// A currency code: three upper-case letters (ISO 4217), as given.
pub fn currency_code(field: &str, s: &str) -> Result<String, FieldError> {
    let s = s.trim();
    if s.len() == 3 && s.chars().all(|c| c.is_ascii_uppercase()) {
        Ok(s.to_owned())
    } else {
        Err(FieldError::new(
            field,
            format!("{s:?} is not a currency: three upper-case letters such as CNY or EUR"),
        ))
    }
}

/// A price in major units (`32000`, `32000.5`, `4100.00`) to minor units of `currency`,
/// exactly: more decimals than the currency has, a sign, an exponent or an amount over
/// [`AMOUNT_MAX`] is refused.
pub fn price_minor(field: &str, currency: &str, s: &str) -> Result<i64, FieldError> {
    let s = s.trim();
    let digits = minor_digits(currency);
    let bad = |why: &str| FieldError::new(field, format!("{s:?} {why}"));
    let (whole, frac) = s.split_once('.').unwrap_or((s, ""));
    if whole.is_empty() || !whole.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad(
            "is not a price such as 32000 or 32000.50 (not negative)",
        ));
    }
    if !frac.bytes().all(|b| b.is_ascii_digit()) || (s.contains('.') && frac.is_empty()) {
        return Err(bad(
            "is not a price such as 32000 or 32000.50 (not negative)",
        ));
    }
    let frac = frac.trim_end_matches('0');
    if frac.len() > digits as usize {
        return Err(bad(&format!(
            "has more decimals than {currency} has ({digits})"
        )));
    }
    let too_big = || bad("is too large");
    let whole = whole.trim_start_matches('0');
    if whole.len() > 18 {
        return Err(too_big());
    }
    let whole: i64 = if whole.is_empty() {
        0
    } else {
        whole.parse().map_err(|_| too_big())?
    };
    let frac: i64 = if frac.is_empty() {
        0
    } else {
        format!("{frac:0<width$}", width = digits as usize)
            .parse()
            .map_err(|_| too_big())?
    };
    let minor = whole
        .checked_mul(10i64.pow(digits))
        .and_then(|w| w.checked_add(frac))
        .ok_or_else(too_big)?;
    if minor > AMOUNT_MAX {
        return Err(too_big());
    }
    Ok(minor)
}

/// Minor units back to the major-unit text [`price_minor`] reads (`32000.00`).
pub fn price_text(currency: &str, minor: i64) -> String {
    let digits = minor_digits(currency);
    if digits == 0 {
        return minor.to_string();
    }
    let p = 10i64.pow(digits);
    let sign = if minor < 0 { "-" } else { "" };
    let m = minor.unsigned_abs();
    format!(
        "{sign}{}.{:0width$}",
        m / p as u64,
        m % p as u64,
        width = digits as usize
    )
}

/// A price as a product carries it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Price {
    /// ISO 4217.
    pub currency: String,
    /// In the currency's minor units (fen, cents).
    pub minor: i64,
}

/// A product of the brand's catalogue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Product {
    pub sku: String,
    pub name_zh: String,
    pub name_en: String,
    pub category: String,
    pub material: String,
    pub colours: Vec<String>,
    pub sizes: Vec<String>,
    /// At most one per currency, in the order of their codes.
    #[serde(serialize_with = "prices_as_map")]
    pub prices: Vec<Price>,
    /// Ids of images in the brand's asset pool.
    pub images: Vec<i64>,
    pub active: bool,
    /// The product's page on the brand's e-shop: where a shared link goes.
    pub url: Option<String>,
    pub updated_at: Millis,
}

fn prices_as_map<S: serde::Serializer>(prices: &[Price], s: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    let mut m = s.serialize_map(Some(prices.len()))?;
    for p in prices {
        m.serialize_entry(&p.currency, &price_text(&p.currency, p.minor))?;
    }
    m.end()
}

impl Product {
    /// The price in this currency, if the product has one.
    pub fn price(&self, currency: &str) -> Option<i64> {
        self.prices
            .iter()
            .find(|p| p.currency == currency)
            .map(|p| p.minor)
    }

    /// The name in a language (`zh…` gives the Chinese name), or the other when it is empty.
    pub fn name_in(&self, language: &str) -> &str {
        let zh = language.to_ascii_lowercase().starts_with("zh");
        match (zh, self.name_zh.is_empty(), self.name_en.is_empty()) {
            (true, false, _) | (false, false, true) => &self.name_zh,
            _ => &self.name_en,
        }
    }

    /// Whether two versions say the same (all but `updated_at`).
    pub fn same_as(&self, other: &Product) -> bool {
        Product {
            updated_at: 0,
            ..self.clone()
        } == Product {
            updated_at: 0,
            ..other.clone()
        }
    }
}

/// A price as written from outside: major units, as a string (`"32000.00"`) or a number.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum PriceInput {
    Text(String),
    Number(serde_json::Number),
}

impl PriceInput {
    fn text(&self) -> String {
        match self {
            PriceInput::Text(s) => s.clone(),
            PriceInput::Number(n) => n.to_string(),
        }
    }
}

/// A product as the API, a JSON line or a CSV row gives it (see [`ProductInput::parse`]).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProductInput {
    #[serde(default)]
    pub sku: String,
    #[serde(default)]
    pub name_zh: String,
    #[serde(default)]
    pub name_en: String,
    #[serde(default)]
    pub category: String,
    #[serde(default)]
    pub material: String,
    #[serde(default)]
    pub colours: Vec<String>,
    #[serde(default)]
    pub sizes: Vec<String>,
    /// Currency → price in major units: `{"CNY": "32000.00", "EUR": 4100}`.
    #[serde(default)]
    pub prices: BTreeMap<String, PriceInput>,
    /// Asset ids of the product's images.
    #[serde(default)]
    pub images: Vec<i64>,
    /// Defaults to true.
    pub active: Option<bool>,
    pub url: Option<String>,
}

fn optional(field: &str, s: &str, max: usize) -> Result<String, FieldError> {
    if s.trim().is_empty() {
        Ok(String::new())
    } else {
        text(field, s, max)
    }
}

fn words(field: &str, items: &[String]) -> Result<Vec<String>, FieldError> {
    if items.len() > LIST_MAX {
        return Err(FieldError::new(
            field,
            format!("must list at most {LIST_MAX}"),
        ));
    }
    let mut out: Vec<String> = Vec::with_capacity(items.len());
    for (i, s) in items.iter().enumerate() {
        if s.trim().is_empty() {
            continue;
        }
        let w = text(&format!("{field}[{i}]"), s, 60)?;
        if !out.contains(&w) {
            out.push(w);
        }
    }
    Ok(out)
}

/// An http(s) address without spaces or control characters, at most 2,000 characters.
pub fn web_address(field: &str, s: &str) -> Result<String, FieldError> {
    let s = s.trim();
    let ok = (s.starts_with("https://") || s.starts_with("http://"))
        && s.len() <= 2_000
        && s.len() > "https://".len()
        && !s
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '\\');
    if ok {
        Ok(s.to_owned())
    } else {
        Err(FieldError::new(
            field,
            "must be an http:// or https:// address without spaces (at most 2,000 characters)",
        ))
    }
}

impl ProductInput {
    /// The product this input describes, stamped `at`; the first problem names its field.
    /// A product needs a SKU and a name in at least one language.
    pub fn parse(&self, at: Millis) -> Result<Product, FieldError> {
        let sku = sku("sku", &self.sku)?;
        let name_zh = optional("name_zh", &self.name_zh, 200)?;
        let name_en = optional("name_en", &self.name_en, 200)?;
        if name_zh.is_empty() && name_en.is_empty() {
            return Err(FieldError::new(
                "name_en",
                "a product needs a name in Chinese (name_zh) or English (name_en)",
            ));
        }
        if self.prices.len() > LIST_MAX {
            return Err(FieldError::new(
                "prices",
                format!("must list at most {LIST_MAX}"),
            ));
        }
        let mut prices = Vec::with_capacity(self.prices.len());
        for (code, amount) in &self.prices {
            let currency = currency_code(&format!("prices.{code}"), code)?;
            let minor = price_minor(&format!("prices.{currency}"), &currency, &amount.text())?;
            prices.push(Price { currency, minor });
        }
        if self.images.len() > LIST_MAX {
            return Err(FieldError::new(
                "images",
                format!("must list at most {LIST_MAX}"),
            ));
        }
        if let Some(i) = self.images.iter().position(|id| *id <= 0) {
            return Err(FieldError::new(
                format!("images[{i}]"),
                "must be the id of an asset (a positive number)",
            ));
        }
        let mut images = Vec::with_capacity(self.images.len());
        for id in &self.images {
            if !images.contains(id) {
                images.push(*id);
            }
        }
        let url = match self.url.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(u) => Some(web_address("url", u)?),
        };
        Ok(Product {
            sku,
            name_zh,
            name_en,
            category: optional("category", &self.category, 100)?,
            material: optional("material", &self.material, 100)?,
            colours: words("colours", &self.colours)?,
            sizes: words("sizes", &self.sizes)?,
            prices,
            images,
            active: self.active.unwrap_or(true),
            url,
            updated_at: at,
        })
    }
}

/// How many of a product a store holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StockLevel {
    pub sku: String,
    /// The store's code.
    pub store: String,
    pub quantity: i64,
    pub updated_at: Millis,
}

/// A stock line as written from outside.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StockInput {
    #[serde(default)]
    pub sku: String,
    #[serde(default)]
    pub store: String,
    pub quantity: Option<serde_json::Number>,
}

impl StockInput {
    /// The stock line (a store code is checked for shape here; that it exists, by the caller).
    pub fn parse(&self, at: Millis) -> Result<StockLevel, FieldError> {
        let sku = sku("sku", &self.sku)?;
        let store = crate::StoreCode::parse("store", &self.store)?;
        let quantity = match &self.quantity {
            None => return Err(FieldError::new("quantity", "is required")),
            Some(n) => quantity("quantity", &n.to_string())?,
        };
        Ok(StockLevel {
            sku,
            store: store.to_string(),
            quantity,
            updated_at: at,
        })
    }
}

/// A whole number of items, 0 to [`QUANTITY_MAX`].
pub fn quantity(field: &str, s: &str) -> Result<i64, FieldError> {
    let s = s.trim();
    let n: i64 = s
        .parse()
        .ok()
        .filter(|_| s.bytes().all(|b| b.is_ascii_digit()))
        .ok_or_else(|| {
            FieldError::new(
                field,
                format!("{s:?} is not a quantity: a whole number, 0 or more"),
            )
        })?;
    if n > QUANTITY_MAX {
        return Err(FieldError::new(field, "is too large"));
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> ProductInput {
        ProductInput {
            sku: "LM-BAG-001".into(),
            name_zh: "经典手袋".into(),
            name_en: "Classic Bag".into(),
            category: "Bags".into(),
            material: "Calfskin".into(),
            colours: vec!["Black".into(), "".into(), "Black".into(), "Red".into()],
            sizes: vec![],
            prices: [
                ("CNY".to_owned(), PriceInput::Text("32000.00".into())),
                (
                    "EUR".to_owned(),
                    PriceInput::Number(serde_json::Number::from(4100)),
                ),
            ]
            .into_iter()
            .collect(),
            images: vec![3, 3],
            active: None,
            url: Some("https://shop.example/lm-bag-001".into()),
        }
    }

    #[test]
    fn a_product_parses_whole() {
        let p = input().parse(7).expect("product");
        assert_eq!(p.colours, vec!["Black", "Red"]);
        assert_eq!(p.price("CNY"), Some(3_200_000));
        assert_eq!(p.price("EUR"), Some(410_000));
        assert_eq!(p.images, vec![3]);
        assert!(p.active);
        assert_eq!(p.name_in("zh-CN"), "经典手袋");
        assert_eq!(p.name_in("en"), "Classic Bag");
        let json = serde_json::to_value(&p).expect("json");
        assert_eq!(json["prices"]["CNY"], "32000.00");
    }

    #[test]
    fn every_problem_names_its_field() {
        let field = |f: &dyn Fn(&mut ProductInput)| {
            let mut i = input();
            f(&mut i);
            i.parse(0).expect_err("refused").field
        };
        assert_eq!(field(&|i| i.sku = " ".into()), "sku");
        assert_eq!(field(&|i| i.sku = "A".repeat(65)), "sku");
        assert_eq!(field(&|i| i.sku = "A B".into()), "sku");
        assert_eq!(
            field(&|i| {
                i.name_zh.clear();
                i.name_en.clear();
            }),
            "name_en"
        );
        assert_eq!(
            field(&|i| {
                i.prices.insert("cny".into(), PriceInput::Text("1".into()));
            }),
            "prices.cny"
        );
        assert_eq!(
            field(&|i| {
                i.prices.insert("CNY".into(), PriceInput::Text("-1".into()));
            }),
            "prices.CNY"
        );
        assert_eq!(field(&|i| i.images = vec![0]), "images[0]");
        assert_eq!(
            field(&|i| i.url = Some("javascript:alert(1)".into())),
            "url"
        );
        assert_eq!(field(&|i| i.colours = vec!["a\u{7}".into()]), "colours[0]");
    }

    #[test]
    fn prices_convert_exactly_and_refuse_what_does_not_fit() {
        assert_eq!(price_minor("p", "CNY", "32000"), Ok(3_200_000));
        assert_eq!(price_minor("p", "CNY", "0.1"), Ok(10));
        assert_eq!(price_minor("p", "CNY", "12.50"), Ok(1_250));
        assert_eq!(price_minor("p", "CNY", "12.500"), Ok(1_250));
        assert_eq!(price_minor("p", "JPY", "1500"), Ok(1_500));
        assert_eq!(price_minor("p", "KWD", "1.234"), Ok(1_234));
        assert!(price_minor("p", "JPY", "1500.5").is_err());
        assert!(price_minor("p", "CNY", "1.234").is_err());
        assert!(price_minor("p", "CNY", "-1").is_err());
        assert!(price_minor("p", "CNY", "1e3").is_err());
        assert!(price_minor("p", "CNY", "1.").is_err());
        assert!(price_minor("p", "CNY", ".5").is_err());
        assert!(price_minor("p", "CNY", "").is_err());
        assert!(price_minor("p", "CNY", "99999999999999999999999").is_err());
        assert!(price_minor("p", "CNY", "10000000000000.01").is_err());
        assert_eq!(price_text("CNY", 1_250), "12.50");
        assert_eq!(price_text("JPY", 1_500), "1500");
        assert_eq!(price_text("KWD", 1_234), "1.234");
        for s in ["0", "0.01", "32000.00", "9999999999.99"] {
            let m = price_minor("p", "EUR", s).expect("price");
            assert_eq!(price_minor("p", "EUR", &price_text("EUR", m)), Ok(m));
        }
    }

    #[test]
    fn stock_lines_parse() {
        let s = StockInput {
            sku: "LM-1".into(),
            store: "sh01".into(),
            quantity: Some(serde_json::Number::from(3)),
        };
        let l = s.parse(1).expect("stock");
        assert_eq!((l.store.as_str(), l.quantity), ("SH01", 3));
        let neg = StockInput {
            quantity: Some(serde_json::Number::from(-3)),
            ..s.clone()
        };
        assert_eq!(neg.parse(1).expect_err("neg").field, "quantity");
        assert!(quantity("q", "1.5").is_err());
        assert!(quantity("q", "99999999999999999999").is_err());
        assert!(quantity("q", "+3").is_err());
    }
}
