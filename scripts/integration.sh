#!/bin/bash
# integration.sh: run the integration suite in parts, each in a KVM machine of its own.
#
# Usage: scripts/integration.sh [TARGET]...   (default: tests/integration)
#   A directory's parts are its test_*.py files; any other TARGET (a file, file::test) is a
#   part of its own. PYTEST_ARGS adds pytest options to every part.
#   SMOLVM_PART_TIMEOUT  seconds before a part's nested machine is stopped (default 600)
#   SMOLVM_PARTS_PARALLEL  parts run at once, each in its own machine (default 1)
#   The nested machine's outer QEMU is the patched build (scripts/nested-kvm.sh), unless
#   SMOLVM_NESTED_QEMU says otherwise; a test file with a line NESTED_QEMU = "patched" (EFI
#   firmware under the nested KVM needs it) always gets that one.
#
# The nested machine (scripts/nested-kvm.sh) sometimes breaks under TCG: a broken machine
# costs one part, not the suite. A part whose machine broke or froze (exit 125 or 124) runs
# once more in a fresh machine, without the tests that had passed or failed before it broke
# (pytest -v names each as it ends): a test that fails on its own is never retried. The summary lists
# every part, its counts, its time and its retries, then one line with the totals.
set -uo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo" || exit 2
[ $# -gt 0 ] || set -- tests/integration
parts=()
for t in "$@"; do
	if [ -d "$t" ]; then
		parts+=("$t"/test_*.py)
	else
		parts+=("$t")
	fi
done
read -ra extra <<<"${PYTEST_ARGS:-}"
export SMOLVM_NESTED_TIMEOUT=${SMOLVM_PART_TIMEOUT:-600}

jobs=${SMOLVM_PARTS_PARALLEL:-1}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# "N passed" (or failed, error, errors) in pytest's last line, 0 if absent.
count() { grep -oE "[0-9]+ $1" <<<"$2" | head -n 1 | cut -d' ' -f1 || true; }

# Run part number $1 ($2) to its end, retrying once if its machine broke; its output goes
# to stdout, and $work/$1.result gets: rc passed failed retries, then the summary lines.
run_part() {
	local i=$1 part=$2 log=$work/$1.log
	local tries=0 done_before=0 failed_before=0 retries=0 rc took start nested_qemu
	local skip=() notes=()
	nested_qemu=$(sed -n 's/^NESTED_QEMU = "\([a-z]*\)"$/\1/p' "${part%%::*}" 2>/dev/null | head -n 1)
	nested_qemu=${nested_qemu:-${SMOLVM_NESTED_QEMU:-patched}}
	while :; do
		tries=$((tries + 1))
		start=$(date +%s)
		SMOLVM_NESTED_QEMU=$nested_qemu scripts/with-kvm.sh /usr/bin/python3 -m pytest -v \
			-p no:cacheprovider "$part" "${skip[@]}" "${extra[@]}" 2>&1 | tee "$log"
		rc=${PIPESTATUS[0]}
		took=$(($(date +%s) - start))
		if { [ "$rc" = 124 ] || [ "$rc" = 125 ]; } && [ "$tries" -lt 2 ]; then
			local passed_ids failed_ids running
			passed_ids=$(sed -n 's/^\([^ ]*::[^ ]*\) PASSED.*/\1/p' "$log")
			failed_ids=$(sed -n 's/^\([^ ]*::[^ ]*\) \(FAILED\|ERROR\).*/\1/p' "$log")
			done_before=$(grep -c . <<<"$passed_ids" || true)
			failed_before=$(grep -c . <<<"$failed_ids" || true)
			running=$(grep -oE '^[^ ]+::[^ ]+ ' "$log" | tail -n 1)
			running=${running% }
			echo "integration: $part: the nested machine broke (exit $rc) after ${took}s," \
				"$done_before test(s) passed, $failed_before failed, ${running:-no test} running;" \
				"running the others again in a fresh machine" >&2
			retries=$((retries + 1))
			notes+=("RETRIED $part: the nested machine broke (exit $rc) after ${took}s in ${running:-no test}")
			while read -r id; do
				[ -z "$id" ] || skip+=(--deselect "$id")
			done <<<"$passed_ids$(printf '\n')$failed_ids"
			continue
		fi
		# Every test had ended before the machine broke: pytest, left with none, says 5.
		[ "$rc" != 5 ] || [ ${#skip[@]} = 0 ] || rc=0
		break
	done
	local last p f e how=""
	last=$(grep -E '[0-9]+ (passed|failed|errors?)' "$log" | tail -n 1)
	p=$(count passed "$last") f=$(count failed "$last") e=$(count 'errors?' "$last")
	p=$((${p:-0} + done_before)) f=$((${f:-0} + ${e:-0} + failed_before))
	if [ "$rc" != 0 ] && [ "$f" = 0 ]; then
		f=1 # no test reported failing, yet the part failed: the machine, or collection
	fi
	[ "$rc" != 0 ] || [ "$f" = 0 ] || rc=1 # failed before the machine broke
	[ "$nested_qemu" = patched ] || how=" ($nested_qemu outer QEMU)"
	{
		echo "$rc $p $f $retries"
		[ ${#notes[@]} = 0 ] || printf '%s\n' "${notes[@]}"
		echo "$([ "$rc" = 0 ] && echo ok || echo "FAILED (exit $rc)") $part: $p passed, $f failed, ${took}s$how"
	} >"$work/$i.result"
}

# With SMOLVM_PARTS_PARALLEL=N, N parts run at once, each printing its output when it ends;
# the biggest files (the longest parts) start first, so the last to end is a short one.
if [ "$jobs" -gt 1 ]; then
	mapfile -t parts < <(for p in "${parts[@]}"; do
		echo "$(stat -c %s "${p%%::*}" 2>/dev/null || echo 0) $p"
	done | sort -rn | cut -d' ' -f2-)
fi
running=0
for i in "${!parts[@]}"; do
	if [ "$jobs" -le 1 ]; then
		run_part "$i" "${parts[$i]}"
		continue
	fi
	while [ "$running" -ge "$jobs" ]; do
		wait -n
		running=$((running - 1))
	done
	echo "integration: starting ${parts[$i]}" >&2
	{ run_part "$i" "${parts[$i]}" >"$work/$i.out" 2>&1; cat "$work/$i.out"; } &
	running=$((running + 1))
done
wait

summary=()
passed=0 failed=0 retries=0 status=0
for i in "${!parts[@]}"; do
	if [ ! -s "$work/$i.result" ]; then
		summary+=("FAILED ${parts[$i]}: it left no result")
		status=1
		continue
	fi
	{
		read -r rc p f r
		mapfile -t lines
	} <"$work/$i.result"
	passed=$((passed + p)) failed=$((failed + f)) retries=$((retries + r))
	[ "$rc" = 0 ] || status=1
	summary+=("${lines[@]}")
done

echo
echo "integration: parts"
printf '  %s\n' "${summary[@]}"
echo "integration: $retries part(s) run again after the nested machine broke"
echo "integration: $passed passed, $failed failed"
exit "$status"
