#!/bin/sh
# After a failed test run: one short paragraph per failure, and the rig's
# own remarks (guests booted again, QEMU that ended early), at the end of
# the output where a log cut to its last lines still shows them. The full
# messages, with consoles, stay in the log above and in the file given.
# Usage: failure-digest.sh LOG
set -eu
log=$1
echo "=== failures in $log (first 400 characters of each; the whole message is above) ==="
awk '
function flush() {
	if (rec == "")
		return
	print substr(rec, 1, 400)
	if ((i = index(rec, "QEMU ")) > 0 && i > 400)
		print "    ... " substr(rec, i, 300)
	rec = ""
}
/^[^ :]+:[0-9]+:[FE]:/ { flush(); rec = $0; next }
/^[0-9]+%: Checks:/ { flush(); print; next }
/^(rig|nested|lvrig): / { flush(); print substr($0, 1, 400); next }
rec != "" { rec = rec " | " $0 }
END { flush() }
' "$log"
