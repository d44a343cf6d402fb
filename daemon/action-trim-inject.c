/* SPDX-License-Identifier: MIT */
/* daemon/action-trim-inject.c: runs the injection helper for the trim rung, see the header. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "action-trim-inject.h"
#include "record.h"
#include "cgroup/cgroup-act.h"
#include "cgroup/cgroup-inject.h"
#include "cgroup/cgroup-restart.h"
#include "config.h"
#include "util/fileio.h"
#include "util/hashmap.h"
#include "util/log.h"
#include "util/list.h"
#include "util/time-util.h"

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

extern char **environ;

/* One helper's run for one guard: the guard holds it (its lines feed the settle report) until the next run
 * replaces it or the guard goes. A run still going when its guard goes is killed and kept on the manager's
 * list until the helper is reaped. */
struct InjectRun {
        Manager *manager;
        Guard *guard;            /* NULL once the guard went (or for a caller without one) */
        InjectRun *next, *prev;  /* Manager.trim_inject_detached, once detached */
        char *path;              /* the guard's cgroup */
        size_t n_targets;
        pid_t helper;
        int pidfd, out_fd;
        sd_event_source *io, *exit_source, *timer;
        char buf[4096];
        size_t buf_len;
        TrimInjectLine *lines;
        size_t n_lines;
        bool running;
        bool detached;
};

