"""virtio-fs: host directories shared with -share, mounted by Debian's virtiofs module.

Each boot runs many checks: the guest prints "OK name" or "FAIL name: why" per check plus
NAME=value markers, and the host then compares what it finds in the shared directory. Things
busybox cannot do (fallocate modes, SEEK_DATA/SEEK_HOLE, locks, mmap, xattrs, a fast data
stream) come from tests/guest/tools/fstool.c, built into build/guest-tools/ by make.
"""

import calendar
import fcntl
import hashlib
import os
import pathlib
import re
import shutil
import subprocess
import tempfile

import pytest

import vmtest
from vmtest import check_output, marker_value

FSTOOL = vmtest.REPO / "build" / "guest-tools" / "fstool"
BIG_MB = 256


def fstool():
    if not FSTOOL.is_file():
        pytest.fail(f"no {FSTOOL}: run make guest-tools", pytrace=False)
    return FSTOOL


def guest_files():
    return {"bin/fstool": (fstool().read_bytes(), 0o755)}


# Shell helpers every guest script starts with.
PRELUDE = r"""
ok() { echo "OK $1"; }
bad() { echo "FAIL $1: $2"; }
expect() { if [ "$2" = "$3" ]; then ok "$1"; else bad "$1" "expected [$2] got [$3]"; fi; }
# must_fail NAME CMD...: the command fails and says "Read-only file system"
must_fail() {
	n=$1; shift
	out=$("$@" 2>&1) && { bad "$n" "succeeded: $out"; return; }
	case $out in *"Read-only file system"*) ok "$n" ;; *) bad "$n" "$out" ;; esac
}
mount_share() { mkdir -p "$2" && mount -t virtiofs "$1" "$2" || bad "mount-$1" "mount failed"; }
"""


def assert_checks(result, *names):
    """No FAIL line, and an OK line for every name given."""
    fails = re.findall(r"^FAIL .*$", result.stdout, re.M)
    assert not fails, "\n".join(fails) + "\n" + result.describe()
    oks = set(re.findall(r"^OK (\S+)", result.stdout, re.M))
    missing = [n for n in names if n not in oks]
    assert not missing, f"no OK for {missing}\n{result.describe()}"


def supports_user_xattr(path):
    probe = pathlib.Path(path) / ".xattr-probe"
    probe.write_text("")
    try:
        os.setxattr(probe, "user.probe", b"1")
        return True
    except OSError:
        return False
    finally:
        probe.unlink()


def mount_ext4(tmp_path):
    """A loop-mounted ext4 image, or None where there is no ext4 (the nested machine's kernel
    has no ext4 module loaded) or no root."""
    if os.geteuid() != 0:
        return None
    image, mnt = tmp_path / "ext4.img", tmp_path / "ext4"
    mnt.mkdir()
    subprocess.run(["truncate", "-s", "1G", str(image)], check=True)
    subprocess.run(["mkfs.ext4", "-q", "-F", "-O", "^has_journal", str(image)], check=True)
    r = subprocess.run(["mount", "-o", "loop", str(image), str(mnt)], capture_output=True)
    return mnt if r.returncode == 0 else None


@pytest.fixture
def share_dir(tmp_path):
    """A directory for the share on a file system with user xattrs: tmp_path where it has them
    (tmpfs since Linux 6.6), else a loop-mounted ext4 image (root), else, in the nested machine
    whose /tmp is a 6.1 tmpfs without ext4, a directory under build/ (the repository's 9p share,
    which passes user xattrs through)."""
    if supports_user_xattr(tmp_path):
        d = tmp_path / "share"
        d.mkdir()
        yield d
        return
    mnt = mount_ext4(tmp_path)
    if mnt:
        try:
            d = mnt / "share"
            d.mkdir()
            yield d
        finally:
            subprocess.run(["umount", "-l", str(mnt)], check=False)
        return
    base = vmtest.REPO / "build" / "test-fs-shares"
    base.mkdir(parents=True, exist_ok=True)
    if not supports_user_xattr(base):
        pytest.fail(f"no file system with user xattrs for the share: not {tmp_path}, no ext4 "
                    f"image, not {base}", pytrace=False)
    d = pathlib.Path(tempfile.mkdtemp(dir=base))
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


