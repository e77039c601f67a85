#!/usr/bin/python3
"""kvm-churn.py: make the nested kernel live-patch __schedule as often as it can.

Usage: scripts/with-kvm.sh /usr/bin/python3 scripts/kvm-churn.py SECONDS
Creating a KVM VM turns on a static key tested in __schedule (the preempt notifiers KVM
registers) and destroying it turns the key off again: each time, Linux rewrites that
code while the other CPUs run it (text_poke_bp: int3 first, then the new bytes, with a
sync of every CPU in between). This creates and destroys VMs in a loop while two processes
switch between each other through a pipe, so some CPU is always in __schedule. A nested
machine whose outer QEMU translates the patched code wrongly freezes here (issue 10's first
freeze report: CPU 0 looping on an int3 in __schedule); nested-kvm.sh then exits 125.
Prints the VMs created and context switches per second.
"""
import fcntl
import os
import sys
import time

KVM_CREATE_VM = 0xAE01
seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 60


def ping_pong(deadline):
    """Two processes bouncing a byte: a context switch per hop."""
    a_r, a_w = os.pipe()
    b_r, b_w = os.pipe()
    if os.fork() == 0:
        os.close(a_w)  # or its read never sees the end of the pipe
        while os.read(a_r, 1):
            os.write(b_w, b"x")
        os._exit(0)
    hops = 0
    while time.monotonic() < deadline:
        os.write(a_w, b"x")
        os.read(b_r, 1)
        hops += 1
    os.close(a_w)
    os.wait()
    return hops


deadline = time.monotonic() + seconds
pid = os.fork()
if pid == 0:
    print(f"kvm-churn: {ping_pong(deadline) / seconds:.0f} round trips/s", flush=True)
    os._exit(0)
kvm = os.open("/dev/kvm", os.O_RDWR)
vms = 0
while time.monotonic() < deadline:
    vm = fcntl.ioctl(kvm, KVM_CREATE_VM, 0)
    os.close(vm)
    vms += 1
os.waitpid(pid, 0)
print(f"kvm-churn: {vms} VMs created and destroyed in {seconds:.0f} s ({vms / seconds:.1f}/s)")
