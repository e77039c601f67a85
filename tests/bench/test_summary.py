"""bench/summary.py and bench/targets.py on canned rows: targets, statuses, failed parts,
the table and the JSON file."""

import json

import summary
import targets as tg

ROWS = [
    {"part": "boot", "row": "boot to poweroff (s)", "smolvm": 3.1, "qemu": 5.0, "ratio": 0.62,
     "against": "faster QEMU"},
    {"part": "boot", "row": "own memory (MiB)", "smolvm": 3.4, "qemu": 20.0, "ratio": 0.17,
     "against": "QEMU pc"},
    {"part": "fs", "row": "read 256 MiB (dd bs=1M, cold) (MB/s)", "smolvm": 300.0,
     "qemu": 250.0, "ratio": 1.2, "against": "QEMU+virtiofsd"},
    {"part": "fs", "row": "cache=always: find + stat, 10,000 files (s)", "smolvm": 1.0,
     "qemu": 1.2, "ratio": 1.2, "against": "QEMU+virtiofsd"},
    {"part": "blk", "row": "seq read 1 MiB, O_DIRECT (MiB/s)", "smolvm": 900.0, "qemu": 800.0,
     "ratio": 1.125, "against": "QEMU"},
    {"part": "net", "row": "user: host to guest TCP (MiB/s)", "smolvm": None, "qemu": 90.0,
     "ratio": None, "against": "QEMU"},
]
PARTS = [{"part": "boot", "status": "ok", "seconds": 100.0},
         {"part": "blk", "status": "ok", "seconds": 50.0},
         {"part": "fs", "status": "ok", "seconds": 80.0},
         {"part": "net", "status": "ok", "seconds": 70.0},
         {"part": "cd", "status": "failed", "seconds": 3.0}]


def by_row(result):
    return {r["row"]: r for r in result}


def test_targets_mark_rows_met_missed_or_failed():
    s = by_row(summary.summarize(ROWS, PARTS))
    assert s["boot to poweroff (s)"]["status"] == "met"  # 0.62 <= 0.7
    assert s["boot to poweroff (s)"]["target"] == "ratio <= 0.7"
    assert s["own memory (MiB)"]["status"] == "missed"  # smolvm's 3.4 MiB > 3
    assert s["own memory (MiB)"]["target"] == "smolvm <= 3"
    assert s["read 256 MiB (dd bs=1M, cold) (MB/s)"]["status"] == "met"  # 1.2 >= 1.0
    # The narrower cache=always metadata target comes before fs's catch-all.
    assert s["cache=always: find + stat, 10,000 files (s)"]["target"] == "ratio >= 1.3"
    assert s["cache=always: find + stat, 10,000 files (s)"]["status"] == "missed"
    assert s["seq read 1 MiB, O_DIRECT (MiB/s)"]["status"] == "-"  # blk has no target
    assert s["user: host to guest TCP (MiB/s)"]["status"] == "failed"  # no figure


def test_a_failed_part_without_rows_gets_a_row():
    result = summary.summarize(ROWS, PARTS)
    failed = [r for r in result if r["part"] == "cd"]
    assert len(failed) == 1 and failed[0]["status"] == "failed"
    # Rows follow the order the parts ran in.
    assert [r["part"] for r in result] == ["boot", "boot", "blk", "fs", "fs", "net", "cd"]


def test_limits_are_inclusive():
    t = tg.Target("x", "*", "ratio", "<=", 0.7, "test")
    assert tg.check(t, {"ratio": 0.7}) == "met"
    assert tg.check(t, {"ratio": 0.7001}) == "missed"
    t = tg.Target("x", "*", "ratio", ">=", 1.0, "test")
    assert tg.check(t, {"ratio": 1.0}) == "met"
    assert tg.check(t, {"ratio": 0.99}) == "missed"
    assert tg.check(None, {"ratio": 5}) == "-"


def test_table_has_every_row_and_the_counts():
    lines = summary.table(summary.summarize(ROWS, PARTS))
    body = [line for line in lines if line.startswith("| ") and "---" not in line][1:]
    assert len(body) == 7
    assert "| boot | boot to poweroff (s) | 3.10 | 5.00 | 0.62 | ratio <= 0.7 | met |" in lines
    assert "| net | user: host to guest TCP (MiB/s) | failed | 90.00 | failed |" in "\n".join(lines)
    assert lines[-1] == "targets: 2 met, 2 missed, 2 failed"


def test_main_writes_json_and_fails_on_a_failed_part(tmp_path, capsys):
    rows = tmp_path / "rows.jsonl"
    rows.write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    parts = tmp_path / "parts"
    parts.write_text("boot ok 100\nblk ok 50\nfs ok 80\nnet ok 70\ncd failed 3\n")
    out = tmp_path / "results"
    assert summary.main(["summary.py", str(rows), str(parts), str(out)]) == 1
    printed = capsys.readouterr().out
    assert "## Summary" in printed and "targets: 2 met, 2 missed, 2 failed" in printed
    files = list(out.glob("*.json"))
    assert len(files) == 1
    data = json.loads(files[0].read_text())
    assert [p["status"] for p in data["parts"]] == ["ok", "ok", "ok", "ok", "failed"]
    assert len(data["rows"]) == 7
    assert by_row(data["rows"])["own memory (MiB)"]["status"] == "missed"
    assert data["host_load"]  # uptime's line, beside every figure


def test_main_exits_zero_when_every_part_ran(tmp_path, capsys):
    rows = tmp_path / "rows.jsonl"
    rows.write_text(json.dumps(ROWS[0]) + "\n")
    parts = tmp_path / "parts"
    parts.write_text("boot ok 100\n")
    assert summary.main(["summary.py", str(rows), str(parts), str(tmp_path / "r")]) == 0
