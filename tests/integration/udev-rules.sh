#!/bin/bash
# udev-rules.sh — TAP test of udev/70-certtether.rules, udev/70-certtether.hwdb and
# udev/certtether.sysusers with the system's own systemd (252 on Debian 12).
#
# How: `udevadm test` (systemd's real rules parser and its usb_id/hwdb builtins, with the
# whole system rule set) runs on USB devices emulated by umockdev-run: sysfs entries with
# real USB descriptors, from which usb_id derives ID_USB_INTERFACES. It all happens in a
# private mount namespace whose /etc/udev holds our rules and an hwdb.bin compiled by
# systemd-hwdb from the system's hwdb.d plus ours, whose /etc/group has the group that
# systemd-sysusers makes from our sysusers file, and whose /run is a private tmpfs (udevadm
# test writes its udev database there). Nothing outside the namespace changes.
#
# What it proves: the files parse without a diagnostic; only a device with an interface
# ff/43/01 gets the uaccess and systemd tags, SYSTEMD_USER_WANTS=certtetherd.service,
# GROUP certtether and MODE 0660, also when 50-udev-default.rules is absent (our own usb_id
# import); other triples do not; the VID:PID hint sets ID_CERTTETHER=1 and grants nothing.
# What it cannot prove here: the ACL itself (udevadm test lists 73-seat-late's RUN
# 'uaccess' but does not run it, and there is no logind seat) and the user manager
# starting certtetherd.service (no systemd user instance in the test environment).
set -u
SRC=${CT_SRCDIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}

if [ -z "${CT_UDEV_RULES_NS:-}" ]; then
	if [ "$(id -u)" = 0 ]; then
		exec env CT_UDEV_RULES_NS=1 unshare --mount --propagation private "$0" "$@"
	fi
	exec env CT_UDEV_RULES_NS=1 unshare --map-root-user --mount --propagation private "$0" "$@"
fi

n=0
failures=0
W=$(mktemp -d /tmp/ct-udev-rules.XXXXXX)
trap 'rm -rf "$W"' EXIT

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

bail() {
	echo "not ok $((n + 1)) - $*"
	echo "Bail out! $*"
	echo "1..$((n + 1))"
	exit 1
}

for tool in udevadm umockdev-run systemd-hwdb systemd-sysusers getent; do
	command -v "$tool" >/dev/null || bail "$tool is missing (Debian packages udev, umockdev, systemd)"
done

# ---- the private namespace ----
mount -t tmpfs tmpfs /run || bail "cannot mount a private /run"
mount -t tmpfs tmpfs /etc/udev || bail "cannot mount a private /etc/udev"
mkdir -p /etc/udev/rules.d /etc/udev/hwdb.d
install -m 0644 "$SRC/udev/70-certtether.rules" /etc/udev/rules.d/
install -m 0644 "$SRC/udev/70-certtether.hwdb" /etc/udev/hwdb.d/

# the group, made by systemd-sysusers from our file into a scratch root
mkdir -p "$W/sysroot/etc"
ok "systemd-sysusers accepts udev/certtether.sysusers" \
	systemd-sysusers --root="$W/sysroot" "$SRC/udev/certtether.sysusers"
ok "it creates the group certtether" grep -q '^certtether:' "$W/sysroot/etc/group"
if ! getent group certtether >/dev/null; then
	{
		cat /etc/group
		grep '^certtether:' "$W/sysroot/etc/group"
	} >"$W/group"
	mount --bind "$W/group" /etc/group || bail "cannot bind a private /etc/group"
fi
GID=$(getent group certtether | cut -d: -f3)

# ---- hwdb ----
ok "systemd-hwdb compiles the system hwdb with 70-certtether.hwdb" systemd-hwdb update
ok "hwdb: 1209:0001 is hinted ID_CERTTETHER=1" \
	sh -c 'systemd-hwdb query usb:v1209p0001d0100 | grep -qx ID_CERTTETHER=1'
ok "hwdb: 1209:0002 is not" \
	sh -c '! systemd-hwdb query usb:v1209p0002d0100 | grep -q ID_CERTTETHER'

# ---- emulated devices ----
# hex of a little-endian u16
le16() { printf '%02X%02X' $(($1 & 0xff)) $(($1 >> 8)); }

