#!/usr/bin/env python3
"""Events files of one shape in several Parquet layouts, written by pyarrow (not by Salon's
generator), for the layout benchmark (bench/layouts.sh).

    python3 bench/gen_layouts.py DIR [PEOPLE=1000000] [EVENTS=11550000] [DAYS=400] [SEED=7]

The shape follows a file a brand's own pipeline wrote: people with 9-character ids, events in
random time order over DAYS days, kinds in these proportions: menu_click 41.6 %,
article_open 23.4 %, post_interaction 13.9 %, follow 8.7 %, message 6.4 %, qr_scan 3.7 %,
unfollow 1.6 %, live_view 0.64 %, purchase 0.2 %, and 48 pushes. Layouts written:

    default.parquet       pyarrow's defaults: 1,048,576-row groups, dictionary strings, snappy, µs
    rg64k.parquet         65,536-row groups
    one-group.parquet     the whole file in one row group
    plain.parquet         no dictionary encoding (plain strings)
    sorted.parquet        rows in time order
    ms.parquet            millisecond timestamps
    dense.parquet         the same number of events over a quarter of the people (4x per person)

Needs pyarrow and numpy from PyPI.
"""

import sys
import time

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

KINDS = [
    ("menu_click", 4_800_000),
    ("article_open", 2_700_000),
    ("post_interaction", 1_600_000),
    ("follow", 1_000_000),
    ("message", 740_000),
    ("qr_scan", 430_000),
    ("unfollow", 180_000),
    ("live_view", 74_000),
    ("purchase", 23_000),
]
PUSHES = 48
START_US = 1_717_200_000 * 1_000_000  # 2024-06-01T00:00:00Z


def table(people, events, days, seed):
    rng = np.random.default_rng(seed)
    total = sum(n for _, n in KINDS)
    counts = [max(1, round(n * (events - PUSHES) / total)) for _, n in KINDS]
    kinds = np.repeat(np.arange(len(KINDS)), counts)
    n = len(kinds) + PUSHES
    kind_names = [k for k, _ in KINDS] + ["push"]
    kind_idx = np.concatenate([kinds, np.full(PUSHES, len(KINDS))])
    span = days * 86_400 * 1_000_000
    ts = START_US + rng.integers(0, span, n)
    push_ts = START_US + np.sort(rng.integers(0, span, PUSHES))
    ts[-PUSHES:] = push_ts
    # 9-character ids: "o" and eight base-36 digits, scattered over the id space.
    alphabet = np.array(list("0123456789abcdefghijklmnopqrstuvwxyz"))
    raw = rng.choice(36**8, size=people, replace=False)
    digits = [alphabet[(raw // 36**p) % 36] for p in range(7, -1, -1)]
    ids = np.array(["o" + "".join(t) for t in zip(*digits)])
    person = rng.integers(0, people, n)
    # A person's activity is skewed: a few are very active.
    person = (person * rng.random(n) ** 2).astype(np.int64) % people
    is_push = kind_idx == len(KINDS)
    kind_name = lambda k: kind_names.index(k)
    follower = pa.DictionaryArray.from_arrays(
        pa.array(np.where(is_push, 0, person), mask=is_push, type=pa.int32()),
        pa.array(ids),
    )
    push_ids = np.array([f"p-{i:04d}" for i in range(PUSHES)])
    push_articles = rng.integers(1, 9, PUSHES)
    uses_push = np.isin(kind_idx, [kind_name("article_open"), kind_name("post_interaction")])
    push_of = rng.integers(0, PUSHES, n)
    push_of[-PUSHES:] = np.arange(PUSHES)
    push_col = pa.array(push_ids[push_of], mask=~(uses_push | is_push))
    article = np.minimum(rng.integers(1, 9, n), push_articles[push_of])
    articles = pa.array(push_articles[push_of].astype(np.int64), mask=~is_push)
    segmented = pa.array(rng.random(n) < 0.3, mask=~is_push)
    recipients = pa.array(rng.integers(100_000, 900_000, n), mask=~is_push)
    article_col = pa.array(article.astype(np.int64), mask=~uses_push)
    is_open = kind_idx == kind_name("article_open")
    screens = pa.array(np.round(rng.random(n) * 12, 1), mask=~is_open)
    is_inter = kind_idx == kind_name("post_interaction")
    actions = np.array(["like", "share", "comment", "click"])
    action = pa.array(actions[rng.integers(0, 4, n)], mask=~is_inter)
    is_menu = kind_idx == kind_name("menu_click")
    cats = np.array(["ecommerce", "information", "crm"])
    category = pa.array(cats[rng.integers(0, 3, n)], mask=~is_menu)
    is_follow = kind_idx == kind_name("follow")
    sources = np.array(["search", "qr_code", "media", "word_of_mouth", "other"])
    source = pa.array(sources[rng.integers(0, 5, n)], mask=~is_follow)
    is_view = kind_idx == kind_name("live_view")
    is_buy = kind_idx == kind_name("purchase")
    lives = np.array([f"live-{i:03d}" for i in range(40)])
    live_of = lives[rng.integers(0, 40, n)]
    live = pa.array(live_of, mask=~(is_view | (is_buy & (rng.random(n) < 0.2))))
    amount = pa.array(np.round(rng.random(n) * 40_000 + 800, 2), mask=~is_buy)
    currency = pa.array(np.full(n, "CNY"), mask=~is_buy)
    sas = np.array([f"sa-{i:03d}" for i in range(120)])
    sa = pa.array(sas[rng.integers(0, 120, n)], mask=~(is_buy & (rng.random(n) < 0.7)))
    t = pa.table(
        {
            "ts": pa.array(ts, type=pa.timestamp("us", tz="UTC")),
            "kind": pa.array(np.array(kind_names)[kind_idx]),
            "follower": follower.cast(pa.string()),
            "source": source,
            "push": push_col,
            "articles": articles,
            "segmented": segmented,
            "recipients": recipients,
            "article": article_col,
            "screens": screens,
            "action": action,
            "category": category,
            "live": live,
            "amount": amount,
            "currency": currency,
            "sa": sa,
        }
    )
    # Random time order (the rows as drawn are grouped by kind).
    return t.take(pa.array(rng.permutation(n)))


def main():
    out = sys.argv[1]
    people = int(sys.argv[2]) if len(sys.argv) > 2 else 1_000_000
    events = int(sys.argv[3]) if len(sys.argv) > 3 else 11_550_000
    days = int(sys.argv[4]) if len(sys.argv) > 4 else 400
    seed = int(sys.argv[5]) if len(sys.argv) > 5 else 7
    t0 = time.time()
    t = table(people, events, days, seed)
    print(f"table: {t.num_rows} rows in {time.time() - t0:.1f} s", file=sys.stderr)
    write = lambda name, tab, **kw: (
        pq.write_table(tab, f"{out}/{name}.parquet", **kw),
        print(f"{name}: {pq.ParquetFile(f'{out}/{name}.parquet').metadata.num_row_groups} row groups", file=sys.stderr),
    )
    write("default", t)
    write("rg64k", t, row_group_size=65_536)
    write("one-group", t, row_group_size=t.num_rows)
    write("plain", t, use_dictionary=False)
    write("sorted", t.sort_by("ts"))
    ms = t.set_column(0, "ts", pc.cast(t.column("ts"), pa.timestamp("ms", tz="UTC"), safe=False))
    write("ms", ms)
    dense = table(people // 4, events, days, seed + 1)
    write("dense", dense)


if __name__ == "__main__":
    main()
