"""The end of `make bench`: one table of every row, its ratio and target, met or missed.

Usage: summary.py ROWS PARTS [OUT_DIR]
  ROWS   the JSON lines the parts wrote (benchlib.record), one row each
  PARTS  one line per part run: NAME STATUS SECONDS (STATUS "ok" or "failed")
Prints the table and writes the same as JSON to OUT_DIR/DATE.json (default bench/results),
which bench/compare.py reads.
"""

import datetime
import json
import os
import pathlib
import subprocess
import sys

import targets as tg

HERE = pathlib.Path(__file__).resolve().parent


def read_rows(path):
    rows = []
    if os.path.exists(path):
        with open(path) as f:
            rows = [json.loads(line) for line in f if line.strip()]
    return rows


def read_parts(path):
    parts = []
    with open(path) as f:
        for line in f:
            fields = line.split()
            if len(fields) >= 2:
                seconds = float(fields[2]) if len(fields) > 2 else None
                parts.append({"part": fields[0], "status": fields[1], "seconds": seconds})
    return parts


def summarize(rows, parts, targets=tg.TARGETS):
    """Every row with its target and status; a failed part that wrote no rows gets one row
    of its own, so the table names it. Rows keep the order the parts ran in."""
    out = []
    order = [p["part"] for p in parts]
    for name in order + sorted({r["part"] for r in rows} - set(order)):
        mine = [r for r in rows if r["part"] == name]
        failed = any(p["part"] == name and p["status"] != "ok" for p in parts)
        for r in mine:
            t = tg.target_for(name, r["row"], targets)
            out.append(dict(r, target=tg.describe(t), status=tg.check(t, r)))
        if failed and not mine:
            out.append({"part": name, "row": "(the part failed)", "smolvm": None,
                        "qemu": None, "ratio": None, "against": "", "target": "-",
                        "status": "failed"})
    return out


def cell(v):
    if v is None:
        return "failed"
    return f"{v:.0f}" if abs(v) >= 1000 else f"{v:.3g}" if abs(v) < 1 else f"{v:.2f}"


def table(summary):
    """The summary as markdown lines."""
    lines = ["| part | row | smolvm | QEMU | ratio | target | status |",
             "|---|---|---|---|---|---|---|"]
    for r in summary:
        lines.append(f"| {r['part']} | {r['row']} | {cell(r['smolvm'])} | {cell(r['qemu'])} | "
                     f"{cell(r['ratio'])} | {r['target']} | {r['status']} |")
    counts = {s: sum(r["status"] == s for r in summary) for s in ("met", "missed", "failed")}
    lines.append("")
    lines.append(f"targets: {counts['met']} met, {counts['missed']} missed, "
                 f"{counts['failed']} failed")
    return lines


def host_load():
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    except OSError:
        return ""


def main(argv):
    if len(argv) not in (3, 4):
        raise SystemExit(__doc__)
    rows, parts = read_rows(argv[1]), read_parts(argv[2])
    out_dir = pathlib.Path(argv[3]) if len(argv) > 3 else HERE / "results"
    summary = summarize(rows, parts)
    now = datetime.datetime.now(datetime.timezone.utc)
    load = host_load()
    print("\n## Summary\n")
    print("\n".join(table(summary)))
    print(f"host load at the end: {load}")
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / (now.strftime("%Y-%m-%dT%H%M%SZ") + ".json")
    result = {"date": now.isoformat(timespec="seconds"), "host_load": load,
              "host_load_start": os.environ.get("BENCH_LOAD_START", ""),
              "bench_runs": os.environ.get("BENCH_RUNS", ""), "parts": parts, "rows": summary}
    path.write_text(json.dumps(result, indent=1) + "\n")
    print(f"results: {path}")
    return 1 if any(p["status"] != "ok" for p in parts) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
