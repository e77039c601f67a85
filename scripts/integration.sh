#!/bin/bash
# integration.sh: run the integration suite in parts, each in a KVM machine of its own.
#
# Usage: scripts/integration.sh [TARGET]...   (default: tests/integration)
#   A directory's parts are its test_*.py files; any other TARGET (a file, file::test) is a
#   part of its own. PYTEST_ARGS adds pytest options to every part.
#   SMOLVM_PART_TIMEOUT  seconds before a part's nested machine is stopped (default 600)
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

log=$(mktemp)
trap 'rm -f "$log"' EXIT
summary=()
passed=0 failed=0 retries=0 status=0

# "N passed" (or failed, error, errors) in pytest's last line, 0 if absent.
count() { grep -oE "[0-9]+ $1" <<<"$2" | head -n 1 | cut -d' ' -f1 || true; }

for part in "${parts[@]}"; do
	tries=0
	done_before=0 failed_before=0
	skip=()
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
			summary+=("RETRIED $part: the nested machine broke (exit $rc) after ${took}s in ${running:-no test}")
			while read -r id; do
				[ -z "$id" ] || skip+=(--deselect "$id")
			done <<<"$passed_ids$(printf '\n')$failed_ids"
			continue
		fi
		# Every test had ended before the machine broke: pytest, left with none, says 5.
		[ "$rc" != 5 ] || [ ${#skip[@]} = 0 ] || rc=0
		break
	done
	last=$(grep -E '[0-9]+ (passed|failed|errors?)' "$log" | tail -n 1)
	p=$(count passed "$last") f=$(count failed "$last") e=$(count 'errors?' "$last")
	p=$((${p:-0} + done_before)) f=$((${f:-0} + ${e:-0} + failed_before))
	if [ "$rc" != 0 ] && [ "$f" = 0 ]; then
		f=1 # no test reported failing, yet the part failed: the machine, or collection
	fi
	passed=$((passed + p)) failed=$((failed + f))
	[ "$rc" != 0 ] || [ "$f" = 0 ] || rc=1 # failed before the machine broke
	[ "$rc" = 0 ] || status=1
	how=""
	[ "$nested_qemu" = patched ] || how=" ($nested_qemu outer QEMU)"
	summary+=("$([ "$rc" = 0 ] && echo ok || echo "FAILED (exit $rc)") $part: $p passed, $f failed, ${took}s$how")
done

echo
echo "integration: parts"
printf '  %s\n' "${summary[@]}"
echo "integration: $retries part(s) run again after the nested machine broke"
echo "integration: $passed passed, $failed failed"
exit "$status"
