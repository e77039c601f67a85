"""SMOLVM_STATS=1: the table smolvm prints on stderr at exit, from a real boot."""

import os
import re

from vmtest import check_output, run_smolvm

ROW = re.compile(r"^  (\S.*?)\s{2,}(\d+(?:\.\d+)?)(?:\s+(\d+(?:\.\d+)?))?$")


def stats_sections(stderr):
    """{section title: {row name: (first number, second number or None)}} of the table."""
    assert "smolvm: stats (SMOLVM_STATS)" in stderr, stderr[-3000:]
    table = stderr.split("smolvm: stats (SMOLVM_STATS)", 1)[1]
    sections, current = {}, None
    for line in table.splitlines():
        if line and not line.startswith(" "):
            current = sections.setdefault(re.split(r"\s{2,}", line)[0], {})
            continue
        m = ROW.match(line)
        if m and current is not None:
            current[m.group(1)] = (float(m.group(2)),
                                   float(m.group(3)) if m.group(3) else None)
    return sections


def boot(guest, script, stats, **kw):
    env = dict(os.environ)
    env.pop("SMOLVM_STATS", None)
    if stats:
        env["SMOLVM_STATS"] = "1"
    return run_smolvm(guest.args(script, **kw), env=env)


def test_stats_table_accounts_for_a_boot(guest):
    r = boot(guest, 'echo "STATS-BOOTED"', stats=True)
    check_output(r, "STATS-BOOTED")
    s = stats_sections(r.stderr)
    timeline = s["timeline (from main)"]
    exits = s["vCPU exits by reason"]
    devices = s["IO/MMIO exits by device"]
    kvm_run = s["time in KVM_RUN"]
    why = r.describe()

    # The setup steps, in order, all before the guest's first instruction.
    steps = ["options", "kernel and initramfs opened", "VM and guest RAM", "platform devices",
             "user devices (disk, net, fs)", "ACPI tables", "kernel and initramfs loaded",
             "vCPUs created", "console"]
    times = [timeline[name][0] for name in steps]
    assert times == sorted(times), why
    first_run = timeline["first KVM_RUN"][0]
    first_output = timeline["first console output"][0]
    stop = timeline["stop (poweroff)"][0]
    end = timeline["exit"][0]
    assert times[-1] <= first_run < first_output < stop <= end, why
    assert end <= r.seconds * 1000 + 1, why  # within the process's own lifetime

    # The console is ttyS0: its bytes are port writes to the UART, which the bus names.
    assert exits["IO"][0] > 0, why
    serial = devices["pio serial 0x3f8"]
    assert serial[0] > 0, why
    assert serial[0] <= exits["IO"][0], why
    # Every IO and MMIO exit is counted under some device row (or unclaimed address).
    by_device = sum(count for count, _ in devices.values())
    assert by_device == exits["IO"][0] + exits.get("MMIO", (0, 0))[0], why
    # The guest ran inside KVM_RUN for part of the time between its first and last exit.
    assert 0 < kvm_run["vCPU 0"][0] <= end - first_run + 1, why


def test_stats_table_counts_every_vcpu(guest):
    r = boot(guest, 'echo "STATS-SMP"', stats=True, smp=2)
    check_output(r, "STATS-SMP")
    kvm_run = stats_sections(r.stderr)["time in KVM_RUN"]
    assert set(kvm_run) == {"vCPU 0", "vCPU 1"}, r.describe()
    assert kvm_run["vCPU 1"][0] > 0, r.describe()


def test_no_table_without_smolvm_stats(guest):
    r = boot(guest, 'echo "NO-STATS"', stats=False)
    check_output(r, "NO-STATS")
    assert "SMOLVM_STATS" not in r.stderr, r.describe()
    assert "KVM_RUN" not in r.stderr, r.describe()
