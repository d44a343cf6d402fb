/* SPDX-License-Identifier: MIT */
/* daemon/record-map.c: a compact map in every alert (record-map.h). No fds, no file scan: those are for
 * `memwardenctl map`; here every process costs three small /proc reads. */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "record-map.h"
#include "cgroup/cgroup-map.h"
#include "util/log.h"
#include "util/time-util.h"

void record_add_map(Record *r, const Guard *g)
{
        _cleanup_(cgroup_map_freep) CgroupMap *m = NULL;
        _cleanup_close_ int trim_fd = -EBADF;
        int k;

        if (!r || !g || !g->manager || !g->manager->root)
                return;

        usec_t start = now_usec(CLOCK_MONOTONIC);
        trim_fd = open(MAP_TRIM_DIR_DEFAULT, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        MapOptions opt = {
                .max_procs = RECORD_MAP_PROCS_MAX,
                .deadline_usec = start + RECORD_MAP_BUDGET_USEC,
                .no_cmdline = true,
                .trim_dirfd = trim_fd,
                .precise_top = RECORD_MAP_PRECISE_TOP,
        };
        k = cgroup_map_build(g->manager->root, g->path, &opt, &m);
        if (k < 0) {
                log_debug_errno(k, "Cannot build the map of %s: %m, ignoring", g->path);
                return;
        }
        usec_t took = now_usec(CLOCK_MONOTONIC) - start;

        char top[RECORD_MAP_TOP * (MAP_COMM_MAX + 40)] = "";
        size_t off = 0;
        for (size_t i = 0; i < m->n_procs && i < RECORD_MAP_TOP; i++) {
                char comm[MAP_COMM_MAX];
                const MapProcess *p = &m->procs[i];
                snprintf(comm, sizeof comm, "%s", p->comm[0] ? p->comm : "?");
                for (char *c = comm; *c; c++)
                        if (*c == ' ' || *c == ':')
                                *c = '_';
                int n = snprintf(top + off, sizeof top - off, "%s%d:%s:%" PRIu64, off ? " " : "", (int) p->pid,
                                 comm, p->smaps.pss);
                if (n < 0 || (size_t) n >= sizeof top - off)
                        break;
                off += (size_t) n;
        }
        if (off > 0)
                record_add(r, "MAP_TOP=%s", top);

        if (m->n_diagnoses > 0) {
                char diag[MAP_DIAGNOSES_MAX * 330] = "";
                off = 0;
                for (size_t i = 0; i < m->n_diagnoses; i++) {
                        int n = snprintf(diag + off, sizeof diag - off, "%s%s", off ? " | " : "",
                                         m->diagnoses[i].text);
                        if (n < 0 || (size_t) n >= sizeof diag - off)
                                break;
                        off += (size_t) n;
                }
                record_add(r, "MAP_DIAGNOSIS=%s", diag);
        }
        record_add(r, "MAP_SHMEM_UNOWNED=%" PRIu64, map_unowned_shmem(m));
        record_add(r, "MAP_LAZYFREE=%" PRIu64, m->total.lazyfree);
        record_add(r, "MAP_PROCESSES=%zu", m->n_procs);
        if (m->truncated)
                record_add(r, "MAP_TRUNCATED=1");
        log_debug("Map of %s: %zu processes in %" PRIu64 " us (%zu listed, %zu gone, %zu zombies, %zu kernel threads, "
                  "%zu unreadable%s)",
                  g->path, m->n_procs, took, m->n_listed, m->n_gone, m->n_zombies, m->n_kernel_threads,
                  m->n_unreadable, m->truncated ? ", truncated" : "");
}
