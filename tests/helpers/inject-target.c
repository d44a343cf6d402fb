/* SPDX-License-Identifier: MIT */
/* tests/helpers/inject-target: targets for the injected trim (cgroup/cgroup-inject.c). Each mode prints
 * "ready PID" (and what the test needs) on stdout, then blocks where the mode says; what it then gets is
 * printed, so that the test sees the interrupted call resumed correctly.
 *   inject-target read                 read() a line from stdin, print "read LINE"
 *   inject-target nanosleep MS         nanosleep(MS) in one thread while main waits in pthread_join (futex),
 *                                      print "slept ELAPSED_MS"
 *   inject-target accept PATH          accept() on a unix socket at PATH, print "accepted"
 *   inject-target epoll                epoll_wait(-1) on stdin, print "epoll LINE"
 *   inject-target slow                 like read, plus a SIGUSR1 handler and sigaltstack; prints
 *                                      "slow ADDR" for inject_test_slow(), a 1.5 s call without malloc;
 *                                      after the line: "read LINE usr1 N slow-calls N altstack same|changed"
 *   inject-target seccomp              a seccomp filter (allow all), then read
 *   inject-target frag MIB             allocate MIB in 1-100 KiB chunks in the main thread, free 90%,
 *                                      "ready PID", then read a line (whatever the allocator: jemalloc too)
 *   inject-target torture THREADS SECS [busy]
 *                                      THREADS threads malloc/free/realloc buffers with checksums for SECS
 *                                      seconds while main joins (with busy: main does it too, so that no
 *                                      thread idles); "torture ok OPS" or "torture BAD ..."; SIGTERM
 *                                      ends the run early (with the verdict) */
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t usr1_count;
static atomic_uint slow_calls;

static void on_usr1(int sig)
{
        usr1_count++;
}

/* Called by the test through an injection: a long call that uses no allocator. */
void inject_test_slow(void);
__attribute__((noinline, used)) void inject_test_slow(void)
{
        struct timespec t = { .tv_sec = 1, .tv_nsec = 500 * 1000 * 1000 };
        while (nanosleep(&t, &t) < 0 && errno == EINTR)
                ;
        atomic_fetch_add(&slow_calls, 1);
}

