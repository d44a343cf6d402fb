/* SPDX-License-Identifier: MIT */
/* The injected trim (cgroup/cgroup-inject.c): the pure parsers, then real processes on the host
 * (tests/helpers/inject-target, frag): blocked calls resume correctly, signals are delivered, RSS falls,
 * refusals carry their reason, the target survives the injector's SIGKILL mid-call, a torture run. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cgroup/cgroup-inject.h"
#include "util/time-util.h"

#define TARGET BUILD_ROOT "/tests/helpers/inject-target"
#define TARGET_STATIC BUILD_ROOT "/tests/helpers/inject-target-static"
#define FRAG BUILD_ROOT "/tests/helpers/frag"
#define JEMALLOC_STUB BUILD_ROOT "/tests/helpers/libjemalloc.so.2"
#define NOLIBC BUILD_ROOT "/tests/helpers/nolibc/libc.so.6"
#define LIBC "/lib/x86_64-linux-gnu/libc.so.6"

/* ---------------------------------------------------------------------------------------------------- */
/* Parsers */

static const char maps_glibc[] =
        "55d0c0a00000-55d0c0a01000 r--p 00000000 fe:01 131 /usr/bin/prog\n"
        "7f1c2a600000-7f1c2a628000 r--p 00000000 fe:01 2000 /usr/lib/x86_64-linux-gnu/libc.so.6\n"
        "7f1c2a628000-7f1c2a7bd000 r-xp 00028000 fe:01 2000 /usr/lib/x86_64-linux-gnu/libc.so.6\n"
        "7f1c2a815000-7f1c2a819000 rw-p 00214000 fe:01 2000 /usr/lib/x86_64-linux-gnu/libc.so.6\n"
        "7ffd5a000000-7ffd5a021000 rw-p 00000000 00:00 0                          [stack]\n";

Test(inject_parse, maps_glibc)
{
        InjectMaps m;
        cr_assert_eq(inject_maps_parse(maps_glibc, &m), 0);
        cr_assert_eq(m.allocator, INJECT_ALLOCATOR_GLIBC);
        cr_assert(m.libc.found);
        cr_assert_eq(m.libc.base, 0x7f1c2a600000ULL);
        cr_assert_eq(m.libc.lo, 0x7f1c2a600000ULL);
        cr_assert_eq(m.libc.hi, 0x7f1c2a819000ULL);
        cr_assert_str_eq(m.libc.path, "/usr/lib/x86_64-linux-gnu/libc.so.6");

        uint64_t lo, hi;
        char name[32];
        cr_assert_eq(inject_maps_find(maps_glibc, 0x7ffd5a020000ULL, &lo, &hi, name, sizeof name), 1);
        cr_assert_str_eq(name, "[stack]");
        cr_assert_eq(lo, 0x7ffd5a000000ULL);
        cr_assert_eq(inject_maps_find(maps_glibc, 0x1000, &lo, &hi, NULL, 0), 0);
}

Test(inject_parse, maps_other_allocators)
{
        InjectMaps m;
        cr_assert_eq(inject_maps_parse("7f00-8f00 r-xp 00000000 fe:01 5 /lib/ld-musl-x86_64.so.1\n", &m), 0);
        cr_assert_eq(m.allocator, INJECT_ALLOCATOR_UNKNOWN);
        cr_assert_str_eq(m.other_allocator, "musl");

        char buf[1024];
        snprintf(buf, sizeof buf, "%s7f00000-7f10000 r-xp 00000000 fe:01 6 /usr/lib/libtcmalloc.so.4\n", maps_glibc);
        cr_assert_eq(inject_maps_parse(buf, &m), 0);
        cr_assert_eq(m.allocator, INJECT_ALLOCATOR_UNKNOWN);
        cr_assert_str_eq(m.other_allocator, "tcmalloc");

        snprintf(buf, sizeof buf, "%s7f00000-7f10000 r--p 00000000 fe:01 7 /usr/lib/x86_64-linux-gnu/libjemalloc.so.2\n",
                 maps_glibc);
        cr_assert_eq(inject_maps_parse(buf, &m), 0);
        cr_assert_eq(m.allocator, INJECT_ALLOCATOR_JEMALLOC);
        cr_assert_eq(m.jemalloc.base, 0x7f00000ULL);

        /* A static binary: no libc at all (Go, static C). */
        cr_assert_eq(inject_maps_parse("00400000-00500000 r-xp 00000000 fe:01 8 /usr/bin/static\n", &m), 0);
        cr_assert_eq(m.allocator, INJECT_ALLOCATOR_STATIC);

        /* Hostile: nothing parses. */
        cr_assert_eq(inject_maps_parse("garbage\n\n", &m), -EINVAL);
        cr_assert_eq(inject_maps_parse("", &m), -EINVAL);
}

