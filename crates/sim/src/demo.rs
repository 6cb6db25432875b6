//! The demo brand: three stores (Shanghai, Beijing, Paris), fifteen staff across every role,
//! and as many clients as asked, with Chinese and Western names, tiers, preferences, purchase
//! history and notes. The same seed always gives the same brand.

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use domain::Role;

/// The password of every demo login. Printed by `salon serve` for the demo brand only.
pub const DEMO_PASSWORD: &str = "lumiere-demo";
pub const DEMO_SLUG: &str = "demo";
pub const DEMO_NAME: &str = "Maison Lumière";
pub const DEMO_EMAIL_DOMAIN: &str = "maison-lumiere.example";
pub const TIERS: [&str; 5] = ["Classic", "Silver", "Gold", "Platinum", "Black"];

pub struct DemoStore {
    pub code: &'static str,
    pub name: &'static str,
    pub city: &'static str,
    pub country: &'static str,
    pub time_zone: &'static str,
}

pub const STORES: [DemoStore; 3] = [
    DemoStore {
        code: "SH01",
        name: "Shanghai Plaza 66",
        city: "Shanghai",
        country: "CN",
        time_zone: "Asia/Shanghai",
    },
    DemoStore {
        code: "BJ01",
        name: "Beijing SKP",
        city: "Beijing",
        country: "CN",
        time_zone: "Asia/Shanghai",
    },
    DemoStore {
        code: "PA01",
        name: "Paris Saint-Honoré",
        city: "Paris",
        country: "FR",
        time_zone: "Europe/Paris",
    },
];

pub struct DemoStaff {
    pub email: String,
    pub name: &'static str,
    pub role: Role,
    pub store: Option<&'static str>,
    /// Left the brand; their clients were transferred.
    pub departed: bool,
}

/// The fifteen staff members: three brand-wide, four per store (one of them departed in Beijing).
pub fn staff() -> Vec<DemoStaff> {
    let s = |local: &str, name, role, store, departed| DemoStaff {
        email: format!("{local}@{DEMO_EMAIL_DOMAIN}"),
        name,
        role,
        store,
        departed,
    };
    use Role::*;
    vec![
        s("admin", "Admin Lumière", Admin, None, false),
        s("hq", "Hélène Roussel (HQ)", Hq, None, false),
        s(
            "compliance",
            "Claire Fontaine (Compliance)",
            Compliance,
            None,
            false,
        ),
        s(
            "zhang.min",
            "张敏 Zhang Min",
            StoreManager,
            Some("SH01"),
            false,
        ),
        s("li.na", "李娜 Li Na", Associate, Some("SH01"), false),
        s(
            "wang.fang",
            "王芳 Wang Fang",
            Associate,
            Some("SH01"),
            false,
        ),
        s("chen.jie", "陈杰 Chen Jie", Associate, Some("SH01"), false),
        s(
            "liu.yang",
            "刘洋 Liu Yang",
            StoreManager,
            Some("BJ01"),
            false,
        ),
        s("zhao.lei", "赵磊 Zhao Lei", Associate, Some("BJ01"), false),
        s("sun.li", "孙丽 Sun Li", Associate, Some("BJ01"), false),
        s(
            "zhou.qiang",
            "周强 Zhou Qiang",
            Associate,
            Some("BJ01"),
            true,
        ),
        s(
            "camille.martin",
            "Camille Martin",
            StoreManager,
            Some("PA01"),
            false,
        ),
        s(
            "louis.bernard",
            "Louis Bernard",
            Associate,
            Some("PA01"),
            false,
        ),
        s("chloe.petit", "Chloé Petit", Associate, Some("PA01"), false),
        s(
            "hugo.laurent",
            "Hugo Laurent",
            Associate,
            Some("PA01"),
            false,
        ),
    ]
}

