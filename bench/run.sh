#!/bin/sh
# bench/run.sh: every benchmark, one after the other in one session (make bench runs this
# inside the nested KVM machine). BENCH=boot,blk limits it to some.
set -eu
cd "$(dirname "$0")"
for f in bench_*.py; do
	name=${f#bench_}
	name=${name%.py}
	case ",${BENCH:-$name}," in *",$name,"*) ;; *) continue ;; esac
	echo "== $name" >&2
	/usr/bin/python3 "$f"
done
