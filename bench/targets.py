"""The targets `make bench`'s summary marks each row against: one line per target.

A target applies to the rows of its part whose name matches its pattern (fnmatch: * and ?);
the first that matches wins, so put narrow patterns before broad ones. `on` is what it
checks: "ratio" (the part's own ratio, as its table prints it) or "smolvm" (smolvm's own
figure); `op` is "<=" or ">="; `why` says where the target comes from.
"""

import collections

Target = collections.namedtuple("Target", "part pattern on op limit why")

TARGETS = [
    # Issue 15: boot to poweroff at most 0.7x the faster QEMU machine; own memory <= 3 MiB.
    Target("boot", "boot to poweroff*", "ratio", "<=", 0.7, "issue 15"),
    Target("boot", "own memory*", "smolvm", "<=", 3.0, "issue 15"),
    # Issue 15: shares at least 1.0x virtiofsd in the same cache mode on every row, and
    # 1.3x on the metadata rows with cache=always (those rows name their mode once the
    # cache modes exist).
    Target("fs", "cache=always: find*", "ratio", ">=", 1.3, "issue 15"),
    Target("fs", "cache=always: create*", "ratio", ">=", 1.3, "issue 15"),
    Target("fs", "cache=always: delete*", "ratio", ">=", 1.3, "issue 15"),
    Target("fs", "*", "ratio", ">=", 1.0, "issue 15"),
    # The targets each part has printed since it was written.
    Target("cd", "*", "ratio", "<=", 0.8, "bench_cd"),
    Target("net", "*MiB/s*", "ratio", ">=", 1.0, "bench_net"),
    Target("net", "*", "ratio", "<=", 1.0, "bench_net"),
    Target("display", "frames/s, DRM*", "ratio", ">=", 1.0, "bench_display"),
    Target("display", "own RSS*", "ratio", "<=", 0.5, "bench_display"),
]


def target_for(part, row, targets=TARGETS):
    """The first target that applies to the row, or None."""
    import fnmatch

    for t in targets:
        if t.part == part and fnmatch.fnmatchcase(row, t.pattern):
            return t
    return None


def check(target, row):
    """"met", "missed", "failed" (no figure to check) or "-" (no target)."""
    if target is None:
        return "-"
    value = row.get(target.on)
    if value is None:
        return "failed"
    ok = value <= target.limit if target.op == "<=" else value >= target.limit
    return "met" if ok else "missed"


def describe(target):
    if target is None:
        return "-"
    what = "ratio" if target.on == "ratio" else "smolvm"
    return f"{what} {target.op} {target.limit:g}"