OPS_SCRIPT = PRELUDE + r"""
mount_share ops /mnt
mount_share xattr /x
cd /mnt || exit 1

# Reading, creating, writing, appending, truncating.
expect read-host "from the host" "$(cat host.txt)"
echo "hello guest" > new.txt
expect create "hello guest" "$(cat new.txt)"
echo line2 >> new.txt
expect append "$(printf 'hello guest\nline2')" "$(cat new.txt)"
printf HELLO | dd of=new.txt conv=notrunc 2>/dev/null
expect write-middle "HELLO guest" "$(head -n 1 new.txt)"
truncate -s 5 new.txt
expect truncate-shrink 5 "$(stat -c %s new.txt)"
truncate -s 10000 new.txt
expect truncate-grow 10000 "$(stat -c %s new.txt)"
expect truncate-zeros HELLO "$(tr -d '\000' < new.txt)"
echo short > trunc.txt; echo longer-content > trunc.txt
expect open-trunc longer-content "$(cat trunc.txt)"
# Concurrent O_APPEND writers: every line lands, none overwrites another.
(i=0; while [ $i -lt 100 ]; do echo aaaa >> app.txt; i=$((i+1)); done) &
(i=0; while [ $i -lt 100 ]; do echo bbbb >> app.txt; i=$((i+1)); done) &
wait
expect o-append-lines 200 "$(wc -l < app.txt)"
expect o-append-bytes 1000 "$(stat -c %s app.txt)"

# Renames: plain, over an existing file, across directories, of a directory.
mkdir d1 d2
echo a > d1/a; echo b > d1/b
mv d1/a d1/a2
expect rename "a" "$(cat d1/a2)"
[ ! -e d1/a ] && ok rename-old-gone || bad rename-old-gone "d1/a is still there"
mv d1/a2 d1/b
expect rename-over "a" "$(cat d1/b)"
expect rename-over-count 1 "$(ls d1 | wc -l)"
mv d1/b d2/moved
expect rename-across "a" "$(cat d2/moved)"
mv d2 d1/d2
expect rename-dir "a" "$(cat d1/d2/moved)"

# Hard and symbolic links.
echo linked > orig; ln orig hard
expect link-nlink 2 "$(stat -c %h orig)"
expect link-same-inode "$(stat -c %i orig)" "$(stat -c %i hard)"
echo more >> hard
expect link-shared-data "$(printf 'linked\nmore')" "$(cat orig)"
rm orig
expect link-after-unlink 1 "$(stat -c %h hard)"
ln -s d1/d2/moved sym
expect symlink-target d1/d2/moved "$(readlink sym)"
expect symlink-follow a "$(cat sym)"
ln -s /nowhere/at/all dangling
expect symlink-dangling /nowhere/at/all "$(readlink dangling)"
expect symlink-type "symbolic link" "$(stat -c %F dangling)"

# Directories.
mkdir -p x/y/z
rmdir x/y/z
[ -d x/y ] && [ ! -e x/y/z ] && ok rmdir || bad rmdir "x/y/z still there"
out=$(rmdir x 2>&1) && bad rmdir-not-empty "removed" || ok rmdir-not-empty
case $out in *"not empty"*) ok rmdir-enotempty ;; *) bad rmdir-enotempty "$out" ;; esac
expect readdir-host-count 3000 "$(ls bigdir | wc -l)"
echo "READDIR-MD5=$(ls bigdir | md5sum | cut -d' ' -f1)"
expect readdirplus-count 3001 "$(ls -l bigdir | wc -l)"
expect find-count 3000 "$(find bigdir -type f | wc -l)"
mkdir gdir
i=0; while [ $i -lt 1500 ]; do : > gdir/g$i; i=$((i+1)); done
expect readdir-guest-count 1500 "$(ls gdir | wc -l)"

# Attributes.
chmod 0751 new.txt
expect chmod 751 "$(stat -c %a new.txt)"
chown 1234:5678 new.txt
expect chown 1234:5678 "$(stat -c %u:%g new.txt)"
touch -d "2001-02-03 04:05:06" trunc.txt
expect utimes 981173106 "$(stat -c %Y trunc.txt)"
echo "STATFS=$(stat -f -c '%b %S %c' .)"

# fsync and fdatasync.
fstool fsync synced.txt && fstool fsync synced.txt data && ok fsync || bad fsync "failed"
expect fsync-data 2 "$(grep -c synced synced.txt)"

# fallocate, SEEK_DATA and SEEK_HOLE.
fstool falloc fa 0 1048576 && expect falloc-size 1048576 "$(stat -c %s fa)"
fstool falloc fa 1048576 1048576 keep && expect falloc-keep-size 1048576 "$(stat -c %s fa)"
fstool pattern 3 4 > sparse
fstool falloc sparse 1048576 1048576 punch && ok falloc-punch
expect punch-size 4194304 "$(stat -c %s sparse)"
expect punch-zeros 0 "$(dd if=sparse bs=1M skip=1 count=1 2>/dev/null | tr -d '\000' | wc -c)"
expect seek-data-after-punch 2097152 "$(fstool seek sparse 1048576 data)"
expect seek-hole-punched 1048576 "$(fstool seek sparse 0 hole)"
# ZERO_RANGE where the host file system has it (tmpfs has not: the host's error comes back).
if out=$(fstool falloc sparse 0 4096 zero 2>&1); then
	expect falloc-zero 0 "$(head -c 4096 sparse | tr -d '\000' | wc -c)"
else
	case $out in *"not supported"*) echo "ZERO-RANGE=unsupported" ;; *) bad falloc-zero "$out" ;; esac
fi
fstool falloc fa 0 4096 && ok falloc-after-unsupported-mode
echo "HOST-SPARSE-DATA=$(fstool seek hostsparse 0 data)"
echo "HOST-SPARSE-HOLE=$(fstool seek hostsparse 4194304 hole)"
out=$(fstool seek hostsparse 8388608 data 2>&1)
case $out in *"No such device or address"*) ok seek-data-past-end ;; *) bad seek-data-past-end "$out" ;; esac

# Extended attributes, on the second share (a file system that has user xattrs).
echo x > /x/new.txt
fstool setxattr /x/new.txt user.color blue && ok setxattr
expect getxattr blue "$(fstool getxattr /x/new.txt user.color)"
fstool setxattr /x/new.txt user.keep yes
expect listxattr "$(printf 'user.color\nuser.keep')" "$(fstool listxattr /x/new.txt | sort)"
out=$(fstool setxattr /x/new.txt user.color red create 2>&1) && bad xattr-create-exists "$out" || ok xattr-create-exists
fstool setxattr /x/new.txt user.color red replace
expect xattr-replace red "$(fstool getxattr /x/new.txt user.color)"
fstool rmxattr /x/new.txt user.color
out=$(fstool getxattr /x/new.txt user.color 2>&1)
case $out in *"No data available"*) ok rmxattr ;; *) bad rmxattr "$out" ;; esac
out=$(fstool setxattr /x/new.txt trusted.x y 2>&1)
case $out in *"Operation not permitted"*) ok xattr-trusted-refused ;; *) bad xattr-trusted-refused "$out" ;; esac
expect getxattr-host-set hostvalue "$(fstool getxattr /x/host.txt user.fromhost)"
mkdir /x/xd && fstool setxattr /x/xd user.dir d && expect xattr-dir d "$(fstool getxattr /x/xd user.dir)"

# Locks: between guest processes, and against locks a host process holds.
echo data > lockme
out=$(fstool flock lockme) && ok flock || bad flock "$out"
out=$(fstool posix-lock lockme) && ok posix-lock || bad posix-lock "$out"
echo "$out" | grep waited
out=$(fstool flock-try hostflock ex 2>&1) && bad host-flock-conflict "$out" || ok host-flock-conflict
case $out in *"temporarily unavailable"*) ok host-flock-eagain ;; *) bad host-flock-eagain "$out" ;; esac
out=$(fstool posix-try hostposix 2>&1) && bad host-posix-conflict "$out" || ok host-posix-conflict
out=$(fstool flock-try hostfree ex 2>&1) && ok flock-free || bad flock-free "$out"

# mmap of a shared file: stores reach the file, the host's bytes reach the map.
dd if=/dev/zero bs=4096 count=2 2>/dev/null | tr '\000' x > mapped
fstool mmap-write mapped 100 MAPPED && ok mmap-write
expect mmap-read-back MAPPED "$(dd if=mapped bs=1 skip=100 count=6 2>/dev/null)"
sync; echo 3 > /proc/sys/vm/drop_caches
expect mmap-after-drop MAPPED "$(dd if=mapped bs=1 skip=100 count=6 2>/dev/null)"
expect mmap-host-file "from the host" "$(fstool mmap-read host.txt 0 13)"

cd /
umount /mnt && umount /x && ok umount
echo OPS-DONE
"""


