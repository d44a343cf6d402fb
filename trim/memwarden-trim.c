/* SPDX-License-Identifier: MIT */
/* trim/memwarden-trim.c: libmemwarden-trim.so, the receiver of systemd's "common signal" memory-pressure
 * protocol for programs that have none of their own. Preload it (LD_PRELOAD, or `memwardenctl enroll
 * UNIT`) or link it.
 *
 *   SIGRTMIN+18, sigqueue value 0x300: trim. glibc: malloc_trim(0); jemalloc (mallctl resolvable): purge
 *     every arena ("arena.4096.purge", MALLCTL_ARENAS_ALL); tcmalloc: MallocExtension_ReleaseFreeMemory().
 *     RSS (/proc/self/statm), AnonHugePages (/proc/self/smaps_rollup) and mallinfo2() are measured before
 *     and after, and a report is written to $MEMWARDEN_TRIM_DIR/<pid>.json (default /run/memwarden/trim).
 *   value 0x301: the allocator's own view (glibc malloc_info(): per-arena system vs free bytes; jemalloc:
 *     malloc_stats_print() JSON) into <pid>.info.json.
 *   Reports are written atomically (a temporary file, then rename(2)). Anything else is ignored.
 *
 * Safety rules, because this runs inside programs we know nothing about:
 * - The handler is installed only when the program has none (the disposition is SIG_DFL when the
 *   constructor runs). SIG_IGN or an existing handler is left alone, and so is everything when
 *   MEMWARDEN_TRIM=off. A program that installs its own handler later replaces ours: it asked for the signal
 *   and gets it; the library then goes quiet (no chaining: interposing sigaction(2) would put us on every
 *   program's signal path for a rare case).
 * - The handler is async-signal-safe: it only accepts SI_QUEUE requests, sets an atomic flag and writes
 *   to an eventfd. A worker thread does the work.
 * - The worker is created once the handler is installed (the constructor), with a small stack, every
 *   signal but SIGRTMIN+18 blocked. The constructor blocks SIGRTMIN+18 in the thread that runs it (the main
 *   thread when preloaded), and threads the program creates later inherit that, so requests land on the
 *   worker and never interrupt the program's own system calls with EINTR.
 * - fork(): the child has no worker and shares the parent's eventfd, so a pthread_atfork() child handler
 *   closes it, makes a new one and starts a new worker (only if our handler is still the installed one).
 *   posix_spawn()/vfork children run no atfork handlers and exec at once. exec(): the eventfd is
 *   O_CLOEXEC, the handler disposition resets to default and the library, if still preloaded, starts over.
 * - The library is never unloaded (-z nodelete): a dlclose() must not pull code from under the worker.
 * - Static binaries cannot load it: their SigCgt has no SIGRTMIN+18 bit, and memwarden never signals them.
 *
 * Transparent huge pages: khugepaged may collapse a trimmed range back into huge pages (seen in the VM:
 * 21 -> 50 MiB within ~20 s). The freed ranges inside an arena are not known here, and advising
 * MADV_NOHUGEPAGE on whole arenas, or PR_SET_THP_DISABLE on the process, would change the program's
 * performance for good. So the library reports AnonHugePages before and after, and memwardend re-measures
 * every trimmed process after the rung's settle time and says in its record what THP took back. */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "memwarden-trim.h"

#define TRIM_REQUEST_TRIM MEMWARDEN_TRIM_REQUEST_TRIM
#define TRIM_REQUEST_INFO MEMWARDEN_TRIM_REQUEST_INFO
#define TRIM_DIR_DEFAULT MEMWARDEN_TRIM_DIR_DEFAULT
#define WORKER_STACK_SIZE (256 * 1024)
#define PENDING_TRIM 1u
#define PENDING_INFO 2u

#define EXPORT __attribute__((visibility("default")))

static _Atomic int wake_fd = -1;      /* eventfd the handler writes to, -1 without a worker */
static _Atomic unsigned pending;      /* PENDING_* bits */
static _Atomic bool installed;        /* our handler was installed by the constructor */
static _Atomic uint64_t requests;     /* requests received (the report's "seq") */
static char report_dir[PATH_MAX] = TRIM_DIR_DEFAULT;
static pthread_mutex_t work_lock = PTHREAD_MUTEX_INITIALIZER; /* one trim at a time (worker vs API) */

