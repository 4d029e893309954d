#!/bin/bash
# activation-files.sh — TAP test of what starts certtetherd: the systemd user unit, the
# D-Bus activation file, the example configuration, and the install rules that put them
# (and the udev files) in place.
#
# - `make install-daemon-data install-udev` with PREFIX=<scratch> (paths substituted into
#   the unit, nothing left unsubstituted) and with DESTDIR=<scratch> PREFIX=/usr (every
#   file under DESTDIR, /etc for SYSCONFDIR); an edited configuration survives a reinstall.
# - systemd's own checker, `systemd-analyze --user verify`, accepts the installed unit
#   (ExecStart points at a stand-in executable in the scratch PREFIX) without a single
#   diagnostic, and does complain about a deliberately broken copy (the check can fail).
# - a private dbus-daemon reading the installed services directory lists
#   org.certtether.Daemon1 as activatable and, asked to start it, runs the Exec= program
#   (the stand-in records that it ran). With a systemd user manager the bus would start
#   certtetherd.service instead (SystemdService=); there is no user manager here.
set -u
SRC=${CT_SRCDIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}

n=0
failures=0
W=$(mktemp -d /tmp/ct-activation.XXXXXX)
BUS_PID=""
finish() {
	[ -n "$BUS_PID" ] && kill "$BUS_PID" 2>/dev/null
	rm -rf "$W"
}
trap finish EXIT
trap 'exit 1' TERM INT HUP

ok() { # ok WHAT COMMAND... — the command's exit status is the verdict
	local what=$1
	shift
	n=$((n + 1))
	if "$@"; then
		echo "ok $n - $what"
	else
		echo "not ok $n - $what"
		failures=$((failures + 1))
	fi
}
is() { [ "$1" = "$2" ] || { echo "# got '$1', expected '$2'" >&2; return 1; }; }
key() { sed -n "s/^$2=//p" "$1" | head -1; } # key FILE KEY: the value of KEY= in FILE

P=$W/prefix
D=$W/dest
install_data() { # install_data MAKE-VARIABLES...: our two install rules, scratch build dir
	make -s -C "$SRC" BUILDDIR="$W/build" "$@" install-daemon-data install-udev >"$W/make.log" 2>&1 ||
		{ sed 's/^/# /' "$W/make.log" >&2; return 1; }
}

# ---- install with a PREFIX ----
ok "make install-daemon-data install-udev PREFIX=<scratch>" install_data PREFIX="$P"
UNIT=$P/lib/systemd/user/certtetherd.service
BUSSVC=$P/share/dbus-1/services/org.certtether.Daemon1.service
for f in "$UNIT" "$BUSSVC" "$P/share/dbus-1/interfaces/org.certtether.Daemon1.xml" \
	"$P/etc/certtether/certtether.conf" "$P/lib/udev/rules.d/70-certtether.rules" \
	"$P/lib/udev/hwdb.d/70-certtether.hwdb" "$P/lib/sysusers.d/certtether.conf"; do
	ok "installed ${f#"$P"/}" test -f "$f"
done
ok "unit: ExecStart=PREFIX/libexec/certtetherd" is "$(key "$UNIT" ExecStart)" "$P/libexec/certtetherd"
ok "D-Bus file: Exec=PREFIX/libexec/certtetherd" is "$(key "$BUSSVC" Exec)" "$P/libexec/certtetherd"
ok "D-Bus file: names the bus name and the unit" \
	sh -c '[ "$(sed -n s/^Name=//p "$0")" = org.certtether.Daemon1 ] &&
		[ "$(sed -n s/^SystemdService=//p "$0")" = certtetherd.service ]' "$BUSSVC"
ok "unit: BusName= is the same bus name" is "$(key "$UNIT" BusName)" org.certtether.Daemon1
ok "nothing left unsubstituted" sh -c '! grep -n "@[A-Z]*@" "$0" "$1"' "$UNIT" "$BUSSVC"

