/* SPDX-License-Identifier: MIT */
/* ctl/ctl-check.c: what `memwardenctl check` says beyond errors: the operator's first hour. A policy without
 * Brake= on a machine without swap gives the cgroups it guards no warning before the kernel's OOM kill
 * (shared/design.md: milliseconds from memory.max to the kill, PSI never fires). Warnings go to stderr and do
 * not change the exit status; `memwardenctl status` names the cgroups concerned. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>

#include "ctl-check.h"
#include "daemon/metrics.h"
#include "util/fileio.h"
#include "util/macro.h"

unsigned check_print_warnings(const Config *c, const char *meminfo_path, FILE *f)
{
        _cleanup_free_ char *buf = NULL;
        if (read_full_file_at(AT_FDCWD, meminfo_path, 1 << 16, &buf, NULL) < 0)
                return 0; /* unknown: say nothing */
        if (metrics_meminfo_has_swap(buf))
                return 0;
        unsigned n = 0;
        for (size_t i = 0; i < c->n_policies; i++) {
                const Policy *p = c->policies[i];
                if (p->has_brake)
                        continue;
                fprintf(f, "%s: warning: policy %s sets no Brake= and this machine has no swap: a cgroup it guards "
                           "that has a memory.max and no memory.high below it gets no warning before a kernel OOM "
                           "kill.\n", p->path, p->name);
                n++;
        }
        if (n > 0)
                fprintf(f, "%s\n'memwardenctl status' lists the guarded cgroups concerned.\n", METRICS_NO_WARNING_ADVICE);
        return n;
}