static int trim_signal(void)
{
        return SIGRTMIN + 18;
}

static void on_signal(int sig, siginfo_t *si, void *uc)
{
        int saved = errno;
        if (si && si->si_code == SI_QUEUE) {
                int v = si->si_value.sival_int;
                unsigned bit = v == TRIM_REQUEST_TRIM ? PENDING_TRIM : v == TRIM_REQUEST_INFO ? PENDING_INFO : 0;
                int fd = atomic_load(&wake_fd);
                if (bit) {
                        atomic_fetch_add(&requests, 1);
                        atomic_fetch_or(&pending, bit);
                        if (fd >= 0) {
                                uint64_t one = 1;
                                (void) !write(fd, &one, sizeof one);
                        }
                }
        }
        errno = saved;
}

static bool our_handler_installed(void)
{
        struct sigaction cur;
        if (sigaction(trim_signal(), NULL, &cur) < 0)
                return false;
        return (cur.sa_flags & SA_SIGINFO) && cur.sa_sigaction == on_signal;
}

/* ---------------------------------------------------------------------------------------------------- */
/* Measuring */

static uint64_t now_usec(clockid_t c)
{
        struct timespec ts;
        clock_gettime(c, &ts);
        return (uint64_t) ts.tv_sec * 1000000u + (uint64_t) ts.tv_nsec / 1000u;
}

static ssize_t read_small_file(const char *path, char *buf, size_t size)
{
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -1;
        size_t n = 0;
        while (n + 1 < size) {
                ssize_t k = read(fd, buf + n, size - 1 - n);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0)
                        break;
                n += (size_t) k;
        }
        close(fd);
        buf[n] = 0;
        return (ssize_t) n;
}

static uint64_t rss_bytes(void)
{
        char buf[128];
        unsigned long long size = 0, resident = 0;
        if (read_small_file("/proc/self/statm", buf, sizeof buf) <= 0 ||
            sscanf(buf, "%llu %llu", &size, &resident) != 2)
                return 0;
        return (uint64_t) resident * (uint64_t) sysconf(_SC_PAGESIZE);
}

static uint64_t anon_huge_bytes(void)
{
        char buf[2048];
        if (read_small_file("/proc/self/smaps_rollup", buf, sizeof buf) <= 0)
                return 0;
        const char *p = strstr(buf, "\nAnonHugePages:");
        unsigned long long kb = 0;
        if (!p || sscanf(p + strlen("\nAnonHugePages:"), "%llu", &kb) != 1)
                return 0;
        return (uint64_t) kb * 1024u;
}

typedef struct Mallinfo {
        bool valid;
        uint64_t arena, hblkhd, uordblks, fordblks, keepcost;
} Mallinfo;

static Mallinfo mallinfo_now(void)
{
        /* Through dlsym: mallinfo2() is glibc 2.33+, and absent where the allocator is not glibc's. */
        struct mallinfo2 (*mi2)(void) = (struct mallinfo2 (*)(void)) dlsym(RTLD_DEFAULT, "mallinfo2");
        if (!mi2)
                return (Mallinfo) {};
        struct mallinfo2 m = mi2();
        return (Mallinfo) { true, m.arena, m.hblkhd, m.uordblks, m.fordblks, m.keepcost };
}

/* ---------------------------------------------------------------------------------------------------- */
/* Reports */

static int write_report(const char *suffix, const char *data, size_t len)
{
        char path[PATH_MAX], tmp[PATH_MAX];
        int pid = (int) getpid();

        if ((size_t) snprintf(path, sizeof path, "%s/%d%s", report_dir, pid, suffix) >= sizeof path ||
            (size_t) snprintf(tmp, sizeof tmp, "%s/.%d%s.tmp", report_dir, pid, suffix) >= sizeof tmp)
                return -ENAMETOOLONG;
        (void) unlink(tmp);
        int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (fd < 0)
                return -errno;
        size_t done = 0;
        while (done < len) {
                ssize_t k = write(fd, data + done, len - done);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0) {
                        int e = k < 0 ? -errno : -EIO;
                        close(fd);
                        unlink(tmp);
                        return e;
                }
                done += (size_t) k;
        }
        if (close(fd) < 0 || rename(tmp, path) < 0) {
                int e = -errno;
                unlink(tmp);
                return e;
        }
        return 0;
}

