/* SPDX-License-Identifier: MIT */
/* ctl/ctl-trim.c: memwardenctl trim, enroll, unenroll.
 *
 * trim UNIT|CGROUP|PID... (ctl/ctl-target.h): the daemon's selection rules and path (cgroup/cgroup-trim.c): only processes whose
 * SigCgt has SIGRTMIN+18 are signalled, through a pidfd, with value 0x300; then the reports of
 * libmemwarden-trim.so are awaited (up to $MEMWARDEN_TRIM_WAIT seconds, default 5) and printed.
 * enroll UNIT: a drop-in that preloads the library into the unit (Environment=LD_PRELOAD=) and keeps the
 * report directory writable in a sandboxed unit (ReadWritePaths=); the unit must be restarted to load it.
 * unenroll UNIT removes it. $MEMWARDEN_SYSTEMD_DIR overrides /etc/systemd/system (tests). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cgroup/cgroup-trim.h"
#include "config.h"
#include "ctl-target.h"
#include "ctl-trim.h"
#include "util/format-util.h"
#include "util/macro.h"

#define DROPIN_NAME "memwarden-trim.conf"

static uint64_t realtime_usec(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (uint64_t) ts.tv_sec * USEC_PER_SEC + (uint64_t) ts.tv_nsec / NSEC_PER_USEC;
}

static const char *arg_trim_dir; /* --trim-dir, before $MEMWARDEN_TRIM_DIR */

static const char *trim_dir(void)
{
        if (arg_trim_dir)
                return arg_trim_dir;
        const char *d = getenv(MEMWARDEN_TRIM_DIR_ENV);
        return d && d[0] == '/' ? d : TRIM_DIR_DEFAULT;
}

typedef struct Asked {
        pid_t pid;
        uid_t uid;
        char comm[32];
        bool done;
} Asked;

void trim_help(void)
{
        printf("Usage: memwardenctl trim [--info] UNIT|CGROUP|PID...\n"
               "\n"
               "Ask the processes of a unit or cgroup (those directly in it), or single processes, to release\n"
               "free allocator memory now: SIGRTMIN+18 with value 0x300 through a pidfd, only to those whose\n"
               "SigCgt has a handler for it. Prints what each released from the reports of\n"
               "libmemwarden-trim.so (waiting up to $MEMWARDEN_TRIM_WAIT seconds, default 5). A name ending in\n"
               ".service, .scope, .slice, .socket, .mount or .swap is a unit; a number a PID; anything else a\n"
               "cgroup path.\n"
               "\n"
               "      --info     ask for the allocator's view instead (0x301), which map then shows\n"
               "\n"
               "memwardenctl trim --inject [--report] [--no-mallinfo] [--timeout SEC] UNIT|CGROUP|PID[:START]...\n"
               "\n"
               "Call the allocator's own release function inside each process instead, through ptrace: glibc\n"
               "malloc_trim(0), or jemalloc's purge of all arenas. No handler, preload or restart needed; static\n"
               "binaries, other allocators, traced or seccomp'd processes are refused with the reason. Root.\n"
               "      --report        one key=value line per process (what memwardend reads)\n"
               "      --no-mallinfo   do not read glibc's mallinfo2() before the call\n"
               "      --timeout SEC   per process (default 10); after it the thread finishes the call alone\n"
               "      PID:START       only if the PID's start time (field 22 of /proc/PID/stat) is START\n");
}