static void *map_file(const char *path, size_t *size)
{
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        cr_assert_geq(fd, 0, "%s", path);
        struct stat st;
        cr_assert_eq(fstat(fd, &st), 0);
        void *m = mmap(NULL, (size_t) st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        close(fd);
        cr_assert_neq(m, MAP_FAILED);
        *size = (size_t) st.st_size;
        return m;
}

Test(inject_parse, elf_debian_libc)
{
        size_t size;
        const uint8_t *m = map_file(LIBC, &size);
        InjectElf e;
        cr_assert_eq(inject_elf_parse(m, size, &e), 0);
        cr_assert_neq(e.malloc_trim, 0);
        cr_assert_neq(e.mallinfo2, 0);
        cr_assert_eq(e.mallctl, 0);
        cr_assert_eq(e.restorer_matches, 1);
        /* The restorer is mov $15,%rax; syscall (the file offset equals the address in Debian's libc's
         * text segment minus the segment's delta; checked through our own libc below). */
        cr_assert(e.malloc_lo < e.malloc_trim && e.malloc_trim < e.malloc_hi);
        cr_assert(e.malloc_lo < e.mallinfo2 && e.mallinfo2 < e.malloc_hi);
        /* The hull of malloc.o is not the whole libc: memcpy and printf are outside. */
        cr_assert(e.malloc_hi - e.malloc_lo < 256 * 1024, "hull %#lx-%#lx", e.malloc_lo, e.malloc_hi);
        cr_assert_neq(e.fork_lo, 0);

        /* Compared with our own process: libc's restorer is what sigaction installed for us. */
        extern char __executable_start;
        (void) __executable_start;
        munmap((void *) m, size);
}

Test(inject_parse, elf_without_malloc_trim)
{
        size_t size;
        const uint8_t *m = map_file("/lib/x86_64-linux-gnu/libm.so.6", &size);
        InjectElf e;
        cr_assert_eq(inject_elf_parse(m, size, &e), 0);
        cr_assert_eq(e.malloc_trim, 0);
        cr_assert_eq(e.restorer_matches, 0);
        munmap((void *) m, size);
}

Test(inject_parse, elf_hostile)
{
        InjectElf e;
        uint8_t junk[4096] = { 0x7f, 'E', 'L', 'F', 2, 1, 1 };
        cr_assert_eq(inject_elf_parse(junk, sizeof junk, &e), -EINVAL);
        cr_assert_eq(inject_elf_parse(junk, 10, &e), -EINVAL);

        /* A real header with its section table cut off. */
        size_t size;
        const uint8_t *m = map_file(LIBC, &size);
        cr_assert_eq(inject_elf_parse(m, 4096, &e), -EINVAL);
        munmap((void *) m, size);
}

Test(inject_parse, stack_classification)
{
        InjectMaps m;
        cr_assert_eq(inject_maps_parse(maps_glibc, &m), 0);
        InjectElf e = { .malloc_lo = 0x94500, .malloc_hi = 0x9a340, .fork_lo = 0xd3e80, .fork_hi = 0xd4000 };
        uint64_t bias = 0x7f1c2a600000ULL;
        char reason[128];

        InjectFrame clean[] = { { bias + 0x114000, "read" }, { 0x55d0c0a00100, "main" },
                                { bias + 0x29d90, "__libc_start_call_main" } };
        cr_assert(inject_stack_is_clean(clean, 3, &m, &e, bias, reason, sizeof reason));

        /* A lock wait called from malloc: the futex frame is clean, the one below is not. */
        InjectFrame lockwait[] = { { bias + 0x91000, "__lll_lock_wait_private" }, { bias + 0x96000, NULL },
                                   { 0x55d0c0a00100, "main" } };
        cr_assert_not(inject_stack_is_clean(lockwait, 3, &m, &e, bias, reason, sizeof reason));
        cr_assert(strstr(reason, "frame 1 in glibc malloc"), "%s", reason);

        /* Named by debug symbols, wherever it is. */
        InjectFrame named[] = { { 0x55d0c0a00100, "_int_free.part.0" } };
        cr_assert_not(inject_stack_is_clean(named, 1, &m, &e, bias, reason, sizeof reason));
        cr_assert(strstr(reason, "_int_free"), "%s", reason);

        InjectFrame forking[] = { { bias + 0xd3f00, NULL } };
        cr_assert_not(inject_stack_is_clean(forking, 1, &m, &e, bias, reason, sizeof reason));
        cr_assert(strstr(reason, "fork"), "%s", reason);

        cr_assert(inject_name_is_allocator("je_malloc_default"));
        cr_assert(inject_name_is_allocator("realloc"));
        cr_assert_not(inject_name_is_allocator("reallocarray_wrapper_in_app"));
        cr_assert_not(inject_name_is_allocator("epoll_wait"));
        cr_assert_not(inject_name_is_allocator(NULL));
}

Test(inject_parse, resume_classify)
{
        const char *why = NULL;
        struct user_regs_struct r = { .orig_rax = SYS_read, .rax = (unsigned long) -512 };
        cr_assert_eq(inject_resume_classify(&r, &why), INJECT_RESUME_RESTART);
        r.rax = (unsigned long) -514;
        cr_assert_eq(inject_resume_classify(&r, &why), INJECT_RESUME_RESTART);
        r = (struct user_regs_struct) { .orig_rax = SYS_clock_nanosleep, .rax = (unsigned long) -516 };
        cr_assert_eq(inject_resume_classify(&r, &why), INJECT_RESUME_SKIP);
        cr_assert(strstr(why, "restart_syscall"));
        r = (struct user_regs_struct) { .orig_rax = SYS_epoll_wait, .rax = (unsigned long) -EINTR,
                                        .r10 = (unsigned long) -1 };
        cr_assert_eq(inject_resume_classify(&r, &why), INJECT_RESUME_RESTART);
        r.r10 = 100;
        cr_assert_eq(inject_resume_classify(&r, &why), INJECT_RESUME_AS_IS);
        r = (struct user_regs_struct) { .orig_rax = SYS_rt_sigsuspend, .rax = (unsigned long) -514 };
        cr_assert_eq(inject_resume_classify(&r, &why), INJECT_RESUME_SKIP);
        r = (struct user_regs_struct) { .orig_rax = SYS_ppoll, .rax = (unsigned long) -514, .r10 = 0x1000 };
        cr_assert_eq(inject_resume_classify(&r, &why), INJECT_RESUME_SKIP);
        r = (struct user_regs_struct) { .orig_rax = (unsigned long) -1, .rax = 5 };
        cr_assert_eq(inject_resume_classify(&r, &why), INJECT_RESUME_AS_IS);
        r = (struct user_regs_struct) { .orig_rax = SYS_write, .rax = 12 };
        cr_assert_eq(inject_resume_classify(&r, &why), INJECT_RESUME_AS_IS);
}

Test(inject_parse, thread_rank)
{
        cr_assert_eq(inject_thread_rank("0 0x0 0x7ffc 0x1 0x0 0x0 0x0 0x7ffd 0x7f00\n", 'S'), 0); /* read */
        cr_assert_eq(inject_thread_rank("202 0x55 0x189 0x0 0x0 0x0 0xffffffff 0x7ffd 0x7f00\n", 'S'), 0);
        cr_assert_eq(inject_thread_rank("202 0x55 0x189 0x0 0x7ffd1000 0x0 0xffffffff 0x1 0x2\n", 'S'), 1);
        cr_assert_eq(inject_thread_rank("232 0x3 0x7ffc 0x1 0xffffffffffffffff 0x0 0x0 0x1 0x2\n", 'S'), 0);
        cr_assert_eq(inject_thread_rank("230 0x0 0x0 0x7ffc 0x0 0x0 0x0 0x1 0x2\n", 'S'), 1);
        cr_assert_eq(inject_thread_rank("running\n", 'R'), 2);
        cr_assert_eq(inject_thread_rank("-1 0x7ffd 0x7f00\n", 'S'), 2);
        cr_assert_eq(inject_thread_rank("130 0x7ffc 0x8 0x0 0x0 0x0 0x0 0x1 0x2\n", 'S'), -1); /* sigsuspend */
        cr_assert_eq(inject_thread_rank("0 0x0 0x7ffc 0x1 0x0 0x0 0x0 0x7ffd 0x7f00\n", 'D'), -1);
        cr_assert_eq(inject_thread_rank("garbage", 'S'), -1);
        /* Inside execve()/execveat(): never a candidate, and the whole process is refused. */
        cr_assert_eq(inject_thread_rank("59 0x55 0x7ffc 0x7ffd 0x0 0x0 0x0 0x7ffd 0x7f00\n", 'S'), -1);
        cr_assert(inject_thread_in_exec("59 0x55 0x7ffc 0x7ffd 0x0 0x0 0x0 0x7ffd 0x7f00\n"));
        cr_assert(inject_thread_in_exec("322 0x3 0x55 0x7ffc 0x7ffd 0x1000 0x0 0x7ffd 0x7f00\n"));
        cr_assert_not(inject_thread_in_exec("0 0x0 0x7ffc 0x1 0x0 0x0 0x0 0x7ffd 0x7f00\n"));
        cr_assert_not(inject_thread_in_exec("running\n"));
        cr_assert_not(inject_thread_in_exec("-1 0x7ffd 0x7f00\n"));
        cr_assert_not(inject_thread_in_exec(NULL));
}

Test(inject_parse, frame_layout)
{
        InjectLayout l;
        uint64_t rsp = 0x7ffd5a01f7c8ULL;
        inject_layout_compute(rsp, 2696, 256, &l);
        cr_assert_eq(l.frame % 16, 8); /* rsp at a function's entry */
        cr_assert_eq(l.fpstate % 64, 0);
        cr_assert_eq(l.data % 16, 0);
        cr_assert(l.fpstate + 2696 + 4 <= rsp - 128, "the red zone stays untouched");
        cr_assert(l.data + 256 <= l.fpstate);
        cr_assert(l.frame + sizeof(InjectSigframe) <= l.data);

        struct user_regs_struct r = { .rip = 0x1234, .rsp = rsp, .rax = 7, .cs = 0x33, .ss = 0x2b, .eflags = 0x246 };
        InjectSigframe f;
        inject_sigframe_build(&r, 0x4000, l.fpstate, 0x7f0000001000ULL, &f);
        cr_assert_eq(f.pretcode, 0x7f0000001000ULL);
        cr_assert_eq(f.mc.rip, 0x1234);
        cr_assert_eq(f.mc.rsp, rsp);
        cr_assert_eq(f.mc.rax, 7);
        cr_assert_eq(f.mc.fpstate, l.fpstate);
        cr_assert_eq(f.uc_sigmask, 0x4000);
        cr_assert_eq(f.ss_flags, 3, "an invalid mode: rt_sigreturn keeps the altstack");
        cr_assert_eq(f.uc_flags, 7);
}

Test(inject_parse, status)
{
        InjectStatus s;
        cr_assert_eq(inject_status_parse("Name:\tx\nState:\tS (sleeping)\nTracerPid:\t42\nVmRSS:\t  1024 kB\n"
                                         "SigBlk:\tfffffffe7ffbfeff\nSigCgt:\t0000000000004000\nSeccomp:\t2\n", &s), 0);
        cr_assert_eq(s.tracer_pid, 42);
        cr_assert(s.have_sigblk);
        cr_assert_eq(s.sigblk, 0xfffffffe7ffbfeffULL);
        cr_assert(s.have_sigcgt);
        cr_assert_eq(s.sigcgt, 0x4000);
        cr_assert_eq(s.seccomp, 2);
        cr_assert_eq(s.state, 'S');
        cr_assert_eq(s.vm_rss_bytes, 1024 * 1024);
        cr_assert_eq(inject_status_parse("nothing\n", &s), -EINVAL);
        cr_assert_eq(inject_status_parse("TracerPid:\t0\n", &s), 0);
        cr_assert_not(s.have_sigblk, "no SigBlk line: not known");
}

/* ---------------------------------------------------------------------------------------------------- */
/* Real processes */

typedef struct Proc {
        pid_t pid;
        int in, out; /* its stdin (write end), its stdout (read end) */
        FILE *f;
} Proc;

/* ret_err: when not NULL, the target's stderr is a pipe and this its read end. */
static Proc spawn_err(const char *const argv[], const char *preload, int *ret_err)
{
        int in[2], out[2], err[2] = { -1, -1 };
        cr_assert_eq(pipe2(in, O_CLOEXEC), 0);
        cr_assert_eq(pipe2(out, O_CLOEXEC), 0);
        if (ret_err)
                cr_assert_eq(pipe2(err, O_CLOEXEC), 0);
        pid_t pid = fork();
        cr_assert_geq(pid, 0);
        if (pid == 0) {
                dup2(in[0], 0);
                dup2(out[1], 1);
                if (ret_err)
                        dup2(err[1], 2);
                prctl(PR_SET_PDEATHSIG, SIGKILL);
                if (preload) {
                        setenv("LD_PRELOAD", preload, 1);
                        /* jemalloc: no purging of its own (like redis's active defrag off): only ours. */
                        setenv("MALLOC_CONF", "dirty_decay_ms:-1,muzzy_decay_ms:-1", 1);
                }
                execv(argv[0], (char **) argv);
                _exit(127);
        }
        close(in[0]);
        close(out[1]);
        if (ret_err) {
                close(err[1]);
                *ret_err = err[0];
        }
        Proc p = { .pid = pid, .in = in[1], .out = out[0], .f = fdopen(out[0], "r") };
        return p;
}

static Proc spawn(const char *const argv[], const char *preload)
{
        return spawn_err(argv, preload, NULL);
}

static char *next_line(Proc *p, char *buf, size_t size)
{
        if (!fgets(buf, (int) size, p->f))
                return NULL;
        buf[strcspn(buf, "\n")] = 0;
        return buf;
}

static void expect_ready(Proc *p)
{
        char line[256];
        cr_assert(next_line(p, line, sizeof line));
        cr_assert(strncmp(line, "ready ", 6) == 0, "%s", line);
        /* Let it reach its blocking call. */
        for (int i = 0; i < 200; i++) {
                char path[64], buf[64] = "";
                snprintf(path, sizeof path, "/proc/%d/wchan", (int) p->pid);
                FILE *f = fopen(path, "re");
                if (f) {
                        if (!fgets(buf, sizeof buf, f))
                                buf[0] = 0;
                        fclose(f);
                }
                if (buf[0] && strcmp(buf, "0") != 0)
                        break;
                usleep(5000);
        }
        usleep(20000);
}

static int finish(Proc *p)
{
        int status;
        close(p->in);
        cr_assert_eq(waitpid(p->pid, &status, 0), p->pid);
        fclose(p->f);
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* The target is given a line (word), answers want and exits 0. */
static void expect_answer_and_exit(Proc *p, const char *word, const char *want)
{
        char in[64], line[256];
        int n = snprintf(in, sizeof in, "%s\n", word);
        cr_assert_eq(write(p->in, in, (size_t) n), n);
        cr_assert(next_line(p, line, sizeof line));
        cr_assert_str_eq(line, want);
        cr_assert_eq(finish(p), 0);
}

/* The target reads its line as if nothing happened ("read x") and exits 0. */
static void expect_reads_on(Proc *p)
{
        expect_answer_and_exit(p, "x", "read x");
}

static pid_t tracer_of(pid_t pid)
{
        char path[64], buf[4096];
        snprintf(path, sizeof path, "/proc/%d/status", (int) pid);
        FILE *f = fopen(path, "re");
        size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
        if (f)
                fclose(f);
        buf[n] = 0;
        char *t = strstr(buf, "TracerPid:");
        return t ? (pid_t) atoi(t + 10) : -1;
}

static InjectResult inject(pid_t pid, int expect)
{
        InjectResult r;
        InjectOptions o = { .mallinfo = true, .timeout_usec = 10 * USEC_PER_SEC };
        int k = inject_process(pid, 0, &o, &r);
        cr_assert_eq(k, expect, "inject_process: %d (%s)", k, r.reason);
        return r;
}

Test(inject_host, read_on_a_pipe_gets_its_data)
{
        const char *argv[] = { TARGET, "read", NULL };
        Proc p = spawn(argv, NULL);
        expect_ready(&p);
        InjectResult r = inject(p.pid, 1);
        cr_assert_str_eq(r.how, "malloc_trim(0)");
        cr_assert_str_eq(r.thread_was, "read");
        cr_assert(r.have_mallinfo);
        cr_assert_gt(r.mallinfo_before.arena, 0, "mallinfo2().arena read back");
        /* The call ran and the target is still in its read: a line written now arrives whole. */
        cr_assert_eq(write(p.in, "hello\n", 6), 6);
        char line[256];
        cr_assert(next_line(&p, line, sizeof line));
        cr_assert_str_eq(line, "read hello", "no EINTR, no lost byte");
        cr_assert_eq(finish(&p), 0);
}

Test(inject_host, accept_gets_its_connection)
{
        char path[108];
        snprintf(path, sizeof path, "/tmp/memwarden-inject-test-%d.sock", (int) getpid());
        const char *argv[] = { TARGET, "accept", path, NULL };
        Proc p = spawn(argv, NULL);
        expect_ready(&p);
        InjectResult r = inject(p.pid, 1);
        cr_assert_str_eq(r.thread_was, "accept");
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
        cr_assert_eq(connect(fd, (struct sockaddr *) &sa, sizeof sa), 0);
        char line[256];
        cr_assert(next_line(&p, line, sizeof line));
        cr_assert_str_eq(line, "accepted");
        close(fd);
        unlink(path);
        cr_assert_eq(finish(&p), 0);
}

Test(inject_host, epoll_wait_gets_its_event)
{
        const char *argv[] = { TARGET, "epoll", NULL };
        Proc p = spawn(argv, NULL);
        expect_ready(&p);
        InjectResult r = inject(p.pid, 1);
        cr_assert_str_eq(r.thread_was, "epoll_wait");
        cr_assert_eq(write(p.in, "ev\n", 3), 3);
        char line[256];
        cr_assert(next_line(&p, line, sizeof line));
        cr_assert_str_eq(line, "epoll 1 ev", "restarted, not EINTR: %s", line);
        cr_assert_eq(finish(&p), 0);
}

Test(inject_host, nanosleep_gets_its_full_sleep)
{
        /* One thread sleeps 1.5 s in nanosleep, main waits in pthread_join (a futex): the futex thread is
         * chosen, the sleeper is never interrupted. */
        const char *argv[] = { TARGET, "nanosleep", "1500", NULL };
        Proc p = spawn(argv, NULL);
        expect_ready(&p);
        InjectResult r = inject(p.pid, 1);
        cr_assert_str_eq(r.thread_was, "futex");
        char line[256];
        cr_assert(next_line(&p, line, sizeof line));
        int ms = 0;
        cr_assert_eq(sscanf(line, "slept %d", &ms), 1, "%s", line);
        cr_assert_geq(ms, 1500, "the sleep was not cut short: %s", line);
        cr_assert_null(strstr(line, "EINTR"));
        cr_assert_eq(finish(&p), 0);
}

Test(inject_host, frag_rss_falls)
{
        const char *argv[] = { FRAG, "--mib", "100", "--threads", "1", "--stdin", NULL };
        Proc p = spawn(argv, NULL);
        char line[256];
        cr_assert(next_line(&p, line, sizeof line));
        usleep(50000);
        InjectResult r = inject(p.pid, 1);
        cr_assert(r.have_mallinfo);
        cr_assert(r.watched, "by default the call runs without syscall stops");
        cr_assert_eq(r.release_calls, 0, "not followed: not counted");
        /* glibc held the freed 90 MiB: mallinfo2's fordblks says so, then malloc_trim gave it back. */
        cr_assert_gt(r.mallinfo_before.fordblks, 50ULL << 20, "free bytes held %lu", r.mallinfo_before.fordblks);
        cr_assert_gt(r.rss_before, r.rss_after + (50ULL << 20), "RSS %lu -> %lu", r.rss_before, r.rss_after);
        cr_assert_gt(r.call_usec, 0);
        /* mallinfo2 after the watched trim, by one more stop: the main arena gave its top back (arena
         * shrinks); the madvised chunks still count as free (docs/inject.md). */
        cr_assert(r.have_mallinfo_after, "mallinfo2 after the call was read");
        cr_assert_gt(r.stats_after_usec, 0);
        cr_assert_leq(r.mallinfo_after.arena + r.mallinfo_after.hblkhd, r.mallinfo_before.arena + r.mallinfo_before.hblkhd,
                      "held %lu -> %lu", r.mallinfo_before.arena + r.mallinfo_before.hblkhd,
                      r.mallinfo_after.arena + r.mallinfo_after.hblkhd);
        cr_assert_eq(tracer_of(p.pid), 0, "detached");
        cr_log_info("frag (watched): RSS %lu -> %lu KiB, call %lu us, stop %lu us", r.rss_before >> 10,
                    r.rss_after >> 10, (unsigned long) r.call_usec, (unsigned long) r.stop_usec);
        finish(&p);
}

/* Followed with PTRACE_SYSCALL (InjectOptions.follow_syscalls): the madvise calls are counted, and
 * mallinfo2 after the trim is chained on the same stop. */
Test(inject_host, frag_followed_counts_madvise)
{
        const char *argv[] = { FRAG, "--mib", "100", "--threads", "1", "--stdin", NULL };
        Proc p = spawn(argv, NULL);
        char line[256];
        cr_assert(next_line(&p, line, sizeof line));
        usleep(50000);
        InjectResult r;
        InjectOptions o = { .mallinfo = true, .follow_syscalls = true, .timeout_usec = 10 * USEC_PER_SEC };
        cr_assert_eq(inject_process(p.pid, 0, &o, &r), 1, "%s", r.reason);
        cr_assert_not(r.watched);
        cr_assert_gt(r.released_bytes, 50ULL << 20, "madvised %lu", r.released_bytes);
        cr_assert_gt(r.rss_before, r.rss_after + (50ULL << 20), "RSS %lu -> %lu", r.rss_before, r.rss_after);
        cr_assert_eq(r.mallinfo_after.uordblks, r.mallinfo_before.uordblks, "the data in use is untouched");
        cr_log_info("frag (followed): RSS %lu -> %lu KiB, released %lu KiB in %u calls, call %lu us, stop %lu us",
                    r.rss_before >> 10, r.rss_after >> 10, r.released_bytes >> 10, r.release_calls,
                    (unsigned long) r.call_usec, (unsigned long) r.stop_usec);
        finish(&p);
}

/* The map's allocator view (memwardenctl map --inject): mallinfo2() alone, and the arenas counted from the
 * heaps in /proc/PID/maps: 4 threads that allocated at once use the main arena and others. Nothing is
 * released: RSS stays. */
Test(inject_host, mallinfo_only_allocator_view)
{
        const char *argv[] = { FRAG, "--mib", "64", "--threads", "4", "--stdin", NULL };
        Proc p = spawn(argv, NULL);
        char line[256];
        cr_assert(next_line(&p, line, sizeof line));
        usleep(50000);
        InjectResult r;
        InjectOptions o = { .mallinfo_only = true, .timeout_usec = 10 * USEC_PER_SEC };
        cr_assert_eq(inject_process(p.pid, 0, &o, &r), 1, "%s", r.reason);
        cr_assert_str_eq(r.how, "mallinfo2()");
        cr_assert(r.have_mallinfo);
        const InjectMallinfo *mi = &r.mallinfo_before;
        cr_assert_gt(mi->fordblks, 40ULL << 20, "the freed 90%% is held free: %lu", mi->fordblks);
        cr_assert_lt(mi->uordblks, 16ULL << 20, "in use: %lu", mi->uordblks);
        cr_assert_geq(r.arenas, 2, "arenas %u", r.arenas);
        cr_assert_leq(r.arenas, 5, "arenas %u", r.arenas);
        cr_assert_lt(r.rss_before - MIN(r.rss_before, r.rss_after), 4ULL << 20, "nothing released: RSS %lu -> %lu",
                     r.rss_before, r.rss_after);
        cr_assert_eq(tracer_of(p.pid), 0, "detached");
        cr_log_info("allocator view: arena %lu, in use %lu, free %lu, mmapped %lu, %u arenas",
                    (unsigned long) mi->arena, (unsigned long) mi->uordblks, (unsigned long) mi->fordblks,
                    (unsigned long) mi->hblkhd, r.arenas);
        cr_assert_eq(finish(&p), 0);
}

Test(inject_host, mallinfo_only_refuses_jemalloc)
{
        const char *je = "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2";
        if (access(je, R_OK) < 0)
                cr_skip_test("libjemalloc2 is not installed");
        const char *argv[] = { TARGET, "read", NULL };
        Proc p = spawn(argv, je);
        expect_ready(&p);
        InjectResult r;
        InjectOptions o = { .mallinfo_only = true };
        cr_assert_eq(inject_process(p.pid, 0, &o, &r), 0);
        cr_assert(strstr(r.reason, "mallinfo2() is glibc's; this process uses jemalloc"), "%s", r.reason);
        cr_assert_eq(write(p.in, "x\n", 2), 2);
        finish(&p);
}

Test(inject_host, jemalloc_purge_lowers_rss)
{
        const char *je = "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2";
        if (access(je, R_OK) < 0)
                cr_skip_test("libjemalloc2 is not installed");
        const char *argv[] = { TARGET, "frag", "100", NULL };
        Proc p = spawn(argv, je);
        expect_ready(&p);
        InjectResult r = inject(p.pid, 1);
        cr_assert_eq(r.allocator, INJECT_ALLOCATOR_JEMALLOC);
        cr_assert_str_eq(r.how, "mallctl(\"arena.4096.purge\")");
        cr_assert_gt(r.rss_before, r.rss_after + (30ULL << 20), "RSS %lu -> %lu", r.rss_before, r.rss_after);
        /* jemalloc's own figures (epoch, stats.allocated, stats.resident) before, on the same stop, and
         * after, by one more stop: resident falls by about what RSS fell, allocated stays (10 of 100 MiB). */
        cr_assert(r.have_jemalloc_before && r.have_jemalloc_after);
        cr_log_info("jemalloc: resident %lu -> %lu KiB, allocated %lu -> %lu KiB; RSS %lu -> %lu KiB",
                    r.jemalloc_before.resident >> 10, r.jemalloc_after.resident >> 10,
                    r.jemalloc_before.allocated >> 10, r.jemalloc_after.allocated >> 10, r.rss_before >> 10,
                    r.rss_after >> 10);
        cr_assert_gt(r.jemalloc_before.resident, r.jemalloc_after.resident + (30ULL << 20), "resident %lu -> %lu",
                     r.jemalloc_before.resident, r.jemalloc_after.resident);
        cr_assert_eq(r.jemalloc_before.allocated, r.jemalloc_after.allocated, "allocated unchanged");
        cr_assert_gt(r.jemalloc_before.allocated, 5ULL << 20, "allocated %lu: the 10%% kept", r.jemalloc_before.allocated);
        cr_assert_lt(r.jemalloc_before.allocated, 30ULL << 20, "allocated %lu", r.jemalloc_before.allocated);
        finish(&p);
}

/* Debian's redis-server (jemalloc, linked dynamically), never enrolled: filled, 90% deleted, then the purge
 * injected into one instance; its twin gets the same and nothing else (the same scenario without
 * memwarden, same run). Decay is off in both (MALLOC_CONF) so that what falls is the purge's doing: by
 * default jemalloc's background thread gives dirty pages back over ~10 s on its own. Every kept key is
 * read back afterwards. */
#define REDIS_SERVER "/usr/bin/redis-server"
#define REDIS_KEYS SOURCE_ROOT "/tests/helpers/redis-keys.py"

static pid_t redis_start(int port)
{
        pid_t pid = fork();
        cr_assert_geq(pid, 0);
        if (pid == 0) {
                prctl(PR_SET_PDEATHSIG, SIGKILL);
                int null = open("/dev/null", O_RDWR);
                dup2(null, 1);
                dup2(null, 2);
                setenv("MALLOC_CONF", "dirty_decay_ms:-1,muzzy_decay_ms:-1", 1);
                char portbuf[16];
                snprintf(portbuf, sizeof portbuf, "%d", port);
                execl(REDIS_SERVER, REDIS_SERVER, "--port", portbuf, "--bind", "127.0.0.1", "--save", "",
                      "--appendonly", "no", "--dir", "/tmp", "--enable-debug-command", "yes", NULL);
                _exit(127);
        }
        char cmd[256];
        snprintf(cmd, sizeof cmd, "redis-cli -p %d ping >/dev/null 2>&1", port);
        for (int i = 0; i < 100 && system(cmd) != 0; i++)
                usleep(100 * 1000);
        cr_assert_eq(system(cmd), 0, "redis-server on port %d did not answer", port);
        return pid;
}

static int redis_keys(int port, const char *args, char *out, size_t size)
{
        char cmd[512];
        snprintf(cmd, sizeof cmd, "python3 %s %d %s 2>&1", REDIS_KEYS, port, args);
        FILE *f = popen(cmd, "r");
        cr_assert_not_null(f);
        size_t n = fread(out, 1, size - 1, f);
        out[n] = 0;
        int st = pclose(f);
        return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static uint64_t vm_rss(pid_t pid)
{
        char path[64], buf[4096];
        snprintf(path, sizeof path, "/proc/%d/status", (int) pid);
        FILE *f = fopen(path, "re");
        size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
        if (f)
                fclose(f);
        buf[n] = 0;
        char *t = strstr(buf, "VmRSS:");
        return t ? strtoull(t + 6, NULL, 10) * 1024 : 0;
}

Test(inject_host, redis_purge_keeps_keys, .timeout = 240)
{
        if (access(REDIS_SERVER, X_OK) < 0 || system("command -v redis-cli >/dev/null") != 0)
                cr_skip_test("redis-server/redis-tools not installed (scripts/install-deps --vm)");
        int port = 20000 + getpid() % 20000;
        pid_t red = redis_start(port), twin = redis_start(port + 1);
        char out[512];
        for (int i = 0; i < 2; i++) {
                cr_assert_eq(redis_keys(port + i, "fill 50000 1000", out, sizeof out), 0, "%s", out);
                cr_assert_eq(redis_keys(port + i, "drop 50000 10", out, sizeof out), 0, "%s", out);
        }
        uint64_t before = vm_rss(red), twin_before = vm_rss(twin);
        cr_assert_gt(before, 40ULL << 20, "filled: RSS %lu", before);

        InjectResult r = inject(red, 1);
        cr_assert_eq(r.allocator, INJECT_ALLOCATOR_JEMALLOC);
        cr_assert_str_eq(r.how, "mallctl(\"arena.4096.purge\")");
        uint64_t after = vm_rss(red), twin_after = vm_rss(twin);
        cr_log_info("redis: RSS %lu -> %lu MiB (purge injected, call %lu ms, stop %lu ms); twin %lu -> %lu MiB",
                    before >> 20, after >> 20, (unsigned long) (r.call_usec / 1000),
                    (unsigned long) (r.stop_usec / 1000), twin_before >> 20, twin_after >> 20);
        /* 90% of ~50 MiB of values deleted: what jemalloc can give back (pages without a kept value) comes
         * back to the kernel; the twin keeps it. */
        cr_assert_gt(before, after + (20ULL << 20), "RSS %lu -> %lu", before, after);
        cr_assert_lt(twin_before - MIN(twin_before, twin_after), 8ULL << 20, "twin RSS %lu -> %lu", twin_before,
                     twin_after);
        cr_assert_eq(tracer_of(red), 0, "detached");

        cr_assert_eq(redis_keys(port, "check 50000 10 1000", out, sizeof out), 0, "%s", out);
        cr_assert(strstr(out, "kept 5000 ok 5000 missing 0 wrong 0"), "%s", out);
        cr_assert_eq(redis_keys(port + 1, "check 50000 10 1000", out, sizeof out), 0, "twin: %s", out);
        kill(red, SIGKILL);
        kill(twin, SIGKILL);
        waitpid(red, NULL, 0);
        waitpid(twin, NULL, 0);
}

Test(inject_host, refuses_static_binary)
{
        if (access(TARGET_STATIC, X_OK) < 0)
                cr_skip_test("no static libc to build the static target");
        const char *argv[] = { TARGET_STATIC, "read", NULL };
        Proc p = spawn(argv, NULL);
        expect_ready(&p);
        InjectResult r = inject(p.pid, 0);
        cr_assert(strstr(r.reason, "static binary"), "%s", r.reason);
        cr_assert_eq(r.allocator, INJECT_ALLOCATOR_STATIC);
        finish(&p);
}

Test(inject_host, refuses_traced_process)
{
        const char *argv[] = { TARGET, "read", NULL };
        Proc p = spawn(argv, NULL);
        expect_ready(&p);
        /* A helper process traces it (a debugger already attached). */
        pid_t tracer = fork();
        if (tracer == 0) {
                if (ptrace(PTRACE_SEIZE, p.pid, 0, 0) < 0)
                        _exit(1);
                pause();
                _exit(0);
        }
        bool traced = false;
        for (int i = 0; i < 200 && !traced; i++) {
                traced = tracer_of(p.pid) == tracer;
                usleep(5000);
        }
        cr_assert(traced);
        InjectResult r = inject(p.pid, 0);
        cr_assert(strstr(r.reason, "already traced by PID"), "%s", r.reason);
        kill(tracer, SIGKILL);
        waitpid(tracer, NULL, 0);
        cr_assert_eq(write(p.in, "x\n", 2), 2);
        finish(&p);
}

/* Under a seccomp filter that lets the call's system calls through (getpid fails with EPERM, the rest runs,
 * as in a container's default profile): injected, and the filter still works after it. */
Test(inject_host, seccomp_filter_allowing_the_calls_is_injected)
{
        const char *argv[] = { TARGET, "seccomp", "getpid", NULL };
        Proc p = spawn(argv, NULL);
        expect_ready(&p);
        InjectResult r = inject(p.pid, 1);
        cr_assert_str_eq(r.how, "malloc_trim(0)");
        cr_assert_eq(r.reason[0], 0, "%s", r.reason);
        expect_answer_and_exit(&p, "hello", "read hello getpid Operation not permitted");
}

/* A filter that kills the process on madvise: refused with the call it would kill on, and the process
 * untouched (it reads its line and exits normally). */
Test(inject_host, refuses_seccomp_filter_killing_on_madvise)
{
        const char *argv[] = { TARGET, "seccomp", "madvise-kill", NULL };
        Proc p = spawn(argv, NULL);
        expect_ready(&p);
        InjectResult r = inject(p.pid, 0);
        cr_assert(strstr(r.reason, "returns KILL_PROCESS for madvise (system call 28) made by the call: it would "
                                   "kill the process"), "%s", r.reason);
        cr_assert_eq(r.threads_tried, 1, "the filter refuses the process, not one thread");
        cr_assert_eq(tracer_of(p.pid), 0);
        expect_answer_and_exit(&p, "hello", "read hello getpid ok");
}

/* An injector that has a seccomp filter of its own (memwardend under its unit's SystemCallFilter=) cannot
 * read the target's filter (the kernel answers EACCES): refused with that reason, the target untouched. */
Test(inject_host, refuses_seccomp_filter_it_cannot_read)
{
        const char *argv[] = { TARGET, "seccomp", "getpid", NULL };
        Proc p = spawn(argv, NULL);
        expect_ready(&p);
        int reason[2];
        cr_assert_eq(pipe(reason), 0);
        pid_t injector = fork();
        cr_assert_geq(injector, 0);
        if (injector == 0) {
                struct sock_filter allow[] = { BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW) };
                struct sock_fprog prog = { .len = 1, .filter = allow };
                if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) < 0)
                        _exit(2);
                InjectResult r;
                InjectOptions o = { .timeout_usec = 10 * USEC_PER_SEC };
                int k = inject_process(p.pid, 0, &o, &r);
                dprintf(reason[1], "%d %s", k, r.reason);
                _exit(0);
        }
        close(reason[1]);
        char got[512] = "";
        cr_assert_gt(read(reason[0], got, sizeof got - 1), 0);
        close(reason[0]);
        int status;
        cr_assert_eq(waitpid(injector, &status, 0), injector);
        cr_assert(strncmp(got, "0 ", 2) == 0, "%s", got);
        cr_assert(strstr(got, "seccomp filter (Seccomp: 2 in /proc/") && strstr(got, "that cannot be read: reading it "
                                                                            "needs CAP_SYS_ADMIN and an injector without a seccomp filter of its own"), "%s", got);
        cr_assert_eq(tracer_of(p.pid), 0);
        expect_answer_and_exit(&p, "hello", "read hello getpid Operation not permitted");
}