static size_t json_mallinfo(char *buf, size_t size, const char *key, const Mallinfo *m)
{
        if (!m->valid)
                return (size_t) snprintf(buf, size, ",\"%s\":null", key);
        return (size_t) snprintf(buf, size,
                ",\"%s\":{\"arena\":%" PRIu64 ",\"hblkhd\":%" PRIu64 ",\"uordblks\":%" PRIu64
                ",\"fordblks\":%" PRIu64 ",\"keepcost\":%" PRIu64 "}",
                key, m->arena, m->hblkhd, m->uordblks, m->fordblks, m->keepcost);
}

/* The process's name (/proc/self is the thread group: not the worker's own name). */
static void comm_name(char *buf, size_t size)
{
        if (read_small_file("/proc/self/comm", buf, size) <= 0)
                snprintf(buf, size, "?");
        buf[strcspn(buf, "\n")] = 0;
        for (char *p = buf; *p; p++)
                if (*p == '"' || *p == '\\' || (unsigned char) *p < 0x20)
                        *p = '_';
}

static int do_trim(MemwardenTrimResult *ret)
{
        typedef int (*mallctl_t)(const char *, void *, size_t *, void *, size_t);
        const char *allocator = "glibc";
        uint64_t t0 = now_usec(CLOCK_MONOTONIC);
        uint64_t rss_before = rss_bytes(), ahp_before = anon_huge_bytes();
        Mallinfo mi_before = {}, mi_after = {};

        mallctl_t mallctl = (mallctl_t) dlsym(RTLD_DEFAULT, "mallctl");
        void (*tc_release)(void) = (void (*)(void)) dlsym(RTLD_DEFAULT, "MallocExtension_ReleaseFreeMemory");
        if (mallctl) {
                allocator = "jemalloc";
                /* MALLCTL_ARENAS_ALL is 4096 in every jemalloc 5.x. */
                if (mallctl("arena.4096.purge", NULL, NULL, NULL, 0) != 0)
                        allocator = "jemalloc-purge-failed";
        } else if (tc_release) {
                allocator = "tcmalloc";
                tc_release();
        } else {
                int (*trim)(size_t) = (int (*)(size_t)) dlsym(RTLD_DEFAULT, "malloc_trim");
                mi_before = mallinfo_now();
                if (trim)
                        trim(0);
                else
                        allocator = "unknown";
                mi_after = mallinfo_now();
        }
        uint64_t rss_after = rss_bytes(), ahp_after = anon_huge_bytes();
        uint64_t released = rss_before > rss_after ? rss_before - rss_after : 0;
        uint64_t duration = now_usec(CLOCK_MONOTONIC) - t0;

        char comm[32];
        comm_name(comm, sizeof comm);
        char buf[2048];
        size_t n = (size_t) snprintf(buf, sizeof buf,
                "{\"version\":1,\"pid\":%d,\"comm\":\"%s\",\"request\":\"trim\",\"seq\":%" PRIu64
                ",\"allocator\":\"%s\",\"time_usec\":%" PRIu64 ",\"duration_usec\":%" PRIu64
                ",\"rss_before\":%" PRIu64 ",\"rss_after\":%" PRIu64 ",\"released\":%" PRIu64
                ",\"anon_huge_before\":%" PRIu64 ",\"anon_huge_after\":%" PRIu64,
                (int) getpid(), comm, atomic_load(&requests), allocator, now_usec(CLOCK_REALTIME), duration,
                rss_before, rss_after, released, ahp_before, ahp_after);
        n += json_mallinfo(buf + n, sizeof buf - n, "mallinfo_before", &mi_before);
        n += json_mallinfo(buf + n, sizeof buf - n, "mallinfo_after", &mi_after);
        n += (size_t) snprintf(buf + n, sizeof buf - n, "}\n");
        if (ret)
                *ret = (MemwardenTrimResult) { .rss_before = rss_before, .rss_after = rss_after,
                                               .released = released };
        return write_report(".json", buf, n < sizeof buf ? n : sizeof buf - 1);
}

