"""virtio-gpu under a real Linux driver: Debian's standard kernel (the std test guest, whose
virtio_gpu the cloud kernel lacks) with `-display none`.

What the guest sees is asserted in the guest: the driver binds, offers the device's size as
its preferred mode, and its fbdev emulation makes /dev/fb0 of that size. That the device
serves the guest's drawing is seen through the driver's own trace events (virtio_gpu_cmd_queue
and virtio_gpu_cmd_response in tracefs): each TRANSFER_TO_HOST_2D and RESOURCE_FLUSH the
drawing causes is answered OK_NODATA. The pixels themselves are for the monitor's
`screendump` (issue 12, item 6) to check on the host once it exists.
"""

import re

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
