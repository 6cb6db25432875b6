#!/usr/bin/env python3
"""A month's sales report of shared/spec/attribution.md computed by DuckDB from the spec's JSON
Lines files, as the baseline of Salon's sales benchmark.

    python3 bench/duckdb_sales.py DIR MONTH [--tz Asia/Shanghai] [--currency CNY] [--threads 2]

DIR holds orders.jsonl, returns.jsonl, touches.jsonl, fx.jsonl and optionally policy.json (the
spec's policy file). Prints the spec's report JSON for MONTH (YYYY-MM) on stdout and the total
time on stderr. Written from the spec alone, in SQL: exact DECIMAL / integer arithmetic (rates up
to 12 places), half-to-even rounding done by hand (DuckDB's ROUND on decimals is half away from
zero), no book credit and no disputes. Only the month's orders, the month's returns and their
orders are attributed; touches are read once, keeping only the clients and the time range those
orders need. Needs the `duckdb` package from PyPI.

An order_id or return_id sent again is ignored (the first line wins); a day's exchange rate sent
again replaces the earlier one (the spec does not say; Salon does so). A return naming an
unknown order or line, an order without a rate for its day and (among the touches read) a touch
of an unknown kind are errors, reported on stderr with exit status 1.
"""

import time

T0 = time.perf_counter()

import argparse  # noqa: E402
import datetime as dt  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
from decimal import Decimal  # noqa: E402
from zoneinfo import ZoneInfo  # noqa: E402

import duckdb  # noqa: E402

KINDS = ["appointment", "live_view", "share_click", "message", "broadcast"]  # last_touch tie order
DEFAULT_WINDOWS = {"message": 14, "share_click": 7, "live_view": 3, "appointment": 30, "broadcast": 3}
US_PER_DAY = 86_400_000_000
RATE = "DECIMAL(38,12)"


def load_policy(path):
    p = {}
    if os.path.exists(path):
        with open(path) as f:
            p = json.load(f, parse_float=Decimal, parse_int=Decimal)
    model = p.get("model") or "last_touch"
    if model not in ("last_touch", "split"):
        raise SystemExit(f"policy: unknown model {model!r}")
    windows = dict(DEFAULT_WINDOWS)
    for k, v in (p.get("windows") or {}).items():
        if k not in windows:
            raise SystemExit(f"policy: unknown touch kind {k!r}")
        windows[k] = v
    # Exact decimals: rates as strings, or JSON numbers taken by their text.
    base = Decimal(str(p.get("base_rate", "0.02")))
    bonus = Decimal(str(p.get("bonus_rate", "0.01")))
    targets = p.get("targets") or {}
    return model, windows, base, bonus, targets


def month_bounds(month, tz):
    """[start, end) of a calendar month in the zone, as epoch microseconds."""
    y, m = (int(x) for x in month.split("-"))
    z = ZoneInfo(tz)
    start = dt.datetime(y, m, 1, tzinfo=z)
    end = dt.datetime(y + (m == 12), m % 12 + 1, 1, tzinfo=z)
    epoch = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
    us = lambda t: (t - epoch) // dt.timedelta(microseconds=1)
    return us(start), us(end)


def fail(msg):
    print(f"error: {msg}", file=sys.stderr)
    sys.exit(1)


