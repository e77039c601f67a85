#!/usr/bin/python3
"""Two `make bench` runs row by row: bench/compare.py OLD.json NEW.json

Rows are matched by part and name. For each: smolvm's figure and the ratio in both runs, the
change of smolvm's figure in percent, and the target's status in both; rows only one run has
show "-" on the other side. Each run's host load is printed too: the nested machine's figures
swing with what else the host does.
"""

import json
import sys


def load(path):
    with open(path) as f:
        return json.load(f)


def num(v):
    if v is None:
        return "failed"
    return f"{v:.0f}" if abs(v) >= 1000 else f"{v:.3g}" if abs(v) < 1 else f"{v:.2f}"


def change(old, new):
    if old is None or new is None or old == 0:
        return "-"
    return f"{(new - old) / abs(old) * 100:+.1f}%"


def compare(old, new):
    """Markdown lines: one per row of either run, old's order first, then new's new rows."""
    def key(r):
        return (r["part"], r["row"])

    olds = {key(r): r for r in old["rows"]}
    news = {key(r): r for r in new["rows"]}
    keys = [key(r) for r in old["rows"]] + [key(r) for r in new["rows"] if key(r) not in olds]
    lines = [f"old: {old.get('date', '?')}, host load {old.get('host_load', '?')}",
             f"new: {new.get('date', '?')}, host load {new.get('host_load', '?')}", "",
             "| part | row | smolvm old | smolvm new | change | ratio old | ratio new | "
             "status old | status new |",
             "|---|---|---|---|---|---|---|---|---|"]
    for k in keys:
        o, n = olds.get(k), news.get(k)
        lines.append(" | ".join([
            f"| {k[0]}", k[1],
            num(o["smolvm"]) if o else "-", num(n["smolvm"]) if n else "-",
            change(o["smolvm"], n["smolvm"]) if o and n else "-",
            num(o["ratio"]) if o else "-", num(n["ratio"]) if n else "-",
            o["status"] if o else "-", (n["status"] if n else "-") + " |"]))
    return lines


def main(argv):
    if len(argv) != 3:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    try:
        old, new = load(argv[1]), load(argv[2])
    except (OSError, ValueError) as e:
        print(f"compare: {e}", file=sys.stderr)
        return 2
    print("\n".join(compare(old, new)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
