"""virtio-gpu under a real Linux driver: Debian's standard kernel (the std test guest, whose
virtio_gpu the cloud kernel lacks) with `-display none`.

What the guest sees is asserted in the guest: the driver binds, offers the device's size as
its preferred mode, and its fbdev emulation makes /dev/fb0 of that size. That the device
serves the guest's drawing is seen through the driver's own trace events (virtio_gpu_cmd_queue
and virtio_gpu_cmd_response in tracefs): each TRANSFER_TO_HOST_2D and RESOURCE_FLUSH the
drawing causes is answered OK_NODATA. The pixels reach the host: the monitor's `screendump`
shows each colour the guest drew at its place, as PPM and as PNG (the same pixels), and none
of it loaded SDL2 (only a window does).
"""

import re
import socket
import struct
import time
import zlib

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


def read_png(path):
    """A PNG as screendump writes it (8-bit RGB, no interlace; any of the five row
    filters): (width, height, RGB bytes of all rows). Checks every chunk's CRC."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", data[:8]
    pos, idat, ihdr = 8, b"", None
    while True:
        length, kind = struct.unpack_from(">I4s", data, pos)
        body = data[pos + 8:pos + 8 + length]
        (crc,) = struct.unpack_from(">I", data, pos + 8 + length)
        assert crc == zlib.crc32(kind + body), f"bad CRC in {kind}"
        pos += 12 + length
        if kind == b"IHDR":
            ihdr = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        elif kind == b"IEND":
            break
    assert pos == len(data)
    width, height, depth, colour, _, _, interlace = ihdr
    assert (depth, colour, interlace) == (8, 2, 0), ihdr
    raw, stride = zlib.decompress(idat), width * 3
    assert len(raw) == height * (stride + 1)
    rows, prev = [], bytearray(stride)
    for y in range(height):
        kind, row = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride if kind else 0):
            a = row[i - 3] if i >= 3 else 0
            b, c = prev[i], prev[i - 3] if i >= 3 else 0
            if kind == 1:
                row[i] = (row[i] + a) & 0xff
            elif kind == 2:
                row[i] = (row[i] + b) & 0xff
            elif kind == 3:
                row[i] = (row[i] + (a + b) // 2) & 0xff
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                row[i] = (row[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xff
            else:
                assert kind == 0, f"row {y}: filter {kind}"
        rows.append(bytes(row))
        prev = row
    return width, height, b"".join(rows)


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
    # The same picture as PNG (by the extension): every pixel as in the PPM.
    png = tmp_path / "screen.png"
    assert monitor_command(sock, f"screendump {png}") == "ok"
    assert monitor_command(sock, f"screendump {dump}") == "ok"  # the same moment, again
    pw, ph, png_rgb = read_png(png)
    assert (pw, ph) == (800, 600)
    ppm_rgb = dump.read_bytes()[-800 * 600 * 3:]  # a P6's pixels end the file
    assert png_rgb == ppm_rgb, "the PNG's pixels are not the PPM's"
    assert png.stat().st_size < dump.stat().st_size // 10, "the PNG is hardly compressed"
    assert monitor_command(sock, "screendump x.jpg").startswith("error: screendump writes PNG or PPM")
    # None of it needed SDL: the library is loaded only when a window opens.
    assert vm.alive() and not vm.has_mapped("libSDL2"), "SDL2 was loaded without a window"
    assert monitor_command(sock, "quit") == "ok"
    assert vm.wait(timeout=30) == 0, vm.log