/* SECCOMP_MODE_STRICT: only read, write, exit and sigreturn; refused before any stop, unharmed. */
Test(inject_host, refuses_seccomp_strict)
{
        const char *argv[] = { TARGET, "strict", NULL };
        Proc p = spawn(argv, NULL);
        expect_ready(&p);
        char path[64], status[4096] = "";
        snprintf(path, sizeof path, "/proc/%d/status", (int) p.pid);
        FILE *f = fopen(path, "re");
        cr_assert(f);
        cr_assert(fread(status, 1, sizeof status - 1, f) > 0);
        fclose(f);
        cr_assert(strstr(status, "Seccomp:\t1"), "the target is in strict mode");
        InjectResult r = inject(p.pid, 0);
        cr_assert(strstr(r.reason, "seccomp strict mode (Seccomp: 1"), "%s", r.reason);
        cr_assert_eq(r.threads_tried, 0);
        expect_answer_and_exit(&p, "hello", "read hello");
}

/* Yama's ptrace_scope read from a fixture (never written on a shared host: 3 cannot be undone until
 * reboot): 3 refuses with its reason before any ptrace, 1 lets it through. */
Test(inject_host, refuses_yama_ptrace_scope_3)
{
        char dir[] = "/tmp/memwarden-yama-XXXXXX", path[64];
        cr_assert(mkdtemp(dir));
        snprintf(path, sizeof path, "%s/ptrace_scope", dir);
        cr_assert_eq(inject_yama_scope(path), 0, "no such file: no Yama");
        FILE *f = fopen(path, "we");
        cr_assert(f);
        fputs("3\n", f);
        fclose(f);
        cr_assert_eq(inject_yama_scope(path), 3);

        const char *argv[] = { TARGET, "read", NULL };
        Proc p = spawn(argv, NULL);
        expect_ready(&p);
        InjectResult r;
        InjectOptions o = { .timeout_usec = 10 * USEC_PER_SEC, .yama_path = path };
        cr_assert_eq(inject_process(p.pid, 0, &o, &r), 0, "%s", r.reason);
        cr_assert(strstr(r.reason, "Yama ptrace_scope is 3"), "%s", r.reason);
        cr_assert_eq(r.threads_tried, 0);

        f = fopen(path, "we");
        fputs("1\n", f);
        fclose(f);
        cr_assert_eq(inject_process(p.pid, 0, &o, &r), 1, "%s", r.reason);
        f = fopen(path, "we");
        fputs("many\n", f);
        fclose(f);
        cr_assert_eq(inject_yama_scope(path), -EINVAL);
        cr_assert_eq(write(p.in, "x\n", 2), 2);
        char line[256];
        cr_assert(next_line(&p, line, sizeof line));
        cr_assert_str_eq(line, "read x");
        finish(&p);
        unlink(path);
        rmdir(dir);
}