int trim_inject_line_parse(const char *line, TrimInjectLine *ret)
{
        TrimInjectLine l = {};
        if (strncmp(line, "inject ", 7) != 0)
                return -EINVAL;
        const char *reason = strstr(line, " reason=");
        size_t head = reason ? (size_t) (reason - line) : strlen(line);
        char copy[1024];
        if (head >= sizeof copy)
                return -EINVAL;
        memcpy(copy, line, head);
        copy[head] = 0;
        bool have_pid = false, have_result = false;
        char *save = NULL;
        for (char *w = strtok_r(copy + 7, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
                char *eq = strchr(w, '=');
                if (!eq)
                        return -EINVAL;
                *eq = 0;
                const char *k = w, *v = eq + 1;
                if (streq(k, "pid")) {
                        l.pid = (pid_t) atoi(v);
                        have_pid = l.pid > 0;
                } else if (streq(k, "result")) {
                        snprintf(l.result, sizeof l.result, "%s", v);
                        have_result = true;
                } else if (streq(k, "how"))
                        snprintf(l.how, sizeof l.how, "%s", v);
                else if (streq(k, "was"))
                        snprintf(l.was, sizeof l.was, "%s", v);
                else if (streq(k, "rss_before"))
                        l.rss_before = strtoull(v, NULL, 10);
                else if (streq(k, "rss_after"))
                        l.rss_after = strtoull(v, NULL, 10);
                else if (streq(k, "released"))
                        l.released = strtoull(v, NULL, 10);
                else if (streq(k, "call_usec"))
                        l.call_usec = strtoull(v, NULL, 10);
                else if (streq(k, "stop_usec"))
                        l.stop_usec = strtoull(v, NULL, 10);
                else if (streq(k, "held_before"))
                        l.held_before = strtoull(v, NULL, 10);
                else if (streq(k, "free_before"))
                        l.free_before = strtoull(v, NULL, 10);
                else if (streq(k, "held_after"))
                        l.held_after = strtoull(v, NULL, 10);
                else if (streq(k, "free_after"))
                        l.free_after = strtoull(v, NULL, 10);
                else if (streq(k, "arenas"))
                        l.arenas = (unsigned) strtoul(v, NULL, 10);
                /* other keys (tid, calls, mallinfo2 figures) are for memwardenctl's readers */
        }
        if (!have_pid || !have_result)
                return -EINVAL;
        if (reason)
                snprintf(l.reason, sizeof l.reason, "%s", reason + 8);
        l.reason[strcspn(l.reason, "\n")] = 0;
        *ret = l;
        return 0;
}

static const void *process_key(pid_t pid, uint64_t start)
{
        return INT_TO_PTR((intptr_t) ((uint64_t) pid ^ (start << 22)));
}

static void batch_set(TrimInjectBatch *b, size_t i, pid_t pid, uint64_t start, uint64_t rss)
{
        b->pids[i] = pid;
        b->starts[i] = start;
        b->rss[i] = rss;
}

bool trim_inject_batch_has(const TrimInjectBatch *b, pid_t pid)
{
        for (size_t i = 0; i < b->n; i++)
                if (b->pids[i] == pid)
                        return true;
        return false;
}

void trim_inject_batch_sort(TrimInjectBatch *b)
{
        /* Insertion sort: at most TRIM_INJECT_BATCH_MAX entries in three arrays. */
        for (size_t i = 1; i < b->n; i++) {
                pid_t pid = b->pids[i];
                uint64_t start = b->starts[i], rss = b->rss[i];
                size_t j = i;
                while (j > 0 && (b->rss[j - 1] < rss || (b->rss[j - 1] == rss && b->pids[j - 1] > pid))) {
                        batch_set(b, j, b->pids[j - 1], b->starts[j - 1], b->rss[j - 1]);
                        j--;
                }
                batch_set(b, j, pid, start, rss);
        }
}

bool trim_inject_batch_add(TrimInjectBatch *b, const Manager *m, pid_t pid, uint64_t rss_bytes, usec_t now)
{
        const CgroupRoot *root = m->root;
        char path[48];
        _cleanup_free_ char *stat = NULL;
        uint64_t start;

        snprintf(path, sizeof path, "%d/stat", (int) pid);
        if (read_full_file_at(root->proc_fd, path, 4096, &stat, NULL) < 0 ||
            proc_stat_parse_starttime(stat, &start) < 0)
                return false; /* gone */
        if (m->trim_inject_cooldowns) {
                usec_t *last = hashmap_get(m->trim_inject_cooldowns, process_key(pid, start));
                if (last && now < *last + TRIM_INJECT_COOLDOWN_USEC) { /* now may be older than *last */
                        b->cooling++;
                        return false;
                }
        }
        if (b->n >= TRIM_INJECT_BATCH_MAX) {
                /* Keep the largest: replace the smallest if this one holds more. */
                size_t min = 0;
                for (size_t i = 1; i < b->n; i++)
                        if (b->rss[i] < b->rss[min])
                                min = i;
                b->full++;
                if (b->rss[min] >= rss_bytes)
                        return false;
                batch_set(b, min, pid, start, rss_bytes);
                return true;
        }
        batch_set(b, b->n++, pid, start, rss_bytes);
        return true;
}

static void cooldown_note(Manager *m, pid_t pid, uint64_t start, usec_t now)
{
        if (!m->trim_inject_cooldowns && !(m->trim_inject_cooldowns = hashmap_new(HASHMAP_KEY_INT)))
                return;
        Hashmap *last_by_process = m->trim_inject_cooldowns;
        usec_t *last = hashmap_get(last_by_process, process_key(pid, start));
        if (!last) {
                last = malloc(sizeof *last);
                if (!last || hashmap_put(last_by_process, process_key(pid, start), last) < 0) {
                        free(last);
                        return;
                }
        }
        *last = now;
        /* Forget processes long past their cooldown, so the map stays small. */
        if (hashmap_size(last_by_process) > 4096) {
                HashmapIter i = HASHMAP_ITER_INIT;
                void *v;
                const void *k;
                while (hashmap_iterate(last_by_process, &i, &v, &k))
                        if (now - *(usec_t *) v > TRIM_INJECT_COOLDOWN_USEC) {
                                hashmap_remove(last_by_process, k);
                                free(v);
                        }
        }
}

static void run_stop_watching(InjectRun *r)
{
        r->io = sd_event_source_disable_unref(r->io);
        r->exit_source = sd_event_source_disable_unref(r->exit_source);
        r->timer = sd_event_source_disable_unref(r->timer);
        closep(&r->out_fd);
        closep(&r->pidfd);
        r->out_fd = r->pidfd = -EBADF;
        r->running = false;
}

static void run_free(InjectRun *r)
{
        if (!r)
                return;
        if (r->running && r->pidfd >= 0)
                (void) pidfd_signal(r->pidfd, SIGKILL, -1);
        run_stop_watching(r);
        if (r->detached)
                LIST_REMOVE(r->manager->trim_inject_detached, r);
        free(r->lines);
        free(r->path);
        free(r);
}

static void run_line(InjectRun *r, const char *line)
{
        TrimInjectLine l;
        if (trim_inject_line_parse(line, &l) < 0) {
                log_debug("%s: unexpected line from the injection helper, ignoring: %s", r->path, line);
                return;
        }
        TrimInjectLine *n = realloc(r->lines, (r->n_lines + 1) * sizeof *n);
        if (!n)
                return;
        r->lines = n;
        r->lines[r->n_lines++] = l;
        if (streq(l.result, "injected"))
                log_info("%s: injected %s into PID %d (thread was in %s): RSS %" PRIu64 " -> %" PRIu64
                         " KiB, the call ran %" PRIu64 " ms.",
                         r->path, l.how, (int) l.pid, l.was, l.rss_before >> 10, l.rss_after >> 10,
                         l.call_usec / 1000);
        else if (streq(l.result, "gone"))
                log_debug("%s: PID %d went away before its injection.", r->path, (int) l.pid);
        else
                log_info("%s: PID %d not injected: %s.", r->path, (int) l.pid, l.reason);
}

static int on_output(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
        InjectRun *r = userdata;
        for (;;) {
                if (r->buf_len >= sizeof r->buf - 1)
                        r->buf_len = 0; /* a line this long is not ours */
                ssize_t k = read(fd, r->buf + r->buf_len, sizeof r->buf - 1 - r->buf_len);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0 && errno == EAGAIN)
                        return 0;
                if (k <= 0) {
                        r->io = sd_event_source_disable_unref(r->io);
                        return 0;
                }
                r->buf_len += (size_t) k;
                r->buf[r->buf_len] = 0;
                char *nl;
                while ((nl = memchr(r->buf, '\n', r->buf_len))) {
                        *nl = 0;
                        run_line(r, r->buf);
                        size_t used = (size_t) (nl - r->buf) + 1;
                        memmove(r->buf, nl + 1, r->buf_len - used);
                        r->buf_len -= used;
                }
        }
}

