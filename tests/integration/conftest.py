"""pytest configuration for smolvm's integration tests (helpers live in vmtest.py)."""

import pytest

import vmtest


def pytest_report_header(config):
    problem = vmtest.kvm_problem()
    return [
        f"smolvm: {vmtest.SMOLVM}",
        f"test guest: {vmtest.guest_dir()}",
        "kvm: " + (f"CANNOT BOOT GUESTS: {problem}; every test that boots one fails"
                   if problem else "/dev/kvm with vmx/svm"),
    ]


@pytest.fixture
def guest(tmp_path):
    """Boots the test guest (vmtest.Guest); kills whatever is still running afterwards."""
    g = vmtest.Guest(tmp_path)
    yield g
    g.cleanup()


@pytest.fixture
def std_guest(tmp_path):
    """Like guest, booting the guest with Debian's standard kernel (virtio_gpu, virtio_input)."""
    g = vmtest.Guest(tmp_path, kind="std")
    yield g
    g.cleanup()