/* Waits until pid sleeps in the kernel (its wchan is set). */
static void wait_blocked(pid_t pid)
{
        for (int i = 0; i < 400; i++) {
                char path[64], buf[64] = "";
                snprintf(path, sizeof path, "/proc/%d/wchan", (int) pid);
                FILE *f = fopen(path, "re");
                if (f) {
                        if (!fgets(buf, sizeof buf, f))
                                buf[0] = 0;
                        fclose(f);
                }
                if (buf[0] && strcmp(buf, "0") != 0)
                        return;
                usleep(5000);
        }
}

/* vfork: the child runs in its parent's memory until its execve, the parent sleeps in vfork meanwhile. The
 * call would run in the parent's memory, and the child's execve would go unseen (the parent keeps the old
 * image alive, so the mem fd still reads it): both are refused, naming the other, nothing traced. Once the
 * child has executed its own program, it is injected like any process. */
Test(inject_host, refuses_vfork_child_and_parent)
{
        const char *argv[] = { TARGET, "vfork", NULL };
        char line[256];
        pid_t child = 0;
        Proc p = spawn(argv, NULL);
        expect_ready(&p);
        cr_assert(next_line(&p, line, sizeof line));
        cr_assert_eq(sscanf(line, "child %d", &child), 1, "%s", line);
        wait_blocked(child);

        InjectResult r = inject(child, 0);
        char want[128];
        snprintf(want, sizeof want, "shares its memory with PID %d (its parent)", (int) p.pid);
        cr_assert(strstr(r.reason, want), "%s", r.reason);
        cr_assert_eq(r.threads_tried, 0);
        r = inject(p.pid, 0);
        snprintf(want, sizeof want, "shares its memory with PID %d (its child)", (int) child);
        cr_assert(strstr(r.reason, want), "%s", r.reason);
        cr_assert_eq(tracer_of(child), 0);
        cr_assert_eq(tracer_of(p.pid), 0);

        /* The child executes "inject-target read": its own memory now, and the parent runs on. */
        cr_assert_eq(write(p.in, "go\n", 3), 3);
        bool child_ready = false, parent_resumed = false;
        while ((!child_ready || !parent_resumed) && next_line(&p, line, sizeof line)) {
                char want_ready[32];
                snprintf(want_ready, sizeof want_ready, "ready %d", (int) child);
                child_ready = child_ready || streq(line, want_ready);
                parent_resumed = parent_resumed || streq(line, "parent resumed");
        }
        cr_assert(child_ready && parent_resumed);
        wait_blocked(child);
        r = inject(child, 1);
        cr_assert_eq(write(p.in, "x\n", 2), 2);
        bool read_x = false, exit0 = false;
        while ((!read_x || !exit0) && next_line(&p, line, sizeof line)) {
                read_x = read_x || streq(line, "read x");
                exit0 = exit0 || streq(line, "child exit 0");
        }
        cr_assert(read_x && exit0, "the child read its line after the injection and exited 0");
        cr_assert_eq(finish(&p), 0);
}