int trim_inject_line_format(const TrimInjectLine *l, char *buf, size_t size)
{
        if (!streq(l->result, "injected"))
                return snprintf(buf, size, " via=injected result=%s reason=\"%s\"", l->result, l->reason);
        uint64_t freed = l->rss_before > l->rss_after ? l->rss_before - l->rss_after : 0;
        int n = snprintf(buf, size,
                         " via=injected how=%s released=%" PRIu64 " rss_before=%" PRIu64 " rss_after=%" PRIu64
                         " call_usec=%" PRIu64 " stop_usec=%" PRIu64 " thread_was=%s",
                         l->how, freed, l->rss_before, l->rss_after, l->call_usec, l->stop_usec, l->was);
        if (n >= 0 && (size_t) n < size && l->held_before > 0) {
                uint64_t in_use = l->held_before > l->free_before ? l->held_before - l->free_before : 0;
                int k = snprintf(buf + n, size - (size_t) n,
                                 " allocator_held=%" PRIu64 " allocator_in_use=%" PRIu64 " allocator_free=%" PRIu64,
                                 l->held_before, in_use, l->free_before);
                n = k < 0 ? k : n + k;
                if (k >= 0 && (size_t) n < size && l->held_after > 0) {
                        in_use = l->held_after > l->free_after ? l->held_after - l->free_after : 0;
                        k = snprintf(buf + n, size - (size_t) n,
                                     " allocator_held_after=%" PRIu64 " allocator_in_use_after=%" PRIu64
                                     " allocator_free_after=%" PRIu64,
                                     l->held_after, in_use, l->free_after);
                        n = k < 0 ? k : n + k;
                }
                if (k >= 0 && (size_t) n < size && l->arenas > 0) {
                        k = snprintf(buf + n, size - (size_t) n, " arenas=%u", l->arenas);
                        n = k < 0 ? k : n + k;
                }
        }
        return n;
}

/* When the helper is done: one result record with what each process released, so that an injection that
 * ends after the trim's settle report (seconds per process under pressure) is still reported. */
static void run_report(InjectRun *r)
{
        Guard *g = r->guard;
        if (!g || r->n_lines == 0)
                return;
        uint64_t released = 0;
        unsigned injected = 0, fields = 0;
        Record *rec = record_new(MW_MESSAGE_RESULT, LOG_INFO);
        record_add_guard(rec, g);
        record_add(rec, "ACTION=trim");
        record_add(rec, "TRIM_INJECT_DONE=1");
        for (size_t i = 0; i < r->n_lines; i++) {
                const TrimInjectLine *l = r->lines + i;
                if (streq(l->result, "injected")) {
                        injected++;
                        released += l->rss_before > l->rss_after ? l->rss_before - l->rss_after : 0;
                }
                if (fields++ < 32) {
                        char line[600];
                        int n = snprintf(line, sizeof line, "pid=%d", (int) l->pid);
                        if (n > 0 && (size_t) n < sizeof line)
                                (void) trim_inject_line_format(l, line + n, sizeof line - (size_t) n);
                        record_add(rec, "TRIM_PROCESS=%s", line);
                }
        }
        record_add(rec, "TRIM_INJECTED=%u", injected);
        record_add(rec, "TRIM_INJECT_REFUSED=%zu", r->n_lines - injected);
        record_add(rec, "TRIM_RELEASED_BYTES=%" PRIu64, released);
        char b[FORMAT_BYTES_MAX];
        record_send(rec, "%s: injected trim done: %u of %zu process(es) took the call, RSS released %s", r->path,
                    injected, r->n_lines, format_bytes(b, sizeof b, released));
}