int verb_trim(const CtlArgs *a, char **args)
{
        _cleanup_free_ Asked *asked = NULL;
        size_t n_asked = 0, cap = 0;
        unsigned skipped = 0, gone = 0, failed = 0;
        CgroupRoot proc_only = { .root_fd = -EBADF, .proc_fd = -EBADF };
        CgroupRoot *full = NULL;
        int r;

        /* --info: ask for the allocator's view (0x301) instead of a trim; the library writes PID.info.json,
         * which memwardenctl map reads. */
        bool info = a->info;
        if (a->trim_dir)
                arg_trim_dir = a->trim_dir;
        /* Every operand is checked before anybody is asked. */
        for (char **o = args; *o; o++) {
                CtlTarget t;
                if (ctl_target_parse(*o, &t) < 0) {
                        fprintf(stderr, "Not a unit, cgroup path or PID: \"%s\". Try 'memwardenctl trim --help'.\n", *o);
                        return 2;
                }
        }
        proc_only.proc_fd = open(a->proc_root ?: "/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (proc_only.proc_fd < 0) {
                fprintf(stderr, "Cannot open %s: %m\n", a->proc_root ?: "/proc");
                return EXIT_FAILURE;
        }
        /* The library writes its reports here: it must exist before anyone is asked (root only). */
        if (mkdir(trim_dir(), 01777) >= 0)
                (void) chmod(trim_dir(), 01777);
        uint64_t t0 = realtime_usec();

        for (char **o = args; *o; o++) {
                _cleanup_free_ TrimCandidate *c = NULL;
                _cleanup_free_ char *cgpath = NULL;
                CtlTarget t;
                int n;

                (void) ctl_target_parse(*o, &t); /* checked above */
                if (t.kind == CTL_TARGET_PID) {
                        c = calloc(1, sizeof *c);
                        if (!c)
                                return EXIT_FAILURE;
                        c->pid = t.pid;
                        c->verdict = TRIM_VERDICT_CANDIDATE; /* trim_send() decides from a fresh status */
                        snprintf(c->comm, sizeof c->comm, "?");
                        n = 1;
                } else {
                        if (!full && (r = cgroup_root_open(a->cgroup_root, a->proc_root, &full)) < 0) {
                                fprintf(stderr, "Cannot open the cgroup2 hierarchy: %s\n", strerror(-r));
                                close(proc_only.proc_fd);
                                return EXIT_FAILURE;
                        }
                        r = ctl_target_cgroup_path(full, &t, &cgpath);
                        if (r < 0) {
                                fprintf(stderr, "%s: %s\n", t.name, r == -ENOENT ? "no such cgroup or unit" : strerror(-r));
                                failed++;
                                continue;
                        }
                        n = trim_list(full, cgpath, &c);
                        if (n < 0) {
                                fprintf(stderr, "%s: %s\n", t.name,
                                        n == -ENOENT ? "no such cgroup or unit" : strerror(-n));
                                failed++;
                                continue;
                        }
                }

                for (int i = 0; i < n; i++) {
                        TrimVerdict v = c[i].verdict;
                        if (v == TRIM_VERDICT_NOT_A_PROCESS)
                                continue;
                        if (v == TRIM_VERDICT_NO_HANDLER) {
                                printf("%d (%s): no SIGRTMIN+18 handler, not signalled\n", (int) c[i].pid,
                                       c[i].comm);
                                skipped++;
                                continue;
                        }
                        r = trim_send(cgpath ? full : &proc_only, c[i].pid, cgpath,
                                      info ? TRIM_REQUEST_INFO : TRIM_REQUEST_TRIM, &v, NULL);
                        if (r == 0) {
                                printf("%d: %s, not signalled\n", (int) c[i].pid,
                                       v == TRIM_VERDICT_NO_HANDLER ? "no SIGRTMIN+18 handler" : "not a process");
                                skipped++;
                                continue;
                        }
                        if (r == -ESRCH) {
                                printf("%d: gone\n", (int) c[i].pid);
                                gone++;
                                continue;
                        }
                        if (r < 0) {
                                fprintf(stderr, "%d: cannot signal: %s\n", (int) c[i].pid,
                                        r == -EMEDIUMTYPE ? "the proc root is not procfs" : strerror(-r));
                                failed++;
                                continue;
                        }
                        if (n_asked == cap) {
                                size_t nc = cap ? cap * 2 : 16;
                                Asked *na = realloc(asked, nc * sizeof *na);
                                if (!na)
                                        return EXIT_FAILURE;
                                asked = na;
                                cap = nc;
                        }
                        Asked *x = asked + n_asked++;
                        *x = (Asked) { .pid = c[i].pid };
                        (void) proc_read_uid(&proc_only, c[i].pid, &x->uid);
                        snprintf(x->comm, sizeof x->comm, "%s", c[i].comm);
                }
        }

        if (info) {
                /* The allocator's view lands in PID.info.json; wait for each, then say where it is. */
                const char *w = getenv("MEMWARDEN_TRIM_WAIT");
                double wait_sec = w ? strtod(w, NULL) : 5.0;
                _cleanup_close_ int dfd = open(trim_dir(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                unsigned got = 0;
                for (unsigned tick = 0; dfd >= 0 && got < n_asked && tick <= (unsigned) (wait_sec * 20); tick++) {
                        for (size_t i = 0; i < n_asked; i++) {
                                TrimReport rep;
                                if (asked[i].done ||
                                    trim_report_read(dfd, asked[i].pid, true, asked[i].uid, &rep) < 0 ||
                                    rep.time_usec + USEC_PER_SEC < t0)
                                        continue;
                                printf("%d (%s): allocator report in %s/%d.info.json\n", (int) asked[i].pid,
                                       asked[i].comm, trim_dir(), (int) asked[i].pid);
                                asked[i].done = true;
                                got++;
                        }
                        if (got < n_asked)
                                usleep(50 * 1000);
                }
                close(proc_only.proc_fd);
                cgroup_root_free(full);
                printf("asked %zu, reports %u; skipped %u without handler, %u gone, %u failed\n", n_asked, got,
                       skipped, gone, failed);
                return got > 0 ? EXIT_SUCCESS : EXIT_FAILURE;
        }

        /* Wait for the reports. */
        const char *w = getenv("MEMWARDEN_TRIM_WAIT");
        double wait_sec = w ? strtod(w, NULL) : 5.0;
        _cleanup_close_ int dfd = open(trim_dir(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        uint64_t released = 0;
        unsigned reports = 0;
        if (n_asked > 0)
                printf("%-8s %-16s %-12s %10s %10s %10s %9s\n", "PID", "COMM", "ALLOCATOR", "RSS-BEFORE",
                       "RSS-AFTER", "RELEASED", "TRIM-MS");
        for (unsigned tick = 0; dfd >= 0 && reports < n_asked && tick <= (unsigned) (wait_sec * 20); tick++) {
                for (size_t i = 0; i < n_asked; i++) {
                        TrimReport rep;
                        if (asked[i].done || trim_report_read(dfd, asked[i].pid, false, asked[i].uid, &rep) < 0 ||
                            rep.time_usec + USEC_PER_SEC < t0)
                                continue;
                        char before[FORMAT_BYTES_MAX], after[FORMAT_BYTES_MAX], rel[FORMAT_BYTES_MAX];
                        printf("%-8d %-16s %-12s %10s %10s %10s %9.1f\n", (int) asked[i].pid,
                               rep.comm[0] ? rep.comm : asked[i].comm, rep.allocator,
                               format_bytes(before, sizeof before, rep.rss_before),
                               format_bytes(after, sizeof after, rep.rss_after),
                               format_bytes(rel, sizeof rel, rep.released), (double) rep.duration_usec / 1000.0);
                        asked[i].done = true;
                        reports++;
                        released += rep.released;
                }
                if (reports < n_asked)
                        usleep(50 * 1000);
        }
        for (size_t i = 0; i < n_asked; i++)
                if (!asked[i].done)
                        printf("%-8d %-16s asked; no report (its handler is not libmemwarden-trim.so, or it "
                               "cannot write %s)\n",
                               (int) asked[i].pid, asked[i].comm, trim_dir());
        char t[FORMAT_BYTES_MAX];
        printf("asked %zu, reports %u, released %s (%" PRIu64 " bytes); skipped %u without handler, %u gone, "
               "%u failed\n",
               n_asked, reports, format_bytes(t, sizeof t, released), released, skipped, gone, failed);
        close(proc_only.proc_fd);
        cgroup_root_free(full);
        return n_asked > 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

/* ---------------------------------------------------------------------------------------------------- */
/* enroll / unenroll */

/* Fills the drop-in's directory and path for unit ("app" means "app.service"); *ret_name is the full name. */
static int unit_dropin_path(const char *unit, char *buf, size_t size, char *dir, size_t dir_size,
                            char *ret_name, size_t name_size)
{
        const char *base = getenv("MEMWARDEN_SYSTEMD_DIR");
        if (!base || base[0] != '/')
                base = "/etc/systemd/system";
        if (!unit[0] || strchr(unit, '/') || unit[0] == '.' || strlen(unit) > 255)
                return -EINVAL;
        const char *dot = strrchr(unit, '.');
        const char *suffix = dot ? "" : ".service";
        if (dot && strcmp(dot, ".service") && strcmp(dot, ".scope") && strcmp(dot, ".socket"))
                return -EINVAL; /* only units that run processes */
        snprintf(ret_name, name_size, "%s%s", unit, suffix);
        snprintf(dir, dir_size, "%s/%s.d", base, ret_name);
        snprintf(buf, size, "%s/" DROPIN_NAME, dir);
        return 0;
}

int verb_enroll(const char *unit)
{
        char path[4096], dir[4096], name[300];

        if (unit_dropin_path(unit, path, sizeof path, dir, sizeof dir, name, sizeof name) < 0) {
                fprintf(stderr, "Not a service unit name: %s\n", unit);
                return 2;
        }
        if (access(TRIM_LIBRARY_PATH, R_OK) < 0)
                fprintf(stderr, "Warning: %s is not installed (%m); the unit would fail to preload it.\n",
                        TRIM_LIBRARY_PATH);
        if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
                fprintf(stderr, "Cannot create %s: %m\n", dir);
                return EXIT_FAILURE;
        }
        char tmp[4200];
        snprintf(tmp, sizeof tmp, "%s.tmp", path);
        FILE *f = fopen(tmp, "we");
        if (!f) {
                fprintf(stderr, "Cannot write %s: %m\n", tmp);
                return EXIT_FAILURE;
        }
        fprintf(f, "# Written by memwardenctl enroll; removed by memwardenctl unenroll.\n"
                   "# Preloads libmemwarden-trim.so so that the service answers memwarden's trim requests\n"
                   "# (SIGRTMIN+18, value 0x300). Reports go to %s: ReadWritePaths= keeps it\n"
                   "# writable in a service with ProtectSystem=strict (\"-\": no error while it does not exist).\n"
                   "[Service]\n"
                   "Environment=LD_PRELOAD=%s\n"
                   "ReadWritePaths=-%s\n",
                TRIM_DIR_DEFAULT, TRIM_LIBRARY_PATH, TRIM_DIR_DEFAULT);
        if (fclose(f) != 0 || rename(tmp, path) < 0) {
                fprintf(stderr, "Cannot write %s: %m\n", path);
                unlink(tmp);
                return EXIT_FAILURE;
        }
        printf("Wrote %s.\n"
               "The unit loads the library when it next starts: systemctl daemon-reload && systemctl restart %s\n"
               "(A unit that sets LD_PRELOAD itself: put the library into its own LD_PRELOAD instead.)\n",
               path, name);
        return EXIT_SUCCESS;
}

int verb_unenroll(const char *unit)
{
        char path[4096], dir[4096], name[300];

        if (unit_dropin_path(unit, path, sizeof path, dir, sizeof dir, name, sizeof name) < 0) {
                fprintf(stderr, "Not a service unit name: %s\n", unit);
                return 2;
        }
        if (unlink(path) < 0) {
                if (errno == ENOENT) {
                        printf("%s is not enrolled (no %s).\n", unit, path);
                        return EXIT_SUCCESS;
                }
                fprintf(stderr, "Cannot remove %s: %m\n", path);
                return EXIT_FAILURE;
        }
        (void) rmdir(dir); /* only if empty */
        printf("Removed %s.\nThe unit keeps the library until it restarts: systemctl daemon-reload && systemctl "
               "restart %s\n",
               path, name);
        return EXIT_SUCCESS;
}
