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
 *   inject-target seccomp [allow|getpid|madvise-kill]
 *                                      a seccomp filter (allow all; getpid fails with EPERM; madvise kills
 *                                      the process), then read; prints "read LINE getpid ok|STRERROR"
 *   inject-target vfork                "ready", then vfork(): the child prints "child PID", reads a line with raw
 *                                      calls and executes "inject-target read"; the parent then prints "parent
 *                                      resumed" and, when the child is gone, "child exit N"
 *   inject-target fakelibc PATH        maps PATH (a libc.so.6 without malloc_trim) at 4 GiB, below the real
 *                                      libc, then like read
 *   inject-target strict               "ready", SECCOMP_MODE_STRICT, then a raw read of a line; prints
 *                                      "read LINE" and exits 0 (SYS_exit: exit_group would kill it)
 *   inject-target frag MIB             allocate MIB in 1-100 KiB chunks in the main thread, free 90%,
 *                                      "ready PID", then read a line (whatever the allocator: jemalloc too)
 *   inject-target regs                 like slow, but main blocks in a raw read() system call of one byte
 *                                      with known values in rbx, rbp, r8-r10, r12-r15, xmm0-15 and its
 *                                      red zone (the 128 bytes below rsp), and prints after it
 *                                      "regs ret N byte C regs same|changed xmm same|changed redzone
 *                                      same|changed usr1 N slow-calls N"
 *   inject-target smallstack           a thread with a 64 KiB stack reads a line (then the process exits
 *                                      after "read LINE"); main waits in sigsuspend (never a candidate)
 *   inject-target stuck THREADS        every thread inside malloc: one arena (M_ARENA_MAX 1), main in
 *                                      malloc_stats() blocked writing to stderr (a full pipe: the caller
 *                                      does not read it) with the arena locked, THREADS threads waiting
 *                                      for that lock in malloc; "stuck ok" once stderr is closed
 *   inject-target execblock            main in the middle of execve(): its argv lies on a userfaultfd page
 *                                      that a second thread fills after reading a line from stdin; the
 *                                      exec then runs "inject-target read" (same PID); exit 3 without
 *                                      userfaultfd
 *   inject-target execmid              like slow, but the line is read by a second thread from a pipe
 *                                      nobody writes; on SIGUSR2 main executes "inject-target read"
 *   inject-target torture THREADS SECS [busy]
 *                                      THREADS threads malloc/free/realloc buffers with checksums for SECS
 *                                      seconds while main joins (with busy: main does it too, so that no
 *                                      thread idles); "torture ok OPS" or "torture BAD ..."; SIGTERM
 *                                      ends the run early (with the verdict) */
#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <linux/userfaultfd.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stddef.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
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

/* regs: regs_read(c) loads c->in into rbx, rbp, r12-r15, r8-r10 and c->xmm_in into xmm0-15, fills its
 * red zone with c->red_in, reads one byte from stdin with a raw syscall, then stores what the registers and
 * the red zone hold into the *_out fields (and the result into ret). */
typedef struct RegsCheck {
        uint64_t in[9], out[9], red_in[16], red_out[16];
        uint8_t xmm_in[256], xmm_out[256];
        int64_t ret;
        char byte;
} RegsCheck;
_Static_assert(offsetof(RegsCheck, out) == 72 && offsetof(RegsCheck, red_in) == 144 &&
               offsetof(RegsCheck, red_out) == 272 && offsetof(RegsCheck, xmm_in) == 400 &&
               offsetof(RegsCheck, xmm_out) == 656 && offsetof(RegsCheck, ret) == 912 &&
               offsetof(RegsCheck, byte) == 920, "regs_read's offsets");
