# SPDX-License-Identifier: MIT
# Helpers for the "never worse than no supervisor" tests: test-safety-*.sh. Source after lib.sh
# and daemon.sh. Each script runs several scenarios in one VM boot, each without and with memwarden; a
# failed check is reported (FAIL [file:line]) and counted, the scenario goes on so that one run shows every
# figure, and sf_done exits 1 when anything failed.
#   check_eq ACTUAL EXPECTED DESC, check_ge ACTUAL MIN DESC (integers), check_lef ACTUAL MAX DESC (decimals),
#   check_true DESC CMD..., check_contains HAYSTACK NEEDLE DESC, sf_done
#   ev_watch NAME CGDIR [pid:N|cg:DIR]...   start tests/integration/evwatch.py (the kernel's view, 50 ms)
#   ev_get NAME KEY, ev_stop NAME, ev_since NAME KEY T   (KEY's time minus T, in seconds, "" if unknown)
#   sf_mark             records from now on only (sets SF_T0_US, CLOCK_MONOTONIC); mw_restart calls it
#   sf_wait TIMEOUT "ID..." PYEXPR   like mw_wait_record, for any of the MESSAGE_IDs, only records since
#                       sf_mark, the first match in journal order (in /tmp/mw-record.json for mw_field)
#   sf_count "ID..." PYEXPR         how many records since sf_mark match
#   rec_time            __MONOTONIC_TIMESTAMP of /tmp/mw-record.json, in seconds
#   mw_restart          (re)start memwardend with the policies in place; 1 (and the journal) if it refused
#   slice_*             the slice scenario: acc55memwarden.slice (MemoryMax=200M) holding
#                       bloat.service (tail -f /dev/zero) and chill.service (sleep infinity)

_sf_failed=0
_sf_failures=()
_sf_where() { echo "${BASH_SOURCE[2]##*/}:${BASH_LINENO[1]}"; }
_sf_fail() {
        echo "FAIL [$1]: $2" >&2
        _sf_failed=$((_sf_failed + 1))
        _sf_failures+=("[$1] $2")
        return 1
}
check_eq() { [ "$1" = "$2" ] && pass "$3" || _sf_fail "$(_sf_where)" "$3: got '$1', expected '$2'"; }
check_ge() {
        [[ "$1" =~ ^-?[0-9]+$ ]] || { _sf_fail "$(_sf_where)" "$3: '$1' is not a number"; return 1; }
        [ "$1" -ge "$2" ] && pass "$3" || _sf_fail "$(_sf_where)" "$3: got $1, expected >= $2"
}
check_lef() {
        [[ "$1" =~ ^[0-9]+(\.[0-9]+)?$ ]] || { _sf_fail "$(_sf_where)" "$3: '$1' is not a number"; return 1; }
        awk -v a="$1" -v b="$2" 'BEGIN { exit !(a <= b) }' && pass "$3 ($1 <= $2)" ||
                _sf_fail "$(_sf_where)" "$3: got $1, expected <= $2"
}
check_true() {
        local d=$1; shift
        "$@" >/dev/null 2>&1 && pass "$d" || _sf_fail "$(_sf_where)" "$d (failed: $*)"
}
check_contains() {
        case "$1" in *"$2"*) pass "$3" ;; *) _sf_fail "$(_sf_where)" "$3: '$2' not in '$1'" ;; esac
}
sf_done() {
        if [ "$_sf_failed" -gt 0 ]; then
                echo "FAILED: $TEST_NAME: $_sf_failed failed check(s), $_checks passed:" >&2
                printf '  %s\n' "${_sf_failures[@]}" >&2
                exit 1
        fi
        done_testing
}