def test_file_operations(guest, tmp_path, share_dir):
    d = tmp_path / "ops"
    d.mkdir()
    x = share_dir
    (d / "host.txt").write_text("from the host\n")
    (x / "host.txt").write_text("from the host\n")
    os.setxattr(x / "host.txt", "user.fromhost", b"hostvalue")
    big = d / "bigdir"
    big.mkdir()
    for i in range(3000):
        (big / f"entry-{i:05}-{'x' * (i % 40)}").write_bytes(b"")
    with open(d / "hostsparse", "wb") as f:
        f.truncate(8 << 20)
        f.seek(4 << 20)
        f.write(b"y" * 4096)
    for name in ("hostflock", "hostposix", "hostfree"):
        (d / name).write_text("locked by the host\n")
    # Held by this process for the whole boot; the guest must see them as taken.
    flock_fd = os.open(d / "hostflock", os.O_RDWR)
    fcntl.flock(flock_fd, fcntl.LOCK_EX)
    posix_fd = os.open(d / "hostposix", os.O_RDWR)
    fcntl.lockf(posix_fd, fcntl.LOCK_EX)
    try:
        r = guest.run(OPS_SCRIPT, files=guest_files(), timeout=300,
                      extra=["-share", "ops", d, "-share", "xattr", x])
    finally:
        os.close(flock_fd)
        os.close(posix_fd)
    check_output(r, "OPS-DONE")
    assert_checks(r, "read-host", "create", "append", "truncate-grow", "o-append-lines",
                  "rename-over", "rename-across", "rename-dir", "link-same-inode",
                  "symlink-follow", "rmdir", "rmdir-enotempty", "readdir-host-count",
                  "readdirplus-count", "readdir-guest-count", "chmod", "utimes", "fsync",
                  "falloc-keep-size", "falloc-punch", "falloc-after-unsupported-mode", "seek-data-after-punch",
                  "seek-hole-punched", "seek-data-past-end", "setxattr", "listxattr",
                  "xattr-create-exists", "rmxattr", "xattr-trusted-refused",
                  "getxattr-host-set", "xattr-dir", "flock", "posix-lock", "host-flock-conflict",
                  "host-flock-eagain", "host-posix-conflict", "flock-free", "mmap-write",
                  "mmap-after-drop", "mmap-host-file", "umount")
    if os.geteuid() == 0:
        assert_checks(r, "chown")

    # The host sees what the guest did.
    names = "\n".join(sorted(p.name for p in big.iterdir())) + "\n"
    assert marker_value(r, "READDIR-MD5") == hashlib.md5(names.encode()).hexdigest()
    new = d / "new.txt"
    st = new.stat()
    assert st.st_size == 10000 and new.read_bytes()[:5] == b"HELLO"
    assert st.st_mode & 0o7777 == 0o751
    if os.geteuid() == 0:
        assert (st.st_uid, st.st_gid) == (1234, 5678)
    assert os.getxattr(x / "new.txt", "user.keep") == b"yes"
    assert "user.color" not in os.listxattr(x / "new.txt")
    assert os.getxattr(x / "xd", "user.dir") == b"d"
    assert (d / "trunc.txt").stat().st_mtime == calendar.timegm((2001, 2, 3, 4, 5, 6))
    # Files the guest makes belong to the user running smolvm (or, as root, to the guest's).
    assert (d / "trunc.txt").stat().st_uid == os.geteuid()
    assert (d / "app.txt").read_text().count("aaaa\n") == 100
    assert (d / "d1" / "d2" / "moved").read_text() == "a\n"
    assert not (d / "d2").exists() and not (d / "orig").exists()
    assert (d / "hard").read_text() == "linked\nmore\n"
    assert os.readlink(d / "sym") == "d1/d2/moved"
    assert os.readlink(d / "dangling") == "/nowhere/at/all"
    assert sorted(os.listdir(d / "x")) == ["y"]
    assert len(os.listdir(d / "gdir")) == 1500
    assert (d / "synced.txt").read_text() == "synced\nsynced\n"
    assert (d / "fa").stat().st_size == 1 << 20
    assert (d / "fa").stat().st_blocks * 512 >= 2 << 20  # the KEEP_SIZE part is allocated
    sparse = (d / "sparse").read_bytes()
    assert sparse[1 << 20:2 << 20] == bytes(1 << 20)
    if "ZERO-RANGE=unsupported" not in r.stdout:
        assert sparse[:4096] == bytes(4096)
    assert sparse[2 << 20:(2 << 20) + 8] != bytes(8)
    assert (d / "mapped").read_bytes()[100:106] == b"MAPPED"
    # statfs: the guest's total size is the host file system's.
    blocks, bsize, files = map(int, marker_value(r, "STATFS").split())
    vfs = os.statvfs(d)
    assert blocks * bsize == vfs.f_blocks * vfs.f_frsize and files == vfs.f_files
    # SEEK_DATA/SEEK_HOLE give the host's answers for a file the host made sparse.
    fd = os.open(d / "hostsparse", os.O_RDONLY)
    try:
        assert int(marker_value(r, "HOST-SPARSE-DATA")) == os.lseek(fd, 0, os.SEEK_DATA)
        assert int(marker_value(r, "HOST-SPARSE-HOLE")) == os.lseek(fd, 4 << 20, os.SEEK_HOLE)
    finally:
        os.close(fd)