def report(con, d, month, tz, currency, policy):
    model, windows, base_rate, bonus_rate, targets = policy
    m_start, m_end = month_bounds(month, tz)
    f = lambda name: os.path.join(d, name)
    nd = "format = 'newline_delimited'"

    con.execute("""
      -- half to even of an exact decimal, to an integer
      CREATE OR REPLACE TEMP MACRO rhe(x) AS CAST(
        CASE WHEN x - floor(x) > 0.5 THEN floor(x) + 1
             WHEN x - floor(x) < 0.5 THEN floor(x)
             WHEN CAST(floor(x) AS HUGEINT) % 2 = 0 THEN floor(x)
             ELSE floor(x) + 1 END AS HUGEINT);
      -- floor division and its non-negative remainder (b > 0)
      CREATE OR REPLACE TEMP MACRO fmod(a, b) AS ((a % b) + b) % b;
      CREATE OR REPLACE TEMP MACRO fdiv(a, b) AS (a - fmod(a, b)) // b;
    """)
    con.execute("CREATE TEMP TABLE win (kind VARCHAR, krank INTEGER, us BIGINT)")
    con.executemany("INSERT INTO win VALUES (?, ?, ?)", [
        (k, i, int(Decimal(str(windows[k])) * US_PER_DAY)) for i, k in enumerate(KINDS)])
    max_window = max(int(Decimal(str(w)) * US_PER_DAY) for w in windows.values())

    # Orders in file order (rowid), so that the first line of an order_id wins.
    con.execute(f"""
      CREATE TEMP TABLE o_all AS
      SELECT order_id, source, client, epoch_us(placed_at) AS placed_us, placed_at, currency, sold_by, lines
      FROM read_json(?, {nd}, columns = {{order_id: 'VARCHAR', source: 'VARCHAR', client: 'VARCHAR',
          placed_at: 'TIMESTAMPTZ', currency: 'VARCHAR', sold_by: 'VARCHAR',
          lines: 'STRUCT(line BIGINT, amount BIGINT)[]'}})""", [f("orders.jsonl")])
    # Returns (the first line of a return_id wins); the month's, by `at`.
    con.execute(f"""
      CREATE TEMP TABLE r_all AS
      SELECT return_id, order_id, line, amount, epoch_us("at") AS at_us
      FROM read_json(?, {nd}, columns = {{return_id: 'VARCHAR', order_id: 'VARCHAR', line: 'BIGINT',
          amount: 'BIGINT', "at": 'TIMESTAMPTZ'}})""", [f("returns.jsonl")])
    con.execute("""
      CREATE TEMP TABLE r_month AS
      SELECT return_id, order_id, line, amount FROM (
        SELECT * FROM r_all QUALIFY row_number() OVER (PARTITION BY return_id ORDER BY rowid) = 1)
      WHERE at_us >= $s AND at_us < $e""", {"s": m_start, "e": m_end})
    # The orders to attribute: the month's and those of the month's returns (first line wins).
    con.execute("""
      CREATE TEMP TABLE rel AS
      SELECT order_id, source, client, placed_us, placed_at, currency, sold_by, lines,
             placed_us >= $s AND placed_us < $e AS in_month
      FROM o_all
      WHERE order_id IN (SELECT order_id FROM o_all WHERE placed_us >= $s AND placed_us < $e
                         UNION SELECT order_id FROM r_month)
      QUALIFY row_number() OVER (PARTITION BY order_id ORDER BY rowid) = 1""",
        {"s": m_start, "e": m_end})
    con.execute("DROP TABLE o_all")
    bad = con.execute("""
      SELECT r.return_id FROM r_month r LEFT JOIN rel o USING (order_id)
      WHERE o.order_id IS NULL OR NOT list_contains(list_transform(o.lines, lambda l: l.line), r.line)
      LIMIT 1""").fetchone()
    if bad:
        fail(f"return {bad[0]} names an unknown order or line")

    # Rates: the latest on or before the order's day in the brand's zone; the brand's currency is 1.
    con.execute(f"""
      CREATE TEMP TABLE fx_all AS
      SELECT currency, "date", CAST(rate AS {RATE}) AS rate
      FROM read_json(?, {nd}, columns = {{"date": 'DATE', currency: 'VARCHAR', rate: 'VARCHAR'}})""",
        [f("fx.jsonl")])
    con.execute("""
      CREATE TEMP TABLE fx AS  -- a day's rate sent again replaces the earlier one
      SELECT * FROM fx_all QUALIFY row_number() OVER (PARTITION BY currency, "date" ORDER BY rowid DESC) = 1""")
    con.execute(f"""
      CREATE TEMP TABLE rate AS
      SELECT o.order_id, CASE WHEN o.currency = $cur THEN CAST(1 AS {RATE}) ELSE fx.rate END AS rate
      FROM (SELECT order_id, currency, CAST(timezone($tz, placed_at) AS DATE) AS day FROM rel) o
      ASOF LEFT JOIN (SELECT * FROM fx WHERE currency <> $cur) fx
        ON o.currency = fx.currency AND o.day >= fx."date" """, {"cur": currency, "tz": tz})
    bad = con.execute("SELECT order_id FROM rate WHERE rate IS NULL LIMIT 1").fetchone()
    if bad:
        fail(f"order {bad[0]}: no exchange rate for its day")

    # Credit: pos orders with sold_by go wholly to sold_by; other orders with a client by touches.
    con.execute("""
      CREATE TEMP TABLE need AS
      SELECT order_id, client, placed_us FROM rel
      WHERE client IS NOT NULL AND NOT (source = 'pos' AND sold_by IS NOT NULL)""")
    lo, hi = con.execute("SELECT min(placed_us), max(placed_us) FROM need").fetchone()
    credit_sql = "SELECT order_id, sold_by AS associate FROM rel WHERE source = 'pos' AND sold_by IS NOT NULL"
    if lo is not None:
        # One pass over the touches: only the clients and the time range the orders need.
        con.execute(f"""
          CREATE TEMP TABLE tt AS
          SELECT client, associate, kind, epoch_us("at") AS at_us
          FROM read_json($file, {nd}, columns = {{"at": 'TIMESTAMPTZ', associate: 'VARCHAR', client: 'VARCHAR',
              kind: 'VARCHAR'}})
          WHERE epoch_us("at") > $lo AND epoch_us("at") <= $hi
            AND client IN (SELECT DISTINCT client FROM need)""",
            {"file": f("touches.jsonl"), "lo": lo - max_window, "hi": hi})
        bad = con.execute("SELECT kind FROM tt WHERE kind NOT IN (SELECT kind FROM win) LIMIT 1").fetchone()
        if bad:
            fail(f"touch of unknown kind {bad[0]!r}")
        eligible = """
          SELECT n.order_id, t.associate, t.at_us, w.krank
          FROM need n JOIN tt t ON t.client = n.client JOIN win w ON w.kind = t.kind
          WHERE t.at_us <= n.placed_us AND t.at_us > n.placed_us - w.us"""
        if model == "last_touch":
            credit_sql += f"""
              UNION ALL SELECT order_id, associate FROM ({eligible})
              QUALIFY row_number() OVER (PARTITION BY order_id ORDER BY at_us DESC, krank, associate) = 1"""
        else:
            credit_sql += f" UNION SELECT DISTINCT order_id, associate FROM ({eligible})"
    con.execute(f"""
      CREATE TEMP TABLE credit AS
      SELECT order_id, associate,
             row_number() OVER (PARTITION BY order_id ORDER BY associate) - 1 AS idx,
             count(*) OVER (PARTITION BY order_id) AS n
      FROM ({credit_sql})""")

    # Converted amounts: each of the month's order lines, each of the month's returns.
    con.execute("""
      CREATE TEMP TABLE amt AS
      SELECT o.order_id, 'sale' AS what, rhe(l.amount * x.rate) AS conv
      FROM (SELECT order_id, unnest(lines) AS l FROM rel WHERE in_month) o JOIN rate x USING (order_id)
      UNION ALL
      SELECT r.order_id, 'return', rhe(r.amount * x.rate) FROM r_month r JOIN rate x USING (order_id)""")
    # Shares: floor(amount / n), the remainder one unit each in e-mail order.
    con.execute("""
      CREATE TEMP TABLE per AS
      SELECT associate,
             sum(CASE WHEN what = 'sale' THEN share ELSE 0 END) AS sales,
             sum(CASE WHEN what = 'return' THEN share ELSE 0 END) AS returns
      FROM (SELECT a.what, c.associate,
                   fdiv(a.conv, c.n) + CASE WHEN c.idx < fmod(a.conv, c.n) THEN 1 ELSE 0 END AS share
            FROM amt a JOIN credit c USING (order_id))
      GROUP BY associate""")
    con.execute("CREATE TEMP TABLE tgt (associate VARCHAR, target BIGINT)")
    tg = [(a, int(t)) for a, t in (targets.get(month) or {}).items()]
    if tg:
        con.executemany("INSERT INTO tgt VALUES (?, ?)", tg)
    rows = con.execute(f"""
      WITH cnt AS (
        SELECT c.associate, count(*) AS orders FROM credit c JOIN rel o USING (order_id)
        WHERE o.in_month GROUP BY c.associate),
      st AS (
        SELECT associate, coalesce(p.sales, 0) AS sales, coalesce(p.returns, 0) AS returns,
               coalesce(p.sales, 0) - coalesce(p.returns, 0) AS net,
               coalesce(cnt.orders, 0) AS orders, tgt.target
        FROM per p FULL JOIN cnt USING (associate) FULL JOIN tgt USING (associate))
      SELECT associate, CAST(sales AS BIGINT), CAST(returns AS BIGINT), CAST(net AS BIGINT), orders,
             CAST(rhe(CAST($base AS {RATE}) * net
                      + CASE WHEN target IS NULL THEN CAST(0 AS {RATE})
                             ELSE CAST($bonus AS {RATE}) * greatest(net - target, 0) END) AS BIGINT),
             target
      FROM st ORDER BY net DESC, associate""", {"base": str(base_rate), "bonus": str(bonus_rate)}).fetchall()
    (unattributed,) = con.execute("""
      SELECT coalesce(sum(CASE WHEN what = 'sale' THEN conv ELSE -conv END), 0)
      FROM amt WHERE order_id NOT IN (SELECT order_id FROM credit)""").fetchone()
    return {
        "month": month,
        "currency": currency,
        "associates": [
            {"associate": a, "sales": int(s), "returns": int(r), "net": int(n), "orders": int(o),
             "commission": int(c), "target": None if t is None else int(t)}
            for a, s, r, n, o, c, t in rows],
        "unattributed": int(unattributed),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("dir")
    ap.add_argument("month")
    ap.add_argument("--tz", default="Asia/Shanghai")
    ap.add_argument("--currency", default="CNY")
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    policy = load_policy(os.path.join(a.dir, "policy.json"))
    con = duckdb.connect()
    con.execute(f"SET threads = {int(a.threads)}")
    out = report(con, a.dir, a.month, a.tz, a.currency, policy)
    print(json.dumps(out))
    print(f"total {time.perf_counter() - T0:.3f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
