/* SPDX-License-Identifier: MIT */
/* cgroup/cgroup-inject-seccomp.c: a classic BPF evaluator for seccomp filters over unknown arguments, see
 * the header. It accepts what the kernel's seccomp_check_filter() and bpf_check_classic() accept, and runs
 * it as the kernel's conversion to eBPF does (a division by X == 0 returns 0, which is KILL_THREAD). */
#include <errno.h>
#include <linux/audit.h>
#include <linux/seccomp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>

#include "cgroup-inject-seccomp.h"
#include "util/macro.h"

#define MEMWORDS 16
#define DATA_SIZE 64 /* sizeof(struct seccomp_data) */
#define KNOWN_A (1u << 0)
#define KNOWN_X (1u << 1)
#define KNOWN_M(i) (1u << (2 + (i)))

typedef struct State {
        uint32_t pc, known, a, x, m[MEMWORDS];
} State;

static unsigned action_bit(uint32_t ret)
{
        switch (ret & SECCOMP_RET_ACTION_FULL) {
        case SECCOMP_RET_KILL_THREAD:
                return INJECT_SECCOMP_KILL_THREAD;
        case SECCOMP_RET_TRAP:
                return INJECT_SECCOMP_TRAP;
        case SECCOMP_RET_ERRNO:
                return INJECT_SECCOMP_ERRNO;
        case SECCOMP_RET_USER_NOTIF:
                return INJECT_SECCOMP_USER_NOTIF;
        case SECCOMP_RET_TRACE:
                return INJECT_SECCOMP_TRACE;
        case SECCOMP_RET_LOG:
                return INJECT_SECCOMP_LOG;
        case SECCOMP_RET_ALLOW:
                return INJECT_SECCOMP_ALLOW;
        default: /* SECCOMP_RET_KILL_PROCESS, and what the kernel does with a value it does not know */
                return INJECT_SECCOMP_KILL_PROCESS;
        }
}

const char *inject_seccomp_action_name(unsigned set)
{
        static const char *const names[] = { "KILL_PROCESS", "KILL_THREAD", "TRAP", "ERRNO",
                                             "USER_NOTIF",   "TRACE",       "LOG",  "ALLOW" };
        for (size_t i = 0; i < ELEMENTSOF(names); i++)
                if (set & (1u << i))
                        return names[i];
        return "none";
}