pub struct DemoPurchase {
    /// Days before the seeding day.
    pub days_ago: i64,
    pub amount_minor: i64,
    pub currency: &'static str,
    pub items: Vec<&'static str>,
}

pub struct DemoNote {
    pub author_email: String,
    pub text: String,
    pub days_ago: i64,
}

pub struct DemoClient {
    pub crm_id: String,
    pub wecom_id: Option<String>,
    pub first_name: String,
    pub last_name: String,
    pub chinese_name: Option<String>,
    pub phone: String,
    pub email: Option<String>,
    pub birthday: String,
    pub language: &'static str,
    pub city: &'static str,
    pub tier: &'static str,
    pub store: &'static str,
    pub associate_email: String,
    pub tags: Vec<&'static str>,
    pub sizes: Vec<&'static str>,
    pub categories: Vec<&'static str>,
    pub colours: Vec<&'static str>,
    pub materials: Vec<&'static str>,
    pub marketing_consent: bool,
    pub purchases: Vec<DemoPurchase>,
    pub notes: Vec<DemoNote>,
}

const CN_SURNAMES: [(&str, &str); 20] = [
    ("王", "Wang"),
    ("李", "Li"),
    ("张", "Zhang"),
    ("刘", "Liu"),
    ("陈", "Chen"),
    ("杨", "Yang"),
    ("黄", "Huang"),
    ("赵", "Zhao"),
    ("吴", "Wu"),
    ("周", "Zhou"),
    ("徐", "Xu"),
    ("孙", "Sun"),
    ("马", "Ma"),
    ("朱", "Zhu"),
    ("胡", "Hu"),
    ("郭", "Guo"),
    ("何", "He"),
    ("林", "Lin"),
    ("罗", "Luo"),
    ("高", "Gao"),
];
const CN_GIVEN: [(&str, &str); 24] = [
    ("静", "Jing"),
    ("丽", "Li"),
    ("敏", "Min"),
    ("婷", "Ting"),
    ("雪", "Xue"),
    ("欣怡", "Xinyi"),
    ("梓涵", "Zihan"),
    ("雨桐", "Yutong"),
    ("诗涵", "Shihan"),
    ("佳怡", "Jiayi"),
    ("晓燕", "Xiaoyan"),
    ("慧", "Hui"),
    ("洁", "Jie"),
    ("颖", "Ying"),
    ("晨", "Chen"),
    ("浩然", "Haoran"),
    ("子轩", "Zixuan"),
    ("宇", "Yu"),
    ("俊杰", "Junjie"),
    ("博文", "Bowen"),
    ("思远", "Siyuan"),
    ("嘉怡", "Jiayi"),
    ("美琳", "Meilin"),
    ("若曦", "Ruoxi"),
];
const FR_FIRST: [&str; 20] = [
    "Camille",
    "Léa",
    "Manon",
    "Chloé",
    "Inès",
    "Sarah",
    "Juliette",
    "Louise",
    "Hélène",
    "Margaux",
    "Charlotte",
    "Emma",
    "Alice",
    "Clara",
    "Lucas",
    "Hugo",
    "Arthur",
    "Victor",
    "Olivia",
    "Sofia",
];
const FR_LAST: [&str; 20] = [
    "Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Leroy",
    "Moreau", "Simon", "Laurent", "Lefebvre", "Michel", "Garcia", "David", "Bertrand", "Roux",
    "Vincent", "Fournier",
];
const ITEMS: [(&str, i64); 12] = [
    ("Lune handbag", 32_000),
    ("Étoile tote", 24_500),
    ("Aurore silk scarf", 4_200),
    ("Comète card holder", 3_600),
    ("Soleil ankle boots", 9_800),
    ("Nuit cashmere coat", 41_000),
    ("Lumière eau de parfum", 1_650),
    ("Céleste fine-jewellery ring", 56_000),
    ("Orbite watch", 88_000),
    ("Prisme sunglasses", 3_900),
    ("Zénith leather belt", 5_200),
    ("Nébuleuse evening dress", 47_500),
];
const TAGS: [&str; 8] = [
    "VIC",
    "bags",
    "jewellery",
    "watches",
    "ready-to-wear",
    "event-guest",
    "new-client",
    "gifting",
];
const SIZES: [&str; 7] = ["34", "36", "38", "40", "S", "M", "L"];
const CATEGORIES: [&str; 6] = [
    "handbags",
    "shoes",
    "ready-to-wear",
    "jewellery",
    "watches",
    "fragrance",
];
const COLOURS: [&str; 6] = ["black", "ivory", "camel", "burgundy", "navy", "blush"];
const MATERIALS: [&str; 5] = ["calfskin", "silk", "cashmere", "gold", "crocodile"];
const NOTES: [&str; 10] = [
    "Prefers private appointments after 6pm; offer champagne, not coffee.",
    "Shopping for her mother's 60th birthday in spring.",
    "Interested in the new Lune colours; send pictures when they arrive.",
    "Travels to Paris twice a year; introduce to the Saint-Honoré team.",
    "Allergic to lilies: no flowers in gift wrapping.",
    "Collects the Orbite watch line; ask about limited editions.",
    "Likes to be contacted on WeCom, never by phone.",
    "Attended the autumn salon dinner; very positive feedback.",
    "Size 38 in shoes, 36 in ready-to-wear; prefers a relaxed fit.",
    "Husband is also a client; coordinate anniversary gifts.",
];

