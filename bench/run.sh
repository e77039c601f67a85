#!/bin/sh
# bench/run.sh: every benchmark, one after the other (make bench runs this), then one summary
# of every row against its target (bench/summary.py), also written to bench/results/DATE.json.
# BENCH=boot,blk limits it to some parts. Each part runs in a KVM machine of its own
# (scripts/with-kvm.sh: the nested one where /dev/kvm cannot boot Linux), so a part that
# fails, even by breaking its machine, shows "failed" and the rest go on. Exit status 1 if any
# part failed.
set -u
cd "$(dirname "$0")/.."
work=build/bench
mkdir -p "$work"
rows=$PWD/$work/rows.$$.jsonl
parts=$work/parts.$$
: >"$rows"
: >"$parts"
trap 'rm -f "$rows" "$parts"' EXIT
BENCH_ROWS=$rows
BENCH_LOAD_START=$(uptime)
export BENCH_ROWS BENCH_LOAD_START
echo "bench: host load at the start: $BENCH_LOAD_START" >&2
for f in bench/bench_*.py; do
	name=${f#bench/bench_}
	name=${name%.py}
	case ",${BENCH:-$name}," in *",$name,"*) ;; *) continue ;; esac
	echo "== $name" >&2
	start=$(date +%s)
	scripts/with-kvm.sh /usr/bin/python3 "$f"
	rc=$?
	status=ok
	if [ "$rc" != 0 ]; then
		status=failed
		echo "== $name failed (exit status $rc)" >&2
	fi
	echo "$name $status $(($(date +%s) - start))" >>"$parts"
done
/usr/bin/python3 bench/summary.py "$rows" "$parts"
