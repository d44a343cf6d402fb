/* SPDX-License-Identifier: MIT */
/* cgroup/cgroup-inject.c: the injected allocator call, see the header and docs/inject.md.
 *
 * One process: pin it (pidfd, start time), refuse what is unsafe (traced, seccomp, Yama 3, exiting,
 * static, unknown allocator, no symbol), then for up to max_threads threads, best first
 * (inject_thread_rank()): PTRACE_SEIZE + PTRACE_INTERRUPT, unwind the whole stack with elfutils' libdw and
 * leave the thread (PTRACE_DETACH: the kernel restarts its call itself) if any frame is in the allocator
 * or the call it sleeps in cannot be resumed through a frame. On the chosen thread:
 *   1. write below its red zone: its xsave image, the data (strings, mallinfo2 buffers), and an
 *      rt_sigframe holding its registers (adjusted for the restart of its system call) and signal mask,
 *      whose return address is libc's own __restore_rt;
 *   2. set the registers for the call (rip = the function, rsp = the frame), then block its signals
 *      (rt_sigreturn restores its mask: signals that arrive meanwhile stay pending and are delivered then);
 *   3. let it run with PTRACE_SYSCALL, counting the calls that give memory back, until the rt_sigreturn
 *      at our frame (rip just after __restore_rt's syscall, rsp = frame + 8). To chain a second call
 *      (mallinfo2 after the trim) the registers are set anew at that stop and the sigreturn skipped;
 *      after the last call the thread is detached right there and executes rt_sigreturn itself.
 * From step 2 on, the thread never needs us: if memwardend dies, the kernel detaches it (and drops
 * syscall tracing), the call finishes and returns into __restore_rt, which restores everything. */
#include <dirent.h>
#include <elfutils/libdwfl.h>
#include <errno.h>
#include <poll.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>
#include <elf.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <stdarg.h>
#include <sched.h>
#include <linux/kcmp.h>

#include "cgroup-act.h"
#include "cgroup-inject.h"
#include "cgroup-inject-seccomp.h"
#include "cgroup-restart.h"
#include "util/fileio.h"

#define NT_X86_XSTATE_ 0x202
#define XSTATE_BUF_MAX (64 * 1024)
#define FRAMES_MAX 256
#define STACK_HEADROOM (256 * 1024) /* what the call itself may use below the frame */
/* The data area: two struct mallinfo2 (0, 80), the purge's name (160), jemalloc's stats names and buffers
 * (JE_*). */
#define DATA_SIZE 320
#define JE_EPOCH 192          /* "epoch" */
#define JE_ALLOCATED 200      /* "stats.allocated" */
#define JE_RESIDENT 224       /* "stats.resident" */
#define JE_ONE 248            /* uint64_t 1: written to "epoch" (refresh) */
#define JE_OUT 256            /* size_t allocated, resident */
#define JE_LEN 272            /* size_t 8, 8: their lengths */

static usec_t now_mono(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (usec_t) ts.tv_sec * USEC_PER_SEC + (usec_t) ts.tv_nsec / NSEC_PER_USEC;
}

static int proc_read(pid_t pid, const char *what, char **ret)
{
        char path[128];
        snprintf(path, sizeof path, "/proc/%d/%s", (int) pid, what);
        size_t size;
        int r = read_full_file_at(AT_FDCWD, path, 64 * 1024 * 1024, ret, &size);
        return r == -ENOENT ? -ESRCH : r;
}

static void set_reason(InjectResult *r, const char *fmt, ...) _printf_(2, 3);
static void set_reason(InjectResult *r, const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(r->reason, sizeof r->reason, fmt, ap);
        va_end(ap);
}

