#!/bin/sh
# run.sh regress|fuzz BUILDDIR NAME... - run the libFuzzer harnesses
# (tests/fuzz/fuzz.mk). One job at a time, never -jobs/-workers.
#
#   regress: each harness once over every file of tests/fuzz/corpus/NAME/.
#   fuzz:    each harness $FUZZ_S seconds (default 60), starting from its
#            checked-in corpus (read only) and $O/fuzz/corpus-new/NAME (new
#            inputs land there); one line per harness in $O/fuzz.txt:
#            name, seconds, executions, crashes (0 or the artifacts),
#            corpus size (checked-in + new files).
# Exit status 1 if any harness crashed, leaked, hung or failed to start.
set -u
mode=$1
o=$2
shift 2
status=0
case $mode in
regress)
	for n in "$@"; do
		set -- tests/fuzz/corpus/"$n"/*
		if ! [ -e "$1" ]; then
			echo "fuzz-regress: $n: no corpus in tests/fuzz/corpus/$n" >&2
			status=1
			continue
		fi
		if "$o/fuzz/fuzz_$n" -timeout=20 "$@" >"$o/fuzz/regress-$n.log" 2>&1; then
			printf '  %-7s %s (%d inputs)\n' FUZZ-OK "$n" "$#"
		else
			echo "fuzz-regress: $n failed on its corpus; see $o/fuzz/regress-$n.log:" >&2
			tail -n 40 "$o/fuzz/regress-$n.log" >&2
			status=1
		fi
	done
	;;
fuzz)
	secs=${FUZZ_S:-60}
	out=$o/fuzz.txt
	mkdir -p "$o/fuzz/artifacts"
	printf '# guestpatch fuzz run: %s s per harness, %s\n' "$secs" "$(date -u '+%Y-%m-%d %H:%M UTC')" >"$out"
	printf '# %-10s %8s %12s %8s %s\n' harness seconds execs corpus crashes >>"$out"
	for n in "$@"; do
		new=$o/fuzz/corpus-new/$n
		log=$o/fuzz/fuzz-$n.log
		mkdir -p "$new"
		rm -f "$o/fuzz/artifacts/$n-"*
		"$o/fuzz/fuzz_$n" -max_total_time="$secs" -print_final_stats=1 -timeout=20 \
			-rss_limit_mb=2048 -artifact_prefix="$o/fuzz/artifacts/$n-" \
			"$new" "tests/fuzz/corpus/$n" >"$log" 2>&1
		rc=$?
		execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
		arts=$(cd "$o/fuzz/artifacts" && ls "$n-"* 2>/dev/null | tr '\n' ' ')
		size=$(($(ls "tests/fuzz/corpus/$n" | wc -l) + $(ls "$new" | wc -l)))
		crashes=0
		if [ $rc -ne 0 ] || [ -n "$arts" ]; then
			crashes=${arts:-"exit $rc, see $log"}
			status=1
		fi
		printf '  %-10s %8s %12s %8s %s\n' "$n" "$secs" "${execs:-?}" "$size" "$crashes" >>"$out"
		printf '  %-7s %s: %s execs in %s s, %s\n' FUZZ "$n" "${execs:-?}" "$secs" \
			"$([ "$crashes" = 0 ] && echo "0 crashes" || echo "CRASH: $crashes")"
	done
	cat "$out"
	;;
*)
	echo "usage: run.sh regress|fuzz BUILDDIR NAME..." >&2
	exit 2
	;;
esac
exit $status
