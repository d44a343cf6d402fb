/* SPDX-License-Identifier: MIT */
/* tests/helpers/frag: the "frag" scenario. Allocates MiB (default 100) in 1-100 KiB chunks over THREADS (4)
 * threads, frees 90% (keeps every 10th chunk), prints "ready PID RSS_BYTES FREED_BYTES" on stdout and
 * idles until SIGTERM/SIGINT or stdin EOF (with --stdin). glibc keeps the freed memory in its arenas.
 *   frag [--mib N] [--threads N] [--block-all] [--own-handler FILE] [--fork] [--fork-exec] [--stdin]
 *        [--then-alloc MIB]
 * --block-all        block every signal in every thread of the program (the library's worker is its own)
 * --own-handler FILE install the program's own SIGRTMIN+18 handler; it appends "own\n" to FILE per signal
 * --fork             fork a child (no exec) that fragments its own heap too, print "child PID", idle
 * --fork-exec        fork+exec /bin/sh -c 'exit 7' and fork + _exit(3) children; print "fork-exec ok"
 * --then-alloc MIB   after "ready", allocate and touch MIB more, print "allocated MIB", then idle
 * While idle, SIGUSR1 makes it print glibc's malloc_stats() to stderr (what gdb's `call malloc_stats()` would
 * show), for comparing memwardenctl map's allocator view with the allocator's own figures. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static size_t arg_mib = 100;
static unsigned arg_threads = 4;
static const char *arg_own_handler;
static int own_fd = -1;
static volatile sig_atomic_t stop;

static volatile sig_atomic_t want_stats;

static void on_term(int sig)
{
        stop = 1;
}

static void on_usr1(int sig)
{
        want_stats = 1;
}

static void on_own(int sig, siginfo_t *si, void *uc)
{
        if (own_fd >= 0)
                (void) !write(own_fd, "own\n", 4);
}

static uint64_t rss(void)
{
        FILE *f = fopen("/proc/self/statm", "re");
        unsigned long long a = 0, b = 0;
        if (f) {
                if (fscanf(f, "%llu %llu", &a, &b) != 2)
                        b = 0;
                fclose(f);
        }
        return (uint64_t) b * (uint64_t) sysconf(_SC_PAGESIZE);
}

typedef struct Work {
        size_t bytes;
        unsigned seed;
        size_t freed;
} Work;

static void *fragment(void *arg)
{
        Work *w = arg;
        size_t n_max = w->bytes / 1024 + 16, n = 0, total = 0;
        void **chunks = calloc(n_max, sizeof *chunks);
        size_t *sizes = calloc(n_max, sizeof *sizes);
        if (!chunks || !sizes)
                return NULL;
        while (total < w->bytes && n < n_max) {
                size_t sz = 1024 + (size_t) (rand_r(&w->seed) % (99 * 1024));
                char *p = malloc(sz);
                if (!p)
                        break;
                memset(p, 0x5a, sz);
                chunks[n] = p;
                sizes[n++] = sz;
                total += sz;
        }
        for (size_t i = 0; i < n; i++)
                if (i % 10 != 0) {
                        free(chunks[i]);
                        w->freed += sizes[i];
                }
        /* The kept chunks (every 10th) stay allocated for good: that is the fragmentation. */
        free(sizes);
        return NULL;
}

static size_t fragment_all(void)
{
        pthread_t t[64];
        Work w[64];
        unsigned n = arg_threads > 64 ? 64 : arg_threads ?: 1;
        size_t freed = 0;
        for (unsigned i = 0; i < n; i++) {
                w[i] = (Work) { .bytes = arg_mib * 1024 * 1024 / n, .seed = 42 + i };
                if (pthread_create(&t[i], NULL, fragment, &w[i]) != 0)
                        exit(2);
        }
        for (unsigned i = 0; i < n; i++) {
                pthread_join(t[i], NULL);
                freed += w[i].freed;
        }
        return freed;
}

