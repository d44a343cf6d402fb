/* SPDX-License-Identifier: MIT */
/* The seccomp filter evaluator of the injection (cgroup/cgroup-inject-seccomp.c): the actions a classic BPF
 * filter may return for a system call whatever its arguments, the programs the kernel would refuse, the
 * bound on paths, and the verdict on filters shaped like libseccomp's and podman's. Pure: no process. */
#include <criterion/criterion.h>
#include <errno.h>
#include <linux/audit.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include "cgroup/cgroup-inject-seccomp.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))
#define LD_NR BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr))
#define LD_ARCH BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch))
#define LD_ARG_LO(i) BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[i]))
#define RET(a) BPF_STMT(BPF_RET | BPF_K, (a))

static unsigned actions(const struct sock_filter *p, size_t n, uint32_t arch, int nr)
{
        unsigned set = 0;
        int r = inject_seccomp_actions(p, n, arch, nr, &set);
        cr_assert_eq(r, 0, "inject_seccomp_actions: %d", r);
        return set;
}

Test(inject_seccomp, allow_all_and_kill_one)
{
        /* The architecture first, then: madvise kills, everything else runs. */
        struct sock_filter f[] = {
                LD_ARCH,
                BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
                RET(SECCOMP_RET_KILL_PROCESS),
                LD_NR,
                BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_madvise, 0, 1),
                RET(SECCOMP_RET_KILL_PROCESS),
                RET(SECCOMP_RET_ALLOW),
        };
        cr_assert_eq(actions(f, N(f), AUDIT_ARCH_X86_64, SYS_getpid), INJECT_SECCOMP_ALLOW);
        cr_assert_eq(actions(f, N(f), AUDIT_ARCH_X86_64, SYS_madvise), INJECT_SECCOMP_KILL_PROCESS);
        cr_assert_eq(actions(f, N(f), AUDIT_ARCH_I386, SYS_getpid), INJECT_SECCOMP_KILL_PROCESS,
                     "another architecture is killed before the number is looked at");

        const InjectSyscall *call = NULL;
        unsigned bad = 0;
        cr_assert_eq(inject_seccomp_check(f, N(f), AUDIT_ARCH_X86_64, &call, &bad), 0);
        cr_assert_str_eq(call->name, "madvise");
        cr_assert_eq(bad, INJECT_SECCOMP_KILL_PROCESS);
        cr_assert_str_eq(inject_seccomp_action_name(bad), "KILL_PROCESS");

        /* getpid failing with EPERM does not concern the call. */
        f[4].k = SYS_getpid;
        f[5].k = SECCOMP_RET_ERRNO | EPERM;
        cr_assert_eq(actions(f, N(f), AUDIT_ARCH_X86_64, SYS_getpid), INJECT_SECCOMP_ERRNO);
        cr_assert_eq(inject_seccomp_check(f, N(f), AUDIT_ARCH_X86_64, &call, &bad), 1);
}

Test(inject_seccomp, unknown_arguments_take_both_ways)
{
        /* madvise(.., .., MADV_DONTNEED) kills, other advice runs: with the advice unknown, both. */
        struct sock_filter f[] = {
                LD_NR,
                BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_madvise, 0, 3),
                LD_ARG_LO(2),
                BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, MADV_DONTNEED, 0, 1),
                RET(SECCOMP_RET_KILL_THREAD),
                RET(SECCOMP_RET_ALLOW),
        };
        cr_assert_eq(actions(f, N(f), AUDIT_ARCH_X86_64, SYS_madvise),
                     INJECT_SECCOMP_KILL_THREAD | INJECT_SECCOMP_ALLOW);
        cr_assert_eq(actions(f, N(f), AUDIT_ARCH_X86_64, SYS_munmap), INJECT_SECCOMP_ALLOW);

        /* A concrete run takes one way, and its action is in the set. */
        struct seccomp_data d = { .nr = SYS_madvise, .arch = AUDIT_ARCH_X86_64, .args = { 0, 4096, MADV_DONTNEED } };
        unsigned one;
        cr_assert_eq(inject_seccomp_run(f, N(f), &d, &one), 0);
        cr_assert_eq(one, INJECT_SECCOMP_KILL_THREAD);
        d.args[2] = MADV_FREE;
        cr_assert_eq(inject_seccomp_run(f, N(f), &d, &one), 0);
        cr_assert_eq(one, INJECT_SECCOMP_ALLOW);

        /* Returning an argument: any action. A value the kernel does not know is a kill. */
        struct sock_filter g[] = { LD_ARG_LO(0), BPF_STMT(BPF_RET | BPF_A, 0) };
        cr_assert_eq(actions(g, N(g), AUDIT_ARCH_X86_64, SYS_brk), 0xffu);
        struct sock_filter h[] = { RET(0x12340000) };
        cr_assert_eq(actions(h, N(h), AUDIT_ARCH_X86_64, SYS_brk), INJECT_SECCOMP_KILL_PROCESS);
        /* JSET against 0 never jumps, known or not. */
        struct sock_filter j[] = { LD_ARG_LO(1), BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, 0, 0, 1),
                                   RET(SECCOMP_RET_TRAP), RET(SECCOMP_RET_ALLOW) };
        cr_assert_eq(actions(j, N(j), AUDIT_ARCH_X86_64, SYS_brk), INJECT_SECCOMP_ALLOW, "never the TRAP");
}