# usbdev NAME VID PID IFACE...: umockdev description of a root hub and one device at
# /sys/devices/pci0000:00/0000:00:14.0/usb1/1-1 with the interfaces given as class,
# subclass, protocol in hex ("ff4301"), each with a bulk OUT and a bulk IN endpoint
usbdev() {
	local name=$1 vid=$2 pid=$3
	shift 3
	local n_if=$# total=$((9 + $# * 23)) i=0 ifaces="" t
	for t in "$@"; do
		ifaces+=$(printf '0904%02X0002%s00' "$i" "${t^^}")
		ifaces+=$(printf '0705%02X02000200' $((i + 1)))
		ifaces+=$(printf '0705%02X02000200' $((0x81 + i)))
		i=$((i + 1))
	done
	# device: USB 2.0, class 0, EP0 64 bytes, VID, PID, bcdDevice 1.00, strings 1 2 3, 1 config
	local desc="1201000200000040$(le16 $((16#$vid)))$(le16 $((16#$pid)))000101020301"
	# configuration 1, bus powered, 100 mA, then the interfaces and their endpoints
	desc+="0902$(le16 $total)$(printf '%02X' "$n_if")01008032$ifaces"
	cat >"$W/$name.umockdev" <<EOF
P: /devices/pci0000:00/0000:00:14.0/usb1
N: bus/usb/001/001
E: DEVNAME=/dev/bus/usb/001/001
E: DEVTYPE=usb_device
E: DRIVER=usb
E: PRODUCT=1d6b/2/606
E: TYPE=9/0/1
E: BUSNUM=001
E: DEVNUM=001
E: MAJOR=189
E: MINOR=0
E: SUBSYSTEM=usb
A: busnum=1\n
A: devnum=1\n
A: idVendor=1d6b\n
A: idProduct=0002\n
A: speed=480\n
A: bConfigurationValue=1\n
A: bNumConfigurations=1\n
A: dev=189:0\n
H: descriptors=12010002090001406B1D020006060302010109021900010100E0000904000001090000000705810304000C

P: /devices/pci0000:00/0000:00:14.0/usb1/1-1
N: bus/usb/001/002
E: DEVNAME=/dev/bus/usb/001/002
E: DEVTYPE=usb_device
E: DRIVER=usb
E: PRODUCT=$vid/$pid/100
E: TYPE=0/0/0
E: BUSNUM=001
E: DEVNUM=002
E: MAJOR=189
E: MINOR=1
E: SUBSYSTEM=usb
A: busnum=1\n
A: devnum=2\n
A: idVendor=$vid\n
A: idProduct=$pid\n
A: speed=480\n
A: bConfigurationValue=1\n
A: bNumConfigurations=1\n
A: dev=189:1\n
H: descriptors=$desc
EOF
	# a fresh udev database: TAGS would otherwise accumulate from the previous device
	rm -rf /run/udev
	umockdev-run -d "$W/$name.umockdev" -- \
		udevadm test /sys/devices/pci0000:00/0000:00:14.0/usb1/1-1 >"$W/$name.out" 2>&1
	echo $? >"$W/$name.rc"
	# the resulting properties: the block after udevadm's closing remark
	sed -n '/some values may be different/,$p' "$W/$name.out" | grep -E '^[A-Z_]+=' >"$W/$name.env"
}

prop() { grep -m1 "^$2=" "$W/$1.env" | cut -d= -f2-; }
# CURRENT_TAGS: the tags this event set (TAGS also keeps those of earlier events)
has_tag() { case "$(prop "$1" CURRENT_TAGS)" in *":$2:"*) return 0 ;; esac; return 1; }
lacks_tag() { ! has_tag "$1" "$2"; }
is() { [ "$1" = "$2" ] || { echo "# got '$1', expected '$2'" >&2; return 1; }; }
rule_line() { grep -qE "^1-1: /etc/udev/rules.d/70-certtether.rules:[0-9]+ $2" "$W/$1.out"; }
no_rule_line() { ! grep -qE "^1-1: /etc/udev/rules.d/70-certtether.rules:[0-9]+ $2" "$W/$1.out"; }

