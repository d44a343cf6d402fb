#!/bin/bash
# SPDX-License-Identifier: MIT
# restart for cgroups that are no systemd service: a leaking process in a scope (systemd-run
# --scope, which systemd cannot restart) is stopped through a pidfd instead.
#  1. It handles SIGTERM: memwarden SIGTERMs the main process before the limit; it flushes its state and
#     exits; nobody is OOM-killed. RESTART_VIA=sigterm.
#  2. It ignores SIGTERM: SIGKILL follows after [Restart] StopTimeout=, still before the kernel acts.
#  3. [Restart] Command= runs instead (posix_spawn, %u expanded), here handed to systemd-run so that it
#     runs outside memwardend's sandbox. The command restarts for real (it marks that it ran, then
#     SIGTERMs the scope): a command that frees nothing leaves the leak to reach memory.max within ~2 s,
#     and the kernel's OOM killer then acts while the rung settles, as it would without memwarden.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon.sh"

LEAK=$MEMWARDEN_SOURCE/tests/helpers/leak.py

mw_install
# One policy per scope: the same ladder, Command= only for the third.
policy() { # NAME [COMMAND]
        cat <<P
[Match]
Unit=$1
[Pressure]
Brake=90%
Usage=40%
SampleInterval=500ms
[Actions]
Ladder=alert restart kill
[Alert]
Settle=15s
[Restart]
LeadTime=30s
StopTimeout=3s
${2:+Command=$2}
P
}
policy mw-scope-term.scope | mw_policy scope-term
policy mw-scope-ignore.scope | mw_policy scope-ignore
# The command runs in memwardend's sandbox (ProtectSystem=strict: /var/lib is read-only there); handing it
# to systemd with systemd-run runs it outside, as the man page suggests for podman.
# Commands have no shell and no quoting, so the restart is a script: it marks that it ran for %u, then stops
# the scope through systemd with SIGTERM (the leak flushes its state on it).
cat >/run/mw-restart-cmd <<'S'
# run as: sh /run/mw-restart-cmd UNIT
touch "/var/lib/mw-restart-ran-for-$1"
exec systemctl kill --signal=SIGTERM "$1"
S
policy mw-scope-cmd.scope "/usr/bin/systemd-run --no-block --collect --quiet /bin/sh /run/mw-restart-cmd %u" | mw_policy scope-cmd
mw_start

# start_scope NAME MODE: the leak in a transient scope, in the background; prints the scope's cgroup
start_scope() {
        rm -f /run/$1.state
        track_unit $1.scope
        systemd-run --quiet --scope --unit=$1.scope -p MemoryMax=128M -p MemorySwapMax=0 \
                python3 $LEAK /run/$1.state 6 $2 >/dev/null 2>&1 &
        wait_for 10 systemctl is-active -q $1.scope || fail "$1.scope did not start"
        unit_cgroup $1.scope
}
restart_record() { # UNIT
        mw_wait_record 80 "$MW_PRESSURE $MW_ACTION" "r.get('UNIT') == '$1' and r.get('ACTION') == 'restart'" ||
                { mw_dump_journal 40; fail "no ACTION=restart record for $1 within 80 s"; }
}
no_kernel_kill() { # CGROUP WHAT
        local oom; oom=$(cg_oom_kills "$1")
        assert_eq "${oom:-0}" 0 "$2: memory.events oom_kill is 0"
}

# The three scopes leak at once (one boot, a third of the time); each is then judged on its own.
cg_term=$(start_scope mw-scope-term flush)
cg_ignore=$(start_scope mw-scope-ignore ignore)
cg_cmd=$(start_scope mw-scope-cmd flush)

# 1. SIGTERM, flushed
cg=$cg_term
restart_record mw-scope-term.scope
assert_eq "$(mw_field RESULT)" ok "scope: restart RESULT=ok"
assert_eq "$(mw_field RESTART_VIA)" sigterm "scope: stopped through SIGTERM (systemd cannot restart a scope)"
info "scope: $(mw_field MESSAGE)"
wait_for 20 grep -q flushed /run/mw-scope-term.state || { mw_dump_journal 20; fail "no flush in the state file"; }
pass "the process flushed its state on SIGTERM: $(head -1 /run/mw-scope-term.state)"
assert_eq "$(mw_field RESTART_PID)" "$(awk '{ print $4 }' /run/mw-scope-term.state | head -1)" "the SIGTERM went to the leaking main process"
no_kernel_kill "$cg" "SIGTERM case"

# 2. SIGTERM ignored: SIGKILL after StopTimeout=3s
cg=$cg_ignore
restart_record mw-scope-ignore.scope
assert_eq "$(mw_field RESTART_VIA)" sigterm "ignoring scope: SIGTERM first"
pid=$(mw_field RESTART_PID)
wait_for 15 sh -c "! kill -0 $pid 2>/dev/null" || fail "PID $pid still runs 15 s after the SIGTERM"
pass "PID $pid is gone"
wait_for 10 sh -c "journalctl -u memwardend --since '$MW_T0' --no-pager | grep -q 'PID $pid still ran after its stop timeout, sent SIGKILL'" ||
        { mw_dump_journal 20; fail "no SIGKILL-after-timeout message for PID $pid"; }
pass "SIGKILL followed after StopTimeout=3s"
[ ! -s /run/mw-scope-ignore.state ] || fail "the ignoring process wrote state"
no_kernel_kill "$cg" "SIGKILL case"

# 3. Command=
cg=$cg_cmd
restart_record mw-scope-cmd.scope
assert_eq "$(mw_field RESTART_VIA)" command "Command= is used when set"
info "command: $(mw_field MESSAGE)"
wait_for 10 test -e /var/lib/mw-restart-ran-for-mw-scope-cmd.scope ||
        { mw_dump_journal 20; fail "the command did not run (or %u was not expanded)"; }
rm -f /var/lib/mw-restart-ran-for-mw-scope-cmd.scope
pass "the command ran, outside memwardend's sandbox through systemd-run, with %u expanded"
wait_for 20 grep -q flushed /run/mw-scope-cmd.state || { mw_dump_journal 20; fail "the command's SIGTERM left no flush in the state file"; }
pass "the command's restart stopped the leak, which flushed its state: $(head -1 /run/mw-scope-cmd.state)"
no_kernel_kill "$cg" "Command= case"
killed=$(journalctl -k --since "$MW_T0" --no-pager | grep 'Killed process')
[ -z "$killed" ] || info "kernel: $killed"
assert_eq "$(printf '%s' "$killed" | grep -c 'Killed process')" 0 "the kernel killed nothing"
done_testing
