"""bench/compare.py: two runs' JSON, row by row."""

import json

import compare

OLD = {"date": "2026-12-01T10:00:00+00:00", "host_load": "load average: 1.00",
       "rows": [
           {"part": "boot", "row": "boot to poweroff (s)", "smolvm": 4.0, "qemu": 5.0,
            "ratio": 0.8, "status": "missed"},
           {"part": "boot", "row": "own memory (MiB)", "smolvm": 3.0, "qemu": 20.0,
            "ratio": 0.15, "status": "met"},
           {"part": "net", "row": "gone row (ms)", "smolvm": 1.0, "qemu": 1.0, "ratio": 1.0,
            "status": "met"},
       ]}
NEW = {"date": "2026-12-02T10:00:00+00:00", "host_load": "load average: 3.00",
       "rows": [
           {"part": "boot", "row": "own memory (MiB)", "smolvm": None, "qemu": 20.0,
            "ratio": None, "status": "failed"},
           {"part": "boot", "row": "boot to poweroff (s)", "smolvm": 3.0, "qemu": 5.0,
            "ratio": 0.6, "status": "met"},
           {"part": "fs", "row": "new row (s)", "smolvm": 2.0, "qemu": 2.0, "ratio": 1.0,
            "status": "met"},
       ]}


def rows(lines):
    return {tuple(c.strip() for c in line.strip("|").split("|"))[1]:
            [c.strip() for c in line.strip("|").split("|")]
            for line in lines if line.startswith("| ") and "---" not in line}


def test_rows_are_matched_by_part_and_name():
    lines = compare.compare(OLD, NEW)
    r = rows(lines)
    assert r["boot to poweroff (s)"] == ["boot", "boot to poweroff (s)", "4.00", "3.00",
                                         "-25.0%", "0.8", "0.6", "missed", "met"]
    assert r["own memory (MiB)"][2:5] == ["3.00", "failed", "-"]
    assert r["gone row (ms)"][3] == "-" and r["gone row (ms)"][8] == "-"
    assert r["new row (s)"][2] == "-" and r["new row (s)"][8] == "met"
    # Old's order, then the rows only the new run has; each run's host load on top.
    names = [line.split("|")[2].strip() for line in lines if line.startswith("| ")][1:]
    assert names == ["boot to poweroff (s)", "own memory (MiB)", "gone row (ms)",
                     "new row (s)"]
    assert "load average: 1.00" in lines[0] and "load average: 3.00" in lines[1]


def test_main_reads_two_files(tmp_path, capsys):
    old, new = tmp_path / "old.json", tmp_path / "new.json"
    old.write_text(json.dumps(OLD))
    new.write_text(json.dumps(NEW))
    assert compare.main(["compare.py", str(old), str(new)]) == 0
    assert "-25.0%" in capsys.readouterr().out


def test_main_refuses_bad_input(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    assert compare.main(["compare.py", str(bad), str(bad)]) == 2
    assert compare.main(["compare.py", str(bad)]) == 2
    assert compare.main(["compare.py", str(tmp_path / "none"), str(bad)]) == 2