/* What the kernel accepts (seccomp_check_filter(), bpf_check_classic()). */
static int validate(const struct sock_filter *prog, size_t n)
{
        if (n == 0 || n > BPF_MAXINSNS)
                return -EINVAL;
        for (size_t pc = 0; pc < n; pc++) {
                const struct sock_filter *f = &prog[pc];
                switch (f->code) {
                case BPF_LD | BPF_W | BPF_ABS:
                        if (f->k >= DATA_SIZE || (f->k & 3))
                                return -EINVAL;
                        break;
                case BPF_LD | BPF_W | BPF_LEN:
                case BPF_LDX | BPF_W | BPF_LEN:
                case BPF_RET | BPF_K:
                case BPF_RET | BPF_A:
                case BPF_ALU | BPF_ADD | BPF_K: case BPF_ALU | BPF_ADD | BPF_X:
                case BPF_ALU | BPF_SUB | BPF_K: case BPF_ALU | BPF_SUB | BPF_X:
                case BPF_ALU | BPF_MUL | BPF_K: case BPF_ALU | BPF_MUL | BPF_X:
                case BPF_ALU | BPF_DIV | BPF_X: case BPF_ALU | BPF_MOD | BPF_X:
                case BPF_ALU | BPF_AND | BPF_K: case BPF_ALU | BPF_AND | BPF_X:
                case BPF_ALU | BPF_OR | BPF_K: case BPF_ALU | BPF_OR | BPF_X:
                case BPF_ALU | BPF_XOR | BPF_K: case BPF_ALU | BPF_XOR | BPF_X:
                case BPF_ALU | BPF_LSH | BPF_X: case BPF_ALU | BPF_RSH | BPF_X:
                case BPF_ALU | BPF_NEG:
                case BPF_LD | BPF_IMM:
                case BPF_LDX | BPF_IMM:
                case BPF_MISC | BPF_TAX:
                case BPF_MISC | BPF_TXA:
                        break;
                case BPF_ALU | BPF_DIV | BPF_K:
                case BPF_ALU | BPF_MOD | BPF_K:
                        if (f->k == 0)
                                return -EINVAL;
                        break;
                case BPF_ALU | BPF_LSH | BPF_K:
                case BPF_ALU | BPF_RSH | BPF_K:
                        if (f->k >= 32)
                                return -EINVAL;
                        break;
                case BPF_LD | BPF_MEM:
                case BPF_LDX | BPF_MEM:
                case BPF_ST:
                case BPF_STX:
                        if (f->k >= MEMWORDS)
                                return -EINVAL;
                        break;
                case BPF_JMP | BPF_JA:
                        if (f->k >= n - pc - 1)
                                return -EINVAL;
                        break;
                case BPF_JMP | BPF_JEQ | BPF_K: case BPF_JMP | BPF_JEQ | BPF_X:
                case BPF_JMP | BPF_JGE | BPF_K: case BPF_JMP | BPF_JGE | BPF_X:
                case BPF_JMP | BPF_JGT | BPF_K: case BPF_JMP | BPF_JGT | BPF_X:
                case BPF_JMP | BPF_JSET | BPF_K: case BPF_JMP | BPF_JSET | BPF_X:
                        if (pc + f->jt + 1 >= n || pc + f->jf + 1 >= n)
                                return -EINVAL;
                        break;
                default:
                        return -EINVAL;
                }
        }
        if (prog[n - 1].code != (BPF_RET | BPF_K) && prog[n - 1].code != (BPF_RET | BPF_A))
                return -EINVAL;
        return 0;
}

typedef struct Work {
        State *v;
        size_t n, size;
} Work;

static int push(Work *w, const State *s)
{
        if (w->n == w->size) {
                size_t size = w->size ? w->size * 2 : 64;
                State *v = reallocarray(w->v, size, sizeof *v);
                if (!v)
                        return -ENOMEM;
                w->v = v;
                w->size = size;
        }
        w->v[w->n++] = *s;
        return 0;
}

/* A conditional jump: taken (1), not taken (0), or either (-1) when a compared value is unknown. */
static int jump_cond(const struct sock_filter *f, const State *s)
{
        bool src_known = BPF_SRC(f->code) == BPF_K || (s->known & KNOWN_X);
        uint32_t v = BPF_SRC(f->code) == BPF_K ? f->k : s->x;
        if (!(s->known & KNOWN_A) || !src_known) {
                /* A JSET against 0 is never taken, whatever A holds. */
                if (BPF_OP(f->code) == BPF_JSET && src_known && v == 0)
                        return 0;
                return -1;
        }
        switch (BPF_OP(f->code)) {
        case BPF_JEQ:
                return s->a == v;
        case BPF_JGT:
                return s->a > v;
        case BPF_JGE:
                return s->a >= v;
        default: /* BPF_JSET */
                return (s->a & v) != 0;
        }
}

