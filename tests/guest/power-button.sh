#!/bin/sh
# /etc/acpi/PWRF/00000080 in the test guest: busybox acpid runs it when the ACPI power button
# reports KEY_POWER (smolvm's SIGTERM or the monitor's system_powerdown). A clean power-off,
# a distribution's shutdown in small: say so, then guest-shutdown (shutdown.sh): stop every
# process, links down, flush, power off (S5, smolvm exits 0).
echo "guest-acpi: power button pressed, powering off" >/dev/console
exec guest-shutdown poweroff
