#!/bin/bash
# SPDX-License-Identifier: MIT
# The Debian packages, built on the host by tests/integration/deb-test (scripts/build-deb, lintian), in one
# VM boot: apt installs them (the guest's root is the host's, read-only under a tmpfs overlay, so dpkg
# writes to the overlay and systemd is PID 1: a real install); memwardend is enabled and running, the
# catalog updated, tmpfiles applied. Then a scripted pressure episode on a guarded unit (a hog over a 75%
# brake, ladder alert -> kill) is in the metrics file, and Debian's prometheus-node-exporter, reading it
# with its textfile collector, serves the same values on 127.0.0.1. `apt-get remove` stops memwardend and
# leaves no brake (memory.high of a still-running guarded unit back to max); `apt-get purge` leaves no
# file of the package, no /etc/memwarden, no /run/memwarden, no metrics file.
. "$(dirname "$0")/lib.sh"

deb=${MEMWARDEN_DEB_DIR:-}
[ -n "$deb" ] && ls "$deb"/memwarden_*.deb >/dev/null 2>&1 || fail "no .deb in MEMWARDEN_DEB_DIR='$deb' (run deb-test)"
here=$(dirname "$(readlink -f "$0")")
command -v prometheus-node-exporter >/dev/null || fail "prometheus-node-exporter missing (scripts/install-deps --deb)"
[ -e /usr/sbin/memwardend ] && fail "memwarden is already installed in the guest's root"

# A container image's policy-rc.d (exit 101) on the host would stop maintainer scripts from starting
# services; the overlay lets the guest drop it.
rm -f /usr/sbin/policy-rc.d
# What the host's own apt setup adds that costs minutes under TCG and has nothing to do with the package,
# undone in the overlay: man-db's trigger re-indexing every manual page over 9p; PackageKit's dpkg hook
# (gdbus activates packagekitd and polkitd after each dpkg run).
rm -f /var/lib/man-db/auto-update /etc/apt/apt.conf.d/20packagekit
# debconf's pre-install hook (dpkg-preconfigure, perl: ~30 s under TCG) looks for debconf templates, and
# these packages have none.
rm -f /etc/apt/apt.conf.d/70debconf
# apt_run ARGS...: apt-get with its output streamed, each line prefixed with the seconds since the start.
# No package sources (the guest has no network; the local .debs and dpkg's status are all it needs): apt
# would otherwise rebuild its cache from the host's package lists, ~50 s under TCG per run.
mkdir -p /run/mw-no-sources
apt_run() {
        local t0=$SECONDS rc
        DEBIAN_FRONTEND=noninteractive apt-get -y -q -o Dpkg::Use-Pty=0 -o Dir::Etc::SourceList=/dev/null \
                -o Dir::Etc::SourceParts=/run/mw-no-sources "$@" 2>&1 |
                while IFS= read -r l; do printf '  apt %3d s: %s\n' $((SECONDS - t0)) "$l"; done
        rc=${PIPESTATUS[0]}
        info "apt-get $1: exit $rc in $((SECONDS - t0)) s"
        return $rc
}
textdir=/var/lib/prometheus/node-exporter
mkdir -p $textdir
# phase NAME: the seconds since the last phase, one line each (the test's timings per step).
_phase_t=$SECONDS
phase() { info "phase $1: $((SECONDS - _phase_t)) s"; _phase_t=$SECONDS; }
info "guest up $(cut -d' ' -f1 /proc/uptime) s after boot"

# --- install ---
apt_run install --no-install-recommends "$deb"/memwarden_*.deb "$deb"/libmemwarden-trim0_*.deb ||
        fail "apt-get install of the .debs"
pass "apt-get install memwarden libmemwarden-trim0 (.debs built on the host)"
phase install
assert_eq "$(systemctl is-active memwardend)" active "memwardend is active after install"
assert_eq "$(systemctl is-enabled memwardend)" enabled "memwardend is enabled"
assert_contains "$(dpkg-query -W -f='${Conffiles}' memwarden)" /etc/memwarden/memwarden.conf \
        "/etc/memwarden/memwarden.conf is a conffile"
assert_contains "$(journalctl --list-catalog 2>/dev/null)" 0f497462c8564442a45216908fdf07c9 \
        "the journal catalog knows memwarden's MESSAGE_IDs (systemd's dpkg trigger ran journalctl --update-catalog)"