/* Runs one state forward until a RET (0, *set updated), a fork (the other way pushed), or the budget. */
static int run(const struct sock_filter *prog, Work *w, State s, uint32_t arch, int nr,
               const struct seccomp_data *data, unsigned *steps, unsigned *set)
{
        for (;;) {
                if (++*steps > INJECT_SECCOMP_STEPS_MAX)
                        return -E2BIG;
                const struct sock_filter *f = &prog[s.pc];
                uint32_t src = BPF_SRC(f->code) == BPF_K ? f->k : s.x;
                bool src_known = BPF_SRC(f->code) == BPF_K || (s.known & KNOWN_X);
                s.pc++;
                switch (BPF_CLASS(f->code)) {
                case BPF_LD:
                        if (BPF_MODE(f->code) == BPF_ABS) {
                                /* seccomp_data: nr at 0, arch at 4; the instruction pointer and the
                                 * arguments (8..63) are not known. */
                                if (data) {
                                        memcpy(&s.a, (const uint8_t *) data + f->k, sizeof s.a);
                                        s.known |= KNOWN_A;
                                } else if (f->k == 0 || f->k == 4) {
                                        s.a = f->k == 0 ? (uint32_t) nr : arch;
                                        s.known |= KNOWN_A;
                                } else
                                        s.known &= ~KNOWN_A;
                        } else if (BPF_MODE(f->code) == BPF_LEN) {
                                s.a = DATA_SIZE;
                                s.known |= KNOWN_A;
                        } else if (BPF_MODE(f->code) == BPF_IMM) {
                                s.a = f->k;
                                s.known |= KNOWN_A;
                        } else { /* BPF_MEM */
                                s.a = s.m[f->k];
                                s.known = (s.known & ~KNOWN_A) | ((s.known & KNOWN_M(f->k)) ? KNOWN_A : 0);
                        }
                        break;
                case BPF_LDX:
                        if (BPF_MODE(f->code) == BPF_LEN || BPF_MODE(f->code) == BPF_IMM) {
                                s.x = BPF_MODE(f->code) == BPF_LEN ? DATA_SIZE : f->k;
                                s.known |= KNOWN_X;
                        } else {
                                s.x = s.m[f->k];
                                s.known = (s.known & ~KNOWN_X) | ((s.known & KNOWN_M(f->k)) ? KNOWN_X : 0);
                        }
                        break;
                case BPF_ST:
                        s.m[f->k] = s.a;
                        s.known = (s.known & ~KNOWN_M(f->k)) | ((s.known & KNOWN_A) ? KNOWN_M(f->k) : 0);
                        break;
                case BPF_STX:
                        s.m[f->k] = s.x;
                        s.known = (s.known & ~KNOWN_M(f->k)) | ((s.known & KNOWN_X) ? KNOWN_M(f->k) : 0);
                        break;
                case BPF_MISC:
                        if (BPF_MISCOP(f->code) == BPF_TAX) {
                                s.x = s.a;
                                s.known = (s.known & ~KNOWN_X) | ((s.known & KNOWN_A) ? KNOWN_X : 0);
                        } else {
                                s.a = s.x;
                                s.known = (s.known & ~KNOWN_A) | ((s.known & KNOWN_X) ? KNOWN_A : 0);
                        }
                        break;
                case BPF_ALU: {
                        uint8_t op = BPF_OP(f->code);
                        if ((op == BPF_DIV || op == BPF_MOD) && BPF_SRC(f->code) == BPF_X &&
                            (!src_known || src == 0)) {
                                /* The kernel's converted program returns 0 when X is 0. */
                                *set |= action_bit(0);
                                if (src_known)
                                        return 0;
                                s.known &= ~KNOWN_A;
                                break;
                        }
                        if (!(s.known & KNOWN_A) || (op != BPF_NEG && !src_known) ||
                            ((op == BPF_LSH || op == BPF_RSH) && src >= 32)) {
                                s.known &= ~KNOWN_A;
                                break;
                        }
                        switch (op) {
                        case BPF_ADD: s.a += src; break;
                        case BPF_SUB: s.a -= src; break;
                        case BPF_MUL: s.a *= src; break;
                        case BPF_DIV: s.a /= src; break;
                        case BPF_MOD: s.a %= src; break;
                        case BPF_AND: s.a &= src; break;
                        case BPF_OR: s.a |= src; break;
                        case BPF_XOR: s.a ^= src; break;
                        case BPF_LSH: s.a <<= src; break;
                        case BPF_RSH: s.a >>= src; break;
                        default: s.a = -s.a; break; /* BPF_NEG */
                        }
                        break;
                }
                case BPF_JMP: {
                        if (BPF_OP(f->code) == BPF_JA) {
                                s.pc += f->k;
                                break;
                        }
                        int c = jump_cond(f, &s);
                        if (c < 0) {
                                State other = s;
                                other.pc += f->jf;
                                int r = push(w, &other);
                                if (r < 0)
                                        return r;
                                s.pc += f->jt;
                        } else
                                s.pc += c ? f->jt : f->jf;
                        break;
                }
                default: /* BPF_RET */
                        if (BPF_RVAL(f->code) == BPF_A && !(s.known & KNOWN_A))
                                *set |= 0xffu; /* anything */
                        else
                                *set |= action_bit(BPF_RVAL(f->code) == BPF_A ? s.a : f->k);
                        return 0;
                }
        }
}

