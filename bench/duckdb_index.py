#!/usr/bin/env python3
"""The Luxury Index report of shared/spec/luxury-index.md computed by DuckDB from a Parquet
events file, as the baseline of Salon's analytics benchmark (bench/index.sh).

    python3 bench/duckdb_index.py FILE.parquet FROM TO [TZ]    # prints the report as JSON

The SQL follows the spec's definitions one by one; `salon index` must print the same figures
(the benchmark script compares them). Needs the `duckdb` package from PyPI.
"""

import datetime as dt
import json
import sys
import time
from zoneinfo import ZoneInfo

import duckdb


def months_inside(frm, to, tz):
    """Calendar months lying wholly inside [frm, to): (label, first instant, next instant)."""
    out = []
    first = frm.replace(day=1)
    if first < frm:
        first = (first + dt.timedelta(days=32)).replace(day=1)
    while True:
        nxt = (first + dt.timedelta(days=32)).replace(day=1)
        if nxt > to:
            break
        out.append((first.strftime("%Y-%m"), start_of(first, tz), start_of(nxt, tz)))
        first = nxt
    return out


def start_of(day, tz):
    return dt.datetime(day.year, day.month, day.day, tzinfo=ZoneInfo(tz))


def ratio(n, d):
    return None if not d else n / d


def mean(values):
    v = [x for x in values if x is not None]
    return sum(v) / len(v) if v else None


SETUP = """
CREATE TEMP TABLE ev AS
  SELECT * REPLACE (CAST(ts AS TIMESTAMPTZ) AS ts), file_row_number AS rn
  FROM read_parquet($file, file_row_number = true);
-- Follow state changes, and the running follower count after each (ties in file order).
CREATE TEMP TABLE changes AS
  SELECT follower, ts, rn, kind = 'follow' AS is_follow, source FROM ev WHERE kind IN ('follow', 'unfollow');
CREATE TEMP TABLE running AS
  SELECT ts, rn, sum(delta) OVER (ORDER BY ts, rn ROWS UNBOUNDED PRECEDING) AS followers FROM (
    SELECT ts, rn,
      CASE WHEN is_follow AND NOT coalesce(prev, false) THEN 1
           WHEN NOT is_follow AND coalesce(prev, false) THEN -1 ELSE 0 END AS delta
    FROM (SELECT *, lag(is_follow) OVER (PARTITION BY follower ORDER BY ts, rn) AS prev FROM changes));
-- The pushes of the period (a push id seen twice keeps its first event).
CREATE TEMP TABLE pushes AS
  SELECT push, arg_min(ts, rn) AS ts, arg_min(articles, rn) AS articles,
         arg_min(segmented, rn) AS segmented, arg_min(recipients, rn) AS recipients
  FROM ev WHERE kind = 'push' AND ts >= $from AND ts < $to GROUP BY push;
CREATE TEMP TABLE actions AS
  SELECT follower, ts, kind FROM ev
  WHERE kind IN ('article_open', 'post_interaction', 'menu_click', 'message', 'qr_scan', 'live_view');
"""

FOLLOWERS_AT = """
  SELECT follower, ts AS since, source FROM (
    SELECT follower, ts, source, is_follow,
           row_number() OVER (PARTITION BY follower ORDER BY ts DESC, rn DESC) AS r
    FROM changes WHERE ts < $t) WHERE r = 1 AND is_follow
"""