/* A libc without malloc_trim (tests/helpers/nolibc/libc.so.6 mapped below the real one: the first libc in
 * the maps is the one in use): refused by that reason, before any stop, the target unharmed. */
Test(inject_host, refuses_libc_without_malloc_trim)
{
        const char *argv[] = { TARGET, "fakelibc", NOLIBC, NULL };
        Proc p = spawn(argv, NULL);
        expect_ready(&p);
        InjectResult r = inject(p.pid, 0);
        cr_assert(strstr(r.reason, "libc " NOLIBC " has no malloc_trim symbol"), "%s", r.reason);
        cr_assert_eq(r.allocator, INJECT_ALLOCATOR_GLIBC);
        cr_assert_eq(r.threads_tried, 0);
        expect_answer_and_exit(&p, "hello", "read hello");
}

Test(inject_host, refuses_pid_reused)
{
        const char *argv[] = { TARGET, "read", NULL };
        Proc p = spawn(argv, NULL);
        expect_ready(&p);
        InjectResult r;
        InjectOptions o = {};
        cr_assert_eq(inject_process(p.pid, 1, &o, &r), -ESRCH, "a start time that is not the process's");
        finish(&p);
}

/* The target in "slow" mode, ready: it prints the address of its slow function (the call to inject). */
static unsigned long spawn_slow(Proc *ret)
{
        const char *argv[] = { TARGET, "slow", NULL };
        char line[256];
        unsigned long addr = 0;

        *ret = spawn(argv, NULL);
        expect_ready(ret);
        cr_assert(next_line(ret, line, sizeof line));
        cr_assert_eq(sscanf(line, "slow %lx", &addr), 1, "%s", line);
        return addr;
}

/* The injector dies mid-call: the target finishes the call on its own and resumes its read(), its
 * registers, signal mask and altstack as they were; a signal sent meanwhile is delivered after. */
Test(inject_host, target_survives_injector_sigkill)
{
        Proc p;
        char line[256];
        unsigned long addr = spawn_slow(&p);

        pid_t injector = fork();
        if (injector == 0) {
                InjectResult r;
                InjectOptions o = { .call_address = addr, .timeout_usec = 30 * USEC_PER_SEC };
                _exit(inject_process(p.pid, 0, &o, &r) == 1 ? 0 : 1);
        }
        /* Wait until the target runs the call (traced by the injector), then kill the injector. */
        bool traced = false;
        for (int i = 0; i < 200 && !traced; i++) {
                traced = tracer_of(p.pid) == injector;
                usleep(5000);
        }
        cr_assert(traced, "the injector attached");
        usleep(300 * 1000); /* inside the 1.5 s call */
        kill(p.pid, SIGUSR1); /* arrives during the call: blocked there, delivered after */
        kill(injector, SIGKILL);
        waitpid(injector, NULL, 0);

        usleep(1500 * 1000); /* the call ends on its own, then rt_sigreturn */
        cr_assert_eq(write(p.in, "after\n", 6), 6);
        cr_assert(next_line(&p, line, sizeof line));
        cr_assert_str_eq(line, "read after usr1 1 slow-calls 1 altstack same", "%s", line);
        cr_assert_eq(finish(&p), 0);
}

/* Sends sig to pid after ms milliseconds, from a child process. */
static pid_t signal_later(pid_t pid, int sig, int ms)
{
        pid_t k = fork();
        cr_assert_geq(k, 0);
        if (k == 0) {
                usleep((useconds_t) ms * 1000);
                kill(pid, sig);
                _exit(0);
        }
        return k;
}

static double mono_s(void)
{
        return (double) now_usec(CLOCK_MONOTONIC) / USEC_PER_SEC;
}

/* A target that gets SIGKILL in the middle of the injected call: the injector sees it gone, returns at
 * once (no hang, nothing left attached) and goes on: the next process is injected as usual. */
Test(inject_host, target_sigkilled_mid_call, .timeout = 120)
{
        Proc p;
        char line[256];
        unsigned long addr = spawn_slow(&p);
        pid_t killer = signal_later(p.pid, SIGKILL, 300);
        InjectResult r;
        InjectOptions o = { .call_address = addr, .timeout_usec = 30 * USEC_PER_SEC };
        double t0 = mono_s();
        int k = inject_process(p.pid, 0, &o, &r);
        double took = mono_s() - t0;
        waitpid(killer, NULL, 0);
        int st;
        cr_assert_eq(waitpid(p.pid, &st, 0), p.pid);
        cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, "status %d", st);
        cr_assert_eq(k, -ESRCH, "the injector reports the target gone: %d (%s)", k, r.reason);
        cr_assert_lt(took, 10.0, "returned after %.1f s (timeout 30 s): no wait on a dead target", took);
        close(p.in);
        fclose(p.f);

        const char *argv2[] = { TARGET, "read", NULL };
        Proc q = spawn(argv2, NULL);
        expect_ready(&q);
        inject(q.pid, 1);
        cr_assert_eq(write(q.in, "next\n", 5), 5);
        cr_assert(next_line(&q, line, sizeof line));
        cr_assert_str_eq(line, "read next");
        cr_assert_eq(finish(&q), 0);
}

/* A fatal signal of the target's own (SIGTERM, default action) sent during the injected call: blocked
 * while the call runs, pending, and delivered when the frame gives the thread its mask back: the target
 * still dies of it, after the call. */
Test(inject_host, fatal_signal_during_call_still_delivered, .timeout = 120)
{
        Proc p;
        unsigned long addr = spawn_slow(&p);
        pid_t killer = signal_later(p.pid, SIGTERM, 300);
        InjectResult r;
        InjectOptions o = { .call_address = addr, .timeout_usec = 30 * USEC_PER_SEC };
        double t0 = mono_s();
        int k = inject_process(p.pid, 0, &o, &r);
        waitpid(killer, NULL, 0);
        int st;
        cr_assert_eq(waitpid(p.pid, &st, 0), p.pid);
        double died = mono_s() - t0;
        cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM, "the target died of its SIGTERM: status %d", st);
        cr_assert(k == 1 || k == -ESRCH, "inject_process: %d (%s)", k, r.reason);
        cr_assert_geq(died, 1.4, "it died %.2f s after the call began: not before the 1.5 s call returned", died);
        cr_assert_eq(tracer_of(p.pid), -1, "gone");
        close(p.in);
        fclose(p.f);
}

/* The per-process timeout: a call that outlasts it (1.5 s against 0.9 s) is left to finish on its own;
 * the injector returns at the timeout, nothing stays attached, and the target ends the call and resumes
 * its read() as before. */
Test(inject_host, timeout_detaches_mid_call, .timeout = 120)
{
        Proc p;
        char line[256];
        unsigned long addr = spawn_slow(&p);
        InjectResult r;
        InjectOptions o = { .call_address = addr, .timeout_usec = 900 * USEC_PER_MSEC };
        double t0 = mono_s();
        int k = inject_process(p.pid, 0, &o, &r);
        double took = mono_s() - t0;
        cr_assert_eq(k, 1, "a timed-out call still ran: %d (%s)", k, r.reason);
        cr_assert(r.timed_out);
        cr_assert(strstr(r.reason, "timed out"), "%s", r.reason);
        cr_assert_lt(took, 1.45, "returned after %.2f s, before the 1.5 s call ended", took);
        bool free_ = false;
        for (int i = 0; i < 200 && !free_; i++) {
                free_ = tracer_of(p.pid) == 0;
                usleep(5000);
        }
        cr_assert(free_, "nothing left attached");
        usleep(1500 * 1000);
        cr_assert_eq(write(p.in, "after\n", 6), 6);
        cr_assert(next_line(&p, line, sizeof line));
        cr_assert_str_eq(line, "read after usr1 0 slow-calls 1 altstack same", "%s", line);
        cr_assert_eq(finish(&p), 0);
}