static double now_ms(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void ready(void)
{
        printf("ready %d\n", (int) getpid());
        fflush(stdout);
}

static int read_line(char *buf, size_t size)
{
        size_t n = 0;
        while (n + 1 < size) {
                ssize_t k = read(STDIN_FILENO, buf + n, 1);
                if (k < 0 && errno == EINTR) {
                        printf("EINTR from read\n");
                        fflush(stdout);
                        continue;
                }
                if (k <= 0 || buf[n] == '\n')
                        break;
                n++;
        }
        buf[n] = 0;
        return (int) n;
}

static long sleep_ms;
static void *sleeper(void *arg)
{
        struct timespec t = { .tv_sec = sleep_ms / 1000, .tv_nsec = (sleep_ms % 1000) * 1000000 };
        double t0 = now_ms();
        int r = nanosleep(&t, NULL);
        printf("slept %.0f%s\n", now_ms() - t0, r < 0 ? " EINTR" : "");
        fflush(stdout);
        return NULL;
}

/* torture: each buffer holds its own length and a checksum of its bytes. */
typedef struct Buf {
        size_t len;
        uint32_t sum;
        unsigned char *p;
} Buf;

static int torture_secs;
static volatile sig_atomic_t torture_stop;

static void on_term(int sig)
{
        torture_stop = 1;
}
static atomic_ulong torture_ops;
static atomic_int torture_bad;

static uint32_t checksum(const unsigned char *p, size_t n)
{
        uint32_t s = 2166136261U;
        for (size_t i = 0; i < n; i++)
                s = (s ^ p[i]) * 16777619U;
        return s;
}

static void fill(Buf *b, unsigned seed)
{
        for (size_t i = 0; i < b->len; i++)
                b->p[i] = (unsigned char) (seed + i * 31);
        b->sum = checksum(b->p, b->len);
}

static void *torturer(void *arg)
{
        unsigned seed = (unsigned) (uintptr_t) arg;
        Buf bufs[256] = {};
        double end = now_ms() + torture_secs * 1e3;
        unsigned long ops = 0;
        while (now_ms() < end && !torture_stop) {
                for (int k = 0; k < 1000; k++) {
                        Buf *b = &bufs[rand_r(&seed) % 256];
                        if (b->p && checksum(b->p, b->len) != b->sum)
                                atomic_fetch_add(&torture_bad, 1);
                        unsigned op = rand_r(&seed) % 3;
                        size_t len = 1 + rand_r(&seed) % (rand_r(&seed) % 8 == 0 ? 262144 : 2048);
                        if (op == 0 || !b->p) {
                                free(b->p);
                                b->len = len;
                                b->p = malloc(len);
                                fill(b, seed);
                        } else if (op == 1) {
                                size_t keep = len < b->len ? len : b->len;
                                uint32_t before = checksum(b->p, keep);
                                unsigned char *n = realloc(b->p, len);
                                if (!n)
                                        continue;
                                if (checksum(n, keep) != before) /* realloc kept the prefix */
                                        atomic_fetch_add(&torture_bad, 1);
                                b->p = n;
                                b->len = len;
                                fill(b, seed);
                        } else {
                                free(b->p);
                                b->p = NULL;
                        }
                        ops++;
                }
        }
        for (int i = 0; i < 256; i++) {
                if (bufs[i].p && checksum(bufs[i].p, bufs[i].len) != bufs[i].sum)
                        atomic_fetch_add(&torture_bad, 1);
                free(bufs[i].p);
        }
        atomic_fetch_add(&torture_ops, ops);
        return NULL;
}

int main(int argc, char **argv)
{
        char line[256];
        const char *mode = argc > 1 ? argv[1] : "read";

        setvbuf(stdout, NULL, _IOLBF, 0);
        if (strcmp(mode, "read") == 0) {
                ready();
                read_line(line, sizeof line);
                printf("read %s\n", line);
        } else if (strcmp(mode, "nanosleep") == 0 && argc > 2) {
                sleep_ms = atol(argv[2]);
                pthread_t t;
                pthread_create(&t, NULL, sleeper, NULL);
                ready();
                pthread_join(t, NULL);
        } else if (strcmp(mode, "accept") == 0 && argc > 2) {
                int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
                struct sockaddr_un sa = { .sun_family = AF_UNIX };
                snprintf(sa.sun_path, sizeof sa.sun_path, "%s", argv[2]);
                unlink(argv[2]);
                if (fd < 0 || bind(fd, (struct sockaddr *) &sa, sizeof sa) < 0 || listen(fd, 4) < 0) {
                        perror("socket");
                        return 1;
                }
                ready();
                int c;
                while ((c = accept(fd, NULL, NULL)) < 0 && errno == EINTR)
                        printf("EINTR from accept\n");
                printf(c >= 0 ? "accepted\n" : "accept failed\n");
        } else if (strcmp(mode, "epoll") == 0) {
                int ep = epoll_create1(EPOLL_CLOEXEC);
                struct epoll_event ev = { .events = EPOLLIN };
                epoll_ctl(ep, EPOLL_CTL_ADD, STDIN_FILENO, &ev);
                ready();
                int n;
                while ((n = epoll_wait(ep, &ev, 1, -1)) < 0 && errno == EINTR)
                        printf("EINTR from epoll_wait\n");
                read_line(line, sizeof line);
                printf("epoll %d %s\n", n, line);
        } else if (strcmp(mode, "slow") == 0) {
                static char altstack[65536];
                stack_t ss = { .ss_sp = altstack, .ss_size = sizeof altstack }, now;
                sigaltstack(&ss, NULL);
                struct sigaction sa = { .sa_handler = on_usr1, .sa_flags = SA_RESTART | SA_ONSTACK };
                sigaction(SIGUSR1, &sa, NULL);
                ready();
                printf("slow %p\n", (void *) inject_test_slow);
                read_line(line, sizeof line);
                sigaltstack(NULL, &now);
                printf("read %s usr1 %d slow-calls %u altstack %s\n", line, (int) usr1_count,
                       atomic_load(&slow_calls),
                       now.ss_sp == ss.ss_sp && now.ss_size == ss.ss_size && now.ss_flags == 0 ? "same" : "changed");
        } else if (strcmp(mode, "seccomp") == 0) {
                struct sock_filter allow[] = { BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW) };
                struct sock_fprog prog = { .len = 1, .filter = allow };
                if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) < 0) {
                        perror("seccomp");
                        return 1;
                }
                ready();
                read_line(line, sizeof line);
                printf("read %s\n", line);
        } else if (strcmp(mode, "frag") == 0 && argc > 2) {
                size_t want = (size_t) atol(argv[2]) << 20, total = 0, n = 0;
                void **chunks = calloc(want / 1024 + 16, sizeof *chunks);
                unsigned seed = 42;
                while (chunks && total < want) {
                        size_t sz = 1024 + (size_t) (rand_r(&seed) % (99 * 1024));
                        chunks[n] = malloc(sz);
                        if (!chunks[n])
                                break;
                        memset(chunks[n++], 0x5a, sz);
                        total += sz;
                }
                for (size_t i = 0; i < n; i++)
                        if (i % 10 != 0)
                                free(chunks[i]);
                ready();
                read_line(line, sizeof line);
                printf("read %s\n", line);
        } else if (strcmp(mode, "torture") == 0 && argc > 3) {
                int n = atoi(argv[2]);
                torture_secs = atoi(argv[3]);
                signal(SIGTERM, on_term); /* ends the run early, with the verdict */
                pthread_t t[64];
                for (int i = 0; i < n && i < 64; i++)
                        pthread_create(&t[i], NULL, torturer, (void *) (uintptr_t) (i + 1));
                ready();
                if (argc > 4 && strcmp(argv[4], "busy") == 0)
                        torturer((void *) (uintptr_t) 1000);
                for (int i = 0; i < n && i < 64; i++)
                        pthread_join(t[i], NULL);
                if (atomic_load(&torture_bad))
                        printf("torture BAD %d\n", atomic_load(&torture_bad));
                else
                        printf("torture ok %lu\n", atomic_load(&torture_ops));
        } else {
                fprintf(stderr, "usage: see the comment at the top of inject-target.c\n");
                return 2;
        }
        return 0;
}