assert_eq "$(stat -c %a /run/memwarden/trim)" 1777 "tmpfiles created /run/memwarden/trim"
assert_file /usr/share/man/man5/memwarden.conf.5.gz "man pages installed"
assert_file /usr/share/doc/memwarden/examples/tight-container.conf.example "example policy installed"
assert_true "the library is where enroll points" test -e "$(sed -n 's/^#define TRIM_LIBRARY_PATH "\(.*\)"$/\1/p' \
        "$MEMWARDEN_BUILD/config.h")"
files=$(dpkg -L memwarden libmemwarden-trim0 | sort -u)

# --- the first hour: the shipped default (alert only) on a unit with a MemoryMax=, no swap in the VM ---
first=mw-first.service
track_unit $first
systemd-run --quiet --unit=$first -p MemoryMax=64M sleep infinity || fail "start $first"
fcg=$(unit_cgroup $first)
wait_for 20 sh -c "memwardenctl status | grep -qF '  ${fcg#/sys/fs/cgroup} (policy 50-default'" ||
        fail "memwardenctl status does not name $first: $(memwardenctl status 2>&1 | head -20)"
st=$(memwardenctl status)
assert_contains "$st" "can get no warning before a kernel OOM kill" \
        "first hour: memwardenctl status says $first gets no warning before an OOM kill (default policy, no swap)"
assert_contains "$st" "Brake=90%" "first hour: memwardenctl status says what to set"
assert_contains "$(memwardenctl check 2>&1 >/dev/null)" "policy 50-default sets no Brake= and this machine has no swap" \
        "first hour: memwardenctl check warns about the shipped default without swap"
systemctl stop $first

# --- configure: metrics file, a test policy ---
sed -i "s|^#MetricsFile=\$|MetricsFile=$textdir/memwarden.prom|" /etc/memwarden/memwarden.conf
grep -q "^MetricsFile=$textdir/memwarden.prom" /etc/memwarden/memwarden.conf || fail "could not set MetricsFile="
cat >/etc/memwarden/policy.d/10-deb-test.conf <<'P'
[Match]
Unit=mw-deb-*.service
[Pressure]
SomeTrigger=50ms/500ms
Brake=75%
[Actions]
Ladder=alert kill
[Alert]
Settle=1s
[Kill]
Mode=cgroup
P
assert_true "memwardenctl check accepts the configuration" memwardenctl check -q
assert_true "systemctl reload memwardend" systemctl reload memwardend

idle=mw-deb-idle.service hog=mw-deb-hog.service own=mw-deb-own.service
track_unit $idle; track_unit $hog; track_unit $own
systemd-run --quiet --unit=$idle -p MemoryMax=64M sleep infinity || fail "start $idle"
# The operator's own MemoryHigh= (60 MiB) on a guarded unit: memwarden puts no brake on it, and nothing of
# install, reload, remove or purge changes it.
systemd-run --quiet --unit=$own -p MemoryMax=64M -p MemoryHigh=60M sleep infinity || fail "start $own"
icg=$(unit_cgroup $idle) ocg=$(unit_cgroup $own)
wait_for 20 sh -c "[ \"\$(cat $icg/memory.high)\" != max ]" || fail "no brake on $idle: $(cat $icg/memory.high)"
pass "brake set on $idle: memory.high $(cat "$icg/memory.high") of max $(cat "$icg/memory.max")"
# own_high_unchanged WHEN: memory.high of $own is still the operator's 60 MiB, in cgroupfs and in systemd.
own_high_unchanged() {
        assert_eq "$(cat "$ocg/memory.high")" 62914560 "$1: memory.high of $own is the operator's 60 MiB (cgroupfs)"
        assert_eq "$(systemctl show -P MemoryHigh $own)" 62914560 "$1: MemoryHigh= of $own is the operator's (systemd)"
}

prom=$textdir/memwarden.prom
# metric NAME LABELMATCH: the value of the first sample of NAME whose labels contain LABELMATCH, in $prom.
metric() { awk -v n="$1" -v l="$2" '(index($0, n "{") == 1 || index($0, n " ") == 1) && index($0, l) { print $NF; exit }' \
        "${3:-$prom}"; }
