#!/bin/bash
# `make fuzz-long`: run each libFuzzer target given for FUZZ_SECONDS (default 600), FUZZ_JOBS at
# once (default 1), and print a table: executions, speed, coverage (cov: and ft: of libFuzzer's
# last status line), corpus size and crashes.
#
# Each target starts from a temporary copy of its seed corpus (tests/fuzz/corpus/NAME), so the
# repository's corpus never grows by accident; what a run found stays in build/fuzz-long/corpus
# for whoever wants to minimize and keep some of it. A crash, leak, timeout or out-of-memory
# reproducer lands in build/fuzz-crashes/ (NAME-crash-...), its log in build/fuzz-long/NAME.log.
#
# FUZZ_RUNS=N ends a target earlier, after N executions (e.g. the goal below).
#
# FUZZ_WORKERS=W runs W processes on each target, sharing its corpus (each reloads what the
# others found), FUZZ_RUNS split between them; the table adds up their executions and rates.
# For a target whose speed is bound by its own threads' hand-offs, not by one core.
#
# Usage: scripts/fuzz-long.sh build/fuzzers/fuzz_a build/fuzzers/fuzz_b ...
set -u

secs=${FUZZ_SECONDS:-600}
jobs=${FUZZ_JOBS:-1}
workers=${FUZZ_WORKERS:-1}
runs=()
[ -n "${FUZZ_RUNS:-}" ] && runs=(-runs="$(( (FUZZ_RUNS + workers - 1) / workers ))")
# 10 million executions per target is the goal (issue 14): the table says how long that takes.
goal=${FUZZ_GOAL:-10000000}
out=build/fuzz-long
crashes=build/fuzz-crashes

[ $# -gt 0 ] || { echo "usage: $0 FUZZER..." >&2; exit 2; }
rm -rf "$out"
mkdir -p "$out/corpus" "$crashes"
# Reproducers of earlier runs stay; the table counts only this run's (newer than the stamp).
touch "$out/start"

run_one() {
	local bin=$1 n corpus dict
	n=$(basename "$bin")
	corpus=$out/corpus/$n
	mkdir -p "$corpus"
	[ -d "tests/fuzz/corpus/$n" ] && cp -r "tests/fuzz/corpus/$n/." "$corpus/"
	ls "$corpus" | wc -l >"$out/$n.seeds"
	# A dictionary beside the target (tests/fuzz/NAME.dict) gives it the words of its syntax.
	dict=()
	[ -f "tests/fuzz/$n.dict" ] && dict=(-dict="tests/fuzz/$n.dict")
	# -timeout: an input that runs 10 s is a hang as far as smolvm's promise goes.
	# Worker 1 logs to NAME.log, worker W to NAME.W.log; the first failure's status is kept.
	for w in $(seq "$workers"); do
		log=$out/$n.log
		[ "$w" = 1 ] || log=$out/$n.$w.log
		"$bin" -max_total_time="$secs" "${runs[@]}" -timeout=10 -print_final_stats=1 \
			"${dict[@]}" -artifact_prefix="$crashes/$n-" "$corpus" >"$log" 2>&1 &
	done
	rc=0
	for w in $(seq "$workers"); do
		wait -n
		r=$?
		[ "$r" = 0 ] || [ "$rc" != 0 ] || rc=$r
	done
	echo "$rc" >"$out/$n.rc"
}

running=0
for bin in "$@"; do
	if [ "$running" -ge "$jobs" ]; then
		wait -n
		running=$((running - 1))
	fi
	echo "== $(basename "$bin") for ${secs}s" >&2
	run_one "$bin" &
	running=$((running + 1))
done
wait

fail=0
printf '%-20s %12s %8s %7s %7s %13s %7s %10s\n' target executions exec/s cov ft corpus crashes "10M takes"
for bin in "$@"; do
	n=$(basename "$bin")
	# Each worker's executions and rate: libFuzzer's own average, else executions over the
	# time (a run that crashed early ran for less than it was given); coverage of the one
	# that saw most.
	execs=0 rate=0 cov= ft=
	for log in "$out/$n.log" "$out/$n".*.log; do
		[ -f "$log" ] || continue
		e=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
		secs_run=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$log" | tail -n 1)
		last=$(grep -E '^#[0-9]+.* cov: ' "$log" | tail -n 1)
		c=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
		[ "${c:-0}" -lt "${cov:-0}" ] || { cov=$c; ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last"); }
		r=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
		if [ "${r:-0}" -eq 0 ]; then
			d=${secs_run:-$secs}
			[ "$d" -gt 0 ] || d=1
			r=$(( ${e:-0} / d ))
		fi
		execs=$((execs + ${e:-0}))
		rate=$((rate + r))
	done
	ncorpus=$(ls "$out/corpus/$n" | wc -l)
	seeds=$(cat "$out/$n.seeds")
	ncrash=$(find "$crashes" -name "$n-*" -newer "$out/start" | wc -l)
	if [ "$rate" -gt 0 ]; then
		t=$(( goal / rate ))
		eta=$(printf '%dh%02dm' $((t / 3600)) $((t % 3600 / 60)))
	else
		eta=-
	fi
	if [ "$(cat "$out/$n.rc")" != 0 ] || [ "$ncrash" -gt 0 ]; then
		fail=1
		[ "$ncrash" -gt 0 ] || ncrash="rc $(cat "$out/$n.rc")"
	fi
	printf '%-20s %12s %8s %7s %7s %13s %7s %10s\n' "$n" "${execs:--}" "$rate" "${cov:--}" \
		"${ft:--}" "$ncorpus ($seeds)" "$ncrash" "$eta"
done
echo "corpus: files after the run (seeds); logs in $out, reproducers in $crashes"
exit $fail