/* Sums one <heap> (or the whole <malloc>) of malloc_info's XML: system current, free = fast + rest. */
static void heap_figures(const char *begin, const char *end, uint64_t *system, uint64_t *free_bytes)
{
        *system = *free_bytes = 0;
        for (const char *p = begin; p && p < end; p = strchr(p + 1, '<')) {
                unsigned long long v;
                static const char sys[] = "<system type=\"current\" size=\"";
                if (!strncmp(p, sys, sizeof sys - 1) && sscanf(p + sizeof sys - 1, "%llu", &v) == 1)
                        *system += v;
                else if ((!strncmp(p, "<total type=\"fast\"", 18) || !strncmp(p, "<total type=\"rest\"", 18))) {
                        const char *s = strstr(p, "size=\"");
                        if (s && s < end && sscanf(s + 6, "%llu", &v) == 1)
                                *free_bytes += v;
                }
        }
}

static void stats_write(void *f, const char *s)
{
        fputs(s, f);
}

static int do_info(void)
{
        char *xml = NULL, *out = NULL;
        size_t xml_len = 0, out_len = 0;
        int r = -ENOMEM;

        FILE *o = open_memstream(&out, &out_len);
        if (!o)
                return -ENOMEM;
        char comm[32];
        comm_name(comm, sizeof comm);
        fprintf(o, "{\"version\":1,\"pid\":%d,\"comm\":\"%s\",\"request\":\"info\",\"seq\":%" PRIu64
                   ",\"time_usec\":%" PRIu64 ",\"rss\":%" PRIu64,
                (int) getpid(), comm, atomic_load(&requests), now_usec(CLOCK_REALTIME), rss_bytes());

        void (*stats_print)(void (*)(void *, const char *), void *, const char *) =
                (void (*)(void (*)(void *, const char *), void *, const char *)) dlsym(RTLD_DEFAULT,
                                                                                    "malloc_stats_print");
        if (dlsym(RTLD_DEFAULT, "mallctl") && stats_print) {
                /* jemalloc writes JSON itself ("J"). */
                fputs(",\"allocator\":\"jemalloc\",\"jemalloc\":", o);
                stats_print(stats_write, o, "J");
        } else {
                FILE *x = open_memstream(&xml, &xml_len);
                if (!x)
                        goto finish;
                int k = malloc_info(0, x);
                fclose(x);
                fputs(",\"allocator\":\"glibc\",\"arenas\":[", o);
                uint64_t sys_total = 0, free_total = 0;
                unsigned n = 0;
                if (k == 0 && xml) {
                        for (const char *h = strstr(xml, "<heap nr=\""); h; h = strstr(h + 1, "<heap nr=\"")) {
                                const char *e = strstr(h, "</heap>");
                                if (!e)
                                        break;
                                uint64_t s, f;
                                heap_figures(h, e, &s, &f);
                                fprintf(o, "%s{\"nr\":%u,\"system\":%" PRIu64 ",\"free\":%" PRIu64
                                           ",\"in_use\":%" PRIu64 "}",
                                        n ? "," : "", n, s, f, s > f ? s - f : 0);
                                sys_total += s;
                                free_total += f;
                                n++;
                        }
                }
                fprintf(o, "],\"system\":%" PRIu64 ",\"free\":%" PRIu64 ",\"in_use\":%" PRIu64, sys_total,
                        free_total, sys_total > free_total ? sys_total - free_total : 0);
        }
        fputs("}\n", o);
        r = 0;
finish:
        if (fclose(o) != 0 && r == 0)
                r = -EIO;
        if (r == 0)
                r = write_report(".info.json", out, out_len);
        free(out);
        free(xml);
        return r;
}

/* ---------------------------------------------------------------------------------------------------- */
/* The worker */