static int evaluate(const struct sock_filter *prog, size_t n, uint32_t arch, int nr,
                    const struct seccomp_data *data, unsigned *ret)
{
        int r = validate(prog, n);
        if (r < 0)
                return r;
        Work w = {};
        unsigned steps = 0, set = 0;
        r = push(&w, &(State) {});
        while (r >= 0 && w.n > 0) {
                State s = w.v[--w.n];
                r = run(prog, &w, s, arch, nr, data, &steps, &set);
        }
        free(w.v);
        if (r < 0)
                return r;
        *ret = set;
        return 0;
}

int inject_seccomp_actions(const struct sock_filter *prog, size_t n, uint32_t arch, int nr, unsigned *ret)
{
        return evaluate(prog, n, arch, nr, NULL, ret);
}

int inject_seccomp_run(const struct sock_filter *prog, size_t n, const struct seccomp_data *data, unsigned *ret)
{
        return evaluate(prog, n, data->arch, data->nr, data, ret);
}

const InjectSyscall inject_syscalls_x86_64[] = {
        { SYS_rt_sigreturn, "rt_sigreturn", INJECT_SECCOMP_HARMLESS },
        { SYS_restart_syscall, "restart_syscall", INJECT_SECCOMP_HARMLESS },
        { SYS_futex, "futex", INJECT_SECCOMP_HARMLESS },
        { SYS_madvise, "madvise", INJECT_SECCOMP_HARMLESS },
        { SYS_munmap, "munmap", INJECT_SECCOMP_HARMLESS },
        { SYS_brk, "brk", INJECT_SECCOMP_HARMLESS },
        { SYS_mmap, "mmap", INJECT_SECCOMP_HARMLESS },
        { SYS_mprotect, "mprotect", INJECT_SECCOMP_HARMLESS },
        { SYS_openat, "openat", INJECT_SECCOMP_SURVIVABLE },
        { SYS_read, "read", INJECT_SECCOMP_SURVIVABLE },
        { SYS_close, "close", INJECT_SECCOMP_SURVIVABLE },
        { SYS_clock_gettime, "clock_gettime", INJECT_SECCOMP_SURVIVABLE },
};
const size_t inject_syscalls_x86_64_n = ELEMENTSOF(inject_syscalls_x86_64);

int inject_seccomp_check(const struct sock_filter *prog, size_t n, uint32_t arch, const InjectSyscall **ret_call,
                         unsigned *ret_actions)
{
        for (size_t i = 0; i < inject_syscalls_x86_64_n; i++) {
                unsigned set;
                int r = inject_seccomp_actions(prog, n, arch, inject_syscalls_x86_64[i].nr, &set);
                if (r < 0)
                        return r;
                if (set & ~inject_syscalls_x86_64[i].accept) {
                        *ret_call = &inject_syscalls_x86_64[i];
                        *ret_actions = set & ~inject_syscalls_x86_64[i].accept;
                        return 0;
                }
        }
        return 1;
}