Test(inject_seccomp, registers_scratch_and_division)
{
        /* nr + 1 through X and a scratch word, compared: known all the way. */
        struct sock_filter f[] = {
                LD_NR,
                BPF_STMT(BPF_ALU | BPF_ADD | BPF_K, 1),
                BPF_STMT(BPF_ST, 3),
                BPF_STMT(BPF_LDX | BPF_MEM, 3),
                BPF_STMT(BPF_MISC | BPF_TXA, 0),
                BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_brk + 1, 0, 1),
                RET(SECCOMP_RET_TRACE),
                RET(SECCOMP_RET_LOG),
        };
        cr_assert_eq(actions(f, N(f), AUDIT_ARCH_X86_64, SYS_brk), INJECT_SECCOMP_TRACE);
        cr_assert_eq(actions(f, N(f), AUDIT_ARCH_X86_64, SYS_futex), INJECT_SECCOMP_LOG);

        /* A / X with X an argument: X may be 0, and the kernel's program then returns 0 (KILL_THREAD). */
        struct sock_filter d[] = {
                BPF_STMT(BPF_LDX | BPF_W | BPF_ABS, 0), /* not a seccomp instruction: refused below */
        };
        cr_assert_eq(inject_seccomp_actions(d, N(d), AUDIT_ARCH_X86_64, 0, &(unsigned) { 0 }), -EINVAL);
        struct sock_filter v[] = {
                LD_ARG_LO(0),
                BPF_STMT(BPF_MISC | BPF_TAX, 0),
                BPF_STMT(BPF_LD | BPF_IMM, 100),
                BPF_STMT(BPF_ALU | BPF_DIV | BPF_X, 0),
                RET(SECCOMP_RET_ALLOW),
        };
        cr_assert_eq(actions(v, N(v), AUDIT_ARCH_X86_64, SYS_brk), INJECT_SECCOMP_KILL_THREAD | INJECT_SECCOMP_ALLOW);
        v[0] = (struct sock_filter) BPF_STMT(BPF_LD | BPF_IMM, 0);
        cr_assert_eq(actions(v, N(v), AUDIT_ARCH_X86_64, SYS_brk), INJECT_SECCOMP_KILL_THREAD);
}

Test(inject_seccomp, refuses_what_the_kernel_refuses)
{
        unsigned set;
        struct sock_filter ok = RET(SECCOMP_RET_ALLOW);
        cr_assert_eq(inject_seccomp_actions(&ok, 0, AUDIT_ARCH_X86_64, 0, &set), -EINVAL, "empty");
        struct sock_filter noret[] = { LD_NR };
        cr_assert_eq(inject_seccomp_actions(noret, 1, AUDIT_ARCH_X86_64, 0, &set), -EINVAL, "no RET at the end");
        struct sock_filter far[] = { BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 5, 0), RET(SECCOMP_RET_ALLOW) };
        cr_assert_eq(inject_seccomp_actions(far, 2, AUDIT_ARCH_X86_64, 0, &set), -EINVAL, "jump out");
        struct sock_filter ja[] = { BPF_STMT(BPF_JMP | BPF_JA, 1), RET(SECCOMP_RET_ALLOW) };
        cr_assert_eq(inject_seccomp_actions(ja, 2, AUDIT_ARCH_X86_64, 0, &set), -EINVAL, "JA out");
        struct sock_filter beyond[] = { BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 64), RET(SECCOMP_RET_ALLOW) };
        cr_assert_eq(inject_seccomp_actions(beyond, 2, AUDIT_ARCH_X86_64, 0, &set), -EINVAL, "beyond seccomp_data");
        struct sock_filter odd[] = { BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 6), RET(SECCOMP_RET_ALLOW) };
        cr_assert_eq(inject_seccomp_actions(odd, 2, AUDIT_ARCH_X86_64, 0, &set), -EINVAL, "unaligned");
        struct sock_filter byte[] = { BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 0), RET(SECCOMP_RET_ALLOW) };
        cr_assert_eq(inject_seccomp_actions(byte, 2, AUDIT_ARCH_X86_64, 0, &set), -EINVAL, "byte load");
        struct sock_filter div0[] = { BPF_STMT(BPF_ALU | BPF_DIV | BPF_K, 0), RET(SECCOMP_RET_ALLOW) };
        cr_assert_eq(inject_seccomp_actions(div0, 2, AUDIT_ARCH_X86_64, 0, &set), -EINVAL, "division by 0");
        struct sock_filter mem[] = { BPF_STMT(BPF_ST, 16), RET(SECCOMP_RET_ALLOW) };
        cr_assert_eq(inject_seccomp_actions(mem, 2, AUDIT_ARCH_X86_64, 0, &set), -EINVAL, "scratch word 16");
}