/// Generates `count` clients for the demo brand, the same ones for the same seed.
pub fn clients(seed: u64, count: usize) -> Vec<DemoClient> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let staff = staff();
    let serving = |store: &str| -> Vec<&DemoStaff> {
        staff
            .iter()
            .filter(|s| s.store == Some(store) && s.role == Role::Associate)
            .collect()
    };
    let mut out = Vec::with_capacity(count);
    for i in 0..count {
        // Shanghai 45 %, Beijing 35 %, Paris 20 %.
        let roll: f64 = rng.r#gen();
        let store = if roll < 0.45 {
            &STORES[0]
        } else if roll < 0.80 {
            &STORES[1]
        } else {
            &STORES[2]
        };
        let chinese = store.country == "CN" || rng.gen_bool(0.3);
        let (first_name, last_name, chinese_name) = if chinese {
            let (zs, ps) = CN_SURNAMES[rng.gen_range(0..CN_SURNAMES.len())];
            let (zg, pg) = CN_GIVEN[rng.gen_range(0..CN_GIVEN.len())];
            (pg.to_owned(), ps.to_owned(), Some(format!("{zs}{zg}")))
        } else {
            (
                FR_FIRST[rng.gen_range(0..FR_FIRST.len())].to_owned(),
                FR_LAST[rng.gen_range(0..FR_LAST.len())].to_owned(),
                None,
            )
        };
        let phone = if chinese {
            format!(
                "+86{}{:09}",
                [135, 136, 138, 139, 186, 188][rng.gen_range(0..6)],
                rng.gen_range(0..1_000_000_000u64) % 100_000_000
            )
        } else {
            format!("+336{:08}", rng.gen_range(0..100_000_000u64))
        };
        let email = rng.gen_bool(0.7).then(|| {
            format!(
                "{}.{}{}@example.com",
                ascii(&first_name),
                ascii(&last_name),
                i
            )
            .to_lowercase()
        });
        let birthday = format!(
            "{}-{:02}-{:02}",
            rng.gen_range(1955..2004),
            rng.gen_range(1..=12),
            rng.gen_range(1..=28)
        );
        let tier_roll: f64 = rng.r#gen();
        let tier_index = if tier_roll < 0.40 {
            0
        } else if tier_roll < 0.70 {
            1
        } else if tier_roll < 0.88 {
            2
        } else if tier_roll < 0.97 {
            3
        } else {
            4
        };
        let sas = serving(store.code);
        let associate = sas[rng.gen_range(0..sas.len())];
        // The departed Beijing associate's clients were moved; keep some assigned to him in
        // the history (the seeder transfers them).
        let associate_email = if store.code == "BJ01" && rng.gen_bool(0.15) {
            format!("zhou.qiang@{DEMO_EMAIL_DOMAIN}")
        } else {
            associate.email.clone()
        };
        let n_purchases = match tier_index {
            0 => rng.gen_range(0..=1),
            1 => rng.gen_range(1..=3),
            2 => rng.gen_range(2..=5),
            3 => rng.gen_range(4..=8),
            _ => rng.gen_range(6..=12),
        };
        let currency = if store.country == "FR" { "EUR" } else { "CNY" };
        let purchases = (0..n_purchases)
            .map(|_| {
                let n_items = rng.gen_range(1..=3);
                let picks: Vec<(&str, i64)> = (0..n_items)
                    .map(|_| ITEMS[rng.gen_range(0..ITEMS.len())])
                    .collect();
                let cny: i64 = picks.iter().map(|(_, p)| p).sum();
                let amount = if currency == "EUR" {
                    cny * 100 / 8
                } else {
                    cny * 100
                };
                DemoPurchase {
                    days_ago: rng.gen_range(1..1_095),
                    amount_minor: amount,
                    currency,
                    items: picks.iter().map(|(n, _)| *n).collect(),
                }
            })
            .collect();
        let mut tags: Vec<&str> = pick(&mut rng, &TAGS, 0..=3);
        if tier_index >= 3 && !tags.contains(&"VIC") {
            tags.push("VIC");
        }
        let notes = (0..rng.gen_range(0..=2))
            .map(|_| DemoNote {
                author_email: associate.email.clone(),
                text: NOTES[rng.gen_range(0..NOTES.len())].to_owned(),
                days_ago: rng.gen_range(0..400),
            })
            .collect();
        out.push(DemoClient {
            crm_id: format!("ML{:07}", 100_000 + i),
            wecom_id: (store.country == "CN" && rng.gen_bool(0.8))
                .then(|| format!("wm{:016x}", rng.r#gen::<u64>())),
            first_name,
            last_name,
            chinese_name,
            phone,
            email,
            birthday,
            language: if chinese { "zh-CN" } else { "fr" },
            city: store.city,
            tier: TIERS[tier_index],
            store: store.code,
            associate_email,
            tags,
            sizes: pick(&mut rng, &SIZES, 0..=2),
            categories: pick(&mut rng, &CATEGORIES, 1..=3),
            colours: pick(&mut rng, &COLOURS, 0..=2),
            materials: pick(&mut rng, &MATERIALS, 0..=2),
            marketing_consent: rng.gen_bool(0.75),
            purchases,
            notes,
        });
    }
    out
}

fn pick<T: Copy>(rng: &mut ChaCha8Rng, from: &[T], n: std::ops::RangeInclusive<usize>) -> Vec<T> {
    let n = rng.gen_range(n);
    from.choose_multiple(rng, n).copied().collect()
}

fn ascii(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            'é' | 'è' | 'ê' => 'e',
            'ï' => 'i',
            'ç' => 'c',
            c => c,
        })
        .filter(|c| c.is_ascii_alphanumeric())
        .collect()
}

