/* SPDX-License-Identifier: MIT */
/* libFuzzer harness for the seccomp filter evaluator of the injection (cgroup/cgroup-inject-seccomp.c),
 * which runs in the injector on programs read out of other processes. Input: a struct seccomp_data (64
 * bytes: the call, its architecture and arguments), then the program (8 bytes an instruction).
 * Checks: no crash or leak on any program; the evaluation is a pure function of its input; its set is
 * never empty and holds only the 8 actions; and soundness: a concrete run with the input's arguments ends
 * in an action of the set computed without them. */
#include <linux/seccomp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cgroup/cgroup-inject-seccomp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct seccomp_data d;
        if (size < sizeof d || (size - sizeof d) / sizeof(struct sock_filter) > BPF_MAXINSNS)
                return 0;
        memcpy(&d, data, sizeof d);
        size_t n = (size - sizeof d) / sizeof(struct sock_filter);
        struct sock_filter *prog = malloc(n * sizeof *prog + 1);
        if (!prog)
                return 0;
        memcpy(prog, data + sizeof d, n * sizeof *prog);

        unsigned set = 0, again = 0, one = 0;
        int r = inject_seccomp_actions(prog, n, d.arch, d.nr, &set);
        if (r != inject_seccomp_actions(prog, n, d.arch, d.nr, &again) || (r == 0 && set != again))
                abort();
        if (r == 0 && (set == 0 || (set & ~0xffu)))
                abort();
        if (r == 0 && inject_seccomp_run(prog, n, &d, &one) == 0 && (one == 0 || (one & ~set)))
                abort();
        if (r == 0) {
                const InjectSyscall *call;
                unsigned bad;
                (void) inject_seccomp_check(prog, n, d.arch, &call, &bad);
        }
        free(prog);
        return 0;
}
