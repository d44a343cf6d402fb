/* SPDX-License-Identifier: MIT */
/* trim: ask the processes of the cgroup to hand back memory their allocator holds free.
 *
 * Every process in the guarded cgroup's subtree whose SigCgt has SIGRTMIN+18 gets it with sigqueue value
 * 0x300 (systemd's common signal), through a pidfd; a process without the handler bit is never signalled
 * (it would die). Processes whose name matches [Trim] CommandMatch= get [Trim] Command= instead (e.g. a
 * JVM: `jcmd %p System.trim_native_heap`), spawned without a shell and watched through a pidfd with a
 * CommandTimeout= (the event loop never waits for it).
 *
 * libmemwarden-trim.so answers with a report in <StateDirectory>/trim/<pid>.json. When the rung's settle
 * report is due, daemon/guard.c calls action_trim_settled(): it reads the reports (written after our
 * request, owned by the process's user or root), adds what each process released, and measures every
 * process's RSS again: what grew back since its trim is reported as TRIM_REGROWN_BYTES, with the part
 * that is transparent huge pages (AnonHugePages) as TRIM_THP_REGROWN_BYTES. */
#include <fcntl.h>
#include <fnmatch.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "action-command.h"
#include "action-trim-inject.h"
#include "action-trim.h"
#include "action.h"
#include "record.h"
#include "cgroup/cgroup-act.h"
#include "cgroup/cgroup-trim.h"
#include "policy/policy-command.h"
#include "util/fileio.h"
#include "util/log.h"
#include "util/strv.h"
#include "util/time-util.h"

#define TRIM_PROCESSES_MAX 256        /* asked per action; more are skipped (and counted) */
#define TRIM_PROCESS_FIELDS_MAX 32    /* TRIM_PROCESS= fields in one record */

typedef struct TrimSent {
        pid_t pid;
        uid_t uid;
        bool command;          /* Command= ran for it, no signal */
        bool injected;         /* [Trim] Inject=: handed to the injection helper (action-trim-inject.c) */
        uint64_t rss_before;   /* VmRSS when asked */
        char comm[32];
} TrimSent;

/* The last trim of the guard's cgroup, until its settle report (or the guard) goes. */
typedef struct TrimPending {
        usec_t sent_usec;      /* CLOCK_MONOTONIC */
        uint64_t sent_realtime_usec;
        TrimSent *sent;
        size_t n_sent;
} TrimPending;

/* Guard.trim: what the rung remembers about the cgroup, allocated at its first trim (most guards never
 * trim: the Guard keeps one pointer), freed with the guard. */
struct TrimState {
        TrimPending *pending;
        InjectRun *inject;     /* the last injection helper's run ([Trim] Inject=yes) */
};

static TrimPending *trim_pending_free(TrimPending *p)
{
        if (!p)
                return NULL;
        free(p->sent);
        free(p);
        return NULL;
}

static uint64_t realtime_usec(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (uint64_t) ts.tv_sec * USEC_PER_SEC + (uint64_t) ts.tv_nsec / NSEC_PER_USEC;
}

/* <StateDirectory>/trim, made world-writable with the sticky bit (like /tmp): preloaded programs of any
 * user write their reports there; the reader checks each report's owner. */
static int trim_dir_open(Manager *m)
{
        const char *state = m->config->daemon.state_dir ?: "/run/memwarden";
        char path[4096];

        snprintf(path, sizeof path, "%s/trim", state);
        (void) mkdir(state, 0755);
        if (mkdir(path, 01777) >= 0)
                (void) chmod(path, 01777); /* the umask took bits away */
        int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        return fd < 0 ? -errno : fd;
}

void action_trim_prepare(Manager *m)
{
        int fd = trim_dir_open(m);
        if (fd < 0)
                log_warning_errno(fd, "Cannot create the trim report directory: %m; trim reports will be missing");
        else
                close(fd);
}

/* ---------------------------------------------------------------------------------------------------- */
/* Command= (policy/policy-command.h, daemon/action-command.h) */

static int trim_command_spawn(Manager *m, const Guard *g, pid_t pid, const char *cgpath)
{
        const TrimConfig *tc = &g->policy->trim;
        _cleanup_strv_free_ char **argv = NULL;
        CommandVars v = { .pid = pid, .container_id = g->id.container_id, .unit = g->id.unit, .cgroup = cgpath };

        int r = command_expand(tc->command, &v, &argv, NULL);
        if (r < 0)
                return r;
        pid_t child = command_spawn(m, argv, &(CommandFor) {
                .rung = RUNG_TRIM,
                .cgroup = cgpath,
                .container_id = g->id.container_id,
                .container_name = g->id.container_name,
                .pid = pid,
                .timeout_usec = tc->command_timeout_usec,
        });
        if (child < 0)
                return child;
        log_debug("Started trim command \"%s\" for PID %d as PID %d.", tc->command, (int) pid, (int) child);
        return 0;
}