bool trim_inject_running(const InjectRun *r, size_t *ret_n)
{
        if (!r || !r->running)
                return false;
        if (ret_n)
                *ret_n = r->n_targets;
        return true;
}

static int on_exit_(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
        InjectRun *r = userdata;
        siginfo_t si = {};
        if (waitid((idtype_t) P_PIDFD, (id_t) r->pidfd, &si, WEXITED | WNOHANG) < 0 || si.si_pid == 0)
                return 0;
        /* What is still in the pipe. */
        if (r->io && r->out_fd >= 0)
                (void) on_output(NULL, r->out_fd, EPOLLIN, r);
        if (si.si_code == CLD_EXITED && si.si_status <= 1)
                log_debug("%s: the injection helper finished (%zu processes).", r->path, r->n_lines);
        else
                log_warning("%s: the injection helper %s %d, ignoring.", r->path,
                            si.si_code == CLD_EXITED ? "exited with status" : "was killed by signal", si.si_status);
        run_stop_watching(r);
        if (r->detached)
                run_free(r); /* its guard went: nobody reads its lines */
        else
                run_report(r);
        return 0;
}

static int on_timeout(sd_event_source *s, uint64_t usec, void *userdata)
{
        InjectRun *r = userdata;
        /* Safe at any point: a target mid-call finishes it and returns through its own frame. */
        log_warning("%s: the injection helper did not finish in time, killing it.", r->path);
        (void) pidfd_signal(r->pidfd, SIGKILL, -1);
        return 0;
}

/* memwardenctl next to us in the build tree (tests run memwardend from there), else the installed one;
 * $MEMWARDEN_INJECT_HELPER wins. */
static const char *helper_path(char *buf, size_t size)
{
        const char *e = getenv("MEMWARDEN_INJECT_HELPER");
        if (e && e[0] == '/')
                return e;
        char self[4096];
        ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
        if (n > 0) {
                self[n] = 0;
                snprintf(buf, size, "%s/ctl/memwardenctl", dirname(self));
                if (access(buf, X_OK) == 0)
                        return buf;
        }
        return BINDIR "/memwardenctl";
}

