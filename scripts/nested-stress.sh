#!/bin/bash
# nested-stress.sh: how often the nested machine breaks, and how fast it is, per outer QEMU.
#
# Usage: scripts/nested-stress.sh ROUNDS CONFIGS [TEST]...
#   CONFIGS  comma-separated values of SMOLVM_NESTED_QEMU (debian, debian13, patched), each
#            optionally with /N for the machine's CPUs (SMOLVM_NESTED_CPUS): patched/1
#   TEST     test files (default: the whole suite's files)
#   e.g. scripts/nested-stress.sh 5 debian,debian13 tests/integration/test_console.py
# Each round runs every test file once under each config, alternating (so both see the same
# load), each file in a fresh nested machine, never retried. Every run's outcome goes to
# build/nested-stress.log; the table at the end counts per config: runs, runs that passed,
# runs with failing tests (smolvm's, or the guest's), broken machines (exit 125 or 124),
# and the median time of a run. Build first (make smolvm guest guest-tools).
#   SMOLVM_STRESS_LOAD=N  keeps N busy loops running beside the machines (CI's machine may be
#                         busy with other work; a loaded host widens QEMU's races)
set -uo pipefail

[ $# -ge 2 ] || { echo "usage: $0 ROUNDS CONFIGS [TEST]..." >&2; exit 2; }
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo" || exit 2
rounds=$1
IFS=, read -ra configs <<<"$2"
shift 2
[ $# -gt 0 ] || set -- tests/integration/test_*.py
mkdir -p build
log=build/nested-stress.log
out=$(mktemp)
load=()
for ((i = 0; i < ${SMOLVM_STRESS_LOAD:-0}; i++)); do
	(while :; do :; done) &
	load+=($!)
done
trap 'rm -f "$out"; [ ${#load[@]} = 0 ] || kill "${load[@]}" 2>/dev/null' EXIT
export SMOLVM_NESTED_TIMEOUT=${SMOLVM_PART_TIMEOUT:-600}

for ((r = 1; r <= rounds; r++)); do
	for t in "$@"; do
		for c in "${configs[@]}"; do
			start=$(date +%s)
			SMOLVM_NESTED_QEMU=${c%/*} SMOLVM_NESTED_CPUS=$([[ $c == */* ]] && echo "${c#*/}" || echo "${SMOLVM_NESTED_CPUS:-1}") \
				scripts/with-kvm.sh /usr/bin/python3 -m pytest -q -x "$t" \
				>"$out" 2>&1
			rc=$?
			took=$(($(date +%s) - start))
			case $rc in
			0) what=passed ;;
			124 | 125) what=broken ;;
			*) what=failed ;;
			esac
			echo "$c $what $took $t round=$r rc=$rc load=${#load[@]}" | tee -a "$log"
			[ "$what" = passed ] || tail -n 30 "$out" | sed "s|^|    $c: |" >>"$log"
		done
	done
done

echo
printf '%-10s %5s %7s %7s %7s %10s %10s\n' config runs passed failed broken "median s" "total s"
for c in "${configs[@]}"; do
	runs=$(grep "^$c " "$log" | tail -n $((rounds * $#)))
	median=$(awk '{ print $3 }' <<<"$runs" | sort -n |
		awk '{ t[NR] = $1 } END { print NR % 2 ? t[(NR + 1) / 2] : (t[NR / 2] + t[NR / 2 + 1]) / 2 }')
	awk -v c="$c" -v m="$median" '{ n++; k[$2]++; s += $3 }
		END { printf "%-10s %5d %7d %7d %7d %10s %10d\n", c, n, k["passed"], k["failed"], k["broken"], m, s }' <<<"$runs"
done