void regs_read(RegsCheck *c);
#define R8(i) #i
#define RED_IN(i) "mov " R8(144 + 8 * i) "(%rdi), %rax\n mov %rax, " R8(-128 + 8 * i) "(%rsp)\n"
#define RED_OUT(i) "mov " R8(-128 + 8 * i) "(%rsp), %rax\n mov %rax, " R8(272 + 8 * i) "(%rdi)\n"
#define XMM_IN(i) "movdqu " R8(400 + 16 * i) "(%rdi), %xmm" #i "\n"
#define XMM_OUT(i) "movdqu %xmm" #i ", " R8(656 + 16 * i) "(%rdi)\n"
#define EACH16(M) M(0) M(1) M(2) M(3) M(4) M(5) M(6) M(7) M(8) M(9) M(10) M(11) M(12) M(13) M(14) M(15)
/* With CFI: the injector unwinds this frame like any other. */
#define PUSH(r) "push %" #r "\n .cfi_adjust_cfa_offset 8\n .cfi_rel_offset %" #r ", 0\n"
#define POP(r) "pop %" #r "\n .cfi_adjust_cfa_offset -8\n .cfi_restore %" #r "\n"
__asm__(".text\n.globl regs_read\n.type regs_read, @function\nregs_read:\n .cfi_startproc\n"
        PUSH(rbx) PUSH(rbp) PUSH(r12) PUSH(r13) PUSH(r14) PUSH(r15) PUSH(rdi)
        EACH16(RED_IN) EACH16(XMM_IN)
        "mov 0(%rdi), %rbx\n mov 8(%rdi), %rbp\n mov 16(%rdi), %r12\n mov 24(%rdi), %r13\n"
        "mov 32(%rdi), %r14\n mov 40(%rdi), %r15\n mov 48(%rdi), %r8\n mov 56(%rdi), %r9\n mov 64(%rdi), %r10\n"
        "lea 920(%rdi), %rsi\n xor %edi, %edi\n mov $1, %edx\n xor %eax, %eax\n syscall\n"
        "mov (%rsp), %rdi\n mov %rax, 912(%rdi)\n"
        "mov %rbx, 72(%rdi)\n mov %rbp, 80(%rdi)\n mov %r12, 88(%rdi)\n mov %r13, 96(%rdi)\n"
        "mov %r14, 104(%rdi)\n mov %r15, 112(%rdi)\n mov %r8, 120(%rdi)\n mov %r9, 128(%rdi)\n mov %r10, 136(%rdi)\n"
        EACH16(XMM_OUT) EACH16(RED_OUT)
        POP(rdi) POP(r15) POP(r14) POP(r13) POP(r12) POP(rbp) POP(rbx) "ret\n .cfi_endproc\n"
        ".size regs_read, .-regs_read\n");

static void regs_mode(void)
{
        RegsCheck c = {};
        for (unsigned i = 0; i < 9; i++)
                c.in[i] = 0x0123456789abcdefULL * (i + 1) ^ 0x5a5a000000005a5aULL;
        for (unsigned i = 0; i < 16; i++)
                c.red_in[i] = 0xa5a5a5a500000000ULL | (i * 0x01010101U);
        for (unsigned i = 0; i < 256; i++)
                c.xmm_in[i] = (uint8_t) (i * 7 + 3);
        regs_read(&c);
        printf("regs ret %ld byte %c regs %s xmm %s redzone %s usr1 %d slow-calls %u\n", (long) c.ret, c.byte,
               memcmp(c.in, c.out, sizeof c.in) == 0 ? "same" : "changed",
               memcmp(c.xmm_in, c.xmm_out, sizeof c.xmm_in) == 0 ? "same" : "changed",
               memcmp(c.red_in, c.red_out, sizeof c.red_in) == 0 ? "same" : "changed", (int) usr1_count,
               atomic_load(&slow_calls));
}

static void *small_reader(void *arg)
{
        char line[256];
        read_line(line, sizeof line);
        printf("read %s\n", line);
        exit(0);
}

static atomic_int stuck_stop;
static void *stuck_allocator(void *arg)
{
        unsigned n = 0;
        while (!atomic_load(&stuck_stop)) {
                /* Past the tcache (1032 bytes) and below the mmap threshold: the arena, under its lock. */
                static void *volatile sink; /* the compiler may not elide the pair */
                sink = malloc(2048 + (n++ % 64) * 64);
                free(sink);
        }
        return NULL;
}

