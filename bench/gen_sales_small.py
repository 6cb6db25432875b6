#!/usr/bin/env python3
"""Small random test data for the sales attribution rules of shared/spec/attribution.md: the
spec's orders.jsonl, returns.jsonl, touches.jsonl, fx.jsonl and (most of the time) policy.json,
written into OUT. Made to hit the rules' corners rather than to look realistic:

- orders of every source, with 1 to 4 lines, anonymous ones, `pos` orders with `sold_by` (with
  and without a client), `sold_by` on other sources (to be ignored), orders in EUR and USD with
  rates of up to 12 decimal places (and short rates that make half-unit ties), orders placed
  around local midnights and month boundaries, timestamps written with various UTC offsets;
- returns in the same and later months, several per line, never more than the line;
- touches around each order: exactly on the window's edge (not eligible), one second inside it,
  exactly at placed_at (eligible), just after it (not), ties on `at` across kinds and associates,
  e-mails whose byte order is not their alphabetical order, the same touch twice;
- a policy with either model, some windows changed, odd rates, and targets (some for associates
  without sales);
- optionally (--dups) order_ids and return_ids sent again with other content (the first line
  wins) and a day's exchange rate sent again (the later line wins).

    python3 bench/gen_sales_small.py OUT [--seed 1] [--orders 300] [--months 4] [--start 2025-01]
        [--tz Asia/Shanghai] [--currency CNY] [--dups 0.0] [--model last_touch|split|random]

Prints the months the data covers (YYYY-MM, one a line) on stdout.
"""

import argparse
import datetime as dt
import json
import os
import random
from zoneinfo import ZoneInfo

KINDS = ["message", "share_click", "live_view", "appointment", "broadcast"]
DEFAULT_WINDOWS = {"message": 14, "share_click": 7, "live_view": 3, "appointment": 30, "broadcast": 3}
SOURCES = ["pos", "ecommerce", "mini_store", "livestream"]
ASSOCIATES = [
    "li.na@maison.example", "li-na@maison.example", "lina@maison.example", "li_na@maison.example",
    "li.na2@maison.example", "wang.fang@maison.example", "a.zhou@maison.example",
    "zhang.wei@maison.example", "chen.jie@maison.example", "b@maison.example",
]
OFFSETS = [0, 8 * 60, -5 * 60, 5 * 60 + 30, 14 * 60, -11 * 60, 9 * 60 + 45]


def stamp(rng, t):
    """An instant (aware datetime) as RFC 3339 with a random UTC offset."""
    off = rng.choice(OFFSETS)
    s = t.astimezone(dt.timezone(dt.timedelta(minutes=off))).isoformat()
    if off == 0 and rng.random() < 0.5:
        s = s[:-6] + "Z"
    return s


