#!/usr/bin/env bash
# The Luxury Index on files Salon did not write: the same report by `salon index` and by DuckDB
# (bench/duckdb_index.py) on each Parquet layout of bench/gen_layouts.py (pyarrow), run
# alternately, RUNS times each. Prints per layout the medians, the ratio, each side's peak
# memory, and whether the two reports agree.
#
#   cargo build --release && pip install duckdb pyarrow numpy
#   bench/layouts.sh [RUNS=3] [LAYOUTS="default rg64k one-group plain sorted ms dense"]
set -euo pipefail
runs=${1:-3}
layouts=${2:-"default rg64k one-group plain sorted ms dense"}
dir=${BENCH_DIR:-/tmp/salon-layouts}
salon=${SALON:-target/release/salon}
here=$(dirname "$0")
# A six-month period inside the files' 400 days (2024-06-01 .. 2025-07-05).
from=${FROM:-2024-09-01}
to=${TO:-2025-03-01}
mkdir -p "$dir"
if [ ! -f "$dir/dense.parquet" ]; then
  python3 "$here/gen_layouts.py" "$dir"
fi
settle() { sync; sleep 2; }
printf '%-10s %10s %10s %7s %9s %9s %s\n' layout salon duckdb ratio salonMiB duckMiB same
for layout in $layouts; do
  file="$dir/$layout.parquet"
  for i in $(seq "$runs"); do
    settle
    /usr/bin/time -f "%e %M" -o "$dir/salon.$i" "$salon" index --events "$file" --from "$from" --to "$to" > "$dir/salon.json"
    settle
    /usr/bin/time -f "%e %M" -o "$dir/duckdb.$i" python3 "$here/duckdb_index.py" "$file" "$from" "$to" > "$dir/duckdb.json" 2>/dev/null
  done
  same=$(python3 "$here/compare_reports.py" "$dir/salon.json" "$dir/duckdb.json" >/dev/null 2>&1 && echo yes || echo NO)
  python3 - "$dir" "$runs" "$layout" "$same" <<'PY'
import statistics, sys
d, runs, layout, same = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
def read(side):
    rows = [open(f"{d}/{side}.{i}").read().split()[-2:] for i in range(1, runs + 1)]
    return [float(s) for s, _ in rows], [int(m) / 1024 for _, m in rows]
st, sm = read("salon")
dt, dm = read("duckdb")
s, k = statistics.median(st), statistics.median(dt)
print(f"{layout:<10} {s:9.2f}s {k:9.2f}s {s / k:7.2f} {max(sm):9.0f} {max(dm):9.0f} {same}")
PY
done
