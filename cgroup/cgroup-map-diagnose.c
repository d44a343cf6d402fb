/* SPDX-License-Identifier: MIT */
/* cgroup/cgroup-map-diagnose.c: the map's diagnosis: sentences about where a cgroup's memory went and what
 * would give it back, from a built map (cgroup-map.h). Pure: reads nothing. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "cgroup-map.h"
#include "util/macro.h"

const char *map_rule_to_string(MapDiagnosisRule rule)
{
        static const char *const names[_MAP_RULE_MAX] = {
                [MAP_RULE_ALLOCATOR] = "allocator",
                [MAP_RULE_TMPFS] = "tmpfs",
                [MAP_RULE_SOCK] = "sock",
                [MAP_RULE_LAZYFREE] = "lazyfree",
                [MAP_RULE_PAGECACHE_ONEPASS] = "pagecache-onepass",
                [MAP_RULE_PAGECACHE] = "pagecache",
                [MAP_RULE_KERNEL] = "kernel",
                [MAP_RULE_TOP_PROCESS] = "top-process",
        };
        return rule < _MAP_RULE_MAX ? names[rule] : "unknown";
}

uint64_t map_unowned_shmem(const CgroupMap *m)
{
        if (!m->has_stat)
                return 0;
        return m->stat.shmem > m->total.pss_shmem ? m->stat.shmem - m->total.pss_shmem : 0;
}

/* Large enough to be worth a sentence: MAP_DIAG_MIN_BYTES and MAP_DIAG_MIN_PERCENT of memory.current. */
static bool significant(const CgroupMap *m, uint64_t bytes)
{
        if (bytes < MAP_DIAG_MIN_BYTES)
                return false;
        return m->mem.current == 0 || bytes * 100 >= m->mem.current * MAP_DIAG_MIN_PERCENT;
}

static int percent(uint64_t part, uint64_t whole)
{
        return whole == 0 ? 0 : (int) ((part * 100 + whole / 2) / whole);
}

_printf_(4, 5) static void diag_add(CgroupMap *m, MapDiagnosisRule rule, uint64_t bytes, const char *fmt, ...)
{
        if (m->n_diagnoses >= MAP_DIAGNOSES_MAX)
                return;
        MapDiagnosis *d = &m->diagnoses[m->n_diagnoses++];
        va_list ap;
        d->rule = rule;
        d->bytes = bytes;
        va_start(ap, fmt);
        vsnprintf(d->text, sizeof d->text, fmt, ap);
        va_end(ap);
}

static int diag_cmp(const void *a, const void *b)
{
        const MapDiagnosis *x = a, *y = b;
        if (x->bytes != y->bytes)
                return x->bytes > y->bytes ? -1 : 1;
        return (int) x->rule - (int) y->rule;
}

static int proc_free_cmp(const void *a, const void *b)
{
        const MapProcess *x = *(const MapProcess *const *) a, *y = *(const MapProcess *const *) b;
        if (x->allocator.free_bytes != y->allocator.free_bytes)
                return x->allocator.free_bytes > y->allocator.free_bytes ? -1 : 1;
        return x->pid < y->pid ? -1 : x->pid > y->pid;
}