BIG_SCRIPT = PRELUDE + r"""
mount_share big /mnt
fstool pattern 42 {mb} > /mnt/guestbig && ok write-big
echo "GUEST-WROTE=$(stat -c %s /mnt/guestbig)"
sync; echo 3 > /proc/sys/vm/drop_caches
t0=$(cut -d' ' -f1 /proc/uptime)
echo "GUESTBIG-MD5=$(md5sum < /mnt/guestbig | cut -d' ' -f1)"
echo "HOSTBIG-MD5=$(md5sum < /mnt/hostbig | cut -d' ' -f1)"
echo "GUEST-HASH-SECONDS=$(echo "$t0 $(cut -d' ' -f1 /proc/uptime)" | awk '{ print $2 - $1 }')"
umount /mnt && ok umount
""".replace("{mb}", str(BIG_MB))


@pytest.mark.timeout(900)
def test_big_file_both_ways(guest, tmp_path):
    """256 MiB written in the guest are the expected bytes on the host (sha256 of the file
    against that of the stream), and 256 MiB written on the host read back in the guest with
    the same md5 (busybox's sha256 takes minutes in the nested machine)."""
    d = tmp_path / "share"
    d.mkdir()
    data = os.urandom(BIG_MB << 20)
    (d / "hostbig").write_bytes(data)
    host_md5 = hashlib.md5(data).hexdigest()
    del data
    r = guest.run(BIG_SCRIPT, files=guest_files(), extra=["-share", "big", d], timeout=800)
    assert_checks(r, "write-big", "umount")
    assert marker_value(r, "HOSTBIG-MD5") == host_md5, r.describe()
    # fstool runs on the host too: the same stream, hashed here.
    expect = hashlib.sha256()
    md5 = hashlib.md5()
    with subprocess.Popen([str(fstool()), "pattern", "42", str(BIG_MB)],
                          stdout=subprocess.PIPE) as p:
        while chunk := p.stdout.read(1 << 20):
            expect.update(chunk)
            md5.update(chunk)
    got = hashlib.sha256()
    with open(d / "guestbig", "rb") as f:
        while chunk := f.read(1 << 20):
            got.update(chunk)
    assert (d / "guestbig").stat().st_size == BIG_MB << 20
    assert got.hexdigest() == expect.hexdigest(), "the guest's 256 MiB differ on the host"
    assert marker_value(r, "GUESTBIG-MD5") == md5.hexdigest(), "read back differs in the guest"


