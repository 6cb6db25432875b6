//! Client import from CSV: every row validated, every problem reported by line and field,
//! nothing imported when a row is bad unless the caller asks to skip bad rows; re-importing is
//! idempotent on the CRM id.

use std::collections::{HashMap, HashSet};

use serde::Serialize;

use domain::*;

use crate::error::Errors;
use crate::{Actor, AppError, AppResult, Salon};

/// The columns a client CSV may have. `crm_id` is required; the others may be left out.
pub const COLUMNS: &[&str] = &[
    "crm_id",
    "first_name",
    "last_name",
    "chinese_name",
    "phone",
    "email",
    "birthday",
    "language",
    "city",
    "tier",
    "store",
    "associate",
    "tags",
    "lifetime_spend",
    "currency",
    "first_purchase",
    "last_purchase",
    "sizes",
    "categories",
    "colours",
    "materials",
    "wecom",
    "whatsapp",
    "wechat_oa",
    "marketing_consent",
];

/// One problem in the file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RowError {
    /// The line of the file, the header being line 1.
    pub line: u64,
    pub field: String,
    pub message: String,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct ImportReport {
    /// Data rows read.
    pub rows: u64,
    pub created: u64,
    pub updated: u64,
    /// Whether anything was written.
    pub imported: bool,
    /// With `skip_bad`, the rows left out; otherwise the rows that stopped the import.
    pub errors: Vec<RowError>,
}

fn list(s: &str) -> Vec<String> {
    s.split([';', '|'])
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect()
}

fn day_start(field: &str, s: &str, tz: &str) -> Result<Millis, FieldError> {
    let d = date(field, s)?;
    d.in_tz(tz)
        .map(|z| z.timestamp().as_millisecond())
        .map_err(|_| FieldError::new(field, "is not a date that exists in the brand's time zone"))
}

struct Lookups {
    stores: HashMap<String, StoreId>,
    associates: HashMap<String, (UserId, Option<StoreId>, bool)>,
}

impl Salon {
    /// Imports clients from CSV bytes for the actor's brand.
    pub async fn import_clients_csv(
        &self,
        actor: &Actor,
        csv_bytes: &[u8],
        skip_bad: bool,
    ) -> AppResult<ImportReport> {
        actor.require(Action::ImportClients)?;
        let brand = &actor.brand;
        let lookups = Lookups {
            stores: self
                .repo
                .list_stores(brand.id)
                .await?
                .into_iter()
                .map(|s| (s.code.to_string(), s.id))
                .collect(),
            associates: self
                .repo
                .list_users(brand.id, None)
                .await?
                .into_iter()
                .map(|(u, _)| {
                    (
                        u.email.to_string(),
                        (u.id, u.store_id, u.status == UserStatus::Active),
                    )
                })
                .collect(),
        };
        let (rows, mut report) = parse_csv(csv_bytes, brand, &lookups)?;
        if !report.errors.is_empty() && !skip_bad {
            return Ok(report);
        }
        let counts = self
            .repo
            .import_clients(brand.id, &rows, actor.user_id())
            .await?;
        report.created = counts.created;
        report.updated = counts.updated;
        report.imported = true;
        tracing::info!(brand = %brand.slug, rows = report.rows, created = counts.created, updated = counts.updated, skipped = report.errors.len(), "client import");
        Ok(report)
    }
}