/* The libc (or jemalloc) file as the target sees it: through /proc/PID/root, so containers work. */
static int elf_load(pid_t pid, const char *path, InjectElf *ret)
{
        char p[700];
        snprintf(p, sizeof p, "/proc/%d/root%s", (int) pid, path);
        _cleanup_close_ int fd = open(p, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        struct stat st;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (st.st_size <= 0 || st.st_size > (off_t) 512 * 1024 * 1024)
                return -EINVAL;
        void *m = mmap(NULL, (size_t) st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (m == MAP_FAILED)
                return -errno;
        int r = inject_elf_parse(m, (size_t) st.st_size, ret);
        munmap(m, (size_t) st.st_size);
        return r;
}

typedef struct Target {
        pid_t pid;
        InjectMaps maps;
        InjectElf libc, jemalloc;
        uint64_t libc_bias, jemalloc_bias;
        char *maps_text;
        int mem_fd;       /* /proc/PID/mem, opened before the checks: it stays bound to the memory image they
                           * saw (an execve() replaces it; the fd then reads nothing and writes nowhere) */
        bool execed;      /* found replaced by an execve() mid-injection: nothing more is tried */
        bool refused;     /* a thread's seccomp filter refuses the call's system calls: no other thread is tried */
} Target;

/* Whether the process still has the memory image target_check() looked at. An execve() replaces the
 * process's mm; the old one, held by t->mem_fd, has no users left and reads return 0 (mem_rw(): no
 * mmget_not_zero). Without a mem fd this cannot be known: false. */
static bool target_execed(const Target *t)
{
        uint8_t b;
        if (t->mem_fd < 0 || !t->maps.libc.base)
                return false;
        return pread(t->mem_fd, &b, 1, (off_t) t->maps.libc.base) != 1;
}

/* Calls cb with each thread of pid (its TID, from /proc/PID/task) until cb returns nonzero. Returns that
 * value, 0 when every thread was visited, -ESRCH when the process is gone, negative errno. */
typedef int (*task_cb_t)(pid_t pid, pid_t tid, void *userdata);

static int task_foreach(pid_t pid, task_cb_t cb, void *userdata)
{
        char path[64];
        snprintf(path, sizeof path, "/proc/%d/task", (int) pid);
        _cleanup_closedir_ DIR *d = opendir(path);
        if (!d)
                return errno == ENOENT ? -ESRCH : -errno;
        struct dirent *de;
        while ((de = readdir(d))) {
                pid_t tid = (pid_t) atoi(de->d_name);
                if (tid <= 0)
                        continue;
                int r = cb(pid, tid, userdata);
                if (r != 0)
                        return r;
        }
        return 0;
}

static int task_in_exec(pid_t pid, pid_t tid, void *userdata)
{
        char what[64];
        _cleanup_free_ char *sc = NULL;
        snprintf(what, sizeof what, "task/%d/syscall", (int) tid);
        if (proc_read(pid, what, &sc) >= 0 && inject_thread_in_exec(sc)) {
                *(pid_t *) userdata = tid;
                return 1;
        }
        return 0;
}

/* A thread inside execve(): 1 and its TID, 0 none, negative errno. */
static int process_in_exec(pid_t pid, pid_t *ret_tid)
{
        return task_foreach(pid, task_in_exec, ret_tid);
}

/* Whether pid shares its memory image with another process: its parent (pid is a vfork child, or made with
 * CLONE_VM, before its execve) or one of its threads' children (a vfork or posix_spawn in flight). Then the
 * call would run in memory another process uses too, and an execve() of the sharer would go unseen: its old
 * image stays alive through the other one (target_execed() reads it). 1 with *ret_other (its parent) or 2
 * (a child), 0, negative errno (a comparison that fails for another reason than a process gone). kcmp(2) is
 * in @system-service. */
static pid_t getppid_of(pid_t tid);

/* A child of thread tid that shares pid's memory: 2 with its PID in *userdata, 0 none, negative errno. */
static int task_child_shares_memory(pid_t pid, pid_t tid, void *userdata)
{
        _cleanup_free_ char *children = NULL;
        char what[64];
        snprintf(what, sizeof what, "task/%d/children", (int) tid);
        if (proc_read(pid, what, &children) < 0)
                return 0; /* the thread is gone */
        for (char *p = children; *p;) {
                char *end;
                long c = strtol(p, &end, 10);
                if (end == p)
                        break;
                p = end;
                long k = syscall(SYS_kcmp, pid, (pid_t) c, KCMP_VM, 0, 0);
                if (k == 0) {
                        *(pid_t *) userdata = (pid_t) c;
                        return 2;
                }
                if (k < 0 && errno != ESRCH)
                        return -errno;
        }
        return 0;
}

static int shares_memory(pid_t pid, pid_t *ret_other)
{
        pid_t parent = getppid_of(pid);
        if (parent > 0 && parent != pid) {
                long k = syscall(SYS_kcmp, pid, parent, KCMP_VM, 0, 0);
                if (k == 0) {
                        *ret_other = parent;
                        return 1;
                }
                if (k < 0 && errno != ESRCH)
                        return -errno;
        }
        return task_foreach(pid, task_child_shares_memory, ret_other);
}

/* Refuses (0, with the reason) a process that shares its memory; 1 when it does not; negative errno. */
static int check_not_shared(pid_t pid, InjectResult *res)
{
        pid_t other = 0;
        int r = shares_memory(pid, &other);
        if (r < 0) {
                set_reason(res, "cannot compare its memory with its parent's and children's (kcmp: %s)", strerror(-r));
                return 0;
        }
        if (r > 0) {
                set_reason(res, "shares its memory with PID %d (%s): a vfork() or CLONE_VM child before its execve",
                           (int) other, r == 1 ? "its parent" : "its child");
                return 0;
        }
        return 1;
}

static int target_check(pid_t pid, Target *t, const char *yama_path, InjectResult *res)
{
        _cleanup_free_ char *status = NULL, *maps = NULL;
        InjectStatus st;
        int r;

        r = proc_read(pid, "status", &status);
        if (r < 0)
                return r;
        if (inject_status_parse(status, &st) < 0)
                return -EINVAL;
        res->rss_before = st.vm_rss_bytes;
        if (st.state == 'Z' || st.state == 'X') {
                set_reason(res, "the process is exiting");
                return 0;
        }
        if (st.tracer_pid != 0) {
                set_reason(res, "already traced by PID %d (TracerPid in /proc/%d/status)", (int) st.tracer_pid,
                           (int) pid);
                return 0;
        }
        if (st.seccomp == 1) {
                set_reason(res, "seccomp strict mode (Seccomp: 1 in /proc/%d/status): the call's madvise would "
                                "kill it", (int) pid);
                return 0;
        }
        /* Seccomp 2: each thread's filters are read and evaluated once it is stopped (seccomp_check()). */
        r = inject_yama_scope(yama_path);
        if (r >= 3) {
                set_reason(res, "Yama ptrace_scope is %d (%s): no process may be traced", r,
                           yama_path ?: INJECT_YAMA_PATH);
                return 0;
        }
        pid_t exec_tid = 0;
        r = process_in_exec(pid, &exec_tid);
        if (r < 0)
                return r;
        if (r > 0) {
                set_reason(res, "in the middle of exec (thread %d is in execve): its image is being replaced",
                           (int) exec_tid);
                return 0;
        }

        r = proc_read(pid, "maps", &maps);
        if (r < 0)
                return r;
        if (inject_maps_parse(maps, &t->maps) < 0) {
                set_reason(res, "the process has no memory maps (a kernel thread or exiting)");
                return 0;
        }
        res->allocator = t->maps.allocator;
        switch (t->maps.allocator) {
        case INJECT_ALLOCATOR_STATIC:
                set_reason(res, "a static binary (no shared libc mapped): no allocator entry to call");
                return 0;
        case INJECT_ALLOCATOR_UNKNOWN:
                set_reason(res, "unknown allocator (%s): only glibc and jemalloc are called",
                           t->maps.other_allocator);
                return 0;
        default:
                break;
        }
        if (!t->maps.libc.base) {
                set_reason(res, "libc's first mapping is missing from /proc/%d/maps", (int) pid);
                return 0;
        }
        r = elf_load(pid, t->maps.libc.path, &t->libc);
        if (r < 0) {
                set_reason(res, "cannot read %s of the process: %s", t->maps.libc.path, strerror(-r));
                return 0;
        }
        t->libc_bias = t->maps.libc.base - t->libc.first_load_vaddr;
        if (t->libc.restorer_matches != 1) {
                set_reason(res, "libc's rt_sigreturn trampoline not found exactly once (%u matches)",
                           t->libc.restorer_matches);
                return 0;
        }
        if (t->maps.allocator == INJECT_ALLOCATOR_GLIBC && !t->libc.malloc_trim) {
                set_reason(res, "libc %s has no malloc_trim symbol", t->maps.libc.path);
                return 0;
        }
        if (t->maps.allocator == INJECT_ALLOCATOR_JEMALLOC) {
                r = elf_load(pid, t->maps.jemalloc.path, &t->jemalloc);
                if (r < 0 || !t->jemalloc.mallctl || !t->maps.jemalloc.base) {
                        set_reason(res, "%s has no mallctl symbol", t->maps.jemalloc.path);
                        return 0;
                }
                t->jemalloc_bias = t->maps.jemalloc.base - t->jemalloc.first_load_vaddr;
        }
        t->maps_text = TAKE_PTR(maps);
        return 1;
}

int inject_yama_scope(const char *path)
{
        _cleanup_free_ char *text = NULL;
        int r = read_full_file_at(AT_FDCWD, path ?: INJECT_YAMA_PATH, 64, &text, NULL);
        if (r == -ENOENT)
                return 0; /* no Yama */
        if (r < 0)
                return r;
        char *end;
        errno = 0;
        long v = strtol(text, &end, 10);
        if (errno || end == text || v < 0 || v > 3)
                return -EINVAL;
        return (int) v;
}

int inject_syscalls_allowed(void)
{
        /* Not our tracee: ESRCH when ptrace itself is allowed. */
        errno = 0;
        long v = ptrace(PTRACE_PEEKUSER, getpid(), 0, 0);
        if (v == -1 && (errno == EPERM || errno == ENOSYS || errno == EACCES))
                return 0;
        if (process_vm_readv(getpid(), NULL, 0, NULL, 0, 0) < 0 &&
            (errno == EPERM || errno == ENOSYS || errno == EACCES))
                return 0;
        return 1;
}

/* ---------------------------------------------------------------------------------------------------- */
/* ptrace */

/* Whether tid leads its thread group (Tgid in /proc/TID/status); false when unreadable. */
static bool is_leader(pid_t tid)
{
        _cleanup_free_ char *status = NULL;
        char path[64];
        snprintf(path, sizeof path, "/proc/%d/status", (int) tid);
        if (read_full_file_at(AT_FDCWD, path, 16384, &status, NULL) < 0)
                return false;
        const char *p = strstr(status, "\nTgid:");
        return p && atoi(p + 6) == tid;
}

static pid_t getppid_of(pid_t tid)
{
        _cleanup_free_ char *stat = NULL;
        char path[64];
        snprintf(path, sizeof path, "/proc/%d/stat", (int) tid);
        if (read_full_file_at(AT_FDCWD, path, 4096, &stat, NULL) < 0)
                return -1;
        const char *p = strrchr(stat, ')');
        int ppid;
        return p && sscanf(p + 1, " %*c %d", &ppid) == 1 ? (pid_t) ppid : -1;
}

/* Waits for a stop of tid. Returns 0 and the status, or -ETIMEDOUT, -ESRCH (exited). An exit is only
 * peeked at when the target is our own child (tests, memwardenctl's children): its status is its
 * parent's to collect; a non-child is reaped, which passes the exit on to its real parent. Another thread
 * of the group is always reaped by us, its tracer: until then it stays a zombie, and an execve() of
 * another thread waits for it (de_thread()). */
static int wait_stop(pid_t tid, usec_t deadline, int *ret_status)
{
        for (unsigned i = 0;; i++) {
                siginfo_t si = {};
                if (waitid(P_PID, (id_t) tid, &si, WEXITED | WSTOPPED | WNOHANG | WNOWAIT | __WALL) < 0)
                        return errno == ECHILD ? -ESRCH : -errno;
                if (si.si_pid == tid) {
                        bool exited = si.si_code == CLD_EXITED || si.si_code == CLD_KILLED ||
                                      si.si_code == CLD_DUMPED;
                        if (exited && getppid_of(tid) == getpid() && is_leader(tid))
                                return -ESRCH;
                        int status;
                        pid_t w = waitpid(tid, &status, __WALL | WNOHANG);
                        if (w < 0)
                                return errno == ECHILD ? -ESRCH : -errno;
                        if (w == tid) {
                                *ret_status = status;
                                if (WIFEXITED(status) || WIFSIGNALED(status))
                                        return -ESRCH;
                                return 0;
                        }
                }
                if (now_mono() >= deadline)
                        return -ETIMEDOUT;
                /* Spin briefly first: most stops come within microseconds. */
                if (i > 50)
                        nanosleep(&(struct timespec) { .tv_nsec = i > 2000 ? 1000000 : 50000 }, NULL);
                else
                        sched_yield();
        }
}

/* Stops a seized thread with PTRACE_INTERRUPT. Returns 0 once it is in a ptrace stop from which it may be
 * detached: the interrupt's PTRACE_EVENT_STOP or, when it runs under PTRACE_SYSCALL, a syscall stop (an
 * interrupted sleeping call reports syscall-exit-stop instead, ptrace(2)). Signals on their way are passed
 * on and the wait goes on. */
static int interrupt_stop(pid_t tid, usec_t deadline)
{
        if (ptrace(PTRACE_INTERRUPT, tid, 0, 0) < 0)
                return -errno;
        for (;;) {
                int status, r = wait_stop(tid, deadline, &status);
                if (r < 0)
                        return r;
                if (!WIFSTOPPED(status))
                        return -ESRCH;
                int sig = WSTOPSIG(status);
                if ((status >> 16) == PTRACE_EVENT_STOP || sig == (SIGTRAP | 0x80))
                        return 0;
                if ((status >> 16) != 0)
                        sig = 0; /* another ptrace event, not a signal */
                /* A signal-delivery stop came first: deliver it; the interrupt stays pending. */
                if (ptrace(PTRACE_CONT, tid, 0, (void *) (long) sig) < 0)
                        return -errno;
        }
}

/* A stopped thread's seccomp state (its own: filters are per thread) against the system calls of the
 * call (inject_syscalls_x86_64): 1 when none is refused, 0 with the reason when one is (the process is
 * then refused: t->refused), negative errno. Filters are read with PTRACE_SECCOMP_GET_FILTER, which needs
 * CAP_SYS_ADMIN and a caller that has no seccomp filter of its own (kernel/seccomp.c). */
static int seccomp_check(Target *t, pid_t tid, InjectResult *res)
{
        _cleanup_free_ char *status = NULL;
        char what[64];
        InjectStatus st;
        snprintf(what, sizeof what, "task/%d/status", (int) tid);
        int r = proc_read(t->pid, what, &status);
        if (r < 0)
                return r;
        if (inject_status_parse(status, &st) < 0)
                return -EINVAL;
        if (st.seccomp == 1) {
                set_reason(res, "seccomp strict mode (Seccomp: 1 in /proc/%d/task/%d/status): the call's madvise "
                                "would kill it", (int) t->pid, (int) tid);
                t->refused = true;
                return 0;
        }
        if (st.seccomp != 2)
                return 1;
        for (unsigned i = 0; i < 1024; i++) {
                long n = ptrace(PTRACE_SECCOMP_GET_FILTER, tid, (void *) (unsigned long) i, NULL);
                if (n < 0 && errno == ENOENT && i > 0)
                        return 1; /* every filter read and accepted */
                if (n <= 0 || n > BPF_MAXINSNS) {
                        if (n < 0 && errno == EACCES)
                                set_reason(res, "seccomp filter (Seccomp: 2 in /proc/%d/task/%d/status) that cannot "
                                                "be read: reading it needs CAP_SYS_ADMIN and an injector without a "
                                                "seccomp filter of its own (docs/inject.md)", (int) t->pid, (int) tid);
                        else
                                set_reason(res, "seccomp filter %u of thread %d cannot be read: %s", i, (int) tid,
                                           n < 0 ? strerror(errno) : "bad length");
                        t->refused = true;
                        return 0;
                }
                _cleanup_free_ struct sock_filter *prog = calloc((size_t) n, sizeof *prog);
                if (!prog)
                        return -ENOMEM;
                if (ptrace(PTRACE_SECCOMP_GET_FILTER, tid, (void *) (unsigned long) i, prog) != n)
                        return -errno ?: -EIO;
                const InjectSyscall *call;
                unsigned actions;
                r = inject_seccomp_check(prog, (size_t) n, AUDIT_ARCH_X86_64, &call, &actions);
                if (r < 0) {
                        set_reason(res, "seccomp filter %u of thread %d (%ld instructions) cannot be evaluated: %s", i,
                                   (int) tid, n, r == -E2BIG ? "too many paths" : strerror(-r));
                        t->refused = true;
                        return 0;
                }
                if (r == 0) {
                        const char *a = inject_seccomp_action_name(actions);
                        set_reason(res, "seccomp filter %u of thread %d returns %s for %s (system call %d) made by the "
                                        "call: it %s", i, (int) tid, a, call->name, call->nr,
                                   actions & (INJECT_SECCOMP_KILL_PROCESS | INJECT_SECCOMP_KILL_THREAD) ?
                                           "would kill the process" :
                                   actions & INJECT_SECCOMP_TRAP ? "would send it SIGSYS" :
                                   actions & INJECT_SECCOMP_ERRNO ? "would fail" :
                                                                    "would be handed to another process");
                        t->refused = true;
                        return 0;
                }
        }
        set_reason(res, "more than 1024 seccomp filters on thread %d", (int) tid);
        t->refused = true;
        return 0;
}

/* Best effort after an error with the thread seized: stop it and detach. Without this a seized thread
 * would stay in a ptrace stop for as long as this process lives. */
static void detach_anyway(pid_t tid)
{
        if (interrupt_stop(tid, now_mono() + 5 * USEC_PER_SEC) >= 0)
                (void) ptrace(PTRACE_DETACH, tid, 0, 0);
}

typedef struct Unwind {
        Dwfl *dwfl;
        InjectFrame frames[FRAMES_MAX];
        char *names[FRAMES_MAX];
        size_t n;
        const char *last_name;
} Unwind;

static int frame_cb(Dwfl_Frame *state, void *arg)
{
        Unwind *u = arg;
        Dwarf_Addr pc;
        bool activation;
        if (!dwfl_frame_pc(state, &pc, &activation))
                return DWARF_CB_ABORT;
        if (!activation && pc > 0)
                pc--; /* a return address: look up the call */
        const char *name = NULL;
        Dwfl_Module *mod = dwfl_addrmodule(u->dwfl, pc);
        if (mod) {
                GElf_Off off;
                GElf_Sym sym;
                name = dwfl_module_addrinfo(mod, pc, &off, &sym, NULL, NULL, NULL);
                /* Only a symbol that contains pc names it; else it is the nearest exported one before. */
                if (name && sym.st_size && off >= sym.st_size)
                        name = NULL;
        }
        if (u->n >= FRAMES_MAX)
                return DWARF_CB_ABORT;
        u->names[u->n] = name ? strdup(name) : NULL;
        u->frames[u->n] = (InjectFrame) { .pc = pc, .name = u->names[u->n] };
        u->n++;
        return DWARF_CB_OK;
}

static bool outermost(const char *name)
{
        static const char *const ends[] = { "_start", "clone", "clone3", "__clone", "__clone3",
                                            "start_thread", "__libc_start_main", "__libc_start_call_main" };
        for (size_t i = 0; name && i < ELEMENTSOF(ends); i++)
                if (streq(name, ends[i]))
                        return true;
        return false;
}

/* 1 = clean, 0 = not (reason), negative errno. */
static int warm_module(Dwfl_Module *mod, void **userdata, const char *name, Dwarf_Addr start, void *arg)
{
        Dwarf_Addr bias;
        (void) dwfl_module_getelf(mod, &bias);
        (void) dwfl_module_eh_cfi(mod, &bias);
        (void) dwfl_module_getsymtab(mod);
        return DWARF_CB_OK;
}

/* The unwinder for pid: its modules, their ELF files, CFI and symbol tables are read here, before any
 * thread is stopped (under TCG that took seconds, all of it while the target thread stood still).
 * dwfl_linux_proc_attach() with assume_ptrace_stopped reads registers only when a thread is unwound.
 * Returns 1, or 0 with reason. */
static int dwfl_prepare(pid_t pid, Dwfl **ret, char *reason, size_t reason_size)
{
        static const Dwfl_Callbacks cb = {
                .find_elf = dwfl_linux_proc_find_elf,
                .find_debuginfo = dwfl_standard_find_debuginfo,
        };
        Dwfl *d = dwfl_begin(&cb);
        if (!d)
                return -ENOMEM;
        if (dwfl_linux_proc_report(d, pid) != 0 || dwfl_report_end(d, NULL, NULL) != 0 ||
            dwfl_linux_proc_attach(d, pid, /* assume_ptrace_stopped= */ true) != 0) {
                dwfl_end(d);
                snprintf(reason, reason_size, "cannot read the process for unwinding: %s", dwfl_errmsg(-1));
                return 0;
        }
        (void) dwfl_getmodules(d, warm_module, NULL, 0);
        *ret = d;
        return 1;
}

/* 1 = clean, 0 = not (reason), negative errno. */
static int stack_check(Target *t, pid_t tid, Dwfl **dwflp, char *reason, size_t reason_size)
{
        if (!*dwflp) {
                int r = dwfl_prepare(t->pid, dwflp, reason, reason_size);
                if (r <= 0)
                        return r;
        }
        Unwind u = { .dwfl = *dwflp };
        int r = dwfl_getthread_frames(*dwflp, tid, frame_cb, &u);
        bool complete = r == 0 || (u.n > 0 && outermost(u.frames[u.n - 1].name));
        int ok;
        if (u.n == 0 || !complete) {
                snprintf(reason, reason_size, "its stack could not be unwound to its start (%zu frames: %s)", u.n,
                         dwfl_errmsg(-1));
                ok = 0;
        } else
                ok = inject_stack_is_clean(u.frames, u.n, &t->maps, &t->libc, t->libc_bias, reason, reason_size);
        for (size_t i = 0; i < u.n; i++)
                free(u.names[i]);
        return ok;
}

/* Through t->mem_fd when open: after an execve() nothing reaches the new image. */
static int mem_write(const Target *t, uint64_t addr, const void *buf, size_t size)
{
        if (t->mem_fd >= 0) {
                ssize_t n = pwrite(t->mem_fd, buf, size, (off_t) addr);
                if (n < 0)
                        return -errno;
                return (size_t) n == size ? 0 : -ESRCH;
        }
        pid_t pid = t->pid;
        struct iovec local = { .iov_base = (void *) buf, .iov_len = size };
        struct iovec remote = { .iov_base = (void *) (uintptr_t) addr, .iov_len = size };
        ssize_t n = process_vm_writev(pid, &local, 1, &remote, 1, 0);
        if (n < 0)
                return -errno;
        return (size_t) n == size ? 0 : -EIO;
}

static int mem_read(const Target *t, uint64_t addr, void *buf, size_t size)
{
        if (t->mem_fd >= 0) {
                ssize_t n = pread(t->mem_fd, buf, size, (off_t) addr);
                if (n < 0)
                        return -errno;
                return (size_t) n == size ? 0 : -ESRCH;
        }
        pid_t pid = t->pid;
        struct iovec local = { .iov_base = buf, .iov_len = size };
        struct iovec remote = { .iov_base = (void *) (uintptr_t) addr, .iov_len = size };
        ssize_t n = process_vm_readv(pid, &local, 1, &remote, 1, 0);
        if (n < 0)
                return -errno;
        return (size_t) n == size ? 0 : -EIO;
}

static const char *syscall_name(long nr)
{
        switch (nr) {
        case -1: return "running";
        case SYS_read: return "read";
        case SYS_readv: return "readv";
        case SYS_recvfrom: return "recvfrom";
        case SYS_recvmsg: return "recvmsg";
        case SYS_accept: return "accept";
        case SYS_accept4: return "accept4";
        case SYS_epoll_wait: return "epoll_wait";
        case SYS_epoll_pwait: return "epoll_pwait";
        case SYS_poll: return "poll";
        case SYS_ppoll: return "ppoll";
        case SYS_select: return "select";
        case SYS_pselect6: return "pselect6";
        case SYS_futex: return "futex";
        case SYS_nanosleep: return "nanosleep";
        case SYS_clock_nanosleep: return "clock_nanosleep";
        case SYS_wait4: return "wait4";
        case SYS_waitid: return "waitid";
        case SYS_pause: return "pause";
        default: return "a system call";
        }
}

/* SigBlk of one thread, from /proc/PID/task/TID/status. */
static int thread_sigblk(pid_t pid, pid_t tid, uint64_t *ret)
{
        char what[64];
        _cleanup_free_ char *buf = NULL;
        InjectStatus st;
        snprintf(what, sizeof what, "task/%d/status", (int) tid);
        int r = proc_read(pid, what, &buf);
        if (r < 0)
                return r;
        if (inject_status_parse(buf, &st) < 0 || !st.have_sigblk)
                return -EINVAL;
        if (st.state == 'Z' || st.state == 'X')
                return -ESRCH;
        *ret = st.sigblk;
        return 0;
}

/* Runs the last call without syscall stops and waits for its end, which /proc shows: the rt_sigreturn at
 * the frame gives the thread its own signal mask back, so its SigBlk leaves call_blk (the mask set for the
 * call, which differs from the thread's own: checked by the caller). Then stops the thread once more to
 * detach it: that stop interrupts whatever it sleeps in by then, which resumes as after any ptrace stop
 * (-ERESTART*: the kernel restarts it; an epoll_wait(-1) that returned -EINTR is restarted here, as the
 * frame does). Returns 1 done, 0 timed out (detached mid-call), negative errno. */
static int watch_call(pid_t pid, pid_t tid, uint64_t call_blk, usec_t deadline, InjectResult *res)
{
        usec_t started = now_mono(), pause_usec = 50;
        int r;

        if (ptrace(PTRACE_CONT, tid, 0, 0) < 0)
                return -errno;
        for (;;) {
                /* Stops meanwhile: a synchronous fault of the call (passed on), a group stop. */
                int status;
                r = wait_stop(tid, 0, &status);
                if (r == 0) {
                        int sig = WSTOPSIG(status);
                        if ((status >> 16) != 0 || sig == (SIGTRAP | 0x80))
                                sig = 0;
                        if (ptrace(PTRACE_CONT, tid, 0, (void *) (long) sig) < 0)
                                return -errno;
                        continue;
                }
                if (r != -ETIMEDOUT)
                        return r;
                uint64_t blk;
                r = thread_sigblk(pid, tid, &blk);
                if (r < 0)
                        return r == -ENOENT ? -ESRCH : r;
                if (blk != call_blk)
                        break; /* returned through its frame */
                if (now_mono() >= deadline) {
                        res->timed_out = true;
                        res->call_usec += now_mono() - started;
                        detach_anyway(tid);
                        return 0;
                }
                nanosleep(&(struct timespec) { .tv_nsec = (long) pause_usec * 1000 }, NULL);
                pause_usec = MIN(pause_usec * 2, (usec_t) 2000);
        }
        res->call_usec += now_mono() - started;

        r = interrupt_stop(tid, now_mono() + 5 * USEC_PER_SEC);
        if (r < 0)
                return r == -ETIMEDOUT ? 0 : r; /* released when this tracer exits */
        struct user_regs_struct regs;
        if (ptrace(PTRACE_GETREGS, tid, 0, &regs) >= 0 && (long) regs.rax == -EINTR && regs.cs == 0x33) {
                const char *why = NULL;
                if (inject_resume_classify(&regs, &why) == INJECT_RESUME_RESTART) {
                        regs.rax = regs.orig_rax;
                        regs.rip -= 2;
                        (void) ptrace(PTRACE_SETREGS, tid, 0, &regs);
                }
        }
        if (ptrace(PTRACE_DETACH, tid, 0, 0) < 0)
                return -errno;
        return 1;
}

typedef struct Call {
        uint64_t fn, arg0, arg1, arg2, arg3, arg4;
        int mallinfo_slot; /* -1, or 0/1: mallinfo2() writes into data + 80 * slot */
        bool read_jemalloc; /* after it returned: read JE_OUT (stats.allocated, stats.resident) */
} Call;

/* Runs the prepared calls on the stopped thread tid. Returns 1 when all returned, 0 on timeout (detached
 * mid-call: the call finishes on its own), negative errno (-ESRCH: the thread exited). */
static int run_calls(pid_t tid, const struct user_regs_struct *base, const InjectLayout *l, const Target *t,
                     const Call *calls, size_t n_calls, uint64_t own_mask, bool follow_syscalls, usec_t deadline,
                     InjectResult *res)
{
        uint64_t sigreturn_ip = t->libc.restorer + t->libc_bias + sizeof(uint8_t[9]);
        size_t next = 0;
        int r;

        for (;;) {
                /* Set up calls[next]: from the interrupt stop, or at the previous call's rt_sigreturn. */
                struct user_regs_struct call = *base;
                call.rip = calls[next].fn;
                call.rdi = calls[next].mallinfo_slot >= 0 ? l->data + 80 * (uint64_t) calls[next].mallinfo_slot
                                                          : calls[next].arg0;
                call.rsi = calls[next].arg1;
                call.rdx = calls[next].arg2;
                call.rcx = calls[next].arg3;
                call.r8 = calls[next].arg4;
                call.rsp = l->frame;
                call.rax = 0;
                call.orig_rax = (unsigned long) -1; /* no restart logic on our way back to user space */
                call.eflags &= ~(0x400UL | 0x100UL); /* DF clear (the ABI), no single step */
                if (ptrace(PTRACE_SETREGS, tid, 0, &call) < 0)
                        return -errno;
                if (next == 0) {
                        /* Only now block its signals: before this, a death of ours would leave the thread
                         * with its own registers and a full mask. Synchronous faults stay unblocked (a
                         * blocked one would be forced with its handler reset). */
                        sigset_t all;
                        sigfillset(&all);
                        sigdelset(&all, SIGSEGV);
                        sigdelset(&all, SIGBUS);
                        sigdelset(&all, SIGFPE);
                        sigdelset(&all, SIGILL);
                        sigdelset(&all, SIGTRAP);
                        sigdelset(&all, SIGSYS);
                        uint64_t mask;
                        memcpy(&mask, &all, sizeof mask);
                        if (ptrace(PTRACE_SETSIGMASK, tid, sizeof mask, &mask) < 0)
                                return -errno;
                }
                if (next == n_calls - 1 && !follow_syscalls) {
                        /* The mask as the kernel keeps it (it drops SIGKILL and SIGSTOP): the watch compares
                         * with it. Equal to the thread's own, the end could not be seen: follow instead. */
                        uint64_t blk;
                        r = thread_sigblk(t->pid, tid, &blk);
                        if (r < 0 && r != -EINVAL)
                                return r;
                        if (r >= 0 && blk != own_mask) {
                                res->watched = true;
                                return watch_call(t->pid, tid, blk, deadline, res);
                        }
                }
                usec_t started = now_mono();
                if (ptrace(PTRACE_SYSCALL, tid, 0, 0) < 0)
                        return -errno;

                for (;;) {
                        int status;
                        r = wait_stop(tid, deadline, &status);
                        if (r == -ETIMEDOUT) {
                                /* Mid-call: stop it and detach; the frame brings it back. */
                                res->timed_out = true;
                                res->call_usec += now_mono() - started;
                                detach_anyway(tid);
                                return 0;
                        }
                        if (r < 0)
                                return r;
                        int sig = WSTOPSIG(status);
                        if (sig == (SIGTRAP | 0x80)) {
                                struct __ptrace_syscall_info si = {};
                                if (ptrace(PTRACE_GET_SYSCALL_INFO, tid, sizeof si, &si) < 0)
                                        return -errno;
                                if (si.op == PTRACE_SYSCALL_INFO_ENTRY) {
                                        if (si.entry.nr == SYS_rt_sigreturn &&
                                            si.instruction_pointer == sigreturn_ip &&
                                            si.stack_pointer == l->frame + 8)
                                                break; /* calls[next] returned */
                                        if ((si.entry.nr == SYS_madvise &&
                                             (si.entry.args[2] == MADV_DONTNEED || si.entry.args[2] == MADV_FREE)) ||
                                            si.entry.nr == SYS_munmap) {
                                                res->release_calls++;
                                                res->released_bytes += si.entry.args[1];
                                        } else if (si.entry.nr == SYS_brk)
                                                res->release_calls++;
                                }
                                sig = 0;
                        } else if ((status >> 16) == PTRACE_EVENT_STOP)
                                sig = 0; /* a group stop or our own interrupt: keep going */
                        if (ptrace(PTRACE_SYSCALL, tid, 0, (void *) (long) sig) < 0)
                                return -errno;
                }
                res->call_usec += now_mono() - started;
                if (calls[next].mallinfo_slot >= 0) {
                        InjectMallinfo mi;
                        if (mem_read(t, l->data + 80 * (uint64_t) calls[next].mallinfo_slot, &mi, sizeof mi) >=
                            0) {
                                if (calls[next].mallinfo_slot == 0) {
                                        res->mallinfo_before = mi;
                                        res->have_mallinfo = true;
                                } else {
                                        res->mallinfo_after = mi;
                                        res->have_mallinfo_after = true;
                                }
                        }
                }
                if (calls[next].read_jemalloc) {
                        uint64_t v[2];
                        if (mem_read(t, l->data + JE_OUT, v, sizeof v) >= 0) {
                                InjectJemallocStats st = { .allocated = v[0], .resident = v[1] };
                                if (res->have_jemalloc_before) {
                                        res->jemalloc_after = st;
                                        res->have_jemalloc_after = true;
                                } else {
                                        res->jemalloc_before = st;
                                        res->have_jemalloc_before = true;
                                }
                        }
                }
                if (++next >= n_calls)
                        break;
                /* Chain: skip this rt_sigreturn (orig_rax = -1 at the entry stop) and start the next call
                 * with the same frame. */
        }
        /* At the last rt_sigreturn's entry: let the thread return through its frame on its own. */
        if (ptrace(PTRACE_DETACH, tid, 0, 0) < 0)
                return -errno;
        return 1;
}

/* Tries one thread. 1 = injected, 0 = not this thread (reason), negative errno. */
static int try_thread(Target *t, pid_t tid, const InjectOptions *o, Dwfl **dwflp, usec_t deadline,
                      InjectResult *res)
{
        struct user_regs_struct regs;
        _cleanup_free_ uint8_t *xstate = NULL;
        int r;

        if (ptrace(PTRACE_SEIZE, tid, 0, (void *) (long) PTRACE_O_TRACESYSGOOD) < 0) {
                r = -errno;
                if (r == -EPERM && !inject_syscalls_allowed())
                        set_reason(res, "ptrace refused (EPERM) by memwarden's own system call filter: the unit "
                                        "needs SystemCallFilter=ptrace process_vm_readv process_vm_writev in a "
                                        "drop-in (memwarden.policy(5), Inject=)");
                else if (r == -EPERM)
                        set_reason(res, "ptrace refused (EPERM): memwardend needs CAP_SYS_PTRACE and the target "
                                        "must not be more privileged");
                return r == -EPERM ? 0 : r;
        }
        usec_t stop_start = now_mono();
        r = interrupt_stop(tid, deadline);
        if (r < 0) {
                /* Not stopped in time (or gone): a seized thread that never stops cannot be detached;
                 * it is released when this tracer exits. */
                if (r == -ETIMEDOUT)
                        set_reason(res, "thread %d did not stop in time", (int) tid);
                return r == -ETIMEDOUT ? 0 : r;
        }

        if (ptrace(PTRACE_GETREGS, tid, 0, &regs) < 0) {
                r = -errno;
                goto detach;
        }
        /* Stopped, it cannot exec; another thread may have, before: then this one runs the new image, whose
         * addresses are not the ones checked. (An exec from now on kills this thread first.) */
        if (target_execed(t)) {
                t->execed = true;
                r = 0;
                goto detach;
        }
        r = seccomp_check(t, tid, res);
        if (r <= 0)
                goto detach;
        snprintf(res->thread_was, sizeof res->thread_was, "%s", syscall_name((long) regs.orig_rax));
        const char *why = NULL;
        InjectResume resume = regs.cs == 0x33 ? inject_resume_classify(&regs, &why) : INJECT_RESUME_SKIP;
        if (resume == INJECT_RESUME_SKIP) {
                set_reason(res, "thread %d %s", (int) tid, why ?: "is not in 64-bit mode");
                r = 0;
                goto detach;
        }
        char why_stack[200];
        r = stack_check(t, tid, dwflp, why_stack, sizeof why_stack);
        if (r <= 0) {
                if (r == 0)
                        set_reason(res, "thread %d: %s", (int) tid, why_stack);
                goto detach;
        }

        /* Room on its stack below the red zone. */
        xstate = malloc(XSTATE_BUF_MAX);
        if (!xstate) {
                r = -ENOMEM;
                goto detach;
        }
        struct iovec iov = { .iov_base = xstate, .iov_len = XSTATE_BUF_MAX - 64 };
        size_t xsize;
        if (ptrace(PTRACE_GETREGSET, tid, (void *) NT_X86_XSTATE_, &iov) < 0 ||
            inject_xstate_prepare(xstate, iov.iov_len, &xsize) < 0) {
                set_reason(res, "thread %d: its FPU state cannot be saved in a signal frame", (int) tid);
                r = 0;
                goto detach;
        }
        InjectLayout l;
        inject_layout_compute(regs.rsp, xsize, DATA_SIZE, &l);
        uint64_t lo, hi;
        char mapname[64];
        if (inject_maps_find(t->maps_text, regs.rsp - 1, &lo, &hi, mapname, sizeof mapname) <= 0 ||
            (l.lowest - STACK_HEADROOM < lo && !streq(mapname, "[stack]")) || l.lowest - STACK_HEADROOM > l.lowest) {
                set_reason(res, "thread %d: less than %d KiB of stack left below its stack pointer", (int) tid,
                           STACK_HEADROOM / 1024);
                r = 0;
                goto detach;
        }

        uint64_t mask;
        if (ptrace(PTRACE_GETSIGMASK, tid, sizeof mask, &mask) < 0) {
                r = -errno;
                goto detach;
        }

        /* The registers it resumes with, as the kernel would have set them. */
        struct user_regs_struct resume_regs = regs;
        if (resume == INJECT_RESUME_RESTART) {
                resume_regs.rax = regs.orig_rax;
                resume_regs.rip -= 2;
        }
        InjectSigframe f;
        inject_sigframe_build(&resume_regs, mask, l.fpstate, t->libc.restorer + t->libc_bias, &f);

        uint8_t data[DATA_SIZE] = {};
        Call calls[8];
        size_t n_calls = 0;
        bool stats = o->stats_only || o->mallinfo;
        if (o->call_address) {
                res->how = "test call";
                calls[n_calls++] = (Call) { .fn = o->call_address, .mallinfo_slot = -1 };
        } else if (t->maps.allocator == INJECT_ALLOCATOR_JEMALLOC) {
                uint64_t mallctl = t->jemalloc.mallctl + t->jemalloc_bias;
                /* MALLCTL_ARENAS_ALL is 4096: every arena. The names live in the data area. */
                static const char purge[] = "arena.4096.purge", epoch[] = "epoch", allocated[] = "stats.allocated",
                                  resident[] = "stats.resident";
                memcpy(data + 160, purge, sizeof purge);
                memcpy(data + JE_EPOCH, epoch, sizeof epoch);
                memcpy(data + JE_ALLOCATED, allocated, sizeof allocated);
                memcpy(data + JE_RESIDENT, resident, sizeof resident);
                uint64_t one = 1, len[2] = { sizeof(uint64_t), sizeof(uint64_t) };
                memcpy(data + JE_ONE, &one, sizeof one);
                memcpy(data + JE_LEN, len, sizeof len);
                /* mallctl(name, oldp, oldlenp, newp, newlen): the epoch refresh, then the two figures (a
                 * jemalloc built without stats answers ENOENT and leaves the buffers at 0). */
                Call refresh = { .fn = mallctl, .arg0 = l.data + JE_EPOCH, .arg3 = l.data + JE_ONE,
                                 .arg4 = sizeof one, .mallinfo_slot = -1 };
                Call get_allocated = { .fn = mallctl, .arg0 = l.data + JE_ALLOCATED, .arg1 = l.data + JE_OUT,
                                       .arg2 = l.data + JE_LEN, .mallinfo_slot = -1 };
                Call get_resident = { .fn = mallctl, .arg0 = l.data + JE_RESIDENT, .arg1 = l.data + JE_OUT + 8,
                                      .arg2 = l.data + JE_LEN + 8, .mallinfo_slot = -1, .read_jemalloc = true };
                if (stats) {
                        calls[n_calls++] = refresh;
                        calls[n_calls++] = get_allocated;
                        calls[n_calls++] = get_resident;
                }
                if (o->stats_only)
                        res->how = "mallctl(\"stats.resident\")";
                else {
                        res->how = "mallctl(\"arena.4096.purge\")";
                        calls[n_calls++] = (Call) { .fn = mallctl, .arg0 = l.data + 160, .mallinfo_slot = -1 };
                        if (stats && o->follow_syscalls) {
                                calls[n_calls++] = refresh;
                                calls[n_calls++] = get_allocated;
                                calls[n_calls++] = get_resident;
                        }
                }
        } else if (o->mallinfo_only || o->stats_only) {
                if (!t->libc.mallinfo2) {
                        set_reason(res, "libc %s has no mallinfo2 symbol (glibc before 2.33)", t->maps.libc.path);
                        r = 0;
                        goto detach;
                }
                res->how = "mallinfo2()";
                calls[n_calls++] = (Call) { .fn = t->libc.mallinfo2 + t->libc_bias, .mallinfo_slot = 0 };
        } else {
                res->how = "malloc_trim(0)";
                bool mi = stats && t->libc.mallinfo2;
                if (mi)
                        calls[n_calls++] = (Call) { .fn = t->libc.mallinfo2 + t->libc_bias, .mallinfo_slot = 0 };
                calls[n_calls++] = (Call) { .fn = t->libc.malloc_trim + t->libc_bias, .arg0 = 0,
                                            .mallinfo_slot = -1 };
                if (mi && o->follow_syscalls)
                        calls[n_calls++] = (Call) { .fn = t->libc.mallinfo2 + t->libc_bias, .mallinfo_slot = 1 };
        }

        /* A child made meanwhile that shares the memory (a vfork by another thread): refused, as above. */
        r = check_not_shared(t->pid, res);
        if (r <= 0) {
                t->refused = true;
                goto detach;
        }
        /* Frame first: from the moment the registers change, it must be complete. */
        if ((r = mem_write(t, l.fpstate, xstate, xsize + 4)) < 0 ||
            (r = mem_write(t, l.data, data, sizeof data)) < 0 ||
            (r = mem_write(t, l.frame, &f, sizeof f)) < 0) {
                set_reason(res, "thread %d: cannot write its stack: %s", (int) tid, strerror(-r));
                r = 0;
                goto detach;
        }
        res->tid = tid;
        /* mallinfo2 alone is followed: its buffer is read at the rt_sigreturn stop, before the thread's own
         * code (or a signal handler) may use that stack again; it makes no system calls but lock waits. */
        r = run_calls(tid, &regs, &l, t, calls, n_calls, mask, o->follow_syscalls || o->mallinfo_only || o->stats_only,
                      deadline, res);
        if (r < 0 && r != -ESRCH)
                detach_anyway(tid); /* mid-call or not: the frame is in place, detaching is safe */
        res->stop_usec += now_mono() - stop_start - res->call_usec;
        if (r == 0)
                set_reason(res, "timed out: detached during the call, which finishes on its own");
        return r == 0 ? 1 : r; /* a timed-out call still ran */

detach:
        (void) ptrace(PTRACE_DETACH, tid, 0, 0);
        res->stop_usec += now_mono() - stop_start;
        return r;
}

typedef struct Candidate {
        pid_t tid;
        int rank;
} Candidate;

static int candidate_cmp(const void *a, const void *b)
{
        const Candidate *x = a, *y = b;
        return x->rank != y->rank ? x->rank - y->rank : (x->tid > y->tid) - (x->tid < y->tid);
}

typedef struct CandidateList {
        Candidate *c;
        size_t n, cap;
} CandidateList;

static int task_add_candidate(pid_t pid, pid_t tid, void *userdata)
{
        CandidateList *l = userdata;
        char what[64];
        _cleanup_free_ char *sc = NULL, *stat = NULL;
        snprintf(what, sizeof what, "task/%d/syscall", (int) tid);
        if (proc_read(pid, what, &sc) < 0)
                return 0;
        snprintf(what, sizeof what, "task/%d/stat", (int) tid);
        if (proc_read(pid, what, &stat) < 0)
                return 0;
        const char *p = strrchr(stat, ')');
        char state = p && p[1] == ' ' ? p[2] : '?';
        int rank = inject_thread_rank(sc, state);
        if (rank < 0)
                return 0;
        if (l->n == l->cap) {
                size_t cap = l->cap ? l->cap * 2 : 16;
                Candidate *nc = realloc(l->c, cap * sizeof *nc);
                if (!nc)
                        return -ENOMEM;
                l->c = nc;
                l->cap = cap;
        }
        l->c[l->n++] = (Candidate) { .tid = tid, .rank = rank };
        return 0;
}

static int threads_list(pid_t pid, Candidate **ret, size_t *ret_n)
{
        CandidateList l = {};
        int r = task_foreach(pid, task_add_candidate, &l);
        if (r < 0) {
                free(l.c);
                return r;
        }
        if (l.n > 1)
                qsort(l.c, l.n, sizeof *l.c, candidate_cmp);
        *ret = l.c;
        *ret_n = l.n;
        return 0;
}

/* The main arena, plus one per first heap of another arena (cgroup-inject-parse.h). 0 when unreadable. */
static unsigned count_arenas(const Target *t)
{
        uint64_t starts[256];
        size_t n = inject_heap_candidates(t->maps_text, starts, ELEMENTSOF(starts));
        unsigned arenas = 1;
        for (size_t i = 0; i < n && i < ELEMENTSOF(starts); i++) {
                uint64_t w[2];
                if (mem_read(t, starts[i], w, sizeof w) < 0)
                        continue;
                if (inject_heap_is_first(starts[i], w[0], w[1]))
                        arenas++;
        }
        return arenas;
}

static uint64_t rss_now(pid_t pid)
{
        _cleanup_free_ char *status = NULL;
        InjectStatus st;
        if (proc_read(pid, "status", &status) < 0 || inject_status_parse(status, &st) < 0)
                return 0;
        return st.vm_rss_bytes;
}

/* A thread died while tried and nothing was injected, the process lives on: another thread's execve()
 * kills every other thread first (de_thread()) and replaces the memory image right after, or the thread
 * simply exited. Waits up to 1 s to tell: true when the image was replaced (the process has memory, but
 * not the one checked), false when it is the same or the process is gone. */
static bool execed_after_death(const Target *t, int pidfd)
{
        for (unsigned i = 0; i < 100; i++) {
                if (poll(&(struct pollfd) { .fd = pidfd, .events = POLLIN }, 1, 0) > 0)
                        return false;
                if (target_execed(t))
                        return rss_now(t->pid) > 0;
                nanosleep(&(struct timespec) { .tv_nsec = 10 * 1000 * 1000 }, NULL);
        }
        return false;
}

/* After a watched release that returned: what the allocator reports now, by one more stop with calls that
 * release nothing (mallinfo2; epoch + stats). The release's own figures stay as they are; a failure here
 * only leaves the "after" figures out. */
static void stats_after(Target *t, const InjectOptions *o, Dwfl **dwflp, InjectResult *ret)
{
        if (!o->mallinfo || o->follow_syscalls || o->stats_only || o->mallinfo_only || o->call_address ||
            ret->timed_out || !ret->watched)
                return;
        if (t->maps.allocator == INJECT_ALLOCATOR_GLIBC ? !t->libc.mallinfo2 : t->maps.allocator != INJECT_ALLOCATOR_JEMALLOC)
                return;
        InjectOptions so = { .stats_only = true, .timeout_usec = MIN(o->timeout_usec, 5 * USEC_PER_SEC) };
        _cleanup_free_ Candidate *c = NULL;
        size_t n = 0;
        if (threads_list(t->pid, &c, &n) < 0)
                return;
        usec_t started = now_mono(), deadline = started + so.timeout_usec;
        InjectResult after = {};
        int r = 0;
        for (size_t i = 0; i < n && i < 8 && now_mono() < deadline; i++) {
                r = try_thread(t, c[i].tid, &so, dwflp, deadline, &after);
                if (r > 0 || (r < 0 && r != -ESRCH))
                        break;
        }
        ret->stats_after_usec = now_mono() - started;
        if (r <= 0 || after.timed_out)
                return;
        if (after.have_mallinfo) {
                ret->mallinfo_after = after.mallinfo_before;
                ret->have_mallinfo_after = true;
        }
        if (after.have_jemalloc_before) {
                ret->jemalloc_after = after.jemalloc_before;
                ret->have_jemalloc_after = true;
        }
}

int inject_process(pid_t pid, uint64_t expected_starttime, const InjectOptions *o, InjectResult *ret)
{
        InjectOptions opts = *o;
        Target t = { .pid = pid, .mem_fd = -EBADF };
        Dwfl *dwfl = NULL;
        _cleanup_free_ Candidate *c = NULL;
        size_t n = 0;
        int r;

        *ret = (InjectResult) {};
        if (!opts.timeout_usec)
                opts.timeout_usec = 10 * USEC_PER_SEC;
        if (!opts.max_threads)
                opts.max_threads = 8;
        usec_t deadline = now_mono() + opts.timeout_usec;

        /* Pin it: the pidfd keeps the PID from being reused while we work; the start time proves that
         * the PID is still the process the caller meant. */
        _cleanup_close_ int pidfd = pidfd_open_pid(pid);
        if (pidfd < 0)
                return pidfd;
        if (expected_starttime) {
                _cleanup_free_ char *stat = NULL;
                uint64_t start;
                r = proc_read(pid, "stat", &stat);
                if (r < 0)
                        return r;
                if (proc_stat_parse_starttime(stat, &start) < 0 || start != expected_starttime)
                        return -ESRCH; /* another process now has that PID */
        }
        /* Before the checks: it pins the memory image they see (target_execed()). Where it cannot be opened
         * the process_vm_* calls are used and an exec mid-injection is not detected. */
        /* First whether it shares its memory (a vfork child before its execve): the fd would then stay bound
         * to the parent's image after the child's execve. Unshared now, the image the fd pins is its own. */
        r = check_not_shared(pid, ret);
        if (r <= 0)
                goto finish;
        char mem[64];
        snprintf(mem, sizeof mem, "/proc/%d/mem", (int) pid);
        t.mem_fd = open(mem, O_RDWR | O_CLOEXEC);

        r = target_check(pid, &t, opts.yama_path, ret);
        if (r <= 0)
                goto finish;

        if (opts.mallinfo_only && t.maps.allocator != INJECT_ALLOCATOR_GLIBC) {
                set_reason(ret, "mallinfo2() is glibc's; this process uses %s", inject_allocator_to_string(t.maps.allocator));
                r = 0;
                goto finish;
        }
        if (t.maps.allocator == INJECT_ALLOCATOR_GLIBC)
                ret->arenas = count_arenas(&t);

        r = threads_list(pid, &c, &n);
        if (r < 0)
                goto finish;
        if (n == 0) {
                set_reason(ret, "no thread may be stopped (every one is in uninterruptible sleep, exiting, or "
                                "in a call that swaps the signal mask)");
                r = 0;
                goto finish;
        }
        /* The unwinder is made ready before the first stop (else at it, in stack_check()). */
        char why_dwfl[200];
        if (dwfl_prepare(pid, &dwfl, why_dwfl, sizeof why_dwfl) <= 0)
                dwfl = NULL; /* stack_check() tries again and says why */
        r = 0;
        bool died = false;
        for (size_t i = 0; i < n && i < opts.max_threads && now_mono() < deadline; i++) {
                ret->threads_tried++;
                r = try_thread(&t, c[i].tid, &opts, &dwfl, deadline, ret);
                if (r > 0 || (r < 0 && r != -ESRCH))
                        break;
                /* -ESRCH: that thread exited, or the whole process did (killed or exited mid-injection:
                 * the pidfd says so), which is "gone", not "no thread qualified". */
                if (r == -ESRCH && poll(&(struct pollfd) { .fd = pidfd, .events = POLLIN }, 1, 0) > 0)
                        break;
                /* Or another thread executed a new program, which kills every other thread (de_thread()); an
                 * exiting process has no memory left at all (no VmRSS). */
                died = died || r == -ESRCH;
                if (t.execed || t.refused || (r == -ESRCH && target_execed(&t) && rss_now(pid) > 0))
                        break;
                r = 0; /* next thread */
        }
        if (r <= 0 && (t.execed || (died && execed_after_death(&t, pidfd)))) {
                set_reason(ret, "the process executed a new program (execve) during the injection: detached, "
                                "nothing called in the new image");
                t.execed = true;
                r = 0;
        }
        if (r > 0) {
                ret->rss_after = rss_now(pid);
                if (!ret->timed_out)
                        ret->reason[0] = 0;
                stats_after(&t, &opts, &dwfl, ret);
        } else if (r == 0 && ret->threads_tried == 0 && !ret->reason[0]) {
                set_reason(ret, "timed out before any thread was stopped (%.1f s, most of it preparing the unwinder)",
                           (double) opts.timeout_usec / USEC_PER_SEC);
        } else if (r == 0 && !t.execed && !t.refused && ret->threads_tried > 0 && !ret->timed_out) {
                /* Every thread tried was refused: the process is skipped, with the last thread's reason. */
                char last[sizeof ret->reason];
                snprintf(last, sizeof last, "%s", ret->reason);
                set_reason(ret, "no thread qualified within %u tries%s%s", ret->threads_tried, last[0] ? "; the last: " : "",
                           last);
        }
finish:
        if (dwfl)
                dwfl_end(dwfl);
        free(t.maps_text);
        closep(&t.mem_fd);
        return r;
}
