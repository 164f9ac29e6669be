#!/bin/sh
# libvirt-env.sh start|stop|status|reload
#
# A real libvirtd (Debian 12: 9.0.0, the monolithic daemon) for the libvirt
# tests (tests/rig/lvrig.h), set up the way ../shared/DESIGN.md found works
# in sandboxes without cgroups, namespaces or AppArmor. Meant for a
# throwaway machine (CI): it changes system state (docs/testing.md).
#
#   start   the system user libvirt-qemu (group kvm) if missing;
#           /etc/libvirt/qemu.conf with user/group root, security_driver
#           "none", stdio_handler "file", namespaces [ ], cgroup_controllers
#           [ ] (edited in place, idempotently; the file as it was first
#           found is kept as qemu.conf.guestpatch-orig, or, if there was
#           none, qemu.conf.guestpatch-none says so); /etc/libvirt/hooks/qemu.d/;
#           then `virtlogd -d` and `libvirtd -d` unless they already run, and
#           waits (up to 30 s) until `virsh -c qemu:///system version`
#           answers. A libvirtd that already runs is left alone; if it was
#           started before qemu.conf got these settings, that is said (it
#           only reads qemu.conf when it starts).
#   stop    destroys and undefines leftover test domains (gp-lv-*), then
#           stops the virtlogd and libvirtd that `start` started (their pids
#           are recorded in $STATE); daemons it did not start stay.
#   status  what runs, who started it, whether qemu.conf has the settings;
#           exit 0 if libvirtd answers.
#   reload  SIGHUP to the running libvirtd. libvirtd looks for hook scripts
#           (/etc/libvirt/hooks/qemu, /etc/libvirt/hooks/qemu.d/*) when it
#           starts and on SIGHUP only: after installing the *first* hook
#           file, run this, or the hook is never called.
set -eu
CONF_DIR=${GP_LIBVIRT_CONF_DIR:-/etc/libvirt}
QEMU_CONF=$CONF_DIR/qemu.conf
HOOKS_DIR=$CONF_DIR/hooks/qemu.d
STATE=${GP_LIBVIRT_STATE:-/run/guestpatch/libvirt-env}
LIBVIRTD_PID=/run/libvirtd.pid
VIRTLOGD_PID=/run/virtlogd.pid
URI=qemu:///system
LOG=/var/log/libvirt/guestpatch-libvirtd.log

# key = value, one line each, as qemu.conf spells them.
SETTINGS='user = "root"
group = "root"
security_driver = "none"
stdio_handler = "file"
namespaces = [ ]
cgroup_controllers = [ ]'

say() { echo "libvirt-env: $*" >&2; }

# The pid in FILE if that process is alive and is COMM.
live_pid() {	# live_pid FILE COMM
	[ -r "$1" ] || return 1
	p=$(cat "$1" 2>/dev/null) || return 1
	case $p in '' | *[!0-9]*) return 1 ;; esac
	[ "$(cat "/proc/$p/comm" 2>/dev/null)" = "$2" ] || return 1
	echo "$p"
}

answers() { virsh -c "$URI" version >/dev/null 2>&1; }

# Does qemu.conf set every one of SETTINGS, uncommented?
conf_ok() {
	[ -f "$QEMU_CONF" ] || return 1
	echo "$SETTINGS" | while IFS= read -r line; do
		grep -qxF "$line" "$QEMU_CONF" || return 1
	done
}

edit_conf() {
	mkdir -p "$CONF_DIR"
	if ! [ -e "$QEMU_CONF.guestpatch-orig" ] && ! [ -e "$QEMU_CONF.guestpatch-none" ]; then
		if [ -e "$QEMU_CONF" ]; then
			cp -p "$QEMU_CONF" "$QEMU_CONF.guestpatch-orig"
		else
			echo "there was no $QEMU_CONF before scripts/libvirt-env.sh" \
				>"$QEMU_CONF.guestpatch-none"
		fi
	fi
	[ -e "$QEMU_CONF" ] || echo "# libvirt QEMU driver settings (scripts/libvirt-env.sh)" >"$QEMU_CONF"
	conf_ok && return 1
	echo "$SETTINGS" | while IFS= read -r line; do
		key=${line%% *}
		if grep -qE "^[[:space:]]*${key}[[:space:]]*=" "$QEMU_CONF"; then
			# Replace the live setting (one-line values: that is how these
			# keys are written; a list spread over lines is not expected).
			sed -i "s|^[[:space:]]*${key}[[:space:]]*=.*|$line|" "$QEMU_CONF"
		else
			echo "$line" >>"$QEMU_CONF"
		fi
	done
	return 0
}

# libvirtd resolves its compiled-in QEMU user and group (libvirt-qemu) at
# start-up even when qemu.conf says root, and refuses to start the QEMU
# driver without them ("Failed to parse group 'libvirt-qemu'"). Debian's
# libvirt-daemon-system makes them; we do not install that package (it
# brings systemd units, default networks and AppArmor profiles).
ensure_user() {
	getent group kvm >/dev/null || groupadd -r kvm
	getent group libvirt-qemu >/dev/null || groupadd -r libvirt-qemu
	getent passwd libvirt-qemu >/dev/null ||
		useradd -r -g kvm -G libvirt-qemu -d /var/lib/libvirt -s /usr/sbin/nologin \
			-c "libvirt qemu (guestpatch tests)" libvirt-qemu
}

# Start time of PID in seconds since the epoch (/proc/PID/stat field 22 is
# in clock ticks since boot; the daemons' names hold no spaces).
started_at() {
	t=$(cut -d' ' -f22 "/proc/$1/stat")
	echo $(($(awk '/^btime/ { print $2 }' /proc/stat) + t / $(getconf CLK_TCK)))
}