fn parse_csv(
    bytes: &[u8],
    brand: &Brand,
    lookups: &Lookups,
) -> AppResult<(Vec<NewClient>, ImportReport)> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(false)
        .trim(csv::Trim::All)
        .from_reader(bytes);
    let headers = reader
        .headers()
        .map_err(|e| AppError::invalid("file", format!("line 1: the header cannot be read: {e}")))?
        .clone();
    let mut report = ImportReport::default();
    let mut index = HashMap::new();
    for (i, h) in headers.iter().enumerate() {
        let h = h.trim_start_matches('\u{feff}').to_ascii_lowercase();
        if !COLUMNS.contains(&h.as_str()) {
            report.errors.push(RowError {
                line: 1,
                field: h.clone(),
                message: format!("unknown column; the columns are {}", COLUMNS.join(", ")),
            });
        } else if index.insert(h.clone(), i).is_some() {
            report.errors.push(RowError {
                line: 1,
                field: h,
                message: "column given twice".into(),
            });
        }
    }
    if !index.contains_key("crm_id") {
        report.errors.push(RowError {
            line: 1,
            field: "crm_id".into(),
            message: "the crm_id column is required".into(),
        });
    }
    if !report.errors.is_empty() {
        return Err(AppError::Invalid(
            report
                .errors
                .iter()
                .map(|e| {
                    FieldError::new(format!("line {}: {}", e.line, e.field), e.message.clone())
                })
                .collect(),
        ));
    }
    let mut rows = Vec::new();
    let mut seen_crm = HashSet::new();
    for record in reader.records() {
        report.rows += 1;
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map_or(report.rows + 1, |p| p.line());
                report.errors.push(RowError {
                    line,
                    field: "row".into(),
                    message: format!("cannot be read: {e}"),
                });
                continue;
            }
        };
        let line = record.position().map_or(report.rows + 1, |p| p.line());
        let get = |col: &str| {
            index
                .get(col)
                .and_then(|i| record.get(*i))
                .map(str::trim)
                .filter(|s| !s.is_empty())
        };
        let mut e = Errors::default();
        let mut c = NewClient::default();
        let crm = get("crm_id").and_then(|v| e.take(Identity::parse(IdentityKind::Crm, v)));
        if get("crm_id").is_none() {
            e.take(Err::<(), _>(FieldError::new("crm_id", "is required")));
        }
        if let Some(id) = &crm {
            if !seen_crm.insert(id.value.clone()) {
                e.take(Err::<(), _>(FieldError::new(
                    "crm_id",
                    "appears on an earlier line of this file",
                )));
            }
            c.identities.push(id.clone());
        }
        for (col, kind) in [
            ("wecom", IdentityKind::Wecom),
            ("whatsapp", IdentityKind::Whatsapp),
            ("wechat_oa", IdentityKind::WechatOa),
        ] {
            if let Some(v) = get(col) {
                c.identities.extend(
                    e.take(Identity::parse(kind, v).map_err(|f| FieldError::new(col, f.message))),
                );
            }
        }
        c.pii.first_name = get("first_name").and_then(|v| e.take(text("first_name", v, 100)));
        c.pii.last_name = get("last_name").and_then(|v| e.take(text("last_name", v, 100)));
        c.pii.chinese_name = get("chinese_name").and_then(|v| e.take(text("chinese_name", v, 100)));
        if c.pii.first_name.is_none() && c.pii.last_name.is_none() && c.pii.chinese_name.is_none() {
            e.take(Err::<(), _>(FieldError::new(
                "first_name",
                "a client needs a first, last or Chinese name",
            )));
        }
        c.pii.phone = get("phone").and_then(|v| e.take(Phone::parse("phone", v)));
        c.pii.email = get("email").and_then(|v| e.take(Email::parse("email", v)));
        c.pii.birthday = get("birthday").and_then(|v| e.take(date("birthday", v)));
        c.language = get("language")
            .and_then(|v| e.take(Locale::parse("language", v)))
            .map(|l| l.to_string());
        c.city = get("city").and_then(|v| e.take(text("city", v, 100)));
        c.tier = get("tier").and_then(|v| e.take(tier("tier", v, &brand.tiers)));
        if let Some(code) = get("store") {
            match lookups.stores.get(&code.to_ascii_uppercase()) {
                Some(id) => c.store_id = Some(*id),
                None => e.0.push(FieldError::new(
                    "store",
                    format!("no store has the code {code:?}"),
                )),
            }
        }
        if let Some(email) = get("associate") {
            match lookups.associates.get(&email.to_lowercase()) {
                Some((_, _, false)) => e.0.push(FieldError::new(
                    "associate",
                    format!("{email} has departed"),
                )),
                Some((id, store, true)) => {
                    c.associate_id = Some(*id);
                    c.store_id = c.store_id.or(*store);
                }
                None => e.0.push(FieldError::new(
                    "associate",
                    format!("no associate has the e-mail {email:?}"),
                )),
            }
        }
        c.tags = get("tags")
            .map(list)
            .unwrap_or_default()
            .iter()
            .filter_map(|t| e.take(Tag::parse("tags", t)))
            .collect();
        if let Some(v) = get("lifetime_spend") {
            c.lifetime_spend_minor = e.take(money_minor("lifetime_spend", v)).unwrap_or_default();
        }
        c.currency = get("currency")
            .and_then(|v| e.take(Currency::parse("currency", v)))
            .map(|c| c.to_string());
        c.first_purchase_at = get("first_purchase")
            .and_then(|v| e.take(day_start("first_purchase", v, brand.time_zone.as_str())));
        c.last_purchase_at = get("last_purchase")
            .and_then(|v| e.take(day_start("last_purchase", v, brand.time_zone.as_str())));
        c.preferences = Preferences {
            sizes: get("sizes").map(list).unwrap_or_default(),
            categories: get("categories").map(list).unwrap_or_default(),
            colours: get("colours").map(list).unwrap_or_default(),
            materials: get("materials").map(list).unwrap_or_default(),
        };
        let now = now_millis();
        for channel in get("marketing_consent").map(list).unwrap_or_default() {
            c.consents.extend(
                e.take(
                    Consent::parse(&channel, "marketing", true, "crm_import", now)
                        .map_err(|f| FieldError::new("marketing_consent", f.message)),
                ),
            );
        }
        if e.0.is_empty() {
            rows.push(c);
        } else {
            report.errors.extend(e.0.into_iter().map(|f| RowError {
                line,
                field: f.field,
                message: f.message,
            }));
        }
    }
    Ok((rows, report))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn brand() -> Brand {
        Brand {
            id: BrandId(1),
            slug: Slug::parse("s", "demo").expect("slug"),
            name: "Demo".into(),
            time_zone: TimeZoneName::shanghai(),
            currencies: vec![],
            locales: vec![],
            tiers: vec!["Silver".into(), "Gold".into()],
            created_at: 0,
        }
    }

    fn lookups() -> Lookups {
        Lookups {
            stores: [("SH01".to_owned(), StoreId(3))].into(),
            associates: [
                (
                    "li@demo.example".to_owned(),
                    (UserId(9), Some(StoreId(3)), true),
                ),
                ("gone@demo.example".to_owned(), (UserId(8), None, false)),
            ]
            .into(),
        }
    }

    #[test]
    fn good_rows_become_clients() {
        let csv = "crm_id,first_name,last_name,chinese_name,phone,tier,associate,tags,lifetime_spend,marketing_consent,sizes\n\
                   C1,Mei,Chen,陈美,+86 138 0013 8000,gold,li@demo.example,VIC;bags,12999.50,wecom;sms,36|S\n";
        let (rows, report) = parse_csv(csv.as_bytes(), &brand(), &lookups()).expect("parse");
        assert!(report.errors.is_empty(), "{:?}", report.errors);
        let c = &rows[0];
        assert_eq!(
            c.pii.phone.as_ref().map(|p| p.as_str()),
            Some("+8613800138000")
        );
        assert_eq!(c.tier.as_deref(), Some("Gold"));
        assert_eq!(
            (c.associate_id, c.store_id),
            (Some(UserId(9)), Some(StoreId(3)))
        );
        assert_eq!(c.tags.len(), 2);
        assert_eq!(c.lifetime_spend_minor, 1_299_950);
        assert_eq!(c.consents.len(), 2);
        assert_eq!(c.preferences.sizes, vec!["36", "S"]);
    }

    #[test]
    fn every_bad_field_is_reported_by_line() {
        let csv = "crm_id,first_name,phone,email,tier,birthday,associate\n\
                   C1,Ann,+8613800138000,ann@example.com,Gold,1990-01-02,\n\
                   C2,Bob,12345,not-an-email,Diamond,1990-13-40,gone@demo.example\n\
                   ,Cid,,,,,\n\
                   C1,Dup,,,,,\n";
        let (rows, report) = parse_csv(csv.as_bytes(), &brand(), &lookups()).expect("parse");
        assert_eq!(rows.len(), 1);
        assert_eq!(report.rows, 4);
        let at = |line: u64| {
            report
                .errors
                .iter()
                .filter(|e| e.line == line)
                .map(|e| e.field.as_str())
                .collect::<Vec<_>>()
        };
        assert_eq!(
            at(3),
            vec!["phone", "email", "birthday", "tier", "associate"]
        );
        assert_eq!(at(4), vec!["crm_id"]);
        assert_eq!(at(5), vec!["crm_id"]);
    }

    #[test]
    fn unknown_columns_are_refused_up_front() {
        let err = parse_csv(b"crm_id,favourite_colour\nC1,red\n", &brand(), &lookups()).err();
        assert!(
            matches!(err, Some(AppError::Invalid(ref f)) if f[0].field.contains("favourite_colour")),
            "{err:?}"
        );
        assert!(parse_csv(b"first_name\nAnn\n", &brand(), &lookups()).is_err());
    }

    /// Bounded fuzzing of the client CSV: any bytes, and mutations of a good file, give rows
    /// and per-line problems or `AppError::Invalid`, never a panic or another error; every
    /// problem names a line of the file.
    mod fuzz {
        use super::*;
        use proptest::prelude::*;

        // Only some of the shared mutations are used here.
        #[allow(dead_code)]
        mod mutate {
            include!("../../../testing/mutate.rs");
        }

        const GOOD: &[u8] = "\u{feff}crm_id,first_name,last_name,chinese_name,phone,email,birthday,language,city,tier,store,associate,tags,lifetime_spend,currency,first_purchase,last_purchase,sizes,categories,colours,materials,wecom,whatsapp,wechat_oa,marketing_consent\n\
C1,Mei,Chen,陈美,+86 138 0013 8000,mei@example.com,1990-01-02,zh-CN,Shanghai,gold,SH01,li@demo.example,VIC;bags,12999.50,CNY,2020-01-01,2025-12-31,36|S,bags,black,calfskin,wmA,+8613800138000,oA1,wecom;sms\n\
\"C2\",\"Ann, Jr\",\"O\"\"Neil\",,,,,,,,,,,,,,,,,,,,,,\n"
            .as_bytes();

        fn outcome(bytes: &[u8]) -> Result<(), TestCaseError> {
            let lines = bytes.split(|b| *b == b'\n').count() as u64 + 1;
            match parse_csv(bytes, &brand(), &lookups()) {
                Ok((rows, report)) => {
                    prop_assert!(rows.len() as u64 <= report.rows);
                    for e in &report.errors {
                        prop_assert!(e.line >= 1 && e.line <= lines, "{e:?}");
                    }
                }
                Err(AppError::Invalid(problems)) => prop_assert!(!problems.is_empty()),
                Err(e) => {
                    return Err(TestCaseError::fail(format!(
                        "not a validation error: {e:?}"
                    )));
                }
            }
            Ok(())
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(400))]

            #[test]
            fn arbitrary_bytes_are_read_or_refused(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
                outcome(&bytes)?;
                let mut with_header = b"crm_id,phone,lifetime_spend,birthday\n".to_vec();
                with_header.extend_from_slice(&bytes);
                outcome(&with_header)?;
            }

            #[test]
            fn mutated_files_are_read_or_refused(bytes in mutate::mutated_bytes(GOOD, "\"", "\"")) {
                outcome(&bytes)?;
            }

            #[test]
            fn fields_of_any_shape_are_read_or_refused(
                column in prop::sample::select(COLUMNS),
                value in prop_oneof![
                    any::<String>(),
                    any::<i128>().prop_map(|x| x.to_string()),
                    any::<f64>().prop_map(|x| x.to_string()),
                    "[0-9]{1,40}(\\.[0-9]{0,6})?",
                    "[0-9]{4,6}-[0-9]{1,2}-[0-9]{1,2}",
                ],
            ) {
                let mut w = csv::Writer::from_writer(Vec::new());
                let header: Vec<&str> = if column == "crm_id" { vec!["crm_id"] } else { vec!["crm_id", column] };
                w.write_record(&header).map_err(|e| TestCaseError::fail(e.to_string()))?;
                let row: Vec<&str> = if column == "crm_id" { vec![value.as_str()] } else { vec!["C1", value.as_str()] };
                w.write_record(&row).map_err(|e| TestCaseError::fail(e.to_string()))?;
                let bytes = w.into_inner().map_err(|e| TestCaseError::fail(e.to_string()))?;
                outcome(&bytes)?;
            }
        }

        #[test]
        fn the_sample_reads() {
            let (rows, report) = parse_csv(GOOD, &brand(), &lookups()).expect("sample");
            assert!(report.errors.is_empty(), "{:?}", report.errors);
            assert_eq!(rows.len(), 2);
        }
    }
}
