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
# others found), FUZZ_RUNS split between them. For a target whose speed is bound by its own
# threads' hand-offs, not by one core.
#
# FUZZ_CHUNK=N (default 1000000) ends a process after N executions and starts a fresh one on
# the same corpus, until FUZZ_RUNS or FUZZ_SECONDS is used up. AddressSanitizer (clang 14)
# keeps about 200 bytes for every thread ever created, freed or not: the targets that start a
# device's threads for each input would pass libFuzzer's 2 GB memory limit after a million
# or two executions in one process, which would be reported as an out-of-memory crash.
#
# The table adds up the executions of every process of a target; its speed is those over the
# target's wall time.
#
# Usage: scripts/fuzz-long.sh build/fuzzers/fuzz_a build/fuzzers/fuzz_b ...
set -u

secs=${FUZZ_SECONDS:-600}
jobs=${FUZZ_JOBS:-1}
workers=${FUZZ_WORKERS:-1}
chunk=${FUZZ_CHUNK:-1000000}
# Executions per worker; none given: chunks until the time is up.
per_worker=
[ -n "${FUZZ_RUNS:-}" ] && per_worker=$(( (FUZZ_RUNS + workers - 1) / workers ))
# 10 million executions per target is the goal (issue 14): the table says how long that takes.
goal=${FUZZ_GOAL:-10000000}
out=build/fuzz-long
crashes=build/fuzz-crashes

[ $# -gt 0 ] || { echo "usage: $0 FUZZER..." >&2; exit 2; }
rm -rf "$out"
mkdir -p "$out/corpus" "$crashes"
# Reproducers of earlier runs stay; the table counts only this run's (newer than the stamp).
touch "$out/start"

# Executions a finished process's log reports.
executed() {
	sed -n 's/^stat::number_of_executed_units: *//p' "$1" | tail -n 1
}

# One worker: processes of at most $chunk executions until its share of the runs or the
# target's time is used up, or one fails. Worker 1's first log is NAME.log, the rest
# NAME.W-C.log. Exit status: the failed process's, else 0.
run_worker() {
	local bin=$1 n=$2 w=$3 deadline=$4 left=$per_worker c=1 log r this e
	shift 4
	while [ "$(date +%s)" -lt "$deadline" ]; do
		log=$out/$n.$w-$c.log
		[ "$w$c" = 11 ] && log=$out/$n.log
		this=$chunk
		[ -z "$left" ] || [ "$left" -ge "$this" ] || this=$left
		"$bin" -max_total_time=$((deadline - $(date +%s))) -runs="$this" "$@" >"$log" 2>&1
		r=$?
		[ "$r" = 0 ] || return "$r"
		e=$(executed "$log")
		[ -z "$left" ] || left=$((left - ${e:-0}))
		# Done: its runs, or the time (a process that stopped short of its chunk).
		[ -n "$left" ] && [ "$left" -le 0 ] && return 0
		[ "${e:-0}" -lt "$this" ] && return 0
		c=$((c + 1))
	done
}

run_one() {
	local bin=$1 n corpus dict start deadline
	n=$(basename "$bin")
	corpus=$out/corpus/$n
	mkdir -p "$corpus"
	[ -d "tests/fuzz/corpus/$n" ] && cp -r "tests/fuzz/corpus/$n/." "$corpus/"
	ls "$corpus" | wc -l >"$out/$n.seeds"
	# A dictionary beside the target (tests/fuzz/NAME.dict) gives it the words of its syntax.
	dict=()
	[ -f "tests/fuzz/$n.dict" ] && dict=(-dict="tests/fuzz/$n.dict")
	start=$(date +%s)
	deadline=$((start + secs))
	# -timeout: an input that runs 10 s is a hang as far as smolvm's promise goes.
	for w in $(seq "$workers"); do
		run_worker "$bin" "$n" "$w" "$deadline" -timeout=10 -print_final_stats=1 \
			"${dict[@]}" -artifact_prefix="$crashes/$n-" "$corpus" &
	done
	rc=0
	for w in $(seq "$workers"); do
		wait -n
		r=$?
		[ "$r" = 0 ] || [ "$rc" != 0 ] || rc=$r
	done
	echo "$rc" >"$out/$n.rc"
	echo $(($(date +%s) - start)) >"$out/$n.secs"
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
	# Every process's executions (one that crashed reports its count too); the coverage of
	# the last status line that saw most.
	execs=0 cov= ft=
	for log in "$out/$n.log" "$out/$n".*.log; do
		[ -f "$log" ] || continue
		e=$(executed "$log")
		execs=$((execs + ${e:-0}))
		last=$(grep -E '^#[0-9]+.* cov: ' "$log" | tail -n 1)
		c=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
		[ "${c:-0}" -lt "${cov:-0}" ] || { cov=$c; ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last"); }
	done
	ncorpus=$(ls "$out/corpus/$n" | wc -l)
	seeds=$(cat "$out/$n.seeds")
	ncrash=$(find "$crashes" -name "$n-*" -newer "$out/start" | wc -l)
	d=$(cat "$out/$n.secs")
	[ "$d" -gt 0 ] || d=1
	rate=$((execs / d))
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
	printf '%-20s %12s %8s %7s %7s %13s %7s %10s\n' "$n" "$execs" "$rate" "${cov:--}" \
		"${ft:--}" "$ncorpus ($seeds)" "$ncrash" "$eta"
done
echo "corpus: files after the run (seeds); logs in $out, reproducers in $crashes"
exit $fail
