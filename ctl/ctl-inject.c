/* SPDX-License-Identifier: MIT */
/* ctl/ctl-inject.c: memwardenctl trim --inject [--report] [--no-mallinfo] [--timeout SEC] UNIT|CGROUP|PID[:START]...
 *
 * Calls the allocator's own release function inside each process (cgroup/cgroup-inject.c): glibc
 * malloc_trim(0), jemalloc's purge of all arenas; no preload, no restart. One process at a time. Prints per
 * process what it released, or why it was refused. Operands as for every verb (ctl/ctl-target.h): a unit, a
 * cgroup path (the processes directly in it) or a PID. --report prints one machine-readable line per process
 * instead (what memwardend reads when it runs this as its injection helper):
 *   inject pid=N result=injected|refused|gone|error how=... tid=N was=... rss_before=B rss_after=B
 *          released=B calls=N held_before=B free_before=B held_after=B free_after=B arenas=N call_usec=U stop_usec=U
 *          reason=TEXT (to the end of the line)
 * PID:START pins the PID to that start time (field 22 of /proc/PID/stat): a reused PID is reported gone. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cgroup/cgroup-inject.h"
#include "cgroup/cgroup-map.h"
#include "cgroup/cgroup-trim.h"
#include "ctl-inject.h"
#include "ctl-target.h"
#include "util/format-util.h"
#include "util/macro.h"

static int parse_target(const char *s, pid_t *ret_pid, uint64_t *ret_start)
{
        char *e = NULL;
        errno = 0;
        long v = strtol(s, &e, 10);
        if (errno || !e || e == s || v <= 0 || v > INT32_MAX)
                return -EINVAL;
        uint64_t start = 0;
        if (*e == ':') {
                char *e2 = NULL;
                errno = 0;
                start = strtoull(e + 1, &e2, 10);
                if (errno || !e2 || *e2 || start == 0)
                        return -EINVAL;
        } else if (*e)
                return -EINVAL;
        *ret_pid = (pid_t) v;
        *ret_start = start;
        return 0;
}

typedef struct Totals {
        unsigned injected, refused, gone, failed;
        uint64_t released;
} Totals;

static const char *how_token(const InjectResult *r);

static void inject_one(pid_t pid, uint64_t start, const char *comm, const InjectOptions *o, bool report,
                       Totals *t)
{
        InjectResult r = {};
        int k;

        if (pid == 1 || pid == getpid() || pid == getppid()) {
                k = 0;
                snprintf(r.reason, sizeof r.reason, "%s is never injected",
                         pid == 1 ? "PID 1" : "memwarden's own process");
        } else
                k = inject_process(pid, start, o, &r);

        const char *result = k > 0 ? "injected" : k == 0 ? "refused" : k == -ESRCH ? "gone" : "error";
        if (k < 0 && k != -ESRCH && !r.reason[0])
                snprintf(r.reason, sizeof r.reason, "%s", strerror(-k));
        /* What the allocator itself reports: held and free (glibc: mallinfo2's arena + hblkhd, fordblks;
         * jemalloc: stats.resident, resident - allocated); 0 when not read. */
        uint64_t held_before = 0, free_before = 0, held_after = 0, free_after = 0;
        if (r.have_mallinfo) {
                held_before = r.mallinfo_before.arena + r.mallinfo_before.hblkhd;
                free_before = r.mallinfo_before.fordblks;
        }
        if (r.have_mallinfo_after) {
                held_after = r.mallinfo_after.arena + r.mallinfo_after.hblkhd;
                free_after = r.mallinfo_after.fordblks;
        }
        if (r.have_jemalloc_before) {
                held_before = r.jemalloc_before.resident;
                free_before = r.jemalloc_before.resident - MIN(r.jemalloc_before.resident, r.jemalloc_before.allocated);
        }
        if (r.have_jemalloc_after) {
                held_after = r.jemalloc_after.resident;
                free_after = r.jemalloc_after.resident - MIN(r.jemalloc_after.resident, r.jemalloc_after.allocated);
        }
        uint64_t freed = r.rss_before > r.rss_after ? r.rss_before - r.rss_after : 0;

        if (k > 0) {
                t->injected++;
                t->released += freed;
        } else if (k == 0)
                t->refused++;
        else if (k == -ESRCH)
                t->gone++;
        else
                t->failed++;

        if (report) {
                printf("inject pid=%d result=%s how=%s tid=%d was=%s rss_before=%" PRIu64 " rss_after=%" PRIu64
                       " released=%" PRIu64 " calls=%u held_before=%" PRIu64 " free_before=%" PRIu64
                       " held_after=%" PRIu64 " free_after=%" PRIu64 " arenas=%u call_usec=%" PRIu64
                       " stop_usec=%" PRIu64 " reason=%s\n",
                       (int) pid, result, how_token(&r),
                       (int) r.tid, r.thread_was[0] ? r.thread_was : "-", r.rss_before, r.rss_after,
                       r.released_bytes, r.release_calls, held_before, free_before, held_after, free_after, r.arenas, (uint64_t) r.call_usec,
                       (uint64_t) r.stop_usec, r.reason);
                fflush(stdout);
                return;
        }

        if (k == -ESRCH) {
                printf("%d (%s): gone\n", (int) pid, comm);
                return;
        }
        if (k < 0) {
                printf("%d (%s): failed: %s\n", (int) pid, comm, r.reason);
                return;
        }
        if (k == 0) {
                printf("%d (%s): not injected: %s\n", (int) pid, comm, r.reason);
                return;
        }
        char before[32], after[32], rel[32], mad[32];
        format_bytes(before, sizeof before, r.rss_before);
        format_bytes(after, sizeof after, r.rss_after);
        format_bytes(rel, sizeof rel, freed);
        format_bytes(mad, sizeof mad, r.released_bytes);
        printf("%d (%s): injected %s on thread %d (was in %s): RSS %s -> %s (%s released)", (int) pid, comm, r.how,
               (int) r.tid, r.thread_was, before, after, rel);
        if (!r.watched)
                printf("; the call advised %s of free memory away in %u calls", mad, r.release_calls);
        printf(", ran %.1f ms, the thread was stopped %.1f ms more\n", r.call_usec / 1000.0, r.stop_usec / 1000.0);
        if (r.have_mallinfo) {
                char hb[32], fb[32], ub[32];
                format_bytes(hb, sizeof hb, held_before);
                format_bytes(fb, sizeof fb, r.mallinfo_before.fordblks);
                format_bytes(ub, sizeof ub, r.mallinfo_before.uordblks + r.mallinfo_before.hblkhd);
                printf("    glibc (mallinfo2 before the call): %s held, %s in use, %s in free chunks\n", hb, ub,
                       fb);
        }
        if (r.have_mallinfo_after) {
                char hb[32], fb[32];
                format_bytes(hb, sizeof hb, held_after);
                format_bytes(fb, sizeof fb, free_after);
                printf("    glibc (mallinfo2 after): %s held, %s in free chunks (madvised chunks still count as free)\n",
                       hb, fb);
        }
        if (r.have_jemalloc_before || r.have_jemalloc_after) {
                char rb[32], ab[32], ra[32], aa[32];
                format_bytes(rb, sizeof rb, r.jemalloc_before.resident);
                format_bytes(ab, sizeof ab, r.jemalloc_before.allocated);
                format_bytes(ra, sizeof ra, r.jemalloc_after.resident);
                format_bytes(aa, sizeof aa, r.jemalloc_after.allocated);
                printf("    jemalloc (mallctl stats after an epoch refresh): resident %s -> %s, allocated %s -> %s\n",
                       r.have_jemalloc_before ? rb : "?", r.have_jemalloc_after ? ra : "?",
                       r.have_jemalloc_before ? ab : "?", r.have_jemalloc_after ? aa : "?");
        }
        if (r.timed_out)
                printf("    %s\n", r.reason);
}