static void *pipe_reader(void *arg)
{
        char c;
        (void) read(*(int *) arg, &c, 1);
        return NULL;
}

static int uffd = -1;
static void *uffd_page;
static void *exec_feeder(void *arg)
{
        static char arg0[] = "inject-target", arg1[] = "read";
        char line[256];
        read_line(line, sizeof line);
        void *src = aligned_alloc(4096, 4096);
        if (!src)
                return NULL;
        memset(src, 0, 4096);
        ((char **) src)[0] = arg0;
        ((char **) src)[1] = arg1;
        struct uffdio_copy cp = { .dst = (uintptr_t) uffd_page, .src = (uintptr_t) src, .len = 4096 };
        if (ioctl(uffd, UFFDIO_COPY, &cp) < 0)
                printf("UFFDIO_COPY: %s\n", strerror(errno));
        return NULL;
}

static void on_usr2(int sig)
{
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
        } else if (strcmp(mode, "regs") == 0) {
                struct sigaction sa = { .sa_handler = on_usr1, .sa_flags = SA_RESTART };
                sigaction(SIGUSR1, &sa, NULL);
                ready();
                printf("slow %p\n", (void *) inject_test_slow);
                regs_mode();
        } else if (strcmp(mode, "smallstack") == 0) {
                pthread_attr_t a;
                pthread_t t;
                sigset_t none;
                pthread_attr_init(&a);
                pthread_attr_setstacksize(&a, 64 * 1024);
                if (pthread_create(&t, &a, small_reader, NULL) != 0)
                        return 1;
                ready();
                sigemptyset(&none);
                for (;;)
                        sigsuspend(&none);
        } else if (strcmp(mode, "stuck") == 0 && argc > 2) {
                int n = atoi(argv[2]), fl = fcntl(STDERR_FILENO, F_GETFL);
                pthread_t t[16];
                char junk[4096];
                mallopt(M_ARENA_MAX, 1);
                signal(SIGPIPE, SIG_IGN);
                /* Fill the pipe: malloc_stats()'s first write then blocks, with the arena locked. */
                memset(junk, '.', sizeof junk);
                fcntl(STDERR_FILENO, F_SETFL, fl | O_NONBLOCK);
                while (write(STDERR_FILENO, junk, sizeof junk) > 0)
                        ;
                while (write(STDERR_FILENO, junk, 1) > 0)
                        ;
                fcntl(STDERR_FILENO, F_SETFL, fl);
                for (int i = 0; i < n && i < 16; i++)
                        pthread_create(&t[i], NULL, stuck_allocator, NULL);
                ready();
                malloc_stats();
                atomic_store(&stuck_stop, 1);
                for (int i = 0; i < n && i < 16; i++)
                        pthread_join(t[i], NULL);
                printf("stuck ok\n");
        } else if (strcmp(mode, "execblock") == 0) {
                uffd = (int) syscall(SYS_userfaultfd, O_CLOEXEC);
                struct uffdio_api api = { .api = UFFD_API };
                if (uffd < 0 || ioctl(uffd, UFFDIO_API, &api) < 0) {
                        printf("no userfaultfd: %s\n", strerror(errno));
                        return 3;
                }
                uffd_page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
                struct uffdio_register reg = { .range = { .start = (uintptr_t) uffd_page, .len = 4096 },
                                               .mode = UFFDIO_REGISTER_MODE_MISSING };
                pthread_t t;
                if (uffd_page == MAP_FAILED || ioctl(uffd, UFFDIO_REGISTER, &reg) < 0 ||
                    pthread_create(&t, NULL, exec_feeder, NULL) != 0) {
                        printf("no userfaultfd: %s\n", strerror(errno));
                        return 3;
                }
                ready();
                /* Reading argv faults on the missing page: the kernel waits for exec_feeder, inside execve. */
                execve("/proc/self/exe", uffd_page, environ);
                printf("execve failed: %s\n", strerror(errno));
                return 1;
        } else if (strcmp(mode, "execmid") == 0) {
                sigset_t usr2, none;
                int p[2];
                pthread_t t;
                sigemptyset(&usr2);
                sigaddset(&usr2, SIGUSR2);
                sigprocmask(SIG_BLOCK, &usr2, NULL);
                signal(SIGUSR2, on_usr2);
                if (pipe(p) < 0 || pthread_create(&t, NULL, pipe_reader, &p[0]) != 0)
                        return 1;
                ready();
                printf("slow %p\n", (void *) inject_test_slow);
                sigemptyset(&none);
                sigsuspend(&none);
                char *av[] = { "inject-target", "read", NULL };
                execv("/proc/self/exe", av);
                printf("execv failed: %s\n", strerror(errno));
                return 1;
        } else if (strcmp(mode, "seccomp") == 0) {
                /* Shaped like libseccomp's output: the architecture first, then the call number. */
                const char *what = argc > 2 ? argv[2] : "allow";
                int nr = strcmp(what, "getpid") == 0 ? SYS_getpid : SYS_madvise;
                uint32_t action = strcmp(what, "getpid") == 0 ? SECCOMP_RET_ERRNO | EPERM :
                                  strcmp(what, "madvise-kill") == 0 ? SECCOMP_RET_KILL_PROCESS :
                                                                       SECCOMP_RET_ALLOW;
                struct sock_filter filter[] = {
                        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
                        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
                        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
                        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
                        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t) nr, 0, 1),
                        BPF_STMT(BPF_RET | BPF_K, action),
                        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
                };
                struct sock_fprog prog = { .len = sizeof filter / sizeof filter[0], .filter = filter };
                if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) < 0) {
                        perror("seccomp");
                        return 1;
                }
                ready();
                read_line(line, sizeof line);
                long pid = syscall(SYS_getpid);
                printf("read %s getpid %s\n", line, pid < 0 ? strerror(errno) : "ok");
        } else if (strcmp(mode, "vfork") == 0) {
                /* The child shares the parent's memory until it executes "inject-target read" (or exits):
                 * it reads a line first, with raw calls (nothing of the parent's libc state touched). */
                ready();
                pid_t child = vfork();
                if (child == 0) {
                        char msg[64];
                        int len = snprintf(msg, sizeof msg, "child %d\n", (int) syscall(SYS_getpid));
                        syscall(SYS_write, STDOUT_FILENO, msg, len);
                        char c = 0;
                        while (syscall(SYS_read, STDIN_FILENO, &c, 1) == 1 && c != '\n')
                                ;
                        char *av[] = { "inject-target", "read", NULL };
                        execv("/proc/self/exe", av);
                        _exit(127);
                }
                printf("parent resumed\n");
                fflush(stdout);
                int status;
                waitpid(child, &status, 0);
                printf("child exit %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
        } else if (strcmp(mode, "fakelibc") == 0 && argc > 2) {
                /* The file mapped below everything else: the first libc.so.6 in /proc/PID/maps. */
                int fd = open(argv[2], O_RDONLY | O_CLOEXEC);
                off_t size = fd < 0 ? -1 : lseek(fd, 0, SEEK_END);
                if (size <= 0 || mmap((void *) 0x100000000UL, (size_t) size, PROT_READ, MAP_PRIVATE | MAP_FIXED_NOREPLACE,
                                      fd, 0) == MAP_FAILED) {
                        perror(argv[2]);
                        return 1;
                }
                ready();
                read_line(line, sizeof line);
                printf("read %s\n", line);
        } else if (strcmp(mode, "strict") == 0) {
                /* Strict mode allows read, write, _exit and sigreturn: the reply and the exit are raw. */
                ready();
                if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_STRICT) < 0) {
                        perror("seccomp strict");
                        return 1;
                }
                size_t n = 0;
                while (n + 1 < sizeof line && syscall(SYS_read, STDIN_FILENO, line + n, 1) == 1 && line[n] != '\n')
                        n++;
                char out[300] = "read ";
                memcpy(out + 5, line, n);
                out[5 + n] = '\n';
                syscall(SYS_write, STDOUT_FILENO, out, 6 + n);
                syscall(SYS_exit, 0);
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