static bool command_matches(const TrimConfig *tc, const char *comm)
{
        if (!tc->command || !comm[0])
                return false;
        for (char **g = tc->command_match; g && *g; g++)
                if (fnmatch(*g, comm, 0) == 0)
                        return true;
        return false;
}

/* ---------------------------------------------------------------------------------------------------- */
/* The rung */

typedef struct TrimRun {
        Guard *guard;
        TrimPending *pending;
        unsigned signalled, skipped_no_handler, commands, failed, gone, too_many, inject_marked;
        int last_error;
        TrimInjectBatch inject;
        usec_t now;
} TrimRun;

static int trim_cgroup(const CgroupRoot *root, const char *cgpath, void *userdata)
{
        TrimRun *t = userdata;
        const TrimConfig *tc = &t->guard->policy->trim;
        _cleanup_free_ TrimCandidate *c = NULL;
        int n = trim_list(root, cgpath, &c);
        if (n == -ENOMEM)
                return n;
        if (n < 0)
                return 0; /* gone mid-walk */

        for (int i = 0; i < n; i++) {
                if (c[i].verdict == TRIM_VERDICT_NOT_A_PROCESS)
                        continue;
                if (t->pending->n_sent >= TRIM_PROCESSES_MAX) {
                        t->too_many++;
                        continue;
                }
                TrimSent s = { .pid = c[i].pid, .rss_before = c[i].rss_bytes };
                snprintf(s.comm, sizeof s.comm, "%s", c[i].comm);
                (void) proc_read_uid(root, c[i].pid, &s.uid);

                int r;
                if (command_matches(tc, c[i].comm)) {
                        r = trim_command_spawn(t->guard->manager, t->guard, c[i].pid, cgpath);
                        if (r < 0) {
                                log_warning_errno(r, "%s: cannot run the trim command for PID %d: %m, ignoring",
                                                  cgpath, (int) c[i].pid);
                                t->failed++;
                                t->last_error = r;
                                continue;
                        }
                        s.command = true;
                        t->commands++;
                        t->pending->sent[t->pending->n_sent++] = s;
                        continue;
                }
                if (c[i].verdict == TRIM_VERDICT_NO_HANDLER) {
                        if (tc->inject && trim_inject_batch_add(&t->inject, t->guard->manager, c[i].pid, c[i].rss_bytes, t->now)) {
                                s.injected = true;
                                t->inject_marked++;
                                t->pending->sent[t->pending->n_sent++] = s;
                        } else
                                t->skipped_no_handler++;
                        continue;
                }
                TrimVerdict v = TRIM_VERDICT_NO_HANDLER;
                r = trim_send(root, c[i].pid, cgpath, TRIM_REQUEST_TRIM, &v, &s.rss_before);
                if (r > 0) {
                        t->signalled++;
                        t->pending->sent[t->pending->n_sent++] = s;
                } else if (r == 0)
                        t->skipped_no_handler += v == TRIM_VERDICT_NO_HANDLER; /* exec'd meanwhile */
                else if (r == -ESRCH)
                        t->gone++;
                else {
                        log_debug_errno(r, "%s: cannot signal PID %d: %m, ignoring", cgpath, (int) c[i].pid);
                        t->failed++;
                        t->last_error = r;
                }
        }
        return 0;
}

void action_trim_guard_free(Guard *g)
{
        if (!g->trim)
                return;
        trim_pending_free(g->trim->pending);
        trim_inject_run_drop(&g->trim->inject);
        free(g->trim);
        g->trim = NULL;
}

/* [Trim] Inject=: hands the batch to the injection helper. Returns how many processes it took; those it
 * could not take (or that a larger process pushed out of a full batch) are dropped from the pending list
 * (they count as left alone). */