static void idle(void)
{
        signal(SIGUSR1, on_usr1);
        while (!stop) {
                pause();
                if (want_stats) {
                        want_stats = 0;
                        malloc_stats(); /* to stderr: "Total (incl. mmap):" then "system bytes", "in use bytes" */
                        fflush(stderr);
                }
        }
}

int main(int argc, char *argv[])
{
        static const struct option options[] = {
                { "mib", required_argument, NULL, 'm' },      { "threads", required_argument, NULL, 't' },
                { "block-all", no_argument, NULL, 'b' },      { "own-handler", required_argument, NULL, 'o' },
                { "fork", no_argument, NULL, 'f' },           { "fork-exec", no_argument, NULL, 'e' },
                { "stdin", no_argument, NULL, 's' },          { "then-alloc", required_argument, NULL, 'a' },
                {}
        };
        bool block_all = false, do_fork = false, fork_exec = false, use_stdin = false;
        size_t then_alloc = 0;
        int c;

        while ((c = getopt_long(argc, argv, "", options, NULL)) >= 0) {
                switch (c) {
                case 'm': arg_mib = strtoul(optarg, NULL, 10); break;
                case 't': arg_threads = (unsigned) strtoul(optarg, NULL, 10); break;
                case 'b': block_all = true; break;
                case 'o': arg_own_handler = optarg; break;
                case 'f': do_fork = true; break;
                case 'e': fork_exec = true; break;
                case 's': use_stdin = true; break;
                case 'a': then_alloc = strtoul(optarg, NULL, 10); break;
                default: return 2;
                }
        }
        setvbuf(stdout, NULL, _IOLBF, 0);

        struct sigaction sa = { .sa_handler = on_term };
        sigaction(SIGTERM, &sa, NULL);
        sigaction(SIGINT, &sa, NULL);
        if (arg_own_handler) {
                own_fd = open(arg_own_handler, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
                struct sigaction own = { .sa_sigaction = on_own, .sa_flags = SA_SIGINFO | SA_RESTART };
                sigaction(SIGRTMIN + 18, &own, NULL);
        }
        if (block_all) {
                sigset_t all;
                sigfillset(&all);
                sigprocmask(SIG_BLOCK, &all, NULL); /* the fragmenting threads inherit it */
        }

        size_t freed = fragment_all();
        printf("ready %d %llu %llu\n", (int) getpid(), (unsigned long long) rss(), (unsigned long long) freed);

        if (fork_exec) {
                int st = 0;
                pid_t p = fork();
                if (p == 0) {
                        void *x = malloc(1 << 20); /* the child's malloc works after fork */
                        free(x);
                        _exit(3);
                }
                if (p < 0 || waitpid(p, &st, 0) != p || !WIFEXITED(st) || WEXITSTATUS(st) != 3)
                        return 4;
                p = fork();
                if (p == 0) {
                        execl("/bin/sh", "sh", "-c", "exit 7", (char *) NULL);
                        _exit(127);
                }
                if (p < 0 || waitpid(p, &st, 0) != p || !WIFEXITED(st) || WEXITSTATUS(st) != 7)
                        return 5;
                printf("fork-exec ok\n");
        }
        if (do_fork) {
                pid_t p = fork();
                if (p == 0) {
                        size_t f = fragment_all();
                        printf("child %d %llu %llu\n", (int) getpid(), (unsigned long long) rss(),
                               (unsigned long long) f);
                        idle();
                        _exit(0);
                }
                if (p < 0)
                        return 6;
        }
        if (then_alloc) {
                size_t n = then_alloc * 1024 * 1024;
                char *p = malloc(n);
                if (!p)
                        return 7;
                for (size_t i = 0; i < n; i += 4096)
                        p[i] = 1;
                printf("allocated %zu\n", then_alloc);
        }
        if (use_stdin) {
                char b[64];
                while (!stop && read(STDIN_FILENO, b, sizeof b) != 0)
                        ;
        } else
                idle();
        return 0;
}