SHARES_SCRIPT = PRELUDE + r"""
mount_share rw /rw
mount_share ro /ro
mount_share ro2 /ro2
expect rw-content "rw share" "$(cat /rw/which)"
expect ro-content "ro share" "$(cat /ro/which)"
expect ro2-content "ro2 share" "$(cat /ro2/which)"
echo written > /rw/new && expect rw-write written "$(cat /rw/new)"
[ ! -e /ro/new ] && ok shares-apart || bad shares-apart "/ro/new exists"
expect ro-readdir "dir which" "$(ls /ro | tr '\n' ' ' | sed 's/ $//')"
for m in /ro /ro2; do
	must_fail "ro-create$m" sh -c "echo x > $m/new"
	must_fail "ro-write$m" sh -c "echo x >> $m/which"
	must_fail "ro-trunc$m" sh -c "echo x > $m/which"
	must_fail "ro-truncate$m" truncate -s 0 $m/which
	must_fail "ro-touch$m" touch $m/which
	must_fail "ro-chmod$m" chmod 600 $m/which
	must_fail "ro-chown$m" chown 1:1 $m/which
	must_fail "ro-rm$m" rm $m/which
	must_fail "ro-mkdir$m" mkdir $m/newdir
	must_fail "ro-rmdir$m" rmdir $m/dir
	must_fail "ro-mv$m" mv $m/which $m/moved
	must_fail "ro-symlink$m" ln -s which $m/sym
	must_fail "ro-link$m" ln $m/which $m/hard
	must_fail "ro-mknod$m" mkfifo $m/fifo
	must_fail "ro-setxattr$m" fstool setxattr $m/which user.a b
	must_fail "ro-falloc$m" fstool falloc $m/which 0 100
done
expect ro-unchanged "ro share" "$(cat /ro/which)"
umount /rw && umount /ro && umount /ro2 && ok umount
"""