static unsigned trim_action_inject(Guard *g, TrimPending *p, TrimInjectBatch *b, ActionOutcome *out,
                                   size_t *ret_in_flight)
{
        if (!g->policy->trim.inject)
                return 0;
        int r = trim_inject_start(g->manager, g, g->path, &g->trim->inject, g->policy->trim.inject_timeout_usec, b);
        if (r < 0) {
                if (r == -EBUSY) {
                        /* Still at work on the previous batch (largest first): that is this rung acting, not
                         * failing. Its result record (TRIM_INJECT_DONE=1) comes when it ends. */
                        (void) trim_inject_running(g->trim->inject, ret_in_flight);
                        log_debug("%s: the previous injection is still running; these processes wait for the next "
                                  "trim.", g->path);
                } else
                        log_warning_errno(r, "%s: cannot start the injection helper: %m, ignoring", g->path);
        }
        for (size_t i = 0; i < p->n_sent;)
                if (p->sent[i].injected && (r <= 0 || !trim_inject_batch_has(b, p->sent[i].pid)))
                        p->sent[i] = p->sent[--p->n_sent]; /* not handed over */
                else
                        i++;
        unsigned n = r > 0 ? (unsigned) b->n : 0;
        action_add_field(out, "TRIM_INJECT_QUEUED=%u", n);
        if (b->cooling)
                action_add_field(out, "TRIM_INJECT_COOLING=%u", b->cooling);
        if (r == -EBUSY)
                action_add_field(out, "TRIM_INJECT_BUSY=1");
        return n;
}

int action_trim(Guard *g, const Observation *o, ActionOutcome *out)
{
        Manager *m = g->manager;
        usec_t now = now_usec(CLOCK_MONOTONIC);
        int r;

        if (!g->trim && !(g->trim = calloc(1, sizeof *g->trim)))
                return out->result = -ENOMEM;
        TrimPending *p = calloc(1, sizeof *p);
        if (!p || !(p->sent = calloc(TRIM_PROCESSES_MAX, sizeof *p->sent))) {
                trim_pending_free(p);
                return out->result = -ENOMEM;
        }
        p->sent_usec = now;
        p->sent_realtime_usec = realtime_usec();

        /* The reports' directory must exist before anyone is asked. */
        _cleanup_close_ int dfd = trim_dir_open(m);
        if (dfd < 0)
                log_warning_errno(dfd, "%s: cannot create the trim report directory: %m; trims run without "
                                       "reports, ignoring",
                                  g->path);

        TrimRun t = { .guard = g, .pending = p, .now = now };
        r = cgroup_walk(m->root, g->path, trim_cgroup, &t);
        if (r < 0 && !ERRNO_IS_GONE(r)) {
                trim_pending_free(p);
                return out->result = r;
        }
        size_t in_flight = 0;
        unsigned injecting = trim_action_inject(g, p, &t.inject, out, &in_flight);
        t.skipped_no_handler += t.inject_marked - injecting; /* not handed over */

        trim_pending_free(g->trim->pending);
        g->trim->pending = p;

        action_add_field(out, "TRIM_SIGNALLED=%u", t.signalled);
        action_add_field(out, "TRIM_SKIPPED_NO_HANDLER=%u", t.skipped_no_handler);
        if (g->policy->trim.command)
                action_add_field(out, "TRIM_COMMANDS=%u", t.commands);
        if (t.failed)
                action_add_field(out, "TRIM_FAILED=%u", t.failed);
        if (t.too_many)
                action_add_field(out, "TRIM_SKIPPED_TOO_MANY=%u", t.too_many);

        unsigned asked = t.signalled + t.commands + injecting;
        if (asked == 0 && in_flight > 0) {
                snprintf(out->summary, sizeof out->summary,
                         "the injected trim of %zu process(es) started before is still running (%u without a handler "
                         "wait for it)", in_flight, t.skipped_no_handler);
                return out->result = 0;
        }
        if (asked == 0 && t.failed > 0) {
                snprintf(out->summary, sizeof out->summary, "could not ask any process to trim");
                return out->result = t.last_error;
        }
        if (asked == 0) {
                /* Nothing was asked: the rung could not act, and the engine must not wait for it. */
                snprintf(out->summary, sizeof out->summary,
                         "no process in %s or below it handles the trim request (%u without a SIGRTMIN+18 "
                         "handler, left alone%s)",
                         g->path, t.skipped_no_handler, t.gone ? ", some exited" : "");
                return out->result = -ESRCH;
        } else
                snprintf(out->summary, sizeof out->summary, "asked %u process(es) to trim%s%s (%u without a handler "
                         "left alone)",
                         asked, t.commands ? ", some through Command=" : "",
                         injecting ? ", some by an injected call" : "", t.skipped_no_handler);
        out->partial = asked > 0 && (t.skipped_no_handler > 0 || t.failed > 0 || t.too_many > 0);
        return out->result = 0;
}

/* AnonHugePages of /proc/PID/smaps_rollup, 0 when unreadable. */
static uint64_t proc_anon_huge(const CgroupRoot *root, pid_t pid)
{
        _cleanup_free_ char *buf = NULL;
        char path[48];
        unsigned long long kb = 0;

        snprintf(path, sizeof path, "%d/smaps_rollup", (int) pid);
        if (read_full_file_at(root->proc_fd, path, 64 * 1024, &buf, NULL) < 0)
                return 0;
        const char *l = strstr(buf, "\nAnonHugePages:");
        if (!l || sscanf(l + strlen("\nAnonHugePages:"), "%llu", &kb) != 1)
                return 0;
        return (uint64_t) kb * 1024;
}