# ---- systemd-analyze verify ----
mkdir -p "$P/libexec" "$W/runtime"
chmod 700 "$W/runtime"
cat >"$P/libexec/certtetherd" <<EOF
#!/bin/sh
# stand-in for certtetherd: records that it was started, then exits
echo "started as \$0" >>"$W/started"
EOF
chmod 755 "$P/libexec/certtetherd"
verify() { # verify UNIT: systemd-analyze's verdict; its diagnostics go to $W/verify.out
	XDG_RUNTIME_DIR=$W/runtime systemd-analyze --user verify "$1" >"$W/verify.out" 2>&1
}
ok "systemd-analyze --user verify accepts the unit" verify "$UNIT"
ok "... without a single diagnostic" sh -c '! [ -s "$0" ] || { sed "s/^/# /" "$0" >&2; false; }' "$W/verify.out"
mkdir -p "$W/broken"
sed -e 's/^Type=dbus$/Type=dbuss/' -e 's/^Restart=/Restrat=/' "$UNIT" >"$W/broken/certtetherd.service"
verify "$W/broken/certtetherd.service"
ok "negative control: verify reports a broken copy" \
	sh -c 'grep -q "Restrat" "$0" && grep -q "dbuss" "$0"' "$W/verify.out"

# ---- the example configuration ----
CONF=$P/etc/certtether/certtether.conf
ok "example config: every setting commented out (the file means the defaults)" \
	sh -c '! grep -vE "^(#.*|[[:space:]]*|\[(service|identity|device|policy|retry)\])$" "$0"' "$CONF"
ok "example config: documents every [policy] mode" \
	sh -c 'grep -q "#mode = ask" "$0" && grep -q allowlist "$0" && grep -q always "$0"' "$CONF"
echo "# edited by the administrator" >>"$CONF"
ok "reinstall" install_data PREFIX="$P"
ok "an edited configuration survives a reinstall" grep -q "edited by the administrator" "$CONF"

# ---- install into a DESTDIR ----
ok "make install-daemon-data install-udev DESTDIR=<scratch> PREFIX=/usr" install_data DESTDIR="$D" PREFIX=/usr
(cd "$D" && find . -type f | sort) >"$W/dest.list"
cat >"$W/dest.expected" <<'EOF'
./etc/certtether/certtether.conf
./usr/lib/systemd/user/certtetherd.service
./usr/lib/sysusers.d/certtether.conf
./usr/lib/udev/hwdb.d/70-certtether.hwdb
./usr/lib/udev/rules.d/70-certtether.rules
./usr/share/dbus-1/interfaces/org.certtether.Daemon1.xml
./usr/share/dbus-1/services/org.certtether.Daemon1.service
EOF
ok "DESTDIR: exactly the expected files, under DESTDIR (SYSCONFDIR /etc for PREFIX=/usr)" \
	diff -u "$W/dest.expected" "$W/dest.list"
ok "DESTDIR: ExecStart=/usr/libexec/certtetherd (DESTDIR is not part of the path)" \
	is "$(key "$D/usr/lib/systemd/user/certtetherd.service" ExecStart)" /usr/libexec/certtetherd

# ---- D-Bus activation with a private bus ----
cat >"$W/bus.conf" <<EOF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:dir=$W</listen>
  <auth>EXTERNAL</auth>
  <servicedir>$P/share/dbus-1/services</servicedir>
  <policy context="default">
    <allow send_destination="*"/>
    <allow receive_sender="*"/>
    <allow own="*"/>
  </policy>
  <!-- the stand-in never takes the name: do not wait the default 25 s for it -->
  <limit name="service_start_timeout">3000</limit>
</busconfig>
EOF
dbus-daemon --config-file="$W/bus.conf" --nofork --print-address=3 3>"$W/bus.address" 2>"$W/bus.log" &
BUS_PID=$!
for _ in $(seq 50); do
	[ -s "$W/bus.address" ] && break
	sleep 0.1
done
ADDR=$(head -1 "$W/bus.address")
ok "a private dbus-daemon reads the installed services directory" test -n "$ADDR"
bus() {
	timeout 60 gdbus call --address "$ADDR" --dest org.freedesktop.DBus \
		--object-path /org/freedesktop/DBus --method "$@"
}
ok "org.certtether.Daemon1 is activatable" \
	sh -c 'echo "$0" | grep -q "org.certtether.Daemon1"' "$(bus org.freedesktop.DBus.ListActivatableNames 2>&1)"
# the stand-in exits without taking the name, so the bus answers with an error; what
# matters is that it ran the program named by Exec=
bus org.freedesktop.DBus.StartServiceByName org.certtether.Daemon1 0 >"$W/start.out" 2>&1
ok "asked to start it, the bus runs Exec= (PREFIX/libexec/certtetherd)" \
	grep -qx "started as $P/libexec/certtetherd" "$W/started"

echo "1..$n"
[ "$failures" = 0 ]
