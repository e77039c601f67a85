"""virtio-fs cache modes (-share ...,cache=auto|always|never) as the guest sees them.

One boot mounts the same layout three times, one share per mode. The guest's own writes,
appends, renames, truncations and listings read back right in every mode (always keeps data
and listings in the guest's cache, which must follow the guest's own changes). Then each tree
changes behind its mount's back. never shows a change at once: it is made through a second
share of the same folder (a cache of its own: the host, as far as the first mount can tell),
and read back at once, where auto would answer from its cache for up to a second. auto shows
the host's changes within a second or so. always keeps showing what the guest had cached (the
contract of a tree only the guest changes): past auto's second, a file the host deleted still
stats, its old data still reads, and a name the guest found missing stays missing.
"""

import hashlib
import re

from test_fs import PRELUDE, guest_files

MODES = {"a": "auto", "w": "always", "n": "never"}
SECOND = "n2"  # the same folder as n, shared again

CACHE_SCRIPT = PRELUDE + r"""
dd if=/dev/urandom of=/tmp/blob bs=64k count=64 2>/dev/null
for m in a w n; do
	mount_share $m /$m
	cp /tmp/blob /$m/blob && cmp /tmp/blob /$m/blob && ok $m-copy || bad $m-copy "differs"
	echo "SUM-$m=$(md5sum < /$m/blob | cut -d' ' -f1)"
	echo one > /$m/g; echo two >> /$m/g
	expect $m-append "one two" "$(cat /$m/g | tr '\n' ' ' | sed 's/ $//')"
	mv /$m/g /$m/h
	[ ! -e /$m/g ] && expect $m-rename "one" "$(head -n 1 /$m/h)" || bad $m-rename "g stayed"
	: > /$m/h
	expect $m-truncate 0 "$(stat -c %s /$m/h)"
	echo three > /$m/h
	expect $m-rewrite three "$(cat /$m/h)"
	rm /$m/h
	[ ! -e /$m/h ] && ok $m-remove || bad $m-remove "h stayed"
	mkdir /$m/d; touch /$m/d/x
	expect $m-list1 "x" "$(ls /$m/d | tr '\n' ' ' | sed 's/ $//')"
	touch /$m/d/y; rm /$m/d/x; touch /$m/d/z
	expect $m-list2 "y z" "$(ls /$m/d | tr '\n' ' ' | sed 's/ $//')"
	# What the host will change: read, stat and look up now, so the guest has it cached.
	expect $m-before "version 1" "$(cat /$m/f)"
	[ -e /$m/gone ] && ok $m-gone-before || bad $m-gone-before "missing"
	[ ! -e /$m/later ] && ok $m-later-before || bad $m-later-before "exists"
done
# never: a change made through /n2 (a second share of the same host folder, with a cache of
# its own, the host as far as /n can tell) shows at once, where auto would still answer from
# its cache for up to a second (the size, the deleted name).
mount_share n2 /n2
cat /n2/f > /dev/null
echo "version 2, longer" > /n2/f; rm /n2/gone; echo "made on the host" > /n2/later
expect n-data "version 2, longer" "$(cat /n/f)"
expect n-size 18 "$(stat -c %s /n/f)"
[ ! -e /n/gone ] && ok n-deleted || bad n-deleted "still there"
expect n-created "made on the host" "$(cat /n/later 2>&1)"
umount /n2
echo READY-FOR-HOST
read line
# always: the guest's cache answers, whatever the host did; past auto's 1 s, so only a cache
# that lasts explains it.
sleep 2
expect w-data-kept "version 1" "$(cat /w/f)"
[ -e /w/gone ] && ok w-stat-cached || bad w-stat-cached "the deleted file is gone"
[ ! -e /w/later ] && ok w-missing-cached || bad w-missing-cached "the new file shows"
# auto: within a second or so (names and attributes for 1 s); wait up to 5 s.
i=0
while [ $i -lt 50 ]; do
	[ "$(cat /a/f)" = "version 2" ] && [ ! -e /a/gone ] && [ -e /a/later ] && break
	usleep 100000
	i=$((i+1))
done
echo "AUTO-WAITED=$i"
expect a-data "version 2" "$(cat /a/f)"
[ ! -e /a/gone ] && ok a-deleted || bad a-deleted "still there"
expect a-created "made on the host" "$(cat /a/later 2>&1)"
for m in a w n; do umount /$m; done
echo CACHE-DONE
"""


def test_cache_modes_as_the_guest_sees_them(guest, tmp_path):
    dirs = {}
    extra = []
    for tag, mode in MODES.items():
        d = tmp_path / tag
        d.mkdir()
        (d / "f").write_text("version 1\n")
        (d / "gone").write_text("soon gone\n")
        dirs[tag] = d
        extra += ["-share", tag, f"{d},cache={mode}"]
    extra += ["-share", SECOND, f"{dirs['n']},cache=never"]
    vm = guest.start(CACHE_SCRIPT, files=guest_files(), extra=extra, timeout=300)
    vm.expect("READY-FOR-HOST")
    for tag in ("a", "w"):
        d = dirs[tag]
        (d / "f").write_text("version 2\n")  # the same size: only the data tells
        (d / "gone").unlink()
        (d / "later").write_text("made on the host\n")
    vm.sendline("go")
    vm.expect("CACHE-DONE")
    assert vm.wait() == 0, vm.log
    out = vm.log
    fails = re.findall(r"^FAIL .*$", out, re.M)
    assert not fails, "\n".join(fails) + "\n" + out[-3000:]
    oks = set(re.findall(r"^OK (\S+)", out, re.M))
    want = [f"{m}-{c}" for m in MODES for c in
            ("copy", "append", "rename", "truncate", "rewrite", "remove", "list1", "list2",
             "before", "gone-before", "later-before")]
    want += ["n-data", "n-size", "n-deleted", "n-created", "w-data-kept", "w-stat-cached",
             "w-missing-cached", "a-data", "a-deleted", "a-created"]
    missing = [n for n in want if n not in oks]
    assert not missing, f"no OK for {missing}\n{out[-3000:]}"
    # What the guest wrote is on the host, byte for byte, in every mode.
    for tag, d in dirs.items():
        guest_sum = re.search(rf"^SUM-{tag}=([0-9a-f]+)", out, re.M)
        assert guest_sum, out[-3000:]
        assert hashlib.md5((d / "blob").read_bytes()).hexdigest() == guest_sum.group(1)
        assert sorted(p.name for p in (d / "d").iterdir()) == ["y", "z"]
        assert not (d / "g").exists() and not (d / "h").exists()
    assert (dirs["n"] / "f").read_text() == "version 2, longer\n"
    assert (dirs["n"] / "later").exists() and not (dirs["n"] / "gone").exists()