static const char *how_token(const InjectResult *r)
{
        if (!r->how)
                return "-";
        if (streq(r->how, "test call"))
                return "test";
        return r->allocator == INJECT_ALLOCATOR_JEMALLOC ? "mallctl-purge" : "malloc_trim";
}

static void comm_of(pid_t pid, char *buf, size_t size)
{
        char path[64];
        snprintf(path, sizeof path, "/proc/%d/comm", (int) pid);
        FILE *f = fopen(path, "re");
        if (!f || !fgets(buf, (int) size, f))
                snprintf(buf, size, "?");
        else
                buf[strcspn(buf, "\n")] = 0;
        if (f)
                fclose(f);
}

int verb_trim_inject(const CtlArgs *a, char **args)
{
        InjectOptions o = {
                .mallinfo = !a->no_mallinfo,
                .timeout_usec = (usec_t) (a->timeout_sec * USEC_PER_SEC),
        };
        CgroupRoot *full = NULL;
        Totals t = {};

        /* Every operand is checked before anybody is stopped. */
        for (char **op = args; *op; op++) {
                pid_t pid;
                uint64_t start;
                CtlTarget tg;
                if (parse_target(*op, &pid, &start) < 0 && ctl_target_parse(*op, &tg) < 0) {
                        fprintf(stderr, "Not a unit, cgroup path or PID: \"%s\". Try 'memwardenctl trim --help'.\n",
                                *op);
                        return 2;
                }
        }

        for (char **op = args; *op; op++) {
                pid_t pid;
                uint64_t start;
                if (parse_target(*op, &pid, &start) >= 0) {
                        char comm[32];
                        comm_of(pid, comm, sizeof comm);
                        inject_one(pid, start, comm, &o, a->report, &t);
                        continue;
                }
                CtlTarget tg;
                (void) ctl_target_parse(*op, &tg); /* checked above */
                int r;
                if (!full && (r = cgroup_root_open(a->cgroup_root, a->proc_root, &full)) < 0) {
                        fprintf(stderr, "Cannot open the cgroup2 hierarchy: %s\n", strerror(-r));
                        return EXIT_FAILURE;
                }
                _cleanup_free_ char *cgpath = NULL;
                r = ctl_target_cgroup_path(full, &tg, &cgpath);
                if (r < 0) {
                        fprintf(stderr, "%s: %s\n", tg.name, r == -ENOENT ? "no such cgroup or unit" : strerror(-r));
                        t.failed++;
                        continue;
                }
                _cleanup_free_ TrimCandidate *c = NULL;
                int n = trim_list(full, cgpath, &c);
                if (n < 0) {
                        fprintf(stderr, "Cannot list the processes of %s: %s\n", cgpath, strerror(-n));
                        t.failed++;
                        continue;
                }
                for (int i = 0; i < n; i++)
                        if (c[i].verdict != TRIM_VERDICT_NOT_A_PROCESS)
                                inject_one(c[i].pid, 0, c[i].comm, &o, a->report, &t);
        }
        cgroup_root_free(full);

        if (!a->report) {
                char rel[32];
                format_bytes(rel, sizeof rel, t.released);
                printf("injected %u, refused %u, gone %u, failed %u; RSS released %s\n", t.injected, t.refused,
                       t.gone, t.failed, rel);
        }
        return t.injected > 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

void ctl_map_inject(CgroupMap *m, double timeout_sec, unsigned *ret_injected, unsigned *ret_refused,
                    char *first_reason, size_t reason_size)
{
        InjectOptions o = { .mallinfo_only = true, .timeout_usec = (usec_t) (timeout_sec * USEC_PER_SEC) };
        unsigned injected = 0, refused = 0;

        for (size_t i = 0; i < m->n_procs; i++) {
                MapProcess *p = &m->procs[i];
                if (p->has_allocator || !p->has_smaps || p->estimated || p->pid == getpid() || p->pid == 1)
                        continue;
                InjectResult r;
                int k = inject_process(p->pid, 0, &o, &r);
                if (k > 0 && r.have_mallinfo) {
                        /* glibc counts chunks it already gave back (a trim's madvise) as free: what can be free
                         * and resident is at most RSS - in use. */
                        const InjectMallinfo *mi = &r.mallinfo_before;
                        uint64_t in_use = mi->uordblks + mi->hblkhd;
                        uint64_t rss = p->smaps.rss;
                        uint64_t free_resident = MIN((uint64_t) mi->fordblks, rss > in_use ? rss - in_use : 0);
                        p->allocator = (AllocatorReport) {
                                .held_bytes = in_use + free_resident,
                                .in_use_bytes = in_use,
                                .free_bytes = free_resident,
                                .arenas = r.arenas,
                        };
                        snprintf(p->allocator.allocator, sizeof p->allocator.allocator, "glibc");
                        p->has_allocator = true;
                        injected++;
                } else if (k >= 0) {
                        if (refused++ == 0 && first_reason)
                                snprintf(first_reason, reason_size, "%d (%s): %s", (int) p->pid, p->comm,
                                         r.reason[0] ? r.reason : "no figures");
                }
        }
        (void) map_diagnose(m);
        *ret_injected = injected;
        *ret_refused = refused;
}