def report(con, path, frm, to, tz):
    t_from, t_to = start_of(frm, tz), start_of(to, tz)
    con.execute(f"SET TimeZone = '{tz}'")
    for stmt in [x for x in SETUP.split(";") if x.strip() and not x.strip().startswith("--") or "CREATE" in x]:
        params = {k: v for k, v in {"file": path, "from": t_from, "to": t_to}.items() if f"${k}" in stmt}
        con.execute(stmt, params)
    q = lambda sql, **p: con.execute(sql, p).fetchall()
    one = lambda sql, **p: con.execute(sql, p).fetchone()[0]

    con.execute(f"CREATE TEMP TABLE start_set AS {FOLLOWERS_AT}", {"t": t_from})
    con.execute(f"CREATE TEMP TABLE end_set AS {FOLLOWERS_AT}", {"t": t_to})
    f_start, f_end = one("SELECT count(*) FROM start_set"), one("SELECT count(*) FROM end_set")
    in_period = "ts >= $from AND ts < $to"

    # Acquisition.
    new_follows = one(f"SELECT count(*) FROM ev WHERE kind = 'follow' AND {in_period}", **{"from": t_from, "to": t_to})
    unfollows = one(f"SELECT count(*) FROM ev WHERE kind = 'unfollow' AND {in_period}", **{"from": t_from, "to": t_to})
    by_source = dict(q(f"SELECT source, count(*) FROM ev WHERE kind = 'follow' AND {in_period} GROUP BY source", **{"from": t_from, "to": t_to}))
    sources = {}
    for s in ["search", "qr_code", "media", "word_of_mouth", "other"]:
        n = by_source.get(s, 0)
        sources[s] = {"follows": n, "share": ratio(n, new_follows), "growth_contribution": ratio(n, f_start)}
    after_push = q("""
        SELECT (SELECT count(*) FROM ev u WHERE u.kind = 'unfollow' AND u.ts >= p.ts AND u.ts < p.ts + INTERVAL 24 HOUR),
               coalesce(r.followers, 0)
        FROM pushes p ASOF LEFT JOIN running r ON p.ts > r.ts""")
    acquisition = {
        "followers_start": f_start, "followers_end": f_end,
        "growth_rate": ratio(f_end - f_start, f_start),
        "new_follows": new_follows, "unfollows": unfollows, "sources": sources,
        "unfollow_rate_after_push": mean(ratio(u, n) for u, n in after_push),
    }

    # Engagement.
    months = months_inside(frm, to, tz)
    monthly = []
    for label, first, nxt in months:
        fe, active = con.execute(f"""
            WITH s AS ({FOLLOWERS_AT}),
                 c AS (SELECT a.follower, count(*) AS n FROM actions a JOIN s USING (follower)
                       WHERE a.ts >= $first AND a.ts < $t GROUP BY a.follower)
            SELECT (SELECT count(*) FROM s), (SELECT count(*) FROM c WHERE n > 4)""",
            {"t": nxt, "first": first}).fetchone()
        monthly.append({"month": label, "followers_end": fe, "active": active, "active_rate": ratio(active, fe)})
    inactive = one("""SELECT count(*) FROM end_set e WHERE NOT EXISTS
        (SELECT 1 FROM actions a WHERE a.follower = e.follower AND a.ts >= $from AND a.ts < $to)""",
        **{"from": t_from, "to": t_to})
    lifetime = q("""
        SELECT e.source, count(*) FILTER (WHERE n > 4), count(*) FROM end_set e
        LEFT JOIN (SELECT a.follower, count(*) AS n FROM actions a JOIN end_set s USING (follower)
                   WHERE a.ts >= s.since AND a.ts < $to GROUP BY a.follower) c USING (follower)
        GROUP BY e.source""", to=t_to)
    life_by = {s: (act, tot) for s, act, tot in lifetime}
    engaged = q("""
        SELECT p.segmented, p.recipients,
               (SELECT count(DISTINCT follower) FROM ev i WHERE i.kind = 'post_interaction' AND i.push = p.push)
        FROM pushes p""")
    shares = dict(q(f"SELECT kind, count(*) FROM ev WHERE kind IN ('menu_click', 'message', 'post_interaction', 'qr_scan') AND {in_period} GROUP BY kind", **{"from": t_from, "to": t_to}))
    total = sum(shares.values())
    menu = dict(q(f"SELECT category, count(*) FROM ev WHERE kind = 'menu_click' AND {in_period} GROUP BY category", **{"from": t_from, "to": t_to}))
    menu_total = sum(menu.values())
    engagement = {
        "monthly": monthly,
        "monthly_active_rate": mean(m["active_rate"] for m in monthly),
        "inactive_rate": ratio(inactive, f_end),
        "lifetime_active_rate": ratio(sum(a for a, _ in life_by.values()), f_end),
        "lifetime_active_rate_by_source": {
            s: (ratio(*life_by[s]) if s in life_by else None)
            for s in ["search", "qr_code", "media", "word_of_mouth", "other"]
        },
        "push_engagement_rate": mean(ratio(n, r) for _, r, n in engaged),
        "segmented_engagement_rate": mean(ratio(n, r) for s, r, n in engaged if s),
        "unsegmented_engagement_rate": mean(ratio(n, r) for s, r, n in engaged if not s),
        "action_shares": {k: ratio(shares.get(k, 0), total) for k in ["menu_click", "message", "post_interaction", "qr_scan"]},
        "menu_category_shares": {k: ratio(menu.get(k, 0), menu_total) for k in ["ecommerce", "information", "crm"]},
    }

    # Content.
    n_pushes = one("SELECT count(*) FROM pushes")
    per_month = []
    for label, first, nxt in months:
        per_month.append({"month": label, "pushes": one("SELECT count(*) FROM pushes WHERE ts >= $a AND ts < $b", a=first, b=nxt)})
    arts = dict(q("SELECT articles, count(*) FROM pushes GROUP BY articles"))
    heat = [[0.0] * 24 for _ in range(7)]
    for dow, hour, n in q("SELECT dayofweek(ts), hour(ts), count(*) FROM pushes GROUP BY ALL"):
        heat[dow][hour] = n / n_pushes
    opens = q("""
        SELECT p.push, p.articles, p.recipients, a.article, count(DISTINCT o.follower)
        FROM pushes p CROSS JOIN range(1, 9) AS a(article)
        LEFT JOIN ev o ON o.kind = 'article_open' AND o.push = p.push AND o.article = a.article
        WHERE a.article <= p.articles GROUP BY ALL""")
    any_open = dict(q("""
        SELECT p.push, count(DISTINCT o.follower) FROM pushes p
        LEFT JOIN ev o ON o.kind = 'article_open' AND o.push = p.push GROUP BY p.push"""))
    rate = {(p, a): ratio(n, r) for p, _, r, a, n in opens}
    info = {p: (arts_, r) for p, arts_, r, _, _ in opens}
    retention_rows = q("""
        SELECT k, count(*) FILTER (WHERE o.screens >= k), count(*)
        FROM ev o JOIN pushes p USING (push) CROSS JOIN range(1, 11) AS t(k)
        WHERE o.kind = 'article_open' GROUP BY k ORDER BY k""")
    q20, q50 = con.execute("""
        SELECT quantile_cont(o.screens, 0.2), quantile_cont(o.screens, 0.5)
        FROM ev o JOIN pushes p USING (push) WHERE o.kind = 'article_open'""").fetchone()
    content = {
        "pushes": n_pushes,
        "pushes_per_month": per_month,
        "articles_per_push": {str(k): (arts.get(k, 0) / n_pushes if n_pushes else None) for k in range(1, 9)},
        "push_heatmap": heat,
        "open_rate": mean(rate.values()),
        "single_article_open_rate": mean(rate[(p, 1)] for p, (n, _) in info.items() if n == 1),
        "multi_top_article_open_rate": mean(rate[(p, 1)] for p, (n, _) in info.items() if n >= 2),
        "multi_cumulative_open_rate": mean(ratio(any_open.get(p, 0), r) for p, (n, r) in info.items() if n >= 2),
        "reader_retention": [ratio(hit, all_) for _, hit, all_ in retention_rows] or [None] * 10,
        "screens_to_lose_20pct": q20,
        "screens_to_lose_50pct": q50,
    }

    # Livestream.
    lives = q(f"""
        WITH v AS (SELECT DISTINCT live, follower FROM ev WHERE kind = 'live_view' AND {in_period}),
             b AS (SELECT DISTINCT live, follower FROM ev WHERE kind = 'purchase' AND live IS NOT NULL),
             r AS (SELECT live, sum(amount) AS revenue FROM ev WHERE kind = 'purchase' AND live IS NOT NULL GROUP BY live)
        SELECT v.live, count(*), count(b.follower), coalesce(any_value(r.revenue), 0)
        FROM v LEFT JOIN b USING (live, follower) LEFT JOIN r USING (live)
        GROUP BY v.live ORDER BY v.live""", **{"from": t_from, "to": t_to})
    livestream = [
        {"live": l, "viewers": v, "buyers": b, "conversion": ratio(b, v), "revenue": float(rev)}
        for l, v, b, rev in lives
    ]
    return {
        "period": {"from": frm.isoformat(), "to": to.isoformat(), "tz": tz},
        "acquisition": acquisition, "engagement": engagement, "content": content, "livestream": livestream,
    }


def main():
    path, frm, to = sys.argv[1], dt.date.fromisoformat(sys.argv[2]), dt.date.fromisoformat(sys.argv[3])
    tz = sys.argv[4] if len(sys.argv) > 4 else "Asia/Shanghai"
    started = time.perf_counter()
    con = duckdb.connect()
    r = report(con, path, frm, to, tz)
    print(json.dumps(r))
    print(f"duckdb: {time.perf_counter() - started:.2f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
