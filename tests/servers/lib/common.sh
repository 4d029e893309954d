# Shared helpers for tests/servers/{start,stop,control}. Sourced, not executed.

ct_die() {
	echo "${CT_PROG:-servers}: $*" >&2
	exit 1
}

# the directory an instance lives in, made absolute (the fixtures and env.sh need it so)
ct_abs_dir() {
	local d=$1
	case "$d" in
	/*) printf '%s\n' "$d" ;;
	*) printf '%s/%s\n' "$PWD" "$d" ;;
	esac
}

# a PID is alive when it exists and is not a zombie: PID 1 on some machines reaps
# orphans lazily, so kill -0 alone would keep reporting stopped servers as running
ct_pid_alive() {
	local pid=$1 state
	[ -r "/proc/$pid/stat" ] || return 1
	state=$(sed -e 's/^.*) //' "/proc/$pid/stat" 2>/dev/null | cut -d' ' -f1) || return 1
	[ -n "$state" ] && [ "$state" != Z ]
}

# is PID alive and running program NAME (guards against a recycled PID)
ct_pid_is() {
	local pid=$1 name=$2
	ct_pid_alive "$pid" || return 1
	tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "$name"
}

# the PID written in FILE, or nothing
ct_read_pid() {
	local f=$1 pid
	[ -s "$f" ] || return 1
	pid=$(tr -dc '0-9' <"$f")
	[ -n "$pid" ] || return 1
	printf '%s\n' "$pid"
}

# the live members of session SID (the process itself, its children, CGIs it started)
ct_session_pids() {
	local sid=$1 stat f rest
	for f in /proc/[0-9]*/stat; do
		# bash's read, not cat: this loop visits every process and must not fork
		read -r stat 2>/dev/null <"$f" || continue
		rest=${stat##*) }
		# fields after "comm)": state ppid pgrp session ...
		set -- $rest
		[ "${4:-}" = "$sid" ] || continue
		[ "$1" = Z ] && continue
		f=${f#/proc/}
		printf '%s\n' "${f%/stat}"
	done
}

# wait until none of PIDS is alive; $1 = tenths of a second to wait
ct_wait_gone() {
	local tenths=$1 pid left i
	shift
	for ((i = 0; i < tenths; i++)); do
		left=0
		for pid in "$@"; do
			ct_pid_alive "$pid" && left=1
		done
		[ "$left" = 0 ] && return 0
		sleep 0.1
	done
	return 1
}

# can something connect to 127.0.0.1:PORT over TCP (bash's /dev/tcp, no extra process)
ct_tcp_open() {
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# is the loopback interface carrying ::1 (then Apache listens there too, so that a
# client resolving localhost to ::1 first cannot reach some other program on our port)
ct_have_ipv6_lo() {
	grep -qE '^0{31}1 .* lo$' /proc/net/if_inet6 2>/dev/null
}