/// A product of the demo brand's catalogue: (SKU, Chinese name, English name, category,
/// material, colours, sizes, price in CNY, price in EUR), prices in major units.
pub type DemoProduct = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static [&'static str],
    &'static [&'static str],
    i64,
    i64,
);

/// The demo brand's catalogue. The first twelve are what the demo clients bought (see
/// [`sku_of`]); one is no longer sold.
pub const PRODUCTS: [DemoProduct; 40] = [
    (
        "ML-BAG-LUNE",
        "月光手袋",
        "Lune handbag",
        "Bags",
        "Calfskin",
        &["Black", "Cream", "Rouge"],
        &[],
        32_000,
        4_100,
    ),
    (
        "ML-BAG-ETOILE",
        "星辰托特包",
        "Étoile tote",
        "Bags",
        "Canvas and calfskin",
        &["Navy", "Beige"],
        &[],
        24_500,
        3_150,
    ),
    (
        "ML-SCA-AURORE",
        "曙光真丝围巾",
        "Aurore silk scarf",
        "Scarves",
        "Silk",
        &["Rose", "Sky blue", "Gold"],
        &["90 cm"],
        4_200,
        540,
    ),
    (
        "ML-SLG-COMETE",
        "彗星卡包",
        "Comète card holder",
        "Small leather goods",
        "Grained calfskin",
        &["Black", "Green"],
        &[],
        3_600,
        460,
    ),
    (
        "ML-SHO-SOLEIL",
        "太阳短靴",
        "Soleil ankle boots",
        "Shoes",
        "Suede",
        &["Tan", "Black"],
        &["36", "37", "38", "39", "40"],
        9_800,
        1_250,
    ),
    (
        "ML-RTW-NUIT",
        "夜色羊绒大衣",
        "Nuit cashmere coat",
        "Ready-to-wear",
        "Cashmere",
        &["Camel", "Black"],
        &["XS", "S", "M", "L"],
        41_000,
        5_250,
    ),
    (
        "ML-FRA-LUMIERE",
        "光之香水",
        "Lumière eau de parfum",
        "Fragrance",
        "Eau de parfum",
        &[],
        &["50 ml", "100 ml"],
        1_650,
        210,
    ),
    (
        "ML-JWL-CELESTE",
        "天穹高级珠宝戒指",
        "Céleste fine-jewellery ring",
        "Jewellery",
        "18k gold and diamond",
        &["Yellow gold", "White gold"],
        &["50", "52", "54"],
        56_000,
        7_200,
    ),
    (
        "ML-WAT-ORBITE",
        "轨道腕表",
        "Orbite watch",
        "Watches",
        "Steel and sapphire",
        &["Silver", "Midnight blue"],
        &["36 mm", "40 mm"],
        88_000,
        11_300,
    ),
    (
        "ML-EYE-PRISME",
        "棱镜太阳镜",
        "Prisme sunglasses",
        "Eyewear",
        "Acetate",
        &["Tortoise", "Black"],
        &[],
        3_900,
        500,
    ),
    (
        "ML-BLT-ZENITH",
        "天顶皮带",
        "Zénith leather belt",
        "Small leather goods",
        "Box calfskin",
        &["Black", "Brown"],
        &["80", "85", "90", "95"],
        5_200,
        670,
    ),
    (
        "ML-RTW-NEBULEUSE",
        "星云晚礼服",
        "Nébuleuse evening dress",
        "Ready-to-wear",
        "Silk crêpe",
        &["Black", "Emerald"],
        &["34", "36", "38", "40"],
        47_500,
        6_100,
    ),
    (
        "ML-BAG-CLASSIQUE",
        "经典手袋",
        "Classic Bag",
        "Bags",
        "Lambskin",
        &["Black", "Ivory"],
        &[],
        38_000,
        4_900,
    ),
    (
        "ML-BAG-MINI",
        "迷你链条包",
        "Mini chain bag",
        "Bags",
        "Lambskin",
        &["Pink", "Black", "Silver"],
        &[],
        21_000,
        2_700,
    ),
    (
        "ML-BAG-SEAU",
        "水桶包",
        "Bucket bag",
        "Bags",
        "Calfskin",
        &["Caramel", "Black"],
        &[],
        19_500,
        2_500,
    ),
    (
        "ML-BAG-VOYAGE",
        "旅行袋",
        "Voyage weekender",
        "Bags",
        "Canvas and calfskin",
        &["Navy"],
        &[],
        27_000,
        3_450,
    ),
    (
        "ML-BAG-POCHETTE",
        "晚宴手拿包",
        "Evening pochette",
        "Bags",
        "Satin",
        &["Black", "Champagne"],
        &[],
        12_800,
        1_650,
    ),
    (
        "ML-SCA-CARRE",
        "方巾",
        "Silk square",
        "Scarves",
        "Silk twill",
        &["Orange", "Blue"],
        &["70 cm"],
        3_200,
        410,
    ),
    (
        "ML-SCA-CACHEMIRE",
        "羊绒披肩",
        "Cashmere stole",
        "Scarves",
        "Cashmere",
        &["Grey", "Camel", "Red"],
        &[],
        6_800,
        870,
    ),
    (
        "ML-SLG-PORTEFEUILLE",
        "长款钱包",
        "Long wallet",
        "Small leather goods",
        "Grained calfskin",
        &["Black", "Burgundy"],
        &[],
        5_600,
        720,
    ),
    (
        "ML-SLG-CLES",
        "钥匙包",
        "Key pouch",
        "Small leather goods",
        "Calfskin",
        &["Black", "Yellow"],
        &[],
        2_400,
        310,
    ),
    (
        "ML-SHO-BALLERINE",
        "芭蕾平底鞋",
        "Ballerina flats",
        "Shoes",
        "Lambskin",
        &["Black", "Nude"],
        &["35", "36", "37", "38", "39"],
        6_900,
        880,
    ),
    (
        "ML-SHO-ESCARPIN",
        "高跟鞋",
        "Pumps",
        "Shoes",
        "Patent leather",
        &["Black", "Red"],
        &["36", "37", "38", "39"],
        7_900,
        1_000,
    ),
    (
        "ML-SHO-BASKET",
        "运动鞋",
        "Court sneakers",
        "Shoes",
        "Calfskin",
        &["White"],
        &["36", "38", "40", "42", "44"],
        6_200,
        790,
    ),
    (
        "ML-RTW-TRENCH",
        "风衣",
        "Trench coat",
        "Ready-to-wear",
        "Cotton gabardine",
        &["Beige", "Navy"],
        &["XS", "S", "M", "L", "XL"],
        23_000,
        2_950,
    ),
    (
        "ML-RTW-CHEMISE",
        "真丝衬衫",
        "Silk blouse",
        "Ready-to-wear",
        "Silk",
        &["White", "Black"],
        &["34", "36", "38", "40"],
        8_900,
        1_150,
    ),
    (
        "ML-RTW-PULL",
        "羊绒毛衣",
        "Cashmere sweater",
        "Ready-to-wear",
        "Cashmere",
        &["Grey", "Navy", "Cream"],
        &["S", "M", "L"],
        9_500,
        1_220,
    ),
    (
        "ML-RTW-VESTE",
        "粗花呢外套",
        "Tweed jacket",
        "Ready-to-wear",
        "Tweed",
        &["Pink", "Black"],
        &["34", "36", "38", "40"],
        36_000,
        4_600,
    ),
    (
        "ML-JWL-BRACELET",
        "星辰手镯",
        "Étoile bracelet",
        "Jewellery",
        "18k gold",
        &["Yellow gold", "Rose gold"],
        &["S", "M"],
        42_000,
        5_400,
    ),
    (
        "ML-JWL-COLLIER",
        "月光项链",
        "Lune necklace",
        "Jewellery",
        "18k gold and pearl",
        &["Yellow gold"],
        &[],
        29_000,
        3_700,
    ),
    (
        "ML-JWL-BOUCLES",
        "珍珠耳环",
        "Pearl earrings",
        "Jewellery",
        "Pearl and white gold",
        &["White gold"],
        &[],
        16_500,
        2_100,
    ),
    (
        "ML-WAT-LUNA",
        "月相腕表",
        "Moon-phase watch",
        "Watches",
        "Rose gold",
        &["Rose gold"],
        &["38 mm"],
        168_000,
        21_500,
    ),
    (
        "ML-WAT-PETITE",
        "小表盘腕表",
        "Petite watch",
        "Watches",
        "Steel and mother-of-pearl",
        &["Silver"],
        &["28 mm"],
        45_000,
        5_800,
    ),
    (
        "ML-EYE-AVIATEUR",
        "飞行员太阳镜",
        "Aviator sunglasses",
        "Eyewear",
        "Titanium",
        &["Gold", "Silver"],
        &[],
        4_300,
        550,
    ),
    (
        "ML-FRA-NUIT",
        "夜之香水",
        "Nuit eau de parfum",
        "Fragrance",
        "Eau de parfum",
        &[],
        &["50 ml", "100 ml"],
        1_850,
        235,
    ),
    (
        "ML-FRA-BOUGIE",
        "香氛蜡烛",
        "Scented candle",
        "Fragrance",
        "Wax",
        &[],
        &["220 g"],
        780,
        95,
    ),
    (
        "ML-HOM-PLAID",
        "羊绒毯",
        "Cashmere throw",
        "Home",
        "Cashmere",
        &["Camel", "Grey"],
        &[],
        15_000,
        1_900,
    ),
    (
        "ML-HOM-COUSSIN",
        "丝绒靠垫",
        "Velvet cushion",
        "Home",
        "Velvet",
        &["Emerald", "Rose"],
        &[],
        3_500,
        450,
    ),
    (
        "ML-ACC-GANTS",
        "皮手套",
        "Leather gloves",
        "Accessories",
        "Lambskin",
        &["Black", "Tan"],
        &["6.5", "7", "7.5", "8"],
        3_100,
        400,
    ),
    (
        "ML-ACC-CHAPEAU",
        "羊毛礼帽",
        "Wool fedora",
        "Accessories",
        "Felted wool",
        &["Black", "Camel"],
        &["S", "M", "L"],
        4_800,
        610,
    ),
];

