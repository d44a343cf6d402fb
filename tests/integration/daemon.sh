# SPDX-License-Identifier: MIT
# Helpers for tests that run memwardend inside the VM. Source after lib.sh.
#   mw_install          install $MEMWARDEN_BUILD into the guest (its overlay; vm-test stages it), daemon-reload
#   mw_policy NAME      write /etc/memwarden/policy.d/NAME.conf from stdin
#   mw_start            start memwardend.service (Type=notify: returns after READY=1)
#   mw_journal_json ID  the daemon's records with MESSAGE_ID=ID since this test began, one JSON per line
#   mw_wait_record TIMEOUT ID PYEXPR   wait for a record whose fields (dict r) satisfy PYEXPR

MW_T0=$(date '+%Y-%m-%d %H:%M:%S')
MW_PRESSURE=cc09ac76392d4205bf123cd640dcc1a6
MW_ACTION=6e42d91a5e50420ea92356dafbb4b46a
MW_RESULT=e9b2e03630c84a74a65f842d7f6e6cdc
MW_RELIEVED=c45d22c01f94415eb5aab3c6cd52fc02
MW_OOM_KILL=fe022f9f3cd047d2bcbda2bb17ec3356
MW_CONFIG_ERROR=731a61ff7d8b4b13820062ed415dec13
MW_BRAKE=2b9b064a4b5a436f93b3c9190d1ef89b
MW_STARTED=0f497462c8564442a45216908fdf07c9

[ -n "$MEMWARDEN_BUILD" ] && [ -x "$MEMWARDEN_BUILD/memwardend" ] || fail "MEMWARDEN_BUILD does not hold a built memwardend"

mw_install() {
        # A runner of several scripts in one boot (test-basics.sh) installs once and exports MW_INSTALLED=1:
        # its scripts then skip the unpack and the daemon-reload (~9 s under TCG each).
        if [ "${MW_INSTALLED:-}" != 1 ]; then
                mw_install_tree
        fi
        MW_UNIT_FILE=$(systemctl show -P FragmentPath memwardend.service)
        [ -n "$MW_UNIT_FILE" ] || fail "memwardend.service not installed"
        MWCTL=$(command -v memwardenctl) || fail "memwardenctl not installed"
        track_unit memwardend.service
        pass "memwarden installed from the build ($MW_UNIT_FILE)"
}

mw_install_tree() {
        # vm-test made the install tree on the host (meson install --destdir); the guest only unpacks it.
        # --keep-directory-symlink: /lib and friends are merged-/usr symlinks, never directories.
        if [ -n "${MEMWARDEN_INSTALL_STAGE:-}" ] && [ -d "$MEMWARDEN_INSTALL_STAGE" ]; then
                tar -C "$MEMWARDEN_INSTALL_STAGE" -cf - . | tar -C / -xf - --keep-directory-symlink \
                        --no-same-owner --no-overwrite-dir || fail "unpack the install tree $MEMWARDEN_INSTALL_STAGE"
        else
                meson install --no-rebuild --quiet -C "$MEMWARDEN_BUILD" >/tmp/mw-install.log 2>&1 ||
                        { cat /tmp/mw-install.log >&2; fail "meson install"; }
        fi
        # Tests bring their own policies; the shipped default would guard all of system.slice.
        rm -f /usr/lib/memwarden/policy.d/*.conf /usr/local/lib/memwarden/policy.d/*.conf
        mkdir -p /etc/memwarden/policy.d
        systemctl daemon-reload
}

mw_policy() { cat >"/etc/memwarden/policy.d/$1.conf"; }

mw_start() {
        systemctl start memwardend.service || { journalctl -u memwardend --no-pager | tail -30 >&2; fail "start memwardend"; }
        MW_PID=$(systemctl show -P MainPID memwardend.service)
        [ "$MW_PID" -gt 0 ] || fail "memwardend has no main PID"
}

mw_journal_json() { # MESSAGE_ID...: one word or several in one argument (journalctl ORs matches of one field)
        local id m=()
        for id in $1; do m+=("MESSAGE_ID=$id"); done
        journalctl --since "$MW_T0" -o json --no-pager "${m[@]}" 2>/dev/null
}

# mw_wait_record TIMEOUT MESSAGE_ID PYEXPR: PYEXPR sees the record as dict r (string values); the first
# match in journal order. MESSAGE_ID may be several ids in one word list ("$MW_PRESSURE $MW_ACTION": a rung
# behind an alert acts with the onset record, a later one in an action record).
# python3 judges the records only when they changed since its last look: its start costs ~2 s of a vCPU
# under TCG, which a poll every 0.5 s took from the workload under test.
mw_wait_record() {
        local t=$1 id=$2 expr=$3 seen= recs
        local end=$(( $(date +%s) + t ))
        while :; do
                journalctl --sync 2>/dev/null || true
                recs=$(mw_journal_json "$id")
                if [ -n "$recs" ] && [ "$recs" != "$seen" ]; then
                        python3 -c '
import json, sys
expr = sys.argv[1]
for line in sys.stdin:
    r = json.loads(line)
    if eval(expr, {}, {"r": r}):
        print(json.dumps(r)); sys.exit(0)
sys.exit(1)' "$expr" <<<"$recs" >/tmp/mw-record.json && return 0
                        seen=$recs
                fi
                [ "$(date +%s)" -lt "$end" ] || return 1
                sleep 0.5
        done
}
mw_field() { python3 -c 'import json,sys; print(json.load(open("/tmp/mw-record.json")).get(sys.argv[1], ""))' "$1"; }

mw_dump_journal() { journalctl -u memwardend --since "$MW_T0" --no-pager | tail -n "${1:-40}" >&2; }