/* A zombie (exited, not reaped): refused as exiting. */
Test(inject_host, refuses_exiting_process)
{
        pid_t z = fork();
        cr_assert_geq(z, 0);
        if (z == 0)
                _exit(0);
        char path[64], buf[512] = "";
        snprintf(path, sizeof path, "/proc/%d/stat", (int) z);
        bool zombie = false;
        for (int i = 0; i < 200 && !zombie; i++) {
                FILE *f = fopen(path, "re");
                if (f && fgets(buf, sizeof buf, f)) {
                        char *e = strrchr(buf, ')');
                        zombie = e && e[1] == ' ' && e[2] == 'Z';
                }
                if (f)
                        fclose(f);
                usleep(5000);
        }
        cr_assert(zombie, "%s", buf);
        InjectResult r = inject(z, 0);
        cr_assert(strstr(r.reason, "exiting"), "%s", r.reason);
        waitpid(z, NULL, 0);
}

/* A process mapping a "jemalloc" without mallctl (a stub allocator, or a build with prefixed symbols):
 * refused by that reason, nothing stopped. */
Test(inject_host, refuses_jemalloc_without_mallctl)
{
        const char *argv[] = { TARGET, "read", NULL };
        Proc p = spawn(argv, JEMALLOC_STUB);
        expect_ready(&p);
        InjectResult r = inject(p.pid, 0);
        cr_assert_eq(r.allocator, INJECT_ALLOCATOR_JEMALLOC, "%s", inject_allocator_to_string(r.allocator));
        cr_assert(strstr(r.reason, "libjemalloc.so.2 has no mallctl symbol"), "%s", r.reason);
        cr_assert_eq(r.threads_tried, 0, "refused before any thread was stopped");
        expect_reads_on(&p);
}

/* The first word of /proc/PID/task/TID/syscall of the target's main thread, once it is blocked. */
static long syscall_of(pid_t pid)
{
        char path[64], buf[256] = "";
        snprintf(path, sizeof path, "/proc/%d/syscall", (int) pid);
        FILE *f = fopen(path, "re");
        if (f) {
                if (!fgets(buf, sizeof buf, f))
                        buf[0] = 0;
                fclose(f);
        }
        return buf[0] >= '0' && buf[0] <= '9' ? atol(buf) : -1;
}

/* In the middle of exec: main is inside execve(), waiting for its argv page (userfaultfd), while a second
 * thread sleeps in read(): refused by that reason (stopping main there would make its exec fail), and the
 * exec then completes: the new image runs under the same PID. */
Test(inject_host, refuses_process_in_exec)
{
        const char *argv[] = { TARGET, "execblock", NULL };
        char line[256], expect[64];
        Proc p = spawn(argv, NULL);
        cr_assert(next_line(&p, line, sizeof line));
        if (strncmp(line, "no userfaultfd", 14) == 0)
                cr_skip_test("%s (needs root or vm.unprivileged_userfaultfd=1)", line);
        cr_assert(strncmp(line, "ready ", 6) == 0, "%s", line);
        bool in_exec = false;
        for (int i = 0; i < 400 && !in_exec; i++) {
                in_exec = syscall_of(p.pid) == SYS_execve;
                usleep(5000);
        }
        cr_assert(in_exec, "main blocked inside execve");
        usleep(20000);
        InjectResult r = inject(p.pid, 0);
        snprintf(expect, sizeof expect, "in the middle of exec (thread %d is in execve)", (int) p.pid);
        cr_assert(strstr(r.reason, expect), "%s", r.reason);
        cr_assert_eq(r.threads_tried, 0);
        cr_assert_eq(tracer_of(p.pid), 0, "nothing attached");

        cr_assert_eq(write(p.in, "go\n", 3), 3); /* the argv page arrives: the exec goes on */
        cr_assert(next_line(&p, line, sizeof line));
        snprintf(expect, sizeof expect, "ready %d", (int) p.pid);
        cr_assert_str_eq(line, expect, "the new image runs under the same PID");
        expect_reads_on(&p);
}

/* The interrupted thread gets back exactly what it had: main sits in a raw read() system call with known
 * values in rbx, rbp, r8-r10, r12-r15, xmm0-15 and in the 128 bytes below its stack pointer (the red
 * zone, which the frame must not touch); after malloc_trim was injected on it, all are as they were and
 * the read returns its byte. */
Test(inject_host, registers_and_red_zone_unchanged)
{
        const char *argv[] = { TARGET, "regs", NULL };
        char line[256];
        Proc p = spawn(argv, NULL);
        expect_ready(&p);
        cr_assert(next_line(&p, line, sizeof line)); /* slow ADDR */
        cr_assert_eq(syscall_of(p.pid), SYS_read);
        InjectResult r = inject(p.pid, 1);
        cr_assert_eq(r.tid, p.pid, "the call ran on main");
        cr_assert_str_eq(r.thread_was, "read");
        cr_assert_eq(write(p.in, "x", 1), 1);
        cr_assert(next_line(&p, line, sizeof line));
        cr_assert_str_eq(line, "regs ret 1 byte x regs same xmm same redzone same usr1 0 slow-calls 0");
        cr_assert_eq(finish(&p), 0);
}

/* The same when the injector is SIGKILLed in the middle of a 1.5 s call: the target returns through its
 * frame (libc's __restore_rt) on its own, with the same registers, FPU state and red zone, and the
 * SIGUSR1 sent meanwhile is delivered after the call (its handler ran once). */
Test(inject_host, registers_unchanged_after_injector_sigkill, .timeout = 120)
{
        const char *argv[] = { TARGET, "regs", NULL };
        char line[256];
        unsigned long addr = 0;
        Proc p = spawn(argv, NULL);
        expect_ready(&p);
        cr_assert(next_line(&p, line, sizeof line));
        cr_assert_eq(sscanf(line, "slow %lx", &addr), 1, "%s", line);

        pid_t injector = fork();
        if (injector == 0) {
                InjectResult r;
                InjectOptions o = { .call_address = addr, .timeout_usec = 30 * USEC_PER_SEC };
                _exit(inject_process(p.pid, 0, &o, &r) == 1 ? 0 : 1);
        }
        bool traced = false;
        for (int i = 0; i < 400 && !traced; i++) {
                traced = tracer_of(p.pid) == injector;
                usleep(5000);
        }
        cr_assert(traced, "the injector attached");
        usleep(300 * 1000);
        kill(p.pid, SIGUSR1);
        kill(injector, SIGKILL);
        int st;
        cr_assert_eq(waitpid(injector, &st, 0), injector);
        cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, "the injector died mid-call: status %d", st);

        usleep(1500 * 1000);
        cr_assert_eq(write(p.in, "y", 1), 1);
        cr_assert(next_line(&p, line, sizeof line));
        cr_assert_str_eq(line, "regs ret 1 byte y regs same xmm same redzone same usr1 1 slow-calls 1");
        cr_assert_eq(finish(&p), 0);
}

/* Stack room: the only thread that may be stopped has a 64 KiB stack (main waits in sigsuspend, never a
 * candidate): the call could overflow it, so the thread is left alone, the process skipped with that
 * reason, and the thread reads its line as if nothing happened. */
Test(inject_host, skips_thread_without_stack_room)
{
        const char *argv[] = { TARGET, "smallstack", NULL };
        Proc p = spawn(argv, NULL);
        expect_ready(&p);
        usleep(50000);
        InjectResult r = inject(p.pid, 0);
        cr_assert(strstr(r.reason, "no thread qualified within 1 tries"), "%s", r.reason);
        cr_assert(strstr(r.reason, "less than 256 KiB of stack left below its stack pointer"), "%s", r.reason);
        cr_assert_eq(tracer_of(p.pid), 0, "nothing attached");
        expect_reads_on(&p);
}

/* No thread qualifies: every thread is inside malloc (one arena; main in malloc_stats() holding its lock
 * while blocked on a full stderr pipe, three threads waiting for that lock in malloc). Each is stopped,
 * unwound and left; the process is skipped within the bound with the reason, and resumes unharmed once
 * stderr is closed. Injecting there would deadlock: malloc_trim on main waits for the lock main holds. */
Test(inject_host, skips_when_every_thread_is_in_malloc, .timeout = 120)
{
        const char *argv[] = { TARGET, "stuck", "3", NULL };
        char line[256];
        int err;
        Proc p = spawn_err(argv, NULL, &err);
        expect_ready(&p);
        bool stuck = false;
        for (int i = 0; i < 400 && !stuck; i++) {
                char path[64];
                int waiting = 0;
                DIR *d;
                snprintf(path, sizeof path, "/proc/%d/task", (int) p.pid);
                cr_assert((d = opendir(path)));
                for (struct dirent *de; (de = readdir(d));) {
                        pid_t tid = (pid_t) atoi(de->d_name);
                        waiting += tid > 0 && tid != p.pid && syscall_of(tid) == SYS_futex;
                }
                closedir(d);
                stuck = waiting == 3 && syscall_of(p.pid) == SYS_write;
                usleep(5000);
        }
        cr_assert(stuck, "main blocked in write inside malloc_stats, the others in the arena lock's futex");

        InjectResult r;
        InjectOptions o = { .timeout_usec = 10 * USEC_PER_SEC };
        double t0 = mono_s();
        int k = inject_process(p.pid, 0, &o, &r);
        double took = mono_s() - t0;
        cr_assert_eq(k, 0, "skipped: %d (%s)", k, r.reason);
        cr_assert_eq(r.threads_tried, 4);
        cr_assert(strstr(r.reason, "no thread qualified within 4 tries; the last: thread "), "%s", r.reason);
        cr_assert(strstr(r.reason, "in glibc malloc") || strstr(r.reason, "allocator"), "%s", r.reason);
        cr_assert_lt(took, 10.0, "skipped after %.1f s, within the bound", took);
        cr_log_info("every thread in malloc: skipped after %.0f ms: %s", took * 1000, r.reason);
        for (int i = 0; i < 200 && tracer_of(p.pid) != 0; i++)
                usleep(5000);
        cr_assert_eq(tracer_of(p.pid), 0, "nothing attached");

        close(err); /* malloc_stats() gets EPIPE, unlocks the arena: every thread goes on */
        cr_assert(next_line(&p, line, sizeof line));
        cr_assert_str_eq(line, "stuck ok");
        cr_assert_eq(finish(&p), 0);
}

/* Exec mid-injection: the call runs on a second thread (1.5 s) when main executes a new program; the
 * kernel kills the calling thread (de_thread()) and replaces the image. The injector returns soon, says
 * so, leaves nothing attached and calls nothing in the new image, which runs under the same PID. */
