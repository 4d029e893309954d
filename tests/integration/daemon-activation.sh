#!/bin/bash
# daemon-activation.sh — TAP: how certtetherd comes and goes, with the real daemon, a
# private D-Bus, phonesim and the test servers.
#
# "systemd-analyze verify accepts the unit; the udev rules parse" is checked by
# activation-files.sh (systemd-analyze --user verify on the installed unit, D-Bus
# activation with a stand-in program) and udev-rules.sh (udevadm test-builtin /
# verify, hwdb) — not repeated here. This script checks the idle exit and D-Bus
# activation of the real certtetherd:
#   - --idle-timeout 2 with no phone: it exits by itself, status 0, and says why;
#   - with a phone connected it stays (checked for twice the timeout), and once the
#     phone is unplugged it exits by itself;
#   - while an enrollment job runs for an unplugged phone it stays; when the job is
#     over it exits;
#   - D-Bus activation: the first call to org.certtether.Daemon1 starts certtetherd
#     (an activation file in the bus's service directory), which answers, idles out,
#     and is started again by the next call.
set -u
SRC=${CT_SRCDIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
[ -n "${CT_IN_NETNS:-}" ] || exec "$SRC/tests/servers/in-netns" "$0" "$@"
. "$SRC/tests/integration/lib-daemon.sh"

ctd_setup
knob() { "$SRC/tests/servers/control" "$W/srv" "$@" >/dev/null; }

# exits_within SECONDS: certtetherd (our child) exits by itself in time; its status in
# $wait_status. On time-out it is left running (ctd_stop ends it).
exits_within() {
	if wait_pid_gone "$CTD_PID" "$1"; then
		CTD_PID=""
		return 0
	fi
	diag "certtetherd still runs after $1 s"
	return 1
}
# still_runs_for SECONDS: the daemon does NOT exit within that time
still_runs_for() {
	local deadline=$((SECONDS + $1))
	while [ "$SECONDS" -lt "$deadline" ]; do
		kill -0 "$CTD_PID" 2>/dev/null || { diag "certtetherd exited"; return 1; }
		sleep 0.2
	done
}
idle_lines() { grep -c "no phone connected for 2 s: exiting" "$W/daemon.log"; }

# ---- no phone: exits by itself ----
ctd_start --idle-timeout 2
ok "--idle-timeout 2, no phone: certtetherd exits by itself, status 0" \
	eval 'exits_within 15 && is "$wait_status" 0'
ok "... and says why in its log" is "$(idle_lines)" 1

# ---- a phone connected: stays; unplugged: exits ----
ctd_start --idle-timeout 2
phone add p1 >/dev/null && phone plug p1 >/dev/null || bail "cannot plug p1"
P1=$(device_path SIM-p1) || bail "the daemon never showed p1"
wait_state "$P1" awaiting-approval 20 || fail "p1 waits for approval"
ok "with a phone connected (awaiting approval) it stays (4 s = twice the timeout)" still_runs_for 4
phone unplug p1 >/dev/null
ok "phone unplugged: it exits by itself, status 0" \
	eval 'exits_within 15 && is "$wait_status" 0'
[ -n "$CTD_PID" ] && ctd_stop

# ---- an enrollment job without its phone: stays until the job is over ----
ctd_write_config policy.mode=always
ctd_start --idle-timeout 2
knob slow 4
phone add p2 >/dev/null && phone plug p2 >/dev/null || bail "cannot plug p2"
P2=$(device_path SIM-p2) || bail "the daemon never showed p2"
wait_state "$P2" enrolling 30 || fail "p2 enrolls"
phone unplug p2 >/dev/null
ok "phone unplugged while its enrollment runs: the daemon stays (3 s)" still_runs_for 3
knob slow
ok "the job is over (certificate recorded): it exits by itself, status 0" \
	eval 'exits_within 30 && is "$wait_status" 0'
ok "... after the job recorded the certificate in the ledger" \
	is "$(ledger "SELECT e.state FROM enrollments e JOIN devices d ON d.id = e.device_id
		WHERE d.serial = 'SIM-p2';")" issued
[ -n "$CTD_PID" ] && ctd_stop

# ---- D-Bus activation of the real certtetherd ----
# what systemd or dbus-daemon would run, with this test's environment (the bus started
# before phonesim, so its own environment lacks umockdev's)
cat >"$W/activated.sh" <<EOF
#!/bin/sh
echo started >> "$W/activations"
env LD_PRELOAD="$UMOCK_PRELOAD" UMOCKDEV_DIR="$UMOCK_DIR" CERTTETHER_CONFIG="$CERTTETHER_CONFIG" \\
	CERTTETHER_STATE_DIR="$CERTTETHER_STATE_DIR" KRB5CCNAME="$KRB5CCNAME" KRB5_CONFIG="$KRB5_CONFIG" \\
	ASAN_OPTIONS="$ASAN_OPTIONS" "$CTD_BIN" --idle-timeout 2 --ledger "$LEDGER" >> "$W/daemon.log" 2>&1
echo "exit \$?" >> "$W/activations"
EOF
chmod +x "$W/activated.sh"
cat >"$W/services/org.certtether.Daemon1.service" <<EOF
[D-BUS Service]
Name=org.certtether.Daemon1
Exec=$W/activated.sh
EOF
gdbus call --session -d org.freedesktop.DBus -o /org/freedesktop/DBus \
	-m org.freedesktop.DBus.ReloadConfig >/dev/null
out=$(timeout 30 gdbus call --session -d "$CTD_NAME" -o "$CTD_PATH" -m "$CTD_MANAGER.GetDevices" 2>&1)
rc=$?
ok "the first call starts certtetherd by D-Bus activation, and it answers" \
	is "$(grep -c started "$W/activations" 2>/dev/null)/$rc" "1/0"
activated_exit() { # COUNT: wait for the COUNTth "exit STATUS" line of an activated daemon
	local deadline=$((SECONDS + 20))
	until [ "$(grep -c '^exit' "$W/activations" 2>/dev/null)" -ge "$1" ]; do
		[ "$SECONDS" -lt "$deadline" ] || { diag "the activated certtetherd still runs"; return 1; }
		sleep 0.1
	done
}
ok "the activated certtetherd idles out by itself" activated_exit 1
ok "... with status 0" is "$(sed -n 's/^exit //p' "$W/activations" | sed -n 1p)" 0
ok "the bus name is free again" \
	is "$(gdbus call --session -d org.freedesktop.DBus -o /org/freedesktop/DBus \
		-m org.freedesktop.DBus.NameHasOwner "$CTD_NAME")" "(false,)"
out=$(timeout 30 gdbus call --session -d "$CTD_NAME" -o "$CTD_PATH" -m "$CTD_MANAGER.FindDevice" SIM-p2 2>&1)
ok "the next call starts it again" is "$(grep -c started "$W/activations")" 2
ok "... and it answers (FindDevice of a phone this new daemon has not seen: NotFound)" \
	grep -q "org.certtether.Error.NotFound" <<<"$out"
ok "it idles out again, status 0" \
	eval 'activated_exit 2 && is "$(sed -n "s/^exit //p" "$W/activations" | sed -n 2p)" 0'

ctd_done