/// The demo SKU of an item the demo clients bought.
pub fn sku_of(item: &str) -> Option<&'static str> {
    PRODUCTS.iter().find(|p| p.2 == item).map(|p| p.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_brand() {
        let a = clients(7, 200);
        let b = clients(7, 200);
        assert_eq!(
            a.iter().map(|c| &c.phone).collect::<Vec<_>>(),
            b.iter().map(|c| &c.phone).collect::<Vec<_>>()
        );
        assert_ne!(
            clients(8, 5)
                .iter()
                .map(|c| c.phone.clone())
                .collect::<Vec<_>>(),
            a[..5].iter().map(|c| c.phone.clone()).collect::<Vec<_>>()
        );
    }

    #[test]
    fn staff_cover_every_role_and_store() {
        let s = staff();
        assert_eq!(s.len(), 15);
        for r in Role::ALL {
            assert!(s.iter().any(|x| x.role == r), "{r}");
        }
        for st in &STORES {
            assert!(
                s.iter()
                    .any(|x| x.store == Some(st.code) && x.role == Role::StoreManager)
            );
        }
    }

    #[test]
    fn clients_are_valid_and_varied() {
        let cs = clients(1, 1_000);
        assert!(
            cs.iter().any(|c| c.chinese_name.is_some())
                && cs.iter().any(|c| c.chinese_name.is_none())
        );
        for c in &cs {
            assert!(
                domain::Phone::parse("phone", &c.phone).is_ok(),
                "{}",
                c.phone
            );
            if let Some(e) = &c.email {
                assert!(domain::Email::parse("email", e).is_ok(), "{e}");
            }
            assert!(domain::date("birthday", &c.birthday).is_ok());
        }
        let mut crm: Vec<_> = cs.iter().map(|c| &c.crm_id).collect();
        crm.dedup();
        assert_eq!(crm.len(), 1_000);
    }
}