Test(inject_host, exec_during_call_detaches, .timeout = 120)
{
        const char *argv[] = { TARGET, "execmid", NULL };
        char line[256], expect[64];
        unsigned long addr = 0;
        Proc p = spawn(argv, NULL);
        expect_ready(&p);
        cr_assert(next_line(&p, line, sizeof line));
        cr_assert_eq(sscanf(line, "slow %lx", &addr), 1, "%s", line);

        pid_t trigger = signal_later(p.pid, SIGUSR2, 300);
        InjectResult r;
        InjectOptions o = { .call_address = addr, .timeout_usec = 30 * USEC_PER_SEC };
        double t0 = mono_s();
        int k = inject_process(p.pid, 0, &o, &r);
        double took = mono_s() - t0;
        waitpid(trigger, NULL, 0);
        cr_assert_eq(k, 0, "not injected: %d (%s)", k, r.reason);
        cr_assert(strstr(r.reason, "executed a new program (execve) during the injection"), "%s", r.reason);
        cr_assert_lt(took, 10.0, "returned after %.1f s (timeout 30 s)", took);
        cr_assert_eq(tracer_of(p.pid), 0, "nothing attached");

        cr_assert(next_line(&p, line, sizeof line));
        snprintf(expect, sizeof expect, "ready %d", (int) p.pid);
        cr_assert_str_eq(line, expect, "the new image runs under the same PID");
        expect_reads_on(&p);
}

static void torture(const char *busy, unsigned *ret_done, unsigned *ret_skipped)
{
        /* An 8 s run: at load ~17 the first injection into the busy target took ~4 s, the whole 4 s run. */
        const char *argv[] = { TARGET, "torture", "8", "8", busy, NULL };
        Proc p = spawn(argv, NULL);
        expect_ready(&p);
        unsigned done = 0, skipped = 0;
        for (int i = 0; i < 40; i++) {
                InjectResult r;
                InjectOptions o = { .timeout_usec = 5 * USEC_PER_SEC };
                int k = inject_process(p.pid, 0, &o, &r);
                if (k == -ESRCH)
                        break; /* its run ended */
                cr_assert_geq(k, 0, "inject_process: %s", strerror(-k));
                if (k == 1)
                        done++;
                else {
                        cr_assert(r.reason[0], "a skip names its reason");
                        if (skipped++ == 0)
                                cr_log_info("torture%s: skipped: %s", busy ? " busy" : "", r.reason);
                }
        }
        char line[256];
        cr_assert(next_line(&p, line, sizeof line));
        cr_assert(strncmp(line, "torture ok", 10) == 0, "%s", line);
        cr_log_info("torture%s: %u injected, %u skipped", busy ? " busy" : "", done, skipped);
        cr_assert_eq(finish(&p), 0);
        *ret_done = done;
        *ret_skipped = skipped;
}

/* 8 threads in malloc/free/realloc, main idle in pthread_join: every injection lands. */
Test(inject_host, torture, .timeout = 240)
{
        unsigned done, skipped;
        torture(NULL, &done, &skipped);
        cr_assert_gt(done, 0);
}

/* No idle thread: only running threads, most of the time inside malloc; those are refused by their
 * stack, the others take the call. No crash, no deadlock, no checksum error. */
Test(inject_host, torture_busy, .timeout = 240)
{
        unsigned done, skipped;
        torture("busy", &done, &skipped);
        cr_assert_gt(done + skipped, 0);
}

/* ---------------------------------------------------------------------------------------------------- */
/* memwardenctl trim --inject */