start() {
	[ "$(id -u)" -eq 0 ] || { say "run as root"; exit 1; }
	for t in libvirtd virtlogd virsh; do
		command -v "$t" >/dev/null || { say "$t not found (scripts/deps.sh installs it)"; exit 1; }
	done
	ensure_user
	changed=0
	edit_conf && changed=1
	mkdir -p "$HOOKS_DIR" "$STATE" /var/log/libvirt
	if lp=$(live_pid "$LIBVIRTD_PID" libvirtd) && answers; then
		if [ $changed = 1 ] || [ "$(stat -c %Y "$QEMU_CONF")" -gt "$(started_at "$lp")" ]; then
			say "libvirtd (pid $lp) already runs, started before $QEMU_CONF had the settings" \
				"it needs (it reads them at start-up): restart it, or domains may fail to start"
		fi
		return 0
	fi
	if ! live_pid "$VIRTLOGD_PID" virtlogd >/dev/null; then
		virtlogd -d
		i=0
		until p=$(live_pid "$VIRTLOGD_PID" virtlogd); do
			i=$((i + 1))
			[ $i -le 100 ] || { say "virtlogd did not start"; exit 1; }
			sleep 0.1
		done
		echo "$p" >"$STATE/virtlogd.pid"
	fi
	if ! live_pid "$LIBVIRTD_PID" libvirtd >/dev/null; then
		LIBVIRT_LOG_OUTPUTS="3:file:$LOG" libvirtd -d
		i=0
		until p=$(live_pid "$LIBVIRTD_PID" libvirtd); do
			i=$((i + 1))
			[ $i -le 100 ] || { say "libvirtd did not start (its log: $LOG)"; exit 1; }
			sleep 0.1
		done
		echo "$p" >"$STATE/libvirtd.pid"
	fi
	i=0
	until answers; do
		i=$((i + 1))
		if ! live_pid "$LIBVIRTD_PID" libvirtd >/dev/null; then
			say "libvirtd exited during start-up; the end of its log ($LOG):"
			tail -n 5 "$LOG" >&2
			exit 1
		fi
		if [ $i -gt 300 ]; then
			say "libvirtd does not answer on $URI after 30 s (its log: $LOG)"
			virsh -c "$URI" version >&2 || true
			exit 1
		fi
		sleep 0.1
	done
}

# Kill the daemon whose pid we recorded in STATE/NAME.pid, if it still is
# that daemon; wait (bounded) for it to go.
stop_ours() {	# stop_ours NAME
	if p=$(live_pid "$STATE/$1.pid" "$1"); then
		kill -TERM "$p"
		i=0
		while [ -d "/proc/$p" ] && [ $i -lt 100 ]; do
			sleep 0.1
			i=$((i + 1))
		done
		[ -d "/proc/$p" ] && { say "$1 (pid $p) ignores SIGTERM; killing it"; kill -KILL "$p"; }
	fi
	rm -f "$STATE/$1.pid"
}

stop() {
	if answers; then
		for d in $(virsh -c "$URI" list --all --name 2>/dev/null | grep '^gp-lv-' || true); do
			virsh -c "$URI" destroy "$d" >/dev/null 2>&1 || true
			virsh -c "$URI" undefine "$d" --nvram >/dev/null 2>&1 ||
				virsh -c "$URI" undefine "$d" >/dev/null 2>&1 || true
		done
	fi
	stop_ours libvirtd
	stop_ours virtlogd
}

status() {
	rc=0
	if lp=$(live_pid "$LIBVIRTD_PID" libvirtd); then
		who="not started by this script"
		[ "$(live_pid "$STATE/libvirtd.pid" libvirtd 2>/dev/null || true)" = "$lp" ] &&
			who="started by this script"
		if answers; then
			echo "libvirtd: pid $lp, $who, answers on $URI"
		else
			echo "libvirtd: pid $lp, $who, does NOT answer on $URI"
			rc=1
		fi
	else
		echo "libvirtd: not running"
		rc=1
	fi
	if vp=$(live_pid "$VIRTLOGD_PID" virtlogd); then
		echo "virtlogd: pid $vp"
	else
		echo "virtlogd: not running"
	fi
	if conf_ok; then
		echo "qemu.conf: has the test settings"
		[ -n "${lp:-}" ] && [ "$(stat -c %Y "$QEMU_CONF")" -gt "$(started_at "$lp")" ] &&
			echo "qemu.conf: changed after libvirtd started (restart libvirtd)"
	else
		echo "qemu.conf: lacks the test settings (run start)"
	fi
	if [ -d "$HOOKS_DIR" ]; then
		echo "hooks: $HOOKS_DIR ($(ls "$HOOKS_DIR" | wc -l) files)"
	else
		echo "hooks: no $HOOKS_DIR"
	fi
	return $rc
}

reload() {
	lp=$(live_pid "$LIBVIRTD_PID" libvirtd) || { say "libvirtd is not running"; exit 1; }
	kill -HUP "$lp"
	# The reload re-reads the hooks and reconnects the drivers; wait until
	# the daemon answers again.
	i=0
	sleep 0.2
	until answers; do
		i=$((i + 1))
		[ $i -le 300 ] || { say "libvirtd does not answer after SIGHUP"; exit 1; }
		sleep 0.1
	done
}

case ${1:-} in
start) start ;;
stop) stop ;;
status) status ;;
reload) reload ;;
*)
	echo "usage: libvirt-env.sh start|stop|status|reload" >&2
	exit 2
	;;
esac