_ev_pids=()
declare -A _ev_pid
ev_watch() {
        local name=$1 cg=$2; shift 2
        rm -f "/run/ev-$name"
        python3 "$MEMWARDEN_SOURCE/tests/integration/evwatch.py" "$cg" "/run/ev-$name" "$@" &
        _ev_pids+=($!)
        _ev_pid[$name]=$!
        disown
        wait_for 20 grep -q '^ready=1' "/run/ev-$name" || fail "evwatch $name did not start"
}
ev_get() { sed -n "s/^$2=//p" "/run/ev-$1" 2>/dev/null; }
ev_stop() {
        local p=${_ev_pid[$1]:-}
        [ -n "$p" ] && kill "$p" 2>/dev/null && wait_for 10 sh -c "! kill -0 $p"
        return 0
}
ev_since() { # NAME KEY T0: KEY's time minus T0 in seconds (2 decimals), "" when either is unknown
        local t; t=$(ev_get "$1" "$2")
        [ -n "$t" ] && [ -n "$3" ] && awk -v a="$t" -v b="$3" 'BEGIN { printf "%.2f\n", a - b }'
}
sub_f() { [ -n "$1" ] && [ -n "$2" ] && awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f\n", a - b }'; }
rec_time() { python3 -c 'import json; print("%.3f" % (int(json.load(open("/tmp/mw-record.json"))["__MONOTONIC_TIMESTAMP"]) / 1e6))'; }
rec_fields() { # KEY...: "KEY=value" for each field of the last record found, absent ones left out
        python3 -c 'import json, sys
r = json.load(open("/tmp/mw-record.json"))
print(" ".join("%s=%s" % (k, r[k]) for k in sys.argv[1:] if k in r))' "$@"
}
mono_now() { python3 -c 'import time; print("%.3f" % time.monotonic())'; }
sf_mark() { SF_T0_US=$(python3 -c 'import time; print(int(time.monotonic() * 1e6))'); }
sf_mark
_sf_records() { # "ID..." PYEXPR MODE(first|count)
        local ids=() id
        for id in $1; do ids+=("MESSAGE_ID=$id"); done
        journalctl --since "$MW_T0" -o json --no-pager "${ids[@]}" 2>/dev/null | python3 -c '
import json, sys
expr, t0, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]
n = 0
for line in sys.stdin:
    r = json.loads(line)
    if int(r.get("__MONOTONIC_TIMESTAMP", 0)) < t0 or not eval(expr, {}, {"r": r}):
        continue
    if mode == "first":
        print(json.dumps(r)); sys.exit(0)
    n += 1
if mode == "count":
    print(n); sys.exit(0)
sys.exit(1)' "$2" "$SF_T0_US" "$3"
}
sf_wait() {
        local end=$(( $(date +%s) + $1 ))
        while :; do
                journalctl --sync 2>/dev/null || true
                _sf_records "$2" "$3" first >/tmp/mw-record.json.new && { mv /tmp/mw-record.json.new /tmp/mw-record.json; return 0; }
                [ "$(date +%s)" -lt "$end" ] || return 1
                sleep 0.5
        done
}
sf_count() { journalctl --sync 2>/dev/null; _sf_records "$1" "$2" count; }
_sf_cleanup() {
        local p
        for p in "${_ev_pids[@]}"; do kill "$p" 2>/dev/null; done
        _cleanup
}
trap _sf_cleanup EXIT

mw_restart() {
        systemctl stop memwardend.service 2>/dev/null
        systemctl reset-failed memwardend.service 2>/dev/null
        sf_mark
        if ! systemctl start memwardend.service; then
                journalctl -u memwardend --no-pager -n 15 >&2
                return 1
        fi
        MW_PID=$(systemctl show -P MainPID memwardend.service)
}
mw_stop() { systemctl stop memwardend.service; }

# The slice of section 1. slice_up starts chill (so the slice's cgroup exists), slice_bloat starts bloat
# and sets BLOAT_PID, slice_down stops all of it and waits for the slice's cgroup to go.
SLICE=acc55memwarden.slice
SLICE_CG=/sys/fs/cgroup/$SLICE
slice_units() {
        cat >/run/systemd/system/$SLICE <<EOF
[Slice]
MemoryAccounting=yes
MemoryMax=200M
MemorySwapMax=0
EOF
        cat >/run/systemd/system/bloat.service <<EOF
[Service]
Slice=$SLICE
ExecStart=/usr/bin/tail -f /dev/zero
OOMPolicy=continue
EOF
        cat >/run/systemd/system/chill.service <<EOF
[Service]
Slice=$SLICE
ExecStart=/usr/bin/sleep infinity
EOF
        systemctl daemon-reload
        track_unit bloat.service
        track_unit chill.service
}
slice_up() {
        systemctl start chill.service || fail "start chill.service"
        CHILL_PID=$(systemctl show -P MainPID chill.service)
}
slice_bloat() {
        systemctl start bloat.service || fail "start bloat.service"
        BLOAT_PID=$(systemctl show -P MainPID bloat.service)
}
slice_down() {
        systemctl stop bloat.service chill.service $SLICE 2>/dev/null
        systemctl reset-failed bloat.service chill.service $SLICE 2>/dev/null
        wait_for 20 sh -c "[ ! -d $SLICE_CG ]" || info "the slice's cgroup is still there"
}
