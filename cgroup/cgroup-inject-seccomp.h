/* SPDX-License-Identifier: MIT */
/* cgroup/cgroup-inject-seccomp.h: what a seccomp filter (classic BPF, as PTRACE_SECCOMP_GET_FILTER hands it
 * over) does to the system calls an injected allocator call makes. Pure: no system calls, unit-tested and
 * fuzzed (tests/fuzz/fuzz-seccomp.c).
 *
 * The filter sees struct seccomp_data: the call's number and the architecture are known; its arguments and
 * instruction pointer are not (malloc_trim's madvise ranges are the heap's). So the program is run over
 * every path: a jump that depends on an unknown value takes both ways, and the result is the set of actions
 * the filter can return for that call, whatever its arguments. Jumps in classic BPF only go forward, so
 * every path ends; the number of instructions run over all paths is bounded (INJECT_SECCOMP_STEPS_MAX). */
#pragma once

#include <linux/filter.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Bits of an action set, one per seccomp action (SECCOMP_RET_ACTION_FULL); a value the kernel does not
 * know is a kill (kernel/seccomp.c: the default of its switch). */
enum {
        INJECT_SECCOMP_KILL_PROCESS = 1u << 0,
        INJECT_SECCOMP_KILL_THREAD = 1u << 1,
        INJECT_SECCOMP_TRAP = 1u << 2,
        INJECT_SECCOMP_ERRNO = 1u << 3,
        INJECT_SECCOMP_USER_NOTIF = 1u << 4,
        INJECT_SECCOMP_TRACE = 1u << 5,
        INJECT_SECCOMP_LOG = 1u << 6,
        INJECT_SECCOMP_ALLOW = 1u << 7,
};
#define INJECT_SECCOMP_HARMLESS (INJECT_SECCOMP_ALLOW | INJECT_SECCOMP_LOG)
/* Actions after which the process may go on: the call fails (ERRNO) or runs. */
#define INJECT_SECCOMP_SURVIVABLE (INJECT_SECCOMP_HARMLESS | INJECT_SECCOMP_ERRNO)

#define INJECT_SECCOMP_STEPS_MAX (1u << 20)

/* The actions the filter prog (n instructions) may return for system call nr on arch (AUDIT_ARCH_*), for
 * any arguments: a set of INJECT_SECCOMP_* bits in *ret. Returns 0, -EINVAL for a program the kernel would
 * not have accepted (unknown instruction, jump out of it, load outside seccomp_data, no RET at the end),
 * -E2BIG when the paths take more than INJECT_SECCOMP_STEPS_MAX instructions, -ENOMEM. */
int inject_seccomp_actions(const struct sock_filter *prog, size_t n, uint32_t arch, int nr, unsigned *ret);

/* The same for one concrete struct seccomp_data (every load known): the action the kernel would take, as a
 * one-bit set (more bits only for a scratch word read before it was written, which the kernel refuses). For
 * tests and the fuzzer: a concrete run's action is always in the set inject_seccomp_actions() returns. */
struct seccomp_data;
int inject_seccomp_run(const struct sock_filter *prog, size_t n, const struct seccomp_data *data, unsigned *ret);

/* The most severe action in a set, as the kernel names it ("KILL_PROCESS", ..., "ALLOW"). */
const char *inject_seccomp_action_name(unsigned set);

typedef struct InjectSyscall {
        int nr;
        const char *name;
        unsigned accept; /* the actions under which the call still works (or fails harmlessly) */
} InjectSyscall;

/* The x86_64 system calls an injected release may make: our rt_sigreturn and the restart of the call the
 * thread was in (restart_syscall); futex (the allocator's locks: a futex that fails can deadlock or
 * spin); madvise, munmap, brk, mmap, mprotect (the release itself: glibc mtrim/systrim/heap_trim,
 * jemalloc's purge); openat, read, close (glibc reads /proc/sys/vm/overcommit_memory once before its first
 * heap shrink: an error there is handled) and clock_gettime (jemalloc's decay clock, when the vDSO falls
 * back to the system call): these may fail with ERRNO. */
extern const InjectSyscall inject_syscalls_x86_64[];
extern const size_t inject_syscalls_x86_64_n;

/* Checks one filter against the calls above. Returns 1 when every call is accepted, 0 when one is not
 * (*ret_call the first, *ret_actions its action set), or a negative errno of inject_seccomp_actions(). */
int inject_seccomp_check(const struct sock_filter *prog, size_t n, uint32_t arch, const InjectSyscall **ret_call,
                         unsigned *ret_actions);