Test(inject_seccomp, path_explosion_is_bounded)
{
        /* 40 tests of unknown argument words, each going on both ways to the same next one: 2^40 paths. */
        struct sock_filter f[81];
        for (int i = 0; i < 40; i++) {
                f[2 * i] = (struct sock_filter) LD_ARG_LO(i % 6);
                f[2 * i + 1] = (struct sock_filter) BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, 1u << (i % 32), 0, 0);
        }
        f[80] = (struct sock_filter) RET(SECCOMP_RET_ALLOW);
        unsigned set;
        cr_assert_eq(inject_seccomp_actions(f, N(f), AUDIT_ARCH_X86_64, SYS_madvise, &set), -E2BIG);
        /* 12 of them: 4096 paths, well within the bound. */
        f[24] = (struct sock_filter) RET(SECCOMP_RET_ALLOW);
        cr_assert_eq(inject_seccomp_actions(f, 25, AUDIT_ARCH_X86_64, SYS_madvise, &set), 0);
        cr_assert_eq(set, INJECT_SECCOMP_ALLOW);
}

/* An allow list as libseccomp compiles one (and podman's default profile is: defaultAction
 * SCMP_ACT_ERRNO, the calls of the injection allowed): every call of the injection is accepted. Without
 * futex in the list, the filter makes futex fail: refused, since a lock wait that fails can deadlock. */
static size_t allow_list(struct sock_filter *f, const int *allowed, size_t n_allowed)
{
        size_t n = 0;
        f[n++] = (struct sock_filter) LD_ARCH;
        f[n++] = (struct sock_filter) BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0);
        f[n++] = (struct sock_filter) RET(SECCOMP_RET_KILL_PROCESS);
        f[n++] = (struct sock_filter) LD_NR;
        /* The x32 ABI's numbers are refused, as libseccomp does. */
        f[n++] = (struct sock_filter) BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, 0x40000000, 0, 1);
        f[n++] = (struct sock_filter) RET(SECCOMP_RET_ERRNO | ENOSYS);
        for (size_t i = 0; i < n_allowed; i++) {
                size_t left = n_allowed - i - 1;
                f[n++] = (struct sock_filter) BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t) allowed[i],
                                                       (uint8_t) (left + 1), 0);
        }
        f[n++] = (struct sock_filter) RET(SECCOMP_RET_ERRNO | ENOSYS);
        f[n++] = (struct sock_filter) RET(SECCOMP_RET_ALLOW);
        return n;
}

Test(inject_seccomp, allow_list_like_podman)
{
        static const int allowed[] = { SYS_read, SYS_write, SYS_close, SYS_openat, SYS_mmap, SYS_mprotect,
                                       SYS_munmap, SYS_brk, SYS_madvise, SYS_futex, SYS_rt_sigreturn,
                                       SYS_restart_syscall, SYS_clock_gettime, SYS_epoll_wait, SYS_exit_group };
        struct sock_filter f[64];
        size_t n = allow_list(f, allowed, N(allowed));
        const InjectSyscall *call = NULL;
        unsigned bad = 0;
        cr_assert_eq(inject_seccomp_check(f, n, AUDIT_ARCH_X86_64, &call, &bad), 1);
        cr_assert_eq(actions(f, n, AUDIT_ARCH_X86_64, SYS_ptrace), INJECT_SECCOMP_ERRNO);

        /* Without futex. */
        int less[N(allowed)];
        size_t k = 0;
        for (size_t i = 0; i < N(allowed); i++)
                if (allowed[i] != SYS_futex)
                        less[k++] = allowed[i];
        n = allow_list(f, less, k);
        cr_assert_eq(inject_seccomp_check(f, n, AUDIT_ARCH_X86_64, &call, &bad), 0);
        cr_assert_str_eq(call->name, "futex");
        cr_assert_eq(bad, INJECT_SECCOMP_ERRNO);

        /* Without openat (glibc's one look at overcommit_memory): that failure is handled, accepted. */
        k = 0;
        for (size_t i = 0; i < N(allowed); i++)
                if (allowed[i] != SYS_openat)
                        less[k++] = allowed[i];
        n = allow_list(f, less, k);
        cr_assert_eq(inject_seccomp_check(f, n, AUDIT_ARCH_X86_64, &call, &bad), 1);
}