static int run_ctl(const char *args, char *out, size_t size)
{
        char cmd[512];
        const char *ctl = getenv("MEMWARDENCTL") ?: BUILD_ROOT "/ctl/memwardenctl";
        snprintf(cmd, sizeof cmd, "%s %s 2>&1", ctl, args);
        FILE *f = popen(cmd, "r");
        cr_assert(f);
        size_t n = fread(out, 1, size - 1, f);
        out[n] = 0;
        int st = pclose(f);
        return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

Test(inject_ctl, prints_what_each_process_released)
{
        const char *argv[] = { FRAG, "--mib", "60", "--threads", "1", "--stdin", NULL };
        Proc p = spawn(argv, NULL);
        char line[256], out[4096], args[128];
        cr_assert(next_line(&p, line, sizeof line));
        usleep(50000);

        snprintf(args, sizeof args, "trim --inject %d", (int) p.pid);
        cr_assert_eq(run_ctl(args, out, sizeof out), 0, "%s", out);
        cr_assert(strstr(out, "injected malloc_trim(0) on thread"), "%s", out);
        cr_assert(strstr(out, "glibc (mallinfo2 before the call)"), "%s", out);
        cr_assert(strstr(out, "injected 1, refused 0, gone 0, failed 0"), "%s", out);

        snprintf(args, sizeof args, "trim --inject --report --no-mallinfo %d", (int) p.pid);
        cr_assert_eq(run_ctl(args, out, sizeof out), 0, "%s", out);
        char expect[64];
        snprintf(expect, sizeof expect, "inject pid=%d result=injected how=malloc_trim tid=", (int) p.pid);
        cr_assert(strncmp(out, expect, strlen(expect)) == 0, "%s", out);
        cr_assert(strstr(out, " held_before=0 "), "no mallinfo2 asked: %s", out);
        finish(&p);
}

Test(inject_ctl, refusals_and_bad_input)
{
        char out[4096];
        cr_assert_eq(run_ctl("trim --inject", out, sizeof out), 2);
        cr_assert(strstr(out, "needs more operands"), "%s", out);
        cr_assert_eq(run_ctl("trim --inject ''", out, sizeof out), 2);
        cr_assert(strstr(out, "Not a unit, cgroup path or PID"), "%s", out);
        cr_assert_eq(run_ctl("trim --inject --timeout -1 1", out, sizeof out), 2);
        cr_assert(strstr(out, "Invalid number for --timeout"), "%s", out);
        cr_assert_eq(run_ctl("status --inject", out, sizeof out), 2);
        cr_assert(strstr(out, "--inject does not apply to status"), "%s", out);
        cr_assert_eq(run_ctl("trim --inject 1", out, sizeof out), 1);
        cr_assert(strstr(out, "1 (") && strstr(out, "not injected: PID 1 is never injected"), "%s", out);
        cr_assert_eq(run_ctl("trim --inject --report 1:12345", out, sizeof out), 1);
        cr_assert(strstr(out, "result=refused"), "%s", out);
        /* map --inject: live processes only; --report is trim's. */
        cr_assert_eq(run_ctl("map x.service --inject --proc-root /tmp", out, sizeof out), 2);
        cr_assert(strstr(out, "does not take --proc-root"), "%s", out);
        cr_assert_eq(run_ctl("map x.service --inject --report", out, sizeof out), 2);
        cr_assert(strstr(out, "--report does not apply to map"), "%s", out);
}

/* ---------------------------------------------------------------------------------------------------- */
/* The daemon's side: the helper's report lines (daemon/action-trim-inject.c) */

#include "daemon/action-trim-inject.h"

Test(inject_daemon, report_line_parse)
{
        TrimInjectLine l;
        cr_assert_eq(trim_inject_line_parse("inject pid=42 result=injected how=malloc_trim tid=43 was=read "
                                            "rss_before=1000 rss_after=200 released=900 calls=3 held_before=5 "
                                            "free_before=4 held_after=5 free_after=4 call_usec=1500 stop_usec=80 "
                                            "reason=\n", &l),
                     0);
        cr_assert_eq(l.pid, 42);
        cr_assert_str_eq(l.result, "injected");
        cr_assert_str_eq(l.how, "malloc_trim");
        cr_assert_str_eq(l.was, "read");
        cr_assert_eq(l.rss_before, 1000);
        cr_assert_eq(l.rss_after, 200);
        cr_assert_eq(l.released, 900);
        cr_assert_eq(l.call_usec, 1500);
        cr_assert_eq(l.stop_usec, 80);
        cr_assert_str_eq(l.reason, "");

        /* The reason runs to the end of the line, spaces and '=' included. */
        cr_assert_eq(trim_inject_line_parse("inject pid=7 result=refused how=- tid=0 was=- rss_before=0 "
                                            "reason=seccomp filter (Seccomp: 2 in /proc/7/status): x=y", &l), 0);
        cr_assert_str_eq(l.result, "refused");
        cr_assert_str_eq(l.reason, "seccomp filter (Seccomp: 2 in /proc/7/status): x=y");

        /* Hostile or foreign lines. */
        cr_assert_eq(trim_inject_line_parse("", &l), -EINVAL);
        cr_assert_eq(trim_inject_line_parse("7 (frag): injected", &l), -EINVAL);
        cr_assert_eq(trim_inject_line_parse("inject result=injected", &l), -EINVAL, "no pid");
        cr_assert_eq(trim_inject_line_parse("inject pid=0 result=injected", &l), -EINVAL);
        cr_assert_eq(trim_inject_line_parse("inject pid=5 garbage", &l), -EINVAL);
}

/* The helper takes the processes largest first; a full batch keeps the largest. */
Test(inject_daemon, batch_largest_first)
{
        TrimInjectBatch b = {};
        for (size_t i = 0; i < TRIM_INJECT_BATCH_MAX; i++) {
                b.pids[i] = (pid_t) (100 + i);
                b.rss[i] = (uint64_t) (i % 7) << 20;
                b.n++;
        }
        b.rss[10] = 500ULL << 20;
        b.rss[20] = 500ULL << 20; /* a tie: the lower PID first */
        trim_inject_batch_sort(&b);
        cr_assert_eq(b.pids[0], 110);
        cr_assert_eq(b.pids[1], 120);
        for (size_t i = 1; i < b.n; i++)
                cr_assert_geq(b.rss[i - 1], b.rss[i], "sorted at %zu", i);
        cr_assert(trim_inject_batch_has(&b, 163));
        cr_assert_not(trim_inject_batch_has(&b, 99));
}

Test(inject_daemon, line_format)
{
        TrimInjectLine l;
        cr_assert_eq(trim_inject_line_parse("inject pid=42 result=injected how=malloc_trim tid=42 was=clock_nanosleep "
                                            "rss_before=166391808 rss_after=26959872 released=0 calls=0 "
                                            "held_before=158584832 free_before=141360560 held_after=0 free_after=0 "
                                            "arenas=3 call_usec=219455 stop_usec=5085 reason=", &l), 0);
        cr_assert_eq(l.held_before, 158584832);
        cr_assert_eq(l.free_before, 141360560);
        cr_assert_eq(l.arenas, 3);
        char buf[600];
        trim_inject_line_format(&l, buf, sizeof buf);
        cr_assert_str_eq(buf, " via=injected how=malloc_trim released=139431936 rss_before=166391808 "
                              "rss_after=26959872 call_usec=219455 stop_usec=5085 thread_was=clock_nanosleep "
                              "allocator_held=158584832 allocator_in_use=17224272 allocator_free=141360560 arenas=3");
        /* jemalloc, with its figures after the purge */
        cr_assert_eq(trim_inject_line_parse("inject pid=43 result=injected how=mallctl-purge tid=43 was=futex "
                                            "rss_before=200000000 rss_after=40000000 released=0 calls=0 "
                                            "held_before=190000000 free_before=170000000 held_after=35000000 "
                                            "free_after=15000000 arenas=0 call_usec=1000 stop_usec=2000 reason=", &l), 0);
        cr_assert_eq(l.held_after, 35000000);
        cr_assert_eq(l.free_after, 15000000);
        trim_inject_line_format(&l, buf, sizeof buf);
        cr_assert_str_eq(buf, " via=injected how=mallctl-purge released=160000000 rss_before=200000000 "
                              "rss_after=40000000 call_usec=1000 stop_usec=2000 thread_was=futex "
                              "allocator_held=190000000 allocator_in_use=20000000 allocator_free=170000000 "
                              "allocator_held_after=35000000 allocator_in_use_after=20000000 "
                              "allocator_free_after=15000000");
        cr_assert_eq(trim_inject_line_parse("inject pid=7 result=refused how=- tid=0 was=- rss_before=0 "
                                            "reason=unknown allocator (musl)", &l), 0);
        trim_inject_line_format(&l, buf, sizeof buf);
        cr_assert_str_eq(buf, " via=injected result=refused reason=\"unknown allocator (musl)\"");
        /* Truncation is safe. */
        char small[16];
        trim_inject_line_format(&l, small, sizeof small);
        cr_assert_eq(strlen(small), sizeof small - 1);
}

Test(inject_parse, heap_candidates)
{
        const char *maps = "55d0c0000000-55d0c0021000 rw-p 00000000 00:00 0 [heap]\n"
                           "7f1c38000000-7f1c3a5a1000 rw-p 00000000 00:00 0 \n"
                           "7f1c3a5a1000-7f1c3c000000 ---p 00000000 00:00 0 \n"
                           "7f1c40000000-7f1c40021000 rw-p 00000000 00:00 0 \n"
                           "7f1c44000000-7f1c44100000 rw-p 00000000 fe:01 42 /usr/lib/x86_64-linux-gnu/libc.so.6\n"
                           "7f1c48000000-7f1c50000000 rw-p 00000000 00:00 0 \n" /* 128 MiB: not a heap */
                           "7f1c54001000-7f1c54021000 rw-p 00000000 00:00 0 \n"; /* not aligned */
        uint64_t starts[4];
        cr_assert_eq(inject_heap_candidates(maps, starts, 4), 2);
        cr_assert_eq(starts[0], 0x7f1c38000000ULL);
        cr_assert_eq(starts[1], 0x7f1c40000000ULL);
        cr_assert_eq(inject_heap_candidates("garbage\n", starts, 4), 0);
        cr_assert_eq(inject_heap_candidates(maps, starts, 1), 2, "counts beyond max");
        cr_assert(inject_heap_is_first(0x7f1c38000000ULL, 0x7f1c38000020ULL, 0));
        cr_assert_not(inject_heap_is_first(0x7f1c38000000ULL, 0x7f1c38000020ULL, 0x7f1c30000000ULL),
                      "a later heap of the arena");
        cr_assert_not(inject_heap_is_first(0x7f1c38000000ULL, 0x55d0c0001000ULL, 0), "ar_ptr elsewhere");
}

/* The report lines the daemon parses are the ones memwardenctl prints: one real round trip. */
Test(inject_daemon, report_line_from_memwardenctl)
{
        const char *argv[] = { TARGET, "read", NULL };
        Proc p = spawn(argv, NULL);
        expect_ready(&p);
        char out[4096], args[128];
        snprintf(args, sizeof args, "trim --inject --report %d", (int) p.pid);
        cr_assert_eq(run_ctl(args, out, sizeof out), 0, "%s", out);
        TrimInjectLine l;
        cr_assert_eq(trim_inject_line_parse(out, &l), 0, "%s", out);
        cr_assert_eq(l.pid, p.pid);
        cr_assert_str_eq(l.result, "injected");
        cr_assert_str_eq(l.was, "read");
        cr_assert_gt(l.rss_before, 0);
        cr_assert_eq(write(p.in, "ok\n", 3), 3);
        char line[64];
        cr_assert(next_line(&p, line, sizeof line));
        cr_assert_str_eq(line, "read ok");
        cr_assert_eq(finish(&p), 0);
}

/* Samples TracerPid of two targets from a child process until told to stop: how often each was traced,
 * by whom, and how often both were at once. */
typedef struct TraceWatch {
        volatile int stop;
        unsigned seen_a, seen_b, both;
        pid_t tracer_a, tracer_b;
} TraceWatch;

static pid_t trace_watch(pid_t a, pid_t b, TraceWatch *w)
{
        pid_t k = fork();
        cr_assert_geq(k, 0);
        if (k == 0) {
                prctl(PR_SET_PDEATHSIG, SIGKILL);
                while (!w->stop) {
                        pid_t ta = tracer_of(a), tb = tracer_of(b);
                        if (ta > 0) {
                                w->seen_a++;
                                w->tracer_a = ta;
                        }
                        if (tb > 0) {
                                w->seen_b++;
                                w->tracer_b = tb;
                        }
                        w->both += ta > 0 && tb > 0;
                        usleep(200);
                }
                _exit(0);
        }
        return k;
}

/* The daemon's path (trim_inject_start(): the helper, its lines read in an sd-event loop): two processes
 * of one cgroup are injected by one helper, one after the other, never both at once (their TracerPid
 * sampled all along); a second trim while that helper runs starts none (-EBUSY: one helper per cgroup,
 * the rung says TRIM_INJECT_BUSY=1); a trim within the cooldown queues neither again (the rung says
 * TRIM_INJECT_COOLING=2); after the cooldown they are queued again. */
Test(inject_daemon, one_helper_per_cgroup_and_cooldown, .timeout = 120)
{
        const char *argv[] = { FRAG, "--mib", "60", "--threads", "1", "--stdin", NULL };
        const char *argv_read[] = { TARGET, "read", NULL };
        char line[256];
        setenv("MEMWARDEN_INJECT_HELPER", getenv("MEMWARDENCTL") ?: BUILD_ROOT "/ctl/memwardenctl", 1);
        Proc a = spawn(argv, NULL), b = spawn(argv, NULL), c = spawn(argv_read, NULL);
        cr_assert(next_line(&a, line, sizeof line));
        cr_assert(next_line(&b, line, sizeof line));
        expect_ready(&c);
        usleep(50000);

        CgroupRoot root = { .root_fd = -EBADF, .proc_fd = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC) };
        cr_assert_geq(root.proc_fd, 0);
        sd_event *e = NULL;
        cr_assert_geq(sd_event_new(&e), 0);
        Manager m = { .event = e, .root = &root };
        InjectRun *run = NULL; /* the guard's */
        const char *cg = "/test.slice/app.service";
        usec_t now = now_usec(CLOCK_MONOTONIC);

        TrimInjectBatch first = {};
        cr_assert(trim_inject_batch_add(&first, &m, a.pid, 60 << 20, now));
        cr_assert(trim_inject_batch_add(&first, &m, b.pid, 60 << 20, now));
        TraceWatch *w = mmap(NULL, sizeof *w, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        cr_assert(w != MAP_FAILED);
        *w = (TraceWatch) {};
        pid_t watcher = trace_watch(a.pid, b.pid, w);
        cr_assert_eq(trim_inject_start(&m, NULL, cg, &run, 10 * USEC_PER_SEC, &first), 1);
        cr_assert(trim_inject_running(run, NULL));

        /* A second trim while the helper runs: c is new, a is cooling; the cgroup's helper is busy. */
        TrimInjectBatch second = {};
        cr_assert(trim_inject_batch_add(&second, &m, c.pid, 1 << 20, now));
        cr_assert_not(trim_inject_batch_add(&second, &m, a.pid, 60 << 20, now));
        cr_assert_eq(second.cooling, 1);
        cr_assert_eq(trim_inject_start(&m, NULL, cg, &run, 10 * USEC_PER_SEC, &second), -EBUSY);

        double t0 = mono_s();
        while (trim_inject_running(run, NULL) && mono_s() - t0 < 60)
                cr_assert_geq(sd_event_run(e, USEC_PER_SEC), 0);
        w->stop = 1;
        cr_assert_eq(waitpid(watcher, NULL, 0), watcher);
        cr_assert_not(trim_inject_running(run, NULL), "the helper ended");

        TrimInjectLine la, lb, lc;
        cr_assert(trim_inject_result(run, a.pid, &la));
        cr_assert(trim_inject_result(run, b.pid, &lb));
        cr_assert_str_eq(la.result, "injected", "%s", la.reason);
        cr_assert_str_eq(lb.result, "injected", "%s", lb.reason);
        cr_assert_not(trim_inject_result(run, c.pid, &lc), "the busy trim queued nothing");
        cr_log_info("one helper: a traced in %u samples, b in %u, both at once in %u", w->seen_a, w->seen_b, w->both);
        cr_assert(w->seen_a > 0 && w->seen_b > 0, "each seen under injection: %u, %u", w->seen_a, w->seen_b);
        cr_assert_eq(w->both, 0, "never both at once");
        cr_assert_eq(w->tracer_a, w->tracer_b, "one helper for the cgroup");
        cr_assert_eq(tracer_of(c.pid), 0);

        /* Within the cooldown: neither queued again, both counted as cooling. */
        usec_t after = now_usec(CLOCK_MONOTONIC);
        TrimInjectBatch third = {};
        cr_assert_not(trim_inject_batch_add(&third, &m, a.pid, 60 << 20, after + 30 * USEC_PER_SEC));
        cr_assert_not(trim_inject_batch_add(&third, &m, b.pid, 60 << 20, after + 30 * USEC_PER_SEC));
        cr_assert_eq(third.cooling, 2);
        cr_assert_eq(trim_inject_start(&m, NULL, cg, &run, 10 * USEC_PER_SEC, &third), 0, "nothing to start");
        /* Past it: queued again. */
        TrimInjectBatch fourth = {};
        cr_assert(trim_inject_batch_add(&fourth, &m, a.pid, 60 << 20, after + TRIM_INJECT_COOLDOWN_USEC + USEC_PER_SEC));
        cr_assert_eq(fourth.cooling, 0);

        cr_assert_eq(write(c.in, "x\n", 2), 2);
        cr_assert(next_line(&c, line, sizeof line));
        cr_assert_str_eq(line, "read x");
        cr_assert_eq(finish(&a), 0);
        cr_assert_eq(finish(&b), 0);
        cr_assert_eq(finish(&c), 0);
        trim_inject_run_drop(&run);
        trim_inject_manager_free(&m);
        sd_event_unref(e);
        close(root.proc_fd);
        munmap(w, sizeof *w);
}