def test_two_shares_and_read_only(guest, tmp_path):
    dirs = {}
    for tag in ("rw", "ro", "ro2"):
        d = dirs[tag] = tmp_path / tag
        d.mkdir()
        (d / "which").write_text(f"{tag} share\n")
        (d / "dir").mkdir()
    before = {t: sorted(os.listdir(d)) for t, d in dirs.items()}
    # The three spellings of -share.
    extra = ["-share", "rw", dirs["rw"],
             "-share", f"tag=ro,path={dirs['ro']},readonly=on",
             "-share", "ro2", f"{dirs['ro2']},readonly"]
    r = guest.run(SHARES_SCRIPT, files=guest_files(), extra=extra, timeout=300)
    names = [f"ro-{op}{m}" for m in ("/ro", "/ro2")
             for op in ("create", "write", "trunc", "truncate", "touch", "chmod", "chown", "rm",
                        "mkdir", "rmdir", "mv", "symlink", "link", "mknod", "setxattr",
                        "falloc")]
    assert_checks(r, "rw-content", "ro-content", "ro2-content", "rw-write", "shares-apart",
                  "ro-readdir", "ro-unchanged", "umount", *names)
    assert (dirs["rw"] / "new").read_text() == "written\n"
    for tag in ("ro", "ro2"):
        assert sorted(os.listdir(dirs[tag])) == before[tag]
        assert (dirs[tag] / "which").read_text() == f"{tag} share\n"


