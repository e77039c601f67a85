"""virtio-gpu under a real Linux driver: Debian's standard kernel (the std test guest, whose
virtio_gpu the cloud kernel lacks) with `-display none`.

What the guest sees is asserted in the guest: the driver binds, offers the device's size as
its preferred mode, and its fbdev emulation makes /dev/fb0 of that size. That the device
serves the guest's drawing is seen through the driver's own trace events (virtio_gpu_cmd_queue
and virtio_gpu_cmd_response in tracefs): each TRANSFER_TO_HOST_2D and RESOURCE_FLUSH the
drawing causes is answered OK_NODATA. The pixels reach the host: the monitor's `screendump`
shows each colour the guest drew at its place.
"""

import re
import socket
import time

import pytest

import vmtest

FBPATTERN = vmtest.REPO / "build" / "guest-tools" / "fbpattern"

# virtio 1.2, 5.7.6.7: command and response types as the trace prints them.
CMD_TRANSFER_TO_HOST_2D = 0x105
CMD_RESOURCE_FLUSH = 0x104
RESP_OK_NODATA = 0x1100

# fbcon's blinking cursor redraws the console 5 times a second, each a transfer and a flush:
# without it the device hears nothing until the test draws.
QUIET_CONSOLE = "vt.global_cursor_default=0"


def fbpattern():
    if not FBPATTERN.is_file():
        pytest.fail(f"no {FBPATTERN}: run make guest-tools", pytrace=False)
    return (FBPATTERN.read_bytes(), 0o755)


def test_linux_driver_binds_and_offers_the_device_size(std_guest):
    r = std_guest.run(r"""
dmesg | grep -E '\[drm\]|virtio_gpu' | sed 's/^/DMESG: /'
echo "MODE=$(head -n 1 /sys/class/drm/card0-Virtual-1/modes)"
echo "STATUS=$(cat /sys/class/drm/card0-Virtual-1/status)"
[ -c /dev/fb0 ] && echo FB0=char-device
echo "FB0_SIZE=$(cat /sys/class/graphics/fb0/virtual_size)"
echo "FB0_NAME=$(cat /sys/class/graphics/fb0/name)"
""", extra=["-display", "none"], mem="512M")
    vmtest.check_output(r, "Initialized virtio_gpu", "DMESG: ")
    # The driver's error lines (a response other than OK for one of its commands).
    assert not re.search(r"virtio_gpu.*(ERROR|error)|\*ERROR\*", r.stdout), r.describe()
    assert vmtest.marker_value(r, "MODE") == "800x600", r.describe()
    assert vmtest.marker_value(r, "STATUS") == "connected", r.describe()
    assert vmtest.marker_value(r, "FB0") == "char-device", r.describe()
    assert vmtest.marker_value(r, "FB0_SIZE") == "800,600", r.describe()
    assert vmtest.marker_value(r, "FB0_NAME") == "virtio_gpudrmfb", r.describe()