size_t map_diagnose(CgroupMap *m)
{
        char a[MAP_SIZE_MAX], b[MAP_SIZE_MAX], c[MAP_SIZE_MAX], d[MAP_SIZE_MAX];

        m->n_diagnoses = 0;

        /* Allocator: free memory the allocator holds, per process, largest first. */
        const MapProcess *cand[MAP_DIAG_ALLOC_MAX * 4];
        size_t n_cand = 0;
        for (size_t i = 0; i < m->n_procs && n_cand < ELEMENTSOF(cand); i++) {
                const MapProcess *p = &m->procs[i];
                if (!p->has_allocator || !significant(m, p->allocator.free_bytes))
                        continue;
                if (p->has_smaps && p->allocator.free_bytes * 100 < p->smaps.rss * MAP_DIAG_ALLOC_FREE_PERCENT)
                        continue;
                cand[n_cand++] = p;
        }
        qsort(cand, n_cand, sizeof cand[0], proc_free_cmp);
        for (size_t i = 0; i < n_cand && i < MAP_DIAG_ALLOC_MAX; i++) {
                const MapProcess *p = cand[i];
                const AllocatorReport *al = &p->allocator;
                char arenas[32] = "";
                if (al->arenas > 0)
                        snprintf(arenas, sizeof arenas, " in %u arena%s", al->arenas, al->arenas == 1 ? "" : "s");
                const char *advice = streq(al->allocator, "glibc") ? "trim, or MALLOC_ARENA_MAX=2, or jemalloc" :
                                     streq(al->allocator, "jemalloc") ? "trim (purge its arenas), or a lower dirty_decay_ms" :
                                                                        "trim";
                diag_add(m, MAP_RULE_ALLOCATOR, al->free_bytes,
                         "%s of %s RSS of %s (pid %d) is free memory held by %s%s: %s",
                         map_format_size(a, al->free_bytes), map_format_size(b, p->smaps.rss), p->comm,
                         (int) p->pid, al->allocator, arenas, advice);
        }

        if (m->has_stat) {
                /* Tmpfs / shared memory that no process maps. */
                uint64_t unowned = map_unowned_shmem(m);
                if (significant(m, unowned)) {
                        char where[200] = "", caveat[120] = "";
                        const MapFile *big = NULL;
                        /* An open file on a tmpfs (shmem cached) names a place. Files are only known
                         * when they were scanned; m->files holds the top ones. */
                        for (size_t i = 0; i < m->n_files; i++)
                                if (m->files[i].shmem && (!big || m->files[i].cached > big->cached))
                                        big = &m->files[i];
                        if (big)
                                snprintf(where, sizeof where, " (%s is open, %s of it in memory)", big->path,
                                         map_format_size(c, big->cached));
                        if (m->n_unreadable > 0 || m->truncated)
                                snprintf(caveat, sizeof caveat,
                                         "; %zu process%s could not be read, part of it may be theirs",
                                         m->n_unreadable + (m->truncated ? 1 : 0),
                                         m->n_unreadable + (m->truncated ? 1 : 0) == 1 ? "" : "es");
                        diag_add(m, MAP_RULE_TMPFS, unowned,
                                 "%s is tmpfs/shared memory (shmem) that no process maps%s: no process owns it, "
                                 "it stays until its files are deleted (/dev/shm, a private /tmp, memfd)%s",
                                 map_format_size(a, unowned), where, caveat);
                }

                if (significant(m, m->stat.sock))
                        diag_add(m, MAP_RULE_SOCK, m->stat.sock,
                                 "socket buffers hold %s: data received and not yet read by the program, or sent "
                                 "and not yet acknowledged by the peer",
                                 map_format_size(a, m->stat.sock));

                uint64_t kmem = m->stat.slab_reclaimable + m->stat.slab_unreclaimable + m->stat.kernel_stack +
                                m->stat.pagetables;
                if (kmem >= MAP_DIAG_MIN_BYTES && m->mem.current > 0 &&
                    kmem * 100 >= m->mem.current * MAP_DIAG_KERNEL_PERCENT)
                        diag_add(m, MAP_RULE_KERNEL, kmem,
                                 "kernel memory holds %s (%d%%): slab %s (%s of it reclaimable), page tables %s, "
                                 "kernel stacks %s",
                                 map_format_size(a, kmem), percent(kmem, m->mem.current),
                                 map_format_size(b, m->stat.slab_reclaimable + m->stat.slab_unreclaimable),
                                 map_format_size(c, m->stat.slab_reclaimable), map_format_size(d, m->stat.pagetables),
                                 map_format_size((char[MAP_SIZE_MAX]){}, m->stat.kernel_stack));

                /* Page cache: of files our processes hold open (one-pass candidates), or in general. */
                const MapFile *top = NULL;
                uint64_t open_cached = 0;
                size_t n_open = 0;
                for (size_t i = 0; i < m->n_files; i++) {
                        if (m->files[i].shmem || m->files[i].cached == 0)
                                continue;
                        open_cached += m->files[i].cached;
                        n_open++;
                        if (!top)
                                top = &m->files[i];
                }
                /* memory.stat "file" includes shmem (tmpfs pages are file pages); page cache proper is the
                 * rest. */
                uint64_t pagecache = m->stat.file > m->stat.shmem ? m->stat.file - m->stat.shmem : 0;
                if (top && open_cached >= MAP_DIAG_MIN_BYTES &&
                    open_cached * 100 >= pagecache * MAP_DIAG_ONEPASS_PERCENT)
                        diag_add(m, MAP_RULE_PAGECACHE_ONEPASS, open_cached,
                                 "page cache holds %s; %s of it is %zu file%s open in this cgroup, most %s (%s cached, "
                                 "%s of it behind the read position of pid %d): drop-cache",
                                 map_format_size(a, pagecache), map_format_size(b, open_cached), n_open,
                                 n_open == 1 ? "" : "s", top->path, map_format_size(c, top->cached),
                                 map_format_size(d, top->cached_behind), (int) top->pid);
                else if (pagecache >= MAP_DIAG_MIN_BYTES && m->mem.current > 0 &&
                         pagecache * 100 >= m->mem.current * MAP_DIAG_PAGECACHE_PERCENT)
                        diag_add(m, MAP_RULE_PAGECACHE, pagecache,
                                 "page cache is %s of %s (%d%%, %s inactive): the kernel reclaims it under pressure",
                                 map_format_size(a, pagecache), map_format_size(b, m->mem.current),
                                 percent(pagecache, m->mem.current), map_format_size(c, m->stat.inactive_file));
        }

        if (significant(m, m->total.lazyfree))
                diag_add(m, MAP_RULE_LAZYFREE, m->total.lazyfree,
                         "%s of RSS is LazyFree pages (MADV_FREE): they count in RSS until the kernel needs them, "
                         "then go without any action",
                         map_format_size(a, m->total.lazyfree));

        uint64_t total_reclaimable = 0;
        for (size_t i = 0; i < m->n_procs; i++)
                total_reclaimable += m->procs[i].reclaimable;
        if (m->n_procs >= 2 && significant(m, m->procs[0].reclaimable) &&
            m->procs[0].reclaimable * 100 > total_reclaimable * MAP_DIAG_TOP_PROCESS_PERCENT)
                diag_add(m, MAP_RULE_TOP_PROCESS, m->procs[0].reclaimable,
                         "%s (pid %d) holds %s of anonymous memory, %d%% of all processes' here: what restarting or "
                         "killing it would give back",
                         m->procs[0].comm, (int) m->procs[0].pid, map_format_size(a, m->procs[0].reclaimable),
                         percent(m->procs[0].reclaimable, total_reclaimable));

        qsort(m->diagnoses, m->n_diagnoses, sizeof m->diagnoses[0], diag_cmp);
        return m->n_diagnoses;
}
