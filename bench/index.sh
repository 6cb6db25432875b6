#!/usr/bin/env bash
# The analytics benchmark: the full Luxury Index report from one Parquet file, by `salon index`
# and by DuckDB (bench/duckdb_index.py, the `duckdb` package from PyPI), run alternately on the
# same machine, RUNS times each. Prints the medians, their ratio, each side's peak memory, and
# whether the two reports agree.
#
#   cargo build --release && pip install duckdb
#   bench/index.sh [PEOPLE=1000000] [RUNS=3]
set -euo pipefail
people=${1:-1000000}
runs=${2:-3}
dir=${BENCH_DIR:-/tmp/salon-index-bench}
salon=${SALON:-target/release/salon}
from=2025-01-01
to=2026-01-01
mkdir -p "$dir"
file="$dir/events-$people.parquet"
if [ ! -f "$file" ]; then
  "$salon" generate events --people "$people" --days 365 --seed 1 --start 2025-01-01 --out "$file"
fi
# Each run starts on a settled machine: the other side's memory returned, its writes flushed.
settle() { sync; sleep 3; }
for i in $(seq "$runs"); do
  settle
  /usr/bin/time -f "%e %M" -o "$dir/salon.$i" "$salon" index --events "$file" --from $from --to $to > "$dir/salon.json"
  settle
  /usr/bin/time -f "%e %M" -o "$dir/duckdb.$i" python3 "$(dirname "$0")/duckdb_index.py" "$file" $from $to > "$dir/duckdb.json" 2>/dev/null
done
python3 - "$dir" "$runs" "$file" <<'PY'
import statistics, sys
d, runs, f = sys.argv[1], int(sys.argv[2]), sys.argv[3]
def read(side):
    rows = [open(f"{d}/{side}.{i}").read().split()[-2:] for i in range(1, runs + 1)]
    return [float(s) for s, _ in rows], [int(m) / 1024 for _, m in rows]
st, sm = read("salon")
dt, dm = read("duckdb")
print(f"file: {f}")
print(f"salon index: median {statistics.median(st):.2f} s (runs {', '.join(f'{x:.2f}' for x in st)}), peak {max(sm):.0f} MiB")
print(f"duckdb:      median {statistics.median(dt):.2f} s (runs {', '.join(f'{x:.2f}' for x in dt)}), peak {max(dm):.0f} MiB")
print(f"ratio salon / duckdb: {statistics.median(st) / statistics.median(dt):.2f}")
PY
python3 "$(dirname "$0")/compare_reports.py" "$dir/salon.json" "$dir/duckdb.json"