def test_drawing_to_fb0_is_transferred_and_flushed(std_guest):
    r = std_guest.run(r"""
t=/sys/kernel/tracing
mount -t tracefs nodev $t
echo 0 > /sys/class/graphics/fbcon/cursor_blink 2>/dev/null
echo 1 > $t/events/virtio_gpu/enable
# A quiet half second first: whatever the device hears later comes from the drawing.
sleep 0.5; echo > $t/trace; sleep 0.5
echo "QUIET=$(grep -c virtio_gpu_cmd_queue $t/trace)"
echo > $t/trace
/fbpattern
# The fbdev emulation's deferred I/O flushes the pages written through the mapping 1/20 s on.
sleep 1
grep -E 'virtio_gpu_cmd_(queue|response)' $t/trace | sed 's/^.*virtio_gpu_cmd_/TRACE: /'
""", files={"fbpattern": fbpattern()}, extra=["-display", "none"], mem="512M",
        append=QUIET_CONSOLE)
    vmtest.check_output(r, "fbpattern: 800x600 bpp=32", "fbpattern: readback ok")
    assert vmtest.marker_value(r, "QUIET") == "0", f"the device was busy before the drawing\n{r.describe()}"
    queued = [int(t, 16) for t in re.findall(r"^TRACE: queue: .*? type=0x([0-9a-f]+)", r.stdout, re.M)]
    answers = [int(t, 16) for t in re.findall(r"^TRACE: response: .*? type=0x([0-9a-f]+)", r.stdout, re.M)]
    assert CMD_TRANSFER_TO_HOST_2D in queued, f"no transfer after drawing\n{r.describe()}"
    assert CMD_RESOURCE_FLUSH in queued, f"no flush after drawing\n{r.describe()}"
    # Every command answered, and answered OK.
    assert len(answers) == len(queued), r.describe()
    assert set(answers) == {RESP_OK_NODATA}, r.describe()


# What tests/guest/tools/fbpattern draws: (x, y) -> 0xRRGGBB (also test_window.py's).
PATTERN = {(200, 150): 0xff0000, (600, 150): 0x00ff00, (200, 450): 0x0000ff,
           (600, 450): 0xffffff, (110, 85): 0xff00ff}


def monitor_command(path, line, timeout=30):
    """One line to smolvm's -monitor socket, its one-line answer back."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        s.connect(str(path))
        s.sendall(line.encode() + b"\n")
        answer = b""
        while not answer.endswith(b"\n"):
            chunk = s.recv(4096)
            assert chunk, f"the monitor closed the connection after {answer!r}"
            answer += chunk
    return answer.decode().strip()


def read_ppm(path):
    """A binary PPM (P6, maxval 255): (width, height, pixel(x, y) -> 0xRRGGBB)."""
    data = path.read_bytes()
    fields, pos = [], 0
    while len(fields) < 4:  # magic, width, height, maxval, blank-separated (no comments)
        while data[pos:pos + 1].isspace():
            pos += 1
        start = pos
        while not data[pos:pos + 1].isspace():
            pos += 1
        fields.append(data[start:pos])
    pos += 1
    assert fields[0] == b"P6" and fields[3] == b"255", fields
    width, height = int(fields[1]), int(fields[2])
    assert len(data) - pos == width * height * 3, (len(data), pos, width, height)

    def pixel(x, y):
        i = pos + (y * width + x) * 3
        return int.from_bytes(data[i:i + 3], "big")
    return width, height, pixel


def test_screendump_shows_what_the_guest_drew(std_guest, tmp_path):
    sock = tmp_path / "monitor.sock"
    vm = std_guest.start("/fbpattern && echo DRAWN\nsleep 120\n",
                         files={"fbpattern": fbpattern()}, mem="512M", append=QUIET_CONSOLE,
                         extra=["-display", "none", "-monitor", f"unix:{sock}"])
    vm.expect("DRAWN")
    dump = tmp_path / "screen.ppm"
    # The fbdev emulation flushes the drawing 1/20 s after it; give it a few seconds.
    deadline = time.monotonic() + 10
    while True:
        answer = monitor_command(sock, f"screendump {dump}")
        seen = None
        if answer == "ok":
            width, height, pixel = read_ppm(dump)
            seen = {p: pixel(*p) for p in PATTERN}
            if seen == PATTERN:
                break
        if time.monotonic() > deadline:
            break
        time.sleep(0.3)
    assert answer == "ok", f"screendump answered {answer!r}\n{vm.log}"
    assert (width, height) == (800, 600)
    assert seen == PATTERN, f"screendump pixels {seen}, drawn {PATTERN}"
    assert monitor_command(sock, "screendump x.png").startswith("error: screendump writes PPM")
    assert monitor_command(sock, "quit") == "ok"
    assert vm.wait(timeout=30) == 0, vm.log