static void *worker_main(void *arg)
{
        int fd = (int) (intptr_t) arg;
        sigset_t ss;

        sigfillset(&ss);
        sigdelset(&ss, trim_signal());
        pthread_sigmask(SIG_SETMASK, &ss, NULL);
        (void) pthread_setname_np(pthread_self(), "memwarden-trim");

        for (;;) {
                uint64_t n;
                ssize_t k = read(fd, &n, sizeof n);
                if (k < 0 && (errno == EINTR || errno == EAGAIN))
                        continue;
                if (k < 0)
                        return NULL; /* EBADF: a child's atfork handler replaced the eventfd */
                unsigned p = atomic_exchange(&pending, 0u);
                pthread_mutex_lock(&work_lock);
                if (p & PENDING_TRIM)
                        (void) do_trim(NULL);
                if (p & PENDING_INFO)
                        (void) do_info();
                pthread_mutex_unlock(&work_lock);
        }
}

static int start_worker(void)
{
        int fd = eventfd(0, EFD_CLOEXEC);
        if (fd < 0)
                return -errno;

        pthread_attr_t a;
        pthread_t t;
        pthread_attr_init(&a);
        pthread_attr_setstacksize(&a, WORKER_STACK_SIZE);
        pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
        /* The new thread starts with every signal blocked; it unblocks SIGRTMIN+18 itself. */
        sigset_t all, old;
        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, &old);
        int r = pthread_create(&t, &a, worker_main, (void *) (intptr_t) fd);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        pthread_attr_destroy(&a);
        if (r != 0) {
                close(fd);
                return -r;
        }
        atomic_store(&wake_fd, fd);
        return 0;
}

static void atfork_prepare(void)
{
        pthread_mutex_lock(&work_lock); /* no fork in the middle of a report */
}

static void atfork_parent(void)
{
        pthread_mutex_unlock(&work_lock);
}

static void atfork_child(void)
{
        /* The eventfd is shared with the parent (its worker would be woken) and our worker did not survive
         * the fork: a new pair. Dispositions are inherited, so the handler is still ours unless the program
         * replaced it. */
        atomic_store(&pending, 0u);
        atomic_store(&requests, 0);
        pthread_mutex_unlock(&work_lock);
        int fd = atomic_exchange(&wake_fd, -1);
        if (fd >= 0)
                close(fd);
        if (atomic_load(&installed) && our_handler_installed())
                (void) start_worker();
}

__attribute__((constructor)) static void trim_init(void)
{
        const char *e = getenv("MEMWARDEN_TRIM");
        if (e && (!strcmp(e, "off") || !strcmp(e, "0") || !strcmp(e, "no")))
                return;
        e = getenv(MEMWARDEN_TRIM_DIR_ENV);
        if (e && *e == '/' && strlen(e) < sizeof report_dir - 32)
                snprintf(report_dir, sizeof report_dir, "%s", e);

        int sig = trim_signal();
        if (sig > SIGRTMAX)
                return;
        struct sigaction old;
        if (sigaction(sig, NULL, &old) < 0)
                return;
        if ((old.sa_flags & SA_SIGINFO) || old.sa_handler != SIG_DFL)
                return; /* the program (or another library) has a handler, or ignores it: leave it */

        if (start_worker() < 0)
                return;
        struct sigaction sa = { .sa_sigaction = on_signal, .sa_flags = SA_SIGINFO | SA_RESTART };
        sigfillset(&sa.sa_mask);
        if (sigaction(sig, &sa, NULL) < 0)
                return; /* the worker idles */
        atomic_store(&installed, true);
        (void) pthread_atfork(atfork_prepare, atfork_parent, atfork_child);

        /* Requests go to the worker, not to the program's threads (no EINTR in its system calls). */
        sigset_t ss;
        sigemptyset(&ss);
        sigaddset(&ss, sig);
        pthread_sigmask(SIG_BLOCK, &ss, NULL);
}

EXPORT int memwarden_trim(MemwardenTrimResult *ret)
{
        pthread_mutex_lock(&work_lock);
        int r = do_trim(ret);
        pthread_mutex_unlock(&work_lock);
        return r;
}

EXPORT bool memwarden_trim_active(void)
{
        return atomic_load(&installed) && our_handler_installed();
}