wait_for 20 sh -c "grep -q 'unit=\"$idle\"' $prom" || fail "the metrics file does not list $idle: $(cat $prom 2>&1 | head)"
assert_eq "$(metric memwarden_cgroup_brake_active "unit=\"$idle\"")" 1 "metrics: brake_active 1 for $idle"
assert_eq "$(metric memwarden_cgroup_brake_bytes "unit=\"$idle\"")" "$(cat "$icg/memory.high")" \
        "metrics: brake_bytes = memory.high of $idle"
wait_for 20 sh -c "grep -q 'unit=\"$own\"' $prom" || fail "the metrics file does not list $own"
assert_eq "$(metric memwarden_cgroup_brake_active "unit=\"$own\"")" 0 "metrics: brake_active 0 for $own (guarded, no brake)"
own_high_unchanged "guarded"

# --- a pressure episode: the hog crosses the brake, alert, then kill ---
systemd-run --quiet --unit=$hog -p MemoryMax=64M -p MemorySwapMax=0 -p OOMPolicy=continue -p KillMode=none \
        python3 "$here/hog.py" 120 2 0.05 || fail "start $hog"
hcg=$(unit_cgroup $hog)
killed="memwarden_cgroup_actions_total{cgroup=\"${hcg#/sys/fs/cgroup}\",unit=\"$hog\",policy=\"10-deb-test\",rung=\"kill\",result=\"ok\"} 1"
wait_for 120 grep -qF "$killed" $prom || { journalctl -u memwardend --no-pager | tail -20 >&2; grep "$hog" $prom >&2;
        fail "no kill of $hog in the metrics file within 120 s"; }
pass "metrics file: $hog killed by the ladder (actions_total rung=kill result=ok 1)"
wait_for 20 sh -c "! systemctl is-active -q $hog" || fail "$hog still active after the kill"
oom=$(journalctl -u memwardend -o cat --no-pager | grep -c "the kernel OOM killer killed" || true)
sleep 1.5 # the last write is at most 1 s after the cgroup went away
cp $prom /tmp/mw-metrics.prom
assert_ge "$(metric memwarden_cgroup_pressure_episodes_total "unit=\"$hog\"" /tmp/mw-metrics.prom)" 1 \
        "metrics: episodes >= 1 for $hog (kept after its cgroup went away)"
# (an alert in front of the ladder is carried by the next rung's record, not counted as an action of its own)
assert_eq "$(metric memwarden_cgroup_actions_total "unit=\"$hog\",policy=\"10-deb-test\",rung=\"alert\",result=\"ok\"" \
        /tmp/mw-metrics.prom)" \
        "$(journalctl -u memwardend -o json --no-pager UNIT=$hog ACTION=alert | grep -c '"RESULT":"ok"')" \
        "metrics: alert actions for $hog = the journal's alert records"
assert_eq "$(metric memwarden_cgroup_oom_kills_total "unit=\"$hog\"" /tmp/mw-metrics.prom)" "$oom" \
        "metrics: oom_kills for $hog = the daemon's OOM-kill records ($oom)"
secs=$(metric memwarden_cgroup_pressure_seconds_total "unit=\"$hog\"" /tmp/mw-metrics.prom)
awk -v s="$secs" 'BEGIN { exit !(s > 0) }' || fail "seconds under pressure for $hog: '$secs'"
pass "metrics: $secs s under pressure for $hog"
assert_eq "$(metric memwarden_guarded_cgroups "" /tmp/mw-metrics.prom)" \
        "$(memwardenctl status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["guarded"])')" \
        "metrics: guarded_cgroups = memwardenctl status"
assert_true "promtool check metrics accepts the file" sh -c "promtool check metrics < /tmp/mw-metrics.prom"
assert_true "memwardenctl metrics serves the same series" sh -c "memwardenctl metrics | grep -qF '$killed'"

# --- node_exporter's textfile collector serves them ---
ip link set lo up 2>/dev/null
prometheus-node-exporter --collector.textfile.directory=$textdir --web.listen-address=127.0.0.1:9100 \
        >/tmp/node-exporter.log 2>&1 &
ne=$!
trap 'kill $ne 2>/dev/null; _cleanup' EXIT
wait_for 30 curl -sf -o /tmp/scrape.txt http://127.0.0.1:9100/metrics ||
        { cat /tmp/node-exporter.log >&2; fail "node_exporter does not answer on 127.0.0.1:9100"; }