void action_trim_settled(Guard *g, Record *r)
{
        TrimPending *p = g->trim ? TAKE_PTR(g->trim->pending) : NULL;
        if (!p)
                return;

        _cleanup_close_ int dfd = trim_dir_open(g->manager);
        const CgroupRoot *root = g->manager->root;
        uint64_t released = 0, regrown = 0, thp_regrown = 0;
        unsigned reports = 0, fields = 0, injected = 0;

        for (size_t i = 0; i < p->n_sent; i++) {
                TrimSent *s = p->sent + i;
                TrimReport rep;
                ProcStatus st;
                bool have = false, alive = proc_read_status(root, s->pid, &st) >= 0;

                if (!s->command && dfd >= 0 && trim_report_read(dfd, s->pid, false, s->uid, &rep) >= 0 &&
                    rep.time_usec + USEC_PER_SEC >= p->sent_realtime_usec)
                        have = true;

                char line[800];
                int n = snprintf(line, sizeof line, "pid=%d comm=%s", (int) s->pid, s->comm[0] ? s->comm : "?");
                TrimInjectLine il;
                if (s->injected && trim_inject_result(g->trim->inject, s->pid, &il)) {
                        if (streq(il.result, "injected")) {
                                injected++;
                                have = true; /* regrowth below is measured from its rss_after */
                                /* No AnonHugePages figure right after the call: THP regrowth is not split out for it. */
                                rep = (TrimReport) { .rss_before = il.rss_before, .rss_after = il.rss_after,
                                                     .anon_huge_after = UINT64_MAX };
                                released += il.rss_before > il.rss_after ? il.rss_before - il.rss_after : 0;
                        }
                        int k = trim_inject_line_format(&il, line + n, sizeof line - (size_t) n);
                        n += k > 0 ? k : 0;
                        n = MIN(n, (int) sizeof line - 1);
                } else if (s->injected)
                        n += snprintf(line + n, sizeof line - (size_t) n,
                                      " via=injected result=pending rss_before=%" PRIu64, s->rss_before);
                else if (s->command)
                        n += snprintf(line + n, sizeof line - (size_t) n, " via=command rss_before=%" PRIu64,
                                      s->rss_before);
                else if (have) {
                        reports++;
                        released += rep.released;
                        n += snprintf(line + n, sizeof line - (size_t) n,
                                      " allocator=%s released=%" PRIu64 " rss_before=%" PRIu64 " rss_after=%" PRIu64
                                      " trim_usec=%" PRIu64,
                                      rep.allocator, rep.released, rep.rss_before, rep.rss_after, rep.duration_usec);
                } else
                        n += snprintf(line + n, sizeof line - (size_t) n, " report=none rss_before=%" PRIu64,
                                      s->rss_before);
                if (alive) {
                        n += snprintf(line + n, sizeof line - (size_t) n, " rss_settled=%" PRIu64, st.vm_rss_bytes);
                        if (have && st.vm_rss_bytes > rep.rss_after) {
                                uint64_t grew = st.vm_rss_bytes - rep.rss_after;
                                uint64_t ahp = proc_anon_huge(root, s->pid);
                                uint64_t thp = ahp > rep.anon_huge_after ? MIN(ahp - rep.anon_huge_after, grew) : 0;
                                regrown += grew;
                                thp_regrown += thp;
                                n += snprintf(line + n, sizeof line - (size_t) n,
                                              " regrown=%" PRIu64 " thp_regrown=%" PRIu64, grew, thp);
                        }
                } else
                        n += snprintf(line + n, sizeof line - (size_t) n, " exited=yes");
                if (fields < TRIM_PROCESS_FIELDS_MAX) {
                        record_add(r, "TRIM_PROCESS=%s", line);
                        fields++;
                }
        }
        record_add(r, "TRIM_ASKED=%zu", p->n_sent);
        record_add(r, "TRIM_REPORTS=%u", reports);
        if (injected)
                record_add(r, "TRIM_INJECTED=%u", injected);
        record_add(r, "TRIM_RELEASED_BYTES=%" PRIu64, released);
        record_add(r, "TRIM_REGROWN_BYTES=%" PRIu64, regrown);
        record_add(r, "TRIM_THP_REGROWN_BYTES=%" PRIu64, thp_regrown);
        if (p->n_sent > fields)
                record_add(r, "TRIM_PROCESSES_NOT_LISTED=%zu", p->n_sent - fields);
        trim_pending_free(p);
}