usbdev phone 1209 0001 ff4301
ok "udevadm test runs on the emulated phone" is "$(cat "$W/phone.rc")" 0
ok "our rules file is read" grep -q '^Reading rules file: /etc/udev/rules.d/70-certtether.rules' "$W/phone.out"
ok "systemd's parser has nothing to say about it" \
	sh -c '! grep -E "^/etc/udev/rules.d/70-certtether.rules:[0-9]+ " "$0"' "$W/phone.out"
ok "usb_id derives ID_USB_INTERFACES=:ff4301: from the descriptors" is "$(prop phone ID_USB_INTERFACES)" ":ff4301:"
ok "phone: tagged uaccess" has_tag phone uaccess
ok "phone: 73-seat-late.rules will apply the ACL (RUN uaccess)" \
	grep -qE "^1-1: /usr/lib/udev/rules.d/73-seat-late.rules:[0-9]+ RUN 'uaccess'" "$W/phone.out"
ok "phone: tagged systemd" has_tag phone systemd
ok "phone: SYSTEMD_USER_WANTS=certtetherd.service" is "$(prop phone SYSTEMD_USER_WANTS)" certtetherd.service
ok "phone: GROUP certtether (gid $GID) for headless benches" rule_line phone "GROUP $GID\$"
ok "phone: MODE 0660" rule_line phone "MODE 0660"
ok "phone: the hwdb hint ID_CERTTETHER=1" is "$(prop phone ID_CERTTETHER)" 1

usbdev other_subclass 1209 0001 ff4201
ok "ff/42/01 with the hinted VID:PID: ID_CERTTETHER=1 (a hint only)" is "$(prop other_subclass ID_CERTTETHER)" 1
ok "ff/42/01: no uaccess" lacks_tag other_subclass uaccess
ok "ff/42/01: no SYSTEMD_USER_WANTS" is "$(prop other_subclass SYSTEMD_USER_WANTS)" ""
ok "ff/42/01: no GROUP/MODE from our rules" no_rule_line other_subclass "(GROUP|MODE)"

usbdev other_protocol 1209 0001 ff4302
ok "ff/43/02: no uaccess" lacks_tag other_protocol uaccess
ok "ff/43/02: no SYSTEMD_USER_WANTS" is "$(prop other_protocol SYSTEMD_USER_WANTS)" ""

usbdev other_vendor 1234 5678 ff4301
ok "ff/43/01 behind an unknown VID:PID: matched on the triple (uaccess)" has_tag other_vendor uaccess
ok "ff/43/01 behind an unknown VID:PID: SYSTEMD_USER_WANTS" is "$(prop other_vendor SYSTEMD_USER_WANTS)" certtetherd.service
ok "ff/43/01 behind an unknown VID:PID: no hwdb hint" is "$(prop other_vendor ID_CERTTETHER)" ""

usbdev composite 1234 5678 030101 ff4301
ok "composite device (HID + ff/43/01): ID_USB_INTERFACES=:030101:ff4301:" is "$(prop composite ID_USB_INTERFACES)" ":030101:ff4301:"
ok "composite device: tagged uaccess" has_tag composite uaccess

# without 50-udev-default.rules (masked by an empty file of the same name in /etc), only our
# own IMPORT{builtin}="usb_id" can provide ID_USB_INTERFACES
: >/etc/udev/rules.d/50-udev-default.rules
usbdev no_default 1209 0001 ff4301
rm -f /etc/udev/rules.d/50-udev-default.rules
ok "without 50-udev-default.rules: our rules import usb_id themselves" \
	rule_line no_default "Importing properties from results of builtin command 'usb_id'"
ok "without 50-udev-default.rules: still tagged uaccess" has_tag no_default uaccess
ok "without 50-udev-default.rules: still SYSTEMD_USER_WANTS" is "$(prop no_default SYSTEMD_USER_WANTS)" certtetherd.service

echo "1..$n"
if [ "$failures" != 0 ]; then
	echo "# what udevadm test said about each device (rule lines and properties):"
	for f in "$W"/*.out; do
		echo "# ---- $(basename "$f" .out)"
		grep -E 'certtether|73-seat-late|^[A-Z_]+=' "$f" | sed 's/^/# /'
	done
fi
[ "$failures" = 0 ]
