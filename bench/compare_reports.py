#!/usr/bin/env python3
"""Compares two Luxury Index reports (JSON files): same keys, same nulls, numbers equal within
1e-9 relative. Prints the first differences and exits non-zero when there are any."""

import json
import sys


def diff(a, b, path, out):
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b)):
            if k not in a or k not in b:
                out.append(f"{path}/{k}: only in {'second' if k not in a else 'first'}")
            else:
                diff(a[k], b[k], f"{path}/{k}", out)
    elif isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            out.append(f"{path}: {len(a)} against {len(b)} items")
        for i, (x, y) in enumerate(zip(a, b)):
            diff(x, y, f"{path}/{i}", out)
    elif isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        if abs(a - b) > 1e-9 * max(1.0, abs(a), abs(b)):
            out.append(f"{path}: {a} against {b}")
    elif a != b:
        out.append(f"{path}: {a!r} against {b!r}")


def main():
    a, b = (json.load(open(p)) for p in sys.argv[1:3])
    out = []
    diff(a, b, "", out)
    for line in out[:20]:
        print(line)
    if out:
        print(f"{len(out)} difference(s)")
        sys.exit(1)
    print("same figures")


if __name__ == "__main__":
    main()
