//! `salon bench --search N`: searching a brand's archive of N messages. The index is built
//! from generated chats (Chinese and English sentences of a luxury boutique's vocabulary),
//! then queries of several kinds run many times: a rare word, a common word, two words, a
//! word within one client's thread, a word within a month, flagged messages. The baseline,
//! side by side, is what searching without an index costs: every message read in turn (held
//! in memory, already decrypted) and tested for the words.

use std::time::Instant;

use rand::{Rng, SeedableRng};

const WORDS: &[&str] = &[
    "手袋",
    "丝巾",
    "钱夹",
    "项链",
    "耳环",
    "戒指",
    "香水",
    "腰带",
    "墨镜",
    "外套",
    "羊绒",
    "经典",
    "新季",
    "限量",
    "预约",
    "试穿",
    "尺码",
    "颜色",
    "礼盒",
    "生日",
    "周末",
    "门店",
    "顾问",
    "到店",
    "发货",
    "定制",
    "刻字",
    "保养",
    "维修",
    "退换",
    "会员",
    "积分",
    "活动",
    "走秀",
    "直播",
    "预售",
    "黑色",
    "白色",
    "驼色",
    "酒红",
    "小号",
    "中号",
    "大号",
    "皮革",
    "帆布",
    "金扣",
    "银扣",
    "链条",
    "肩带",
    "手提",
    "斜挎",
    "谢谢",
    "您好",
    "请问",
    "可以",
    "喜欢",
    "推荐",
    "照片",
    "视频",
    "价格",
    "库存",
    "调货",
    "北京",
    "上海",
    "成都",
    "杭州",
    "silk",
    "scarf",
    "bag",
    "leather",
    "navy",
    "black",
    "gift",
    "birthday",
    "store",
    "size",
    "photo",
    "collection",
    "appointment",
    "sunday",
    "saturday",
    "thanks",
    "please",
    "limited",
];

fn sentence(rng: &mut impl Rng) -> String {
    let n = rng.gen_range(4..12);
    let mut s = String::new();
    for i in 0..n {
        // Zipf-like: the first words of the list come up far more often.
        let k = ((rng.r#gen::<f64>().powi(3)) * WORDS.len() as f64) as usize;
        let w = WORDS[k.min(WORDS.len() - 1)];
        if i > 0 && w.is_ascii() {
            s.push(' ');
        }
        s.push_str(w);
        if rng.gen_bool(0.15) {
            s.push('，');
        }
    }
    s
}

fn percentile(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

pub fn run(n: usize, runs: usize, dir: &std::path::Path) -> anyhow::Result<()> {
    let archive = archive::Archive::new(&dir.join("archive-bench"), &[3u8; 32])?;
    let index = archive.brand(1)?;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
    let clients = 50_000i64;
    let start_ms = 1_735_660_800_000i64; // 2025-01-01 in Shanghai, roughly
    let year_ms = 365 * 86_400_000i64;
    let mut bodies: Vec<String> = Vec::with_capacity(n);
    let have = index.len() as usize;
    let t = Instant::now();
    let mut batch = Vec::with_capacity(200_000);
    for i in 0..n {
        let body = sentence(&mut rng);
        let at = start_ms + (i as i64 * year_ms) / n as i64;
        if i >= have {
            batch.push(archive::IndexedMessage {
                tx: 0,
                id: i as i64 + 1,
                client: rng.gen_range(1..=clients),
                associate: rng.gen_range(1..=400),
                store: rng.gen_range(1..=40),
                at,
                inbound: rng.gen_bool(0.5),
                flagged: rng.gen_bool(0.002),
                body: body.clone(),
            });
        }
        bodies.push(body);
        if batch.len() == 200_000 {
            index.add(&batch)?;
            batch.clear();
        }
    }
    index.add(&batch)?;
    let built = t.elapsed().as_secs_f64();
    println!(
        "archive search: {} messages indexed ({} new, {built:.0} s; {:.0} messages/s)",
        index.len(),
        n - have.min(n),
        (n - have.min(n)) as f64 / built.max(1e-9)
    );
    let month = (start_ms + 5 * year_ms / 12, start_ms + 6 * year_ms / 12);
    let query = |text: &str| archive::SearchQuery {
        text: text.into(),
        limit: 100,
        ..archive::SearchQuery::default()
    };
    let kinds: Vec<(&str, archive::SearchQuery, Vec<&str>)> = vec![
        ("rare word (杭州)", query("杭州"), vec!["杭州"]),
        ("common word (手袋)", query("手袋"), vec!["手袋"]),
        (
            "two words (丝巾 navy)",
            query("丝巾 navy"),
            vec!["丝巾", "navy"],
        ),
        (
            "word in one client's thread",
            archive::SearchQuery {
                client: Some(777),
                ..query("手袋")
            },
            vec!["手袋"],
        ),
        (
            "word within a month",
            archive::SearchQuery {
                from: Some(month.0),
                to: Some(month.1),
                ..query("预约")
            },
            vec!["预约"],
        ),
        (
            "flagged, newest first",
            archive::SearchQuery {
                flagged: Some(true),
                limit: 100,
                ..archive::SearchQuery::default()
            },
            vec![],
        ),
    ];
    let mut all = Vec::new();
    for (name, q, words) in &kinds {
        let mut times = Vec::with_capacity(runs);
        let mut found = 0;
        for _ in 0..runs {
            let t = Instant::now();
            found = index.search(q)?.len();
            times.push(t.elapsed().as_secs_f64() * 1e3);
        }
        all.extend_from_slice(&times);
        let p50 = percentile(&mut times, 0.5);
        let p99 = percentile(&mut times, 0.99);
        // The baseline: a few scans (each reads every message).
        let mut scan = Vec::new();
        if !words.is_empty() {
            for _ in 0..3 {
                let t = Instant::now();
                let hits = bodies
                    .iter()
                    .filter(|b| words.iter().all(|w| b.contains(w)))
                    .count();
                std::hint::black_box(hits);
                scan.push(t.elapsed().as_secs_f64() * 1e3);
            }
        }
        let base = if scan.is_empty() {
            String::from("-")
        } else {
            let m = percentile(&mut scan, 0.5);
            format!("{m:.0} ms (index: {:.4}×)", p50 / m)
        };
        println!(
            "  {name:<30} {found:>3} found; p50 {p50:>7.2} ms, p99 {p99:>7.2} ms; scan baseline {base}"
        );
    }
    let p99 = percentile(&mut all, 0.99);
    println!("  all queries: p99 {p99:.2} ms over {} searches", all.len());
    Ok(())
}
