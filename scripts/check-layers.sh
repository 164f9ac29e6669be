#!/bin/sh
# check-layers.sh - the house rules of docs/architecture.md, checked:
#  1. a layer includes headers only from itself and the layers below it;
#  2. host C code never spells x86 opcodes: every byte that runs in the
#     guest comes from guest-agent/src/*.S (recognising the guest's own
#     instructions, e.g. lp_klp.c reading `lock bts`, is reading and allowed);
#  3. no source file over about 700 lines without a reason at its top
#     (a line in its first 20 that says "lines:").
# Prints every violation; exits 1 if there is any.
set -eu
cd "$(dirname "$0")/.."

fail=0
say() {
	echo "check-layers: $*" >&2
	fail=1
}

# The folder a header lives in, among the layers.
layer_of() {
	for d in common target introspect patch manage vmm/monitor vmm/cli; do
		[ -f "$d/$1" ] && { echo "$d"; return; }
	done
	echo "?"
}

allowed() {	# allowed LAYER DEP
	case "$1:$2" in
	common:common) return 0 ;;
	target:common | target:target) return 0 ;;
	introspect:common | introspect:target | introspect:introspect) return 0 ;;
	patch:common | patch:target | patch:introspect | patch:patch) return 0 ;;
	manage:common | manage:target | manage:introspect | manage:patch | manage:manage) return 0 ;;
	vmm/monitor:common | vmm/monitor:target | vmm/monitor:vmm/monitor) return 0 ;;
	vmm/cli:*) return 0 ;;
	esac
	return 1
}

# 1. Includes point down.
for layer in common target introspect patch manage vmm/monitor vmm/cli; do
	for f in "$layer"/*.c "$layer"/*.h; do
		[ -f "$f" ] || continue
		for h in $(sed -n 's/^#include "\([^"]*\)".*/\1/p' "$f"); do
			dep=$(layer_of "$h")
			[ "$dep" = "?" ] && { say "$f includes \"$h\", which is in no layer"; continue; }
			allowed "$layer" "$dep" || say "$f ($layer) includes $dep/$h: layers include only downwards"
		done
	done
done

# 2. No hand-encoded opcodes in host code: no "\xNN" byte strings, no
# brace lists of three or more byte constants, no int3/jmp/call/ret/nop
# byte values written as literals.
host_c=$(ls common/*.c target/*.c introspect/*.c patch/*.c manage/*.c 2>/dev/null)
for f in $host_c; do
	grep -nE '"(\\x[0-9a-fA-F]{2}){2,}' "$f" | sed "s|^|$f:|" | while read -r l; do
		echo "check-layers: byte string (opcodes?) in host code: $l" >&2
	done
	grep -nE '\{ *0x[0-9a-fA-F]{2} *, *0x[0-9a-fA-F]{2} *, *0x[0-9a-fA-F]{2}' "$f" | sed "s|^|$f:|" | while read -r l; do
		echo "check-layers: byte list (opcodes?) in host code: $l" >&2
	done
	grep -niwE '0x(cc|c3|e8|e9|eb|90)' "$f" | sed "s|^|$f:|" | while read -r l; do
		echo "check-layers: opcode-like literal in host code: $l" >&2
	done
done
if grep -qE '"(\\x[0-9a-fA-F]{2}){2,}' $host_c ||
	grep -qE '\{ *0x[0-9a-fA-F]{2} *, *0x[0-9a-fA-F]{2} *, *0x[0-9a-fA-F]{2}' $host_c ||
	grep -qiwE '0x(cc|c3|e8|e9|eb|90)' $host_c; then
	fail=1
fi

# 3. Long files say why.
for f in $(find common target introspect patch manage vmm guest-agent tests scripts -type f \
	\( -name '*.c' -o -name '*.h' -o -name '*.S' -o -name '*.sh' \)); do
	n=$(wc -l <"$f")
	if [ "$n" -gt 720 ] && ! head -n 20 "$f" | grep -q 'lines:'; then
		say "$f has $n lines and no reason at its top (a line saying \"lines: why\")"
	fi
done

exit $fail