cmp -s $prom /tmp/mw-metrics.prom || { cp $prom /tmp/mw-metrics.prom; curl -sf -o /tmp/scrape.txt http://127.0.0.1:9100/metrics; }
grep -q '^node_textfile_scrape_error 0' /tmp/scrape.txt || fail "node_exporter: textfile scrape error: $(grep textfile /tmp/scrape.txt)"
pass "node_exporter read the textfile without error"
# node_exporter sorts the labels by name.
for series in "memwarden_cgroup_actions_total{cgroup=\"${hcg#/sys/fs/cgroup}\",policy=\"10-deb-test\",result=\"ok\",rung=\"kill\",unit=\"$hog\"}" \
              "memwarden_cgroup_brake_active{cgroup=\"${icg#/sys/fs/cgroup}\",policy=\"10-deb-test\",unit=\"$idle\"}"; do
        got=$(grep -F "$series " /tmp/scrape.txt | awk '{ print $NF }')
        assert_eq "$got" 1 "scraped from node_exporter: $series"
done
scraped=$(grep -F "memwarden_cgroup_pressure_episodes_total{" /tmp/scrape.txt | grep -F "unit=\"$hog\"" | awk '{ print $NF }')
assert_eq "$scraped" "$(metric memwarden_cgroup_pressure_episodes_total "unit=\"$hog\"" /tmp/mw-metrics.prom)" \
        "scraped episodes for $hog = the file's"
kill $ne 2>/dev/null

phase "episode, metrics, node_exporter"

# --- remove: the daemon stops, no brake is left ---
apt_run remove memwarden || fail "apt-get remove"
pass "apt-get remove memwarden"
phase remove
assert_false "memwardend is not active after remove" systemctl is-active -q memwardend
assert_false "memwardend.service is gone" test -e /lib/systemd/system/memwardend.service
assert_eq "$(cat "$icg/memory.high")" max "no brake left: memory.high of $idle back to max"
assert_eq "$(systemctl show -P MemoryHigh $idle)" infinity "no brake left in systemd's view: MemoryHigh= of $idle"
assert_false "the metrics file is removed with the daemon" test -e $prom
assert_true "$idle still runs" systemctl is-active -q $idle
assert_contains "$(journalctl -u memwardend BRAKE=restored -o cat --no-pager)" "$idle" \
        "a brake-restored record for $idle at stop"
assert_file /etc/memwarden/memwarden.conf "remove keeps the conffiles"
own_high_unchanged "after remove"

# --- purge: nothing left ---
apt_run purge memwarden libmemwarden-trim0 || fail "apt-get purge"
pass "apt-get purge memwarden libmemwarden-trim0"
phase purge
left=""
for f in $files; do
        # dpkg -L lists directories too (/lib, a symlink to /usr/lib on a merged /usr): those stay.
        [ -d "$f" ] && continue
        if [ -e "$f" ] || [ -L "$f" ]; then left="$left $f"; fi
done
assert_eq "$left" "" "no file of the packages left after purge"
assert_false "/etc/memwarden is gone" test -e /etc/memwarden
assert_false "/run/memwarden is gone" test -e /run/memwarden
assert_false "no /var/lib/memwarden" test -e /var/lib/memwarden
assert_eq "$(ls -A $textdir | grep -c memwarden)" 0 "no metrics file (nor its temporary) in $textdir"
# purge's daemon-reload must not bring a brake back from systemd's runtime settings.
assert_eq "$(cat "$icg/memory.high")" max "after purge: memory.high of $idle is max (cgroupfs)"
assert_eq "$(systemctl show -P MemoryHigh $idle)" infinity "after purge: MemoryHigh= of $idle is infinity (systemd)"
own_high_unchanged "after purge"
assert_eq "$(pgrep -x memwardend | wc -l)" 0 "no memwardend process left"
assert_eq "$(ls /etc/systemd/system/multi-user.target.wants/ | grep -c memwarden)" 0 "no enablement symlink left"
# (the VM's own memwarden-vm* units are not the package's)
assert_eq "$(find /etc/systemd /var/lib/systemd/deb-systemd-helper-enabled /var/lib/systemd/deb-systemd-helper-masked \
        \( -name 'memwardend*' -o -name 'memwarden.slice*' -o -name 'memwarden-trim.conf' \) 2>/dev/null)" "" \
        "no unit file, drop-in or deb-systemd-helper state of memwarden left"
assert_false "dpkg no longer knows memwarden" dpkg -s memwarden
done_testing