int trim_inject_start(Manager *m, Guard *g, const char *guard_path, InjectRun **runp, usec_t per_process_timeout_usec,
                      TrimInjectBatch *b)
{
        if (b->n == 0)
                return 0;
        if (*runp && (*runp)->running)
                return -EBUSY;

        trim_inject_batch_sort(b);
        /* argv: memwardenctl trim --inject --report --timeout SEC PID:START... (in this order) */
        char timeout[32], hbuf[4200];
        snprintf(timeout, sizeof timeout, "%.3f", (double) per_process_timeout_usec / USEC_PER_SEC);
        const char *helper = helper_path(hbuf, sizeof hbuf);
        char *argv[8 + TRIM_INJECT_BATCH_MAX] = { (char *) helper, "trim", "--inject", "--report", "--timeout",
                                                  timeout };
        char targets[TRIM_INJECT_BATCH_MAX][48];
        size_t argc = 6;
        for (size_t i = 0; i < b->n; i++) {
                snprintf(targets[i], sizeof targets[i], "%d:%" PRIu64, (int) b->pids[i], b->starts[i]);
                argv[argc++] = targets[i];
        }
        argv[argc] = NULL;

        int pipefd[2];
        if (pipe2(pipefd, O_CLOEXEC) < 0)
                return -errno;
        posix_spawn_file_actions_t fa;
        posix_spawnattr_t attr;
        sigset_t none;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
        posix_spawn_file_actions_adddup2(&fa, pipefd[1], STDOUT_FILENO);
        posix_spawnattr_init(&attr);
        sigemptyset(&none);
        posix_spawnattr_setsigmask(&attr, &none); /* the daemon blocks signals for sd-event */
        posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);
        pid_t child;
        int r = posix_spawn(&child, helper, &fa, &attr, argv, environ);
        posix_spawn_file_actions_destroy(&fa);
        posix_spawnattr_destroy(&attr);
        close(pipefd[1]);
        if (r != 0) {
                close(pipefd[0]);
                return -r;
        }
        int pidfd = pidfd_open_pid(child);
        if (pidfd < 0) {
                /* Unsupervised it would still end on its own (each process has its timeout). */
                r = pidfd;
                close(pipefd[0]);
                log_warning_errno(r, "%s: cannot watch the injection helper (PID %d): %m; it runs unsupervised",
                                  guard_path, (int) child);
                return r;
        }
        (void) fcntl(pipefd[0], F_SETFL, O_NONBLOCK);

        InjectRun *run = calloc(1, sizeof *run);
        if (!run || !(run->path = strdup(guard_path))) {
                free(run);
                (void) pidfd_signal(pidfd, SIGKILL, -1);
                (void) waitid((idtype_t) P_PIDFD, (id_t) pidfd, &(siginfo_t) {}, WEXITED);
                close(pidfd);
                close(pipefd[0]);
                return -ENOMEM;
        }
        run->manager = m;
        run->guard = g;
        run->n_targets = b->n;
        run->helper = child;
        run->pidfd = pidfd;
        run->out_fd = pipefd[0];
        run->running = true;
        usec_t overall = per_process_timeout_usec * b->n + 10 * USEC_PER_SEC;
        r = sd_event_add_io(m->event, &run->io, run->out_fd, EPOLLIN, on_output, run);
        if (r >= 0)
                r = sd_event_add_io(m->event, &run->exit_source, run->pidfd, EPOLLIN, on_exit_, run);
        if (r >= 0)
                r = sd_event_add_time_relative(m->event, &run->timer, CLOCK_MONOTONIC, overall, 100 * USEC_PER_MSEC,
                                               on_timeout, run);
        if (r < 0) {
                (void) waitid((idtype_t) P_PIDFD, (id_t) pidfd, &(siginfo_t) {}, WEXITED | WNOHANG);
                run_free(run);
                return r;
        }
        run_free(*runp); /* the previous run's lines: its settle report is past */
        *runp = run;
        usec_t now = now_usec(CLOCK_MONOTONIC);
        for (size_t i = 0; i < b->n; i++)
                cooldown_note(m, b->pids[i], b->starts[i], now);
        log_debug("%s: injection helper PID %d started for %zu process(es).", guard_path, (int) child, b->n);
        return 1;
}

bool trim_inject_result(const InjectRun *r, pid_t pid, TrimInjectLine *ret)
{
        for (size_t i = 0; r && i < r->n_lines; i++)
                if (r->lines[i].pid == pid) {
                        *ret = r->lines[i];
                        return true;
                }
        return false;
}

void trim_inject_run_drop(InjectRun **runp)
{
        InjectRun *r = TAKE_PTR(*runp);
        if (!r)
                return;
        if (!r->running) {
                run_free(r);
                return;
        }
        /* Killing the helper is safe at any point (the header); it is reaped when its pidfd says so. */
        log_debug("%s: the guard goes, stopping its injection helper (PID %d).", r->path, (int) r->helper);
        (void) pidfd_signal(r->pidfd, SIGKILL, -1);
        r->timer = sd_event_source_disable_unref(r->timer);
        r->guard = NULL;
        r->detached = true;
        LIST_PREPEND(r->manager->trim_inject_detached, r);
}

void trim_inject_manager_free(Manager *m)
{
        while (m->trim_inject_detached)
                run_free(m->trim_inject_detached);
        if (m->trim_inject_cooldowns) {
                HashmapIter i = HASHMAP_ITER_INIT;
                void *v;
                while (hashmap_iterate(m->trim_inject_cooldowns, &i, &v, NULL))
                        free(v);
                m->trim_inject_cooldowns = hashmap_free(m->trim_inject_cooldowns);
        }
}

void trim_inject_check_sandbox(Manager *m)
{
        const char *first = NULL;
        size_t n = 0;
        for (size_t i = 0; i < m->config->n_policies; i++)
                if (m->config->policies[i]->trim.inject) {
                        first = first ?: m->config->policies[i]->name;
                        n++;
                }
        if (n == 0 || inject_syscalls_allowed())
                return;
        Record *r = record_new(MW_MESSAGE_STARTED, LOG_WARNING);
        record_add(r, "INJECT=blocked");
        record_add(r, "POLICY=%s", first);
        record_send(r, "%zu policies (%s%s) ask for Inject=yes, but memwardend's system call filter refuses ptrace: "
                       "no process will be injected until a drop-in adds SystemCallFilter=ptrace process_vm_readv "
                       "process_vm_writev (memwarden.policy(5)), ignoring",
                    n, first, n > 1 ? ", ..." : "");
}