def rate_str(rng):
    r = rng.random()
    if r < 0.4:  # 12 decimal places
        return f"{rng.randint(1, 9)}.{rng.randint(0, 10**12 - 1):012d}"
    if r < 0.7:  # short rates: many half-unit ties
        return rng.choice(["7.5", "7.85", "0.125", "8.0625", "7.25", "6.5", "0.5", "1.5"])
    return f"{rng.randint(5, 8)}.{rng.randint(0, 9999):04d}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--orders", type=int, default=300)
    ap.add_argument("--months", type=int, default=4)
    ap.add_argument("--start", default="2025-01")
    ap.add_argument("--tz", default="Asia/Shanghai")
    ap.add_argument("--currency", default="CNY")
    ap.add_argument("--dups", type=float, default=0.0, help="share of orders sent again, changed")
    ap.add_argument("--model", default="random")
    a = ap.parse_args()
    rng = random.Random(a.seed)
    z = ZoneInfo(a.tz)
    os.makedirs(a.out, exist_ok=True)

    y, m = (int(x) for x in a.start.split("-"))
    months = []
    for i in range(a.months):
        mm = m - 1 + i
        months.append((y + mm // 12, mm % 12 + 1))
    labels = [f"{yy:04d}-{mm:02d}" for yy, mm in months]
    month_starts = [dt.datetime(yy, mm, 1, tzinfo=z) for yy, mm in months]
    t0 = month_starts[0]
    ly, lm = months[-1]
    t1 = dt.datetime(ly + (lm == 12), lm % 12 + 1, 1, tzinfo=z)
    span = (t1 - t0).total_seconds()

    # Policy.
    policy = {}
    model = rng.choice(["last_touch", "split"]) if a.model == "random" else a.model
    if model == "split" or rng.random() < 0.5:
        policy["model"] = model
    windows = dict(DEFAULT_WINDOWS)
    if rng.random() < 0.6:
        policy["windows"] = {}
        for k in rng.sample(KINDS, rng.randint(1, 3)):
            windows[k] = policy["windows"][k] = rng.randint(1, 30)
    if rng.random() < 0.7:
        policy["base_rate"] = rng.choice(["0.025", "0.03", "0.015", f"0.{rng.randint(0, 10**12 - 1):012d}"])
    if rng.random() < 0.7:
        policy["bonus_rate"] = rng.choice(["0.005", "0.0125", f"0.{rng.randint(0, 10**12 - 1):012d}"])
    if rng.random() < 0.8:
        policy["targets"] = {}
        for label in labels:
            if rng.random() < 0.7:
                policy["targets"][label] = {
                    ass: rng.choice([0, rng.randint(1, 3_000_000), rng.randint(1, 30_000_000)])
                    for ass in rng.sample(ASSOCIATES, rng.randint(1, 5))}
        policy["targets"]["2099-01"] = {ASSOCIATES[0]: 1}
    write_policy = bool(policy) or rng.random() < 0.5

    # Exchange rates: from a few days before the first order, with gaps.
    fx = []
    for cur in ("EUR", "USD"):
        day = (t0 - dt.timedelta(days=3)).date()
        first = True
        while day < t1.date() + dt.timedelta(days=2):
            if first or rng.random() < 0.6:
                fx.append({"date": day.isoformat(), "currency": cur, "rate": rate_str(rng)})
                first = False
            day += dt.timedelta(days=1)
    rng.shuffle(fx)

    # Orders.
    clients = [f"CRM-{i:05d}" for i in range(1, max(8, a.orders // 6) + 1)]
    orders, returns, touches = [], [], []

    def placed_time():
        r = rng.random()
        if r < 0.15:  # around a month boundary
            b = rng.choice(month_starts[1:] + [t1]) if len(month_starts) > 1 else t1
            t = b + dt.timedelta(seconds=rng.randint(-36000, 36000))
        elif r < 0.3:  # around a local midnight (the day of the rate)
            d = t0 + dt.timedelta(days=rng.randint(0, int(span // 86400) - 1))
            d = d.replace(hour=0, minute=0, second=0)
            t = d + dt.timedelta(seconds=rng.choice([-1, 0, 1, rng.randint(-7200, 7200)]))
        else:
            t = t0 + dt.timedelta(seconds=rng.randint(0, int(span) - 1))
        return min(max(t, t0), t1 - dt.timedelta(seconds=1))

    for i in range(a.orders):
        source = rng.choice(SOURCES)
        client = None if rng.random() < 0.1 else rng.choice(clients)
        placed = placed_time()
        cur = rng.choices([a.currency, "EUR", "USD"], [6, 2, 2])[0]
        lines = []
        for ln in range(1, rng.randint(1, 4) + 1):
            amount = rng.choice([rng.randint(1, 25), rng.randint(100, 99_999), rng.randint(100_000, 5_000_000)])
            lines.append({"line": ln, "sku": f"SKU-{rng.randint(1, 50):03d}", "qty": rng.randint(1, 3), "amount": amount})
        o = {"order_id": f"O-{i:06d}", "source": source, "client": client,
             "store": f"SH0{rng.randint(1, 3)}" if source == "pos" else None,
             "placed_at": stamp(rng, placed), "currency": cur, "lines": lines}
        if (source == "pos" and rng.random() < 0.5) or (source != "pos" and rng.random() < 0.15):
            o["sold_by"] = rng.choice(ASSOCIATES)
        orders.append(o)

        # Returns: some lines, once or twice, never more than the line.
        if rng.random() < 0.3:
            for line in rng.sample(lines, rng.randint(1, len(lines))):
                left = line["amount"]
                for k in range(rng.randint(1, 2)):
                    if left <= 0:
                        break
                    amt = left if rng.random() < 0.5 else rng.randint(1, left)
                    left -= amt
                    at = placed + dt.timedelta(seconds=rng.randint(60, 70 * 86400))
                    returns.append({"return_id": f"R-{i:06d}-{line['line']}-{k}", "order_id": o["order_id"],
                                    "line": line["line"], "qty": 1, "amount": amt, "at": stamp(rng, at)})

        # Touches for the client around placed_at.
        if client is not None and rng.random() < 0.85:
            for _ in range(rng.randint(0, 4)):
                kind = rng.choice(KINDS)
                w = windows[kind] * 86400
                r = rng.random()
                if r < 0.15:
                    d = w  # on the edge: not eligible
                elif r < 0.3:
                    d = w - 1  # one second inside
                elif r < 0.4:
                    d = 0  # at placed_at: eligible
                elif r < 0.45:
                    d = -1  # just after: not eligible
                else:
                    d = rng.randint(-2 * 86400, 35 * 86400)
                at = placed - dt.timedelta(seconds=d)
                touches.append({"at": stamp(rng, at), "associate": rng.choice(ASSOCIATES), "client": client, "kind": kind})
                if rng.random() < 0.3:  # a tie on `at`: another kind and/or associate
                    touches.append({"at": stamp(rng, at), "associate": rng.choice(ASSOCIATES), "client": client,
                                    "kind": rng.choice(KINDS)})
                if rng.random() < 0.05:  # the same touch twice
                    touches.append(dict(touches[-1]))

    # Background touches.
    for _ in range(a.orders):
        at = t0 + dt.timedelta(seconds=rng.randint(-40 * 86400, int(span)))
        touches.append({"at": stamp(rng, at), "associate": rng.choice(ASSOCIATES), "client": rng.choice(clients),
                        "kind": rng.choice(KINDS)})
    rng.shuffle(touches)

    # An order_id sent again, changed: the first line wins.
    if a.dups > 0:
        for o in rng.sample(orders, int(len(orders) * a.dups)):
            d = dict(o, placed_at=stamp(rng, placed_time()), client=rng.choice(clients), source="ecommerce",
                     lines=[{"line": 1, "sku": "SKU-999", "qty": 1, "amount": rng.randint(1, 9_999_999)}])
            d.pop("sold_by", None)
            orders.append(d)
    rng.shuffle(returns)
    # A return_id sent again, at another time: the first line wins.
    if a.dups > 0 and returns:
        for r in rng.sample(returns, max(1, int(len(returns) * a.dups))):
            returns.append(dict(r, at=stamp(rng, dt.datetime.fromisoformat(r["at"].replace("Z", "+00:00"))
                                            + dt.timedelta(days=rng.randint(-20, 40)))))
    # A day's rate sent again: the later line replaces the earlier (the reference binary does so;
    # the spec does not say).
    if a.dups > 0:
        for r in rng.sample(fx, max(1, int(len(fx) * a.dups))):
            fx.append(dict(r, rate=rate_str(rng)))

    def dump(name, rows):
        with open(os.path.join(a.out, name), "w") as f:
            for r in rows:
                f.write(json.dumps(r) + "\n")

    dump("orders.jsonl", orders)
    dump("returns.jsonl", returns)
    dump("touches.jsonl", touches)
    dump("fx.jsonl", fx)
    p = os.path.join(a.out, "policy.json")
    if write_policy:
        with open(p, "w") as f:
            json.dump(policy, f)
    elif os.path.exists(p):
        os.remove(p)
    # The months to check: the data's and the one after (returns only).
    ny, nm = ly + (lm == 12), lm % 12 + 1
    for label in labels + [f"{ny:04d}-{nm:02d}"]:
        print(label)


if __name__ == "__main__":
    main()