HOST_CHANGES_SCRIPT = PRELUDE + r"""
mount_share live /mnt
echo "V1=$(cat /mnt/f)"
echo "LOG1=$(tail -n 1 /mnt/log)"
ls /mnt > /dev/null
cat /mnt/deleted > /dev/null
echo READY-FOR-HOST
read line
# The cache policy trusts names and attributes for 1 s: wait up to 5 s for all four changes.
i=0
while [ $i -lt 50 ]; do
	[ "$(cat /mnt/f)" = "version 2" ] && [ -e /mnt/created ] && [ ! -e /mnt/deleted ] &&
		[ "$(tail -n 1 /mnt/log)" = "second" ] && break
	usleep 100000
	i=$((i+1))
done
echo "WAITED=$i"
echo "V2=$(cat /mnt/f)"
echo "CREATED=$(cat /mnt/created 2>&1)"
[ -e /mnt/deleted ] && echo DELETED=no || echo DELETED=yes
echo "LOG2=$(tail -n 1 /mnt/log)"
echo "SUB=$(cat /mnt/sub/inner 2>&1)"
umount /mnt
echo HOST-CHANGES-DONE
"""


def test_host_changes_seen_by_the_guest(guest, tmp_path):
    d = tmp_path / "live"
    d.mkdir()
    (d / "f").write_text("version 1\n")
    (d / "log").write_text("first\n")
    (d / "deleted").write_text("soon gone\n")
    vm = guest.start(HOST_CHANGES_SCRIPT, files=guest_files(), extra=["-share", "live", d],
                     timeout=180)
    vm.expect("READY-FOR-HOST")
    (d / "f").write_text("version 2\n")
    (d / "created").write_text("made on the host\n")
    (d / "deleted").unlink()
    with open(d / "log", "a") as f:
        f.write("second\n")
    (d / "sub").mkdir()
    (d / "sub" / "inner").write_text("inner\n")
    vm.sendline("go")
    vm.expect("HOST-CHANGES-DONE")
    assert vm.wait() == 0, vm.log
    out = vm.log
    values = dict(re.findall(r"^([A-Z0-9]+)=(.*?)\r?$", out, re.M))
    assert values.get("V1") == "version 1", out
    assert values.get("V2") == "version 2", out
    assert values.get("CREATED") == "made on the host", out
    assert values.get("DELETED") == "yes", out
    assert values.get("LOG2") == "second", out
    assert values.get("SUB") == "inner", out
    assert int(values["WAITED"]) < 50, out


@pytest.mark.parametrize("case", ["file", "missing", "empty-tag", "duplicate-tag", "long-tag",
                                  "bad-readonly", "bad-cache", "empty-cache"])
def test_bad_share_is_refused(tmp_path, case):
    f = tmp_path / "plain"
    f.write_text("")
    long_tag = "t" * 37  # the config space holds 36 bytes
    args, names = {
        "file": (["-share", "t", f], [f, "not a directory"]),
        "missing": (["-share", "t", tmp_path / "nope"], [tmp_path / "nope", "No such file"]),
        "empty-tag": (["-share", "", tmp_path], ["tag"]),
        "duplicate-tag": (["-share", "t", tmp_path, "-share", "t", tmp_path], ["'t'", "twice"]),
        "long-tag": (["-share", long_tag, tmp_path], [long_tag, "36 bytes"]),
        "bad-readonly": (["-share", f"tag=t,path={tmp_path},readonly=maybe"],
                         ["readonly=maybe"]),
        "bad-cache": (["-share", "t", f"{tmp_path},cache=sometimes"],
                      ["cache=sometimes", "auto, always or never"]),
        "empty-cache": (["-share", f"tag=t,path={tmp_path},cache="],
                        ["cache=", "auto, always or never"]),
    }[case]
    r = vmtest.run_smolvm(["-kernel", vmtest.guest_file("bzImage"), *args], timeout=20)
    vmtest.check_refused(r, 2, *names, hint=True)
