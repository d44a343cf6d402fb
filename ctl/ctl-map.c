/* SPDX-License-Identifier: MIT */
/* ctl/ctl-map.c: `memwardenctl map`: where a cgroup's memory went (cgroup/cgroup-map.h builds it; this file
 * finds the cgroup and draws it). Reads cgroupfs and /proc directly: no daemon needed. Root sees every
 * process's smaps_rollup; others see only their own (the rest are listed without figures).
 *
 * JSON output (--json), schema version 1. One object; sizes in bytes; absent values are null; new keys may
 * be added in later versions, existing ones keep their meaning:
 *   version        1
 *   cgroup         the cgroup path ("/system.slice/x.service")
 *   unit           the systemd unit the cgroup belongs to, or null
 *   memory         { current, max, high, swap_current }  (max/high null when "max")
 *   stat           memory.stat: { anon, file, active_file, inactive_file, active_anon, inactive_anon, shmem,
 *                  file_mapped, file_dirty, file_writeback, sock, slab_reclaimable, slab_unreclaimable,
 *                  kernel_stack, pagetables, workingset_refault_anon, workingset_refault_file } (refaults
 *                  are page counts), or null
 *   events         memory.events: { low, high, max, oom, oom_kill, oom_group_kill }, or null
 *   shmem_unowned  stat.shmem minus the processes' Pss_Shmem: tmpfs/shared memory no process maps
 *   processes      { listed, scanned, kernel_threads, zombies, gone, unreadable, truncated (bool),
 *                    sort: "pss_anon+swap_pss", total: { the smaps fields below, summed } }
 *   top            [ the first --top processes, largest reclaimable first:
 *                    { pid, comm, cmdline, cgroup, fds (null: not counted), readable (bool: smaps_rollup
 *                      read), reclaimable, rss, pss, pss_anon, pss_file, pss_shmem, shared_clean,
 *                      shared_dirty, private_clean, private_dirty, anonymous, lazyfree, swap, swap_pss,
 *                      allocator: { name, held, in_use, free, arenas } or null } ]
 *   files          [ open regular files, most cached first: { path, pid, fd, size, pos, cached,
 *                    cached_behind, shmem (bool), droppable (bool), skip_reason (string or null) } ]
 *                  or null when not scanned (--files 0)
 *   diagnosis      [ { rule, bytes, text } ], largest first; rule is one of allocator, tmpfs, sock,
 *                  lazyfree, pagecache-onepass, pagecache, kernel, top-process */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cgroup/cgroup-fs.h"
#include "cgroup/cgroup-map.h"
#include "cgroup/cgroup-unit.h"
#include "ctl-inject.h"
#include "ctl-map.h"
#include "ctl-target.h"
#include "util/json.h"
#include "util/macro.h"

#define BAR_WIDTH 20
#define PROC_BAR_WIDTH 10

/* ---- human output ---- */

static void bar(FILE *f, uint64_t part, uint64_t whole, int width)
{
        int filled = 0;
        if (whole > 0) {
                uint64_t p = MIN(part, whole);
                filled = (int) ((p * (uint64_t) width * 2 + whole) / (whole * 2));
        }
        for (int i = 0; i < width; i++)
                fputs(i < filled ? "\u2588" : "\u2591", f);
}

static int pct(uint64_t part, uint64_t whole)
{
        return whole == 0 ? 0 : (int) ((part * 100 + whole / 2) / whole);
}

static void row(FILE *f, const char *name, uint64_t v, uint64_t whole)
{
        char s[MAP_SIZE_MAX];
        fprintf(f, "  %-20s %9s  ", name, map_format_size(s, v));
        bar(f, v, whole, BAR_WIDTH);
        fprintf(f, " %3d%%\n", pct(v, whole));
}

static const char *size_or_max(char s[static MAP_SIZE_MAX], uint64_t v)
{
        if (v == CGROUP_LIMIT_MAX)
                return "max";
        return map_format_size(s, v);
}

static void print_human(FILE *f, const CgroupMap *m, const char *unit, size_t top, bool files_scanned)
{
        char a[MAP_SIZE_MAX], b[MAP_SIZE_MAX], c[MAP_SIZE_MAX], d[MAP_SIZE_MAX], e[MAP_SIZE_MAX], g[MAP_SIZE_MAX];
        uint64_t cur = m->mem.current;

        fprintf(f, "%s%s%s\n", m->path, unit ? " " : "", unit ?: "");
        fprintf(f, "memory  %s", map_format_size(a, cur));
        if (m->mem.max != CGROUP_LIMIT_MAX)
                fprintf(f, " of max %s (%d%%)", map_format_size(b, m->mem.max), pct(cur, m->mem.max));
        else
                fprintf(f, ", no max");
        fprintf(f, ", high %s", size_or_max(c, m->mem.high));
        if (m->mem.swap_current > 0)
                fprintf(f, ", swap %s", map_format_size(d, m->mem.swap_current));
        fputc('\n', f);
        if (m->has_events)
                fprintf(f, "events  low %" PRIu64 "  high %" PRIu64 "  max %" PRIu64 "  oom %" PRIu64 "  oom_kill %" PRIu64
                           "  oom_group_kill %" PRIu64 "\n",
                        m->events.low, m->events.high, m->events.max, m->events.oom, m->events.oom_kill,
                        m->events.oom_group_kill);

        if (m->has_stat) {
                const MemoryStat *s = &m->stat;
                fprintf(f, "\nKernel view (memory.stat), share of memory.current\n");
                row(f, "anon", s->anon, cur);
                row(f, "file (incl. shmem)", s->file, cur);
                row(f, "  active_file", s->active_file, cur);
                row(f, "  inactive_file", s->inactive_file, cur);
                row(f, "  dirty+writeback", s->file_dirty + s->file_writeback, cur);
                row(f, "shmem (tmpfs)", s->shmem, cur);
                row(f, "  no process maps", map_unowned_shmem(m), cur);
                row(f, "sock", s->sock, cur);
                row(f, "slab", s->slab_reclaimable + s->slab_unreclaimable, cur);
                row(f, "  reclaimable", s->slab_reclaimable, cur);
                row(f, "kernel_stack", s->kernel_stack, cur);
                row(f, "pagetables", s->pagetables, cur);
                fprintf(f, "  refaults: anon %" PRIu64 ", file %" PRIu64 " pages\n", s->workingset_refault_anon,
                        s->workingset_refault_file);
        }

        fprintf(f, "\nProcesses: %zu read of %zu listed", m->n_procs, m->n_listed);
        if (m->n_zombies || m->n_kernel_threads || m->n_gone || m->n_unreadable) {
                const char *sep = " (";
                if (m->n_zombies)
                        fprintf(f, "%s%zu zombie%s", sep, m->n_zombies, m->n_zombies == 1 ? "" : "s"), sep = ", ";
                if (m->n_kernel_threads)
                        fprintf(f, "%s%zu kernel thread%s", sep, m->n_kernel_threads,
                                m->n_kernel_threads == 1 ? "" : "s"), sep = ", ";
                if (m->n_gone)
                        fprintf(f, "%s%zu exited", sep, m->n_gone), sep = ", ";
                if (m->n_unreadable)
                        fprintf(f, "%s%zu without figures", sep, m->n_unreadable), sep = ", ";
                fputc(')', f);
        }
        if (m->truncated)
                fputs(", TRUNCATED (caps reached)", f);
        fprintf(f, "\nsorted by what a kill or trim gives back (Pss_Anon + SwapPss); shared pages by Pss\n");
        fprintf(f, "  %7s %-16s %9s %9s %9s %9s %9s %4s  %-*s %s\n", "PID", "COMM", "RECLAIM", "PSS", "RSS",
                "LAZYFREE", "SWAP", "FDS", PROC_BAR_WIDTH, "", "CMDLINE");
        size_t n = top == 0 ? m->n_procs : MIN(top, m->n_procs);
        for (size_t i = 0; i < n; i++) {
                const MapProcess *p = &m->procs[i];
                char fds[16] = "-";
                if (p->n_fds >= 0)
                        snprintf(fds, sizeof fds, "%d", p->n_fds);
                if (p->has_smaps)
                        fprintf(f, "  %7d %-16.16s %9s %9s %9s %9s %9s %4s  ", (int) p->pid, p->comm,
                                map_format_size(a, p->reclaimable), map_format_size(b, p->smaps.pss),
                                map_format_size(c, p->smaps.rss), map_format_size(d, p->smaps.lazyfree),
                                map_format_size(e, p->smaps.swap), fds);
                else
                        fprintf(f, "  %7d %-16.16s %9s %9s %9s %9s %9s %4s  ", (int) p->pid, p->comm, "?", "?", "?",
                                "?", "?", fds);
                bar(f, p->reclaimable, cur, PROC_BAR_WIDTH);
                fprintf(f, " %s\n", p->cmdline);
        }
        if (n < m->n_procs)
                fprintf(f, "  ... %zu more (--top 0 shows all)\n", m->n_procs - n);
        if (m->n_procs > 0) {
                const SmapsRollup *t = &m->total;
                fprintf(f, "  total: Pss %s (anon %s, file %s, shmem %s), Rss %s, LazyFree %s, Swap %s\n",
                        map_format_size(a, t->pss), map_format_size(b, t->pss_anon), map_format_size(c, t->pss_file),
                        map_format_size(d, t->pss_shmem), map_format_size(e, t->rss), map_format_size(g, t->lazyfree),
                        map_format_size((char[MAP_SIZE_MAX]){}, t->swap));
        }

        bool any_alloc = false;
        for (size_t i = 0; i < m->n_procs; i++)
                any_alloc = any_alloc || m->procs[i].has_allocator;
        if (any_alloc) {
                fprintf(f, "\nAllocator (reports of libmemwarden-trim, or mallinfo2() called with --inject), free = held - in "
                           "use\n");
                fprintf(f, "  %7s %-16s %-10s %9s %9s %9s %6s  %-*s\n", "PID", "COMM", "ALLOCATOR", "HELD", "IN USE",
                        "FREE", "ARENAS", BAR_WIDTH, "FREE OF HELD");
                for (size_t i = 0; i < m->n_procs; i++) {
                        const MapProcess *p = &m->procs[i];
                        if (!p->has_allocator)
                                continue;
                        char arenas[16] = "-";
                        if (p->allocator.arenas > 0)
                                snprintf(arenas, sizeof arenas, "%u", p->allocator.arenas);
                        fprintf(f, "  %7d %-16.16s %-10s %9s %9s %9s %6s  ", (int) p->pid, p->comm, p->allocator.allocator,
                                map_format_size(a, p->allocator.held_bytes),
                                map_format_size(b, p->allocator.in_use_bytes),
                                map_format_size(c, p->allocator.free_bytes), arenas);
                        bar(f, p->allocator.free_bytes, p->allocator.held_bytes, BAR_WIDTH);
                        fprintf(f, " %3d%%\n", pct(p->allocator.free_bytes, p->allocator.held_bytes));
                }
        }

        if (files_scanned) {
                fprintf(f, "\nOpen files in page cache: %zu examined, %s cached, %s of it behind the readers\n",
                        m->n_files_examined, map_format_size(a, m->files_cached),
                        map_format_size(b, m->files_cached_behind));
                if (m->n_files > 0)
                        fprintf(f, "  %9s %9s %9s %7s %4s %-5s %s\n", "CACHED", "BEHIND", "SIZE", "PID", "FD", "DROP",
                                "PATH");
                for (size_t i = 0; i < m->n_files; i++) {
                        const MapFile *x = &m->files[i];
                        fprintf(f, "  %9s %9s %9s %7d %4d %-5s %s%s\n", map_format_size(a, x->cached),
                                map_format_size(b, x->cached_behind), map_format_size(c, x->size), (int) x->pid, x->fd,
                                x->droppable ? "yes" : "no", x->path, x->shmem ? " (tmpfs)" : "");
                }
        }

        fprintf(f, "\nDiagnosis\n");
        if (m->n_diagnoses == 0)
                fprintf(f, "  nothing stands out\n");
        for (size_t i = 0; i < m->n_diagnoses; i++)
                fprintf(f, "  * %s\n", m->diagnoses[i].text);
}

/* ---- JSON ---- */

static void json_u64_or_null(FILE *f, uint64_t v)
{
        if (v == CGROUP_LIMIT_MAX)
                fputs("null", f);
        else
                fprintf(f, "%" PRIu64, v);
}

static void json_smaps(FILE *f, const SmapsRollup *s)
{
        fprintf(f,
                "\"rss\": %" PRIu64 ", \"pss\": %" PRIu64 ", \"pss_anon\": %" PRIu64 ", \"pss_file\": %" PRIu64
                ", \"pss_shmem\": %" PRIu64 ", \"shared_clean\": %" PRIu64 ", \"shared_dirty\": %" PRIu64
                ", \"private_clean\": %" PRIu64 ", \"private_dirty\": %" PRIu64 ", \"anonymous\": %" PRIu64
                ", \"lazyfree\": %" PRIu64 ", \"swap\": %" PRIu64 ", \"swap_pss\": %" PRIu64,
                s->rss, s->pss, s->pss_anon, s->pss_file, s->pss_shmem, s->shared_clean, s->shared_dirty,
                s->private_clean, s->private_dirty, s->anonymous, s->lazyfree, s->swap, s->swap_pss);
}

static void print_json(FILE *f, const CgroupMap *m, const char *unit, size_t top, bool files_scanned)
{
        fputs("{\n  \"version\": 1,\n  \"cgroup\": ", f);
        json_write_string(f, m->path);
        fputs(",\n  \"unit\": ", f);
        json_write_string(f, unit);
        fprintf(f, ",\n  \"memory\": { \"current\": %" PRIu64 ", \"max\": ", m->mem.current);
        json_u64_or_null(f, m->mem.max);
        fputs(", \"high\": ", f);
        json_u64_or_null(f, m->mem.high);
        fprintf(f, ", \"swap_current\": %" PRIu64 " },\n  \"stat\": ", m->mem.swap_current);
        if (m->has_stat) {
                const MemoryStat *s = &m->stat;
                fprintf(f,
                        "{ \"anon\": %" PRIu64 ", \"file\": %" PRIu64 ", \"active_file\": %" PRIu64
                        ", \"inactive_file\": %" PRIu64 ", \"active_anon\": %" PRIu64 ", \"inactive_anon\": %" PRIu64
                        ", \"shmem\": %" PRIu64 ", \"file_mapped\": %" PRIu64 ", \"file_dirty\": %" PRIu64
                        ", \"file_writeback\": %" PRIu64 ", \"sock\": %" PRIu64 ", \"slab_reclaimable\": %" PRIu64
                        ", \"slab_unreclaimable\": %" PRIu64 ", \"kernel_stack\": %" PRIu64 ", \"pagetables\": %" PRIu64
                        ", \"workingset_refault_anon\": %" PRIu64 ", \"workingset_refault_file\": %" PRIu64 " }",
                        s->anon, s->file, s->active_file, s->inactive_file, s->active_anon, s->inactive_anon, s->shmem,
                        s->file_mapped, s->file_dirty, s->file_writeback, s->sock, s->slab_reclaimable,
                        s->slab_unreclaimable, s->kernel_stack, s->pagetables, s->workingset_refault_anon,
                        s->workingset_refault_file);
        } else
                fputs("null", f);
        fputs(",\n  \"events\": ", f);
        if (m->has_events)
                fprintf(f,
                        "{ \"low\": %" PRIu64 ", \"high\": %" PRIu64 ", \"max\": %" PRIu64 ", \"oom\": %" PRIu64
                        ", \"oom_kill\": %" PRIu64 ", \"oom_group_kill\": %" PRIu64 " }",
                        m->events.low, m->events.high, m->events.max, m->events.oom, m->events.oom_kill,
                        m->events.oom_group_kill);
        else
                fputs("null", f);
        fprintf(f, ",\n  \"shmem_unowned\": %" PRIu64 ",\n", map_unowned_shmem(m));
        fprintf(f,
                "  \"processes\": { \"listed\": %zu, \"scanned\": %zu, \"kernel_threads\": %zu, \"zombies\": %zu, "
                "\"gone\": %zu, \"unreadable\": %zu, \"truncated\": %s, \"sort\": \"pss_anon+swap_pss\",\n"
                "    \"total\": { ",
                m->n_listed, m->n_procs, m->n_kernel_threads, m->n_zombies, m->n_gone, m->n_unreadable,
                m->truncated ? "true" : "false");
        json_smaps(f, &m->total);
        fputs(" } },\n  \"top\": [", f);
        size_t n = top == 0 ? m->n_procs : MIN(top, m->n_procs);
        for (size_t i = 0; i < n; i++) {
                const MapProcess *p = &m->procs[i];
                fprintf(f, "%s\n    { \"pid\": %d, \"comm\": ", i ? "," : "", (int) p->pid);
                json_write_string(f, p->comm);
                fputs(", \"cmdline\": ", f);
                json_write_string(f, p->cmdline);
                fputs(", \"cgroup\": ", f);
                json_write_string(f, p->cgroup);
                fputs(", \"fds\": ", f);
                if (p->n_fds >= 0)
                        fprintf(f, "%d", p->n_fds);
                else
                        fputs("null", f);
                fprintf(f, ", \"readable\": %s, \"reclaimable\": %" PRIu64 ",\n      ", p->has_smaps ? "true" : "false",
                        p->reclaimable);
                json_smaps(f, &p->smaps);
                fputs(",\n      \"allocator\": ", f);
                if (p->has_allocator) {
                        fputs("{ \"name\": ", f);
                        json_write_string(f, p->allocator.allocator);
                        fprintf(f, ", \"held\": %" PRIu64 ", \"in_use\": %" PRIu64 ", \"free\": %" PRIu64 ", \"arenas\": ",
                                p->allocator.held_bytes, p->allocator.in_use_bytes, p->allocator.free_bytes);
                        if (p->allocator.arenas > 0)
                                fprintf(f, "%u }", p->allocator.arenas);
                        else
                                fputs("null }", f);
                } else
                        fputs("null", f);
                fputs(" }", f);
        }
        fputs(n ? "\n  ],\n  \"files\": " : "],\n  \"files\": ", f);
        if (files_scanned) {
                fputc('[', f);
                for (size_t i = 0; i < m->n_files; i++) {
                        const MapFile *x = &m->files[i];
                        fprintf(f, "%s\n    { \"path\": ", i ? "," : "");
                        json_write_string(f, x->path);
                        fprintf(f,
                                ", \"pid\": %d, \"fd\": %d, \"size\": %" PRIu64 ", \"pos\": %" PRIu64 ", \"cached\": %" PRIu64
                                ", \"cached_behind\": %" PRIu64 ", \"shmem\": %s, \"droppable\": %s, \"skip_reason\": ",
                                (int) x->pid, x->fd, x->size, x->pos, x->cached, x->cached_behind,
                                x->shmem ? "true" : "false", x->droppable ? "true" : "false");
                        json_write_string(f, x->skip_reason);
                        fputs(" }", f);
                }
                fputs(m->n_files ? "\n  ]" : "]", f);
        } else
                fputs("null", f);
        fputs(",\n  \"diagnosis\": [", f);
        for (size_t i = 0; i < m->n_diagnoses; i++) {
                fprintf(f, "%s\n    { \"rule\": \"%s\", \"bytes\": %" PRIu64 ", \"text\": ", i ? "," : "",
                        map_rule_to_string(m->diagnoses[i].rule), m->diagnoses[i].bytes);
                json_write_string(f, m->diagnoses[i].text);
                fputs(" }", f);
        }
        fputs(m->n_diagnoses ? "\n  ]\n}\n" : "]\n}\n", f);
}

void map_help(void)
{
        printf("Usage: memwardenctl map CGROUP|UNIT [--json] [--top N] [--files N]\n"
               "\n"
               "Where a cgroup's memory went: the kernel's view (memory.stat, memory.events), every process\n"
               "of the cgroup and its descendants (smaps_rollup), allocator reports of libmemwarden-trim,\n"
               "open files in the page cache, and a diagnosis in words. CGROUP is a path in the cgroup2\n"
               "hierarchy (/system.slice/x.service); a name ending in .service, .scope, .slice, .socket,\n"
               ".mount or .swap is looked up as a unit. Run as root to see every process.\n"
               "\n"
               "      --json     one JSON object (schema: memwardenctl(1))\n"
               "      --top N    processes shown (default %d; 0: all)\n"
               "      --files N  open files shown, most cached first (default %d; 0: no file scan)\n"
               "      --inject   the allocator view of every glibc process without a report of its own, by\n"
               "                 calling mallinfo2() inside it through ptrace (as trim --inject does; root)\n"
               "      --timeout SEC  with --inject: per process (default 10)\n",
               MAP_TOP_DEFAULT, MAP_FILES_DEFAULT);
}

int verb_map(const CtlArgs *a, char **operands)
{
        const char *trim_dir = a->trim_dir ?: MAP_TRIM_DIR_DEFAULT;
        long top = a->top, files = a->files;
        CtlTarget t;

        if (a->inject && a->proc_root) {
                fprintf(stderr, "map --inject calls into live processes: it does not take --proc-root.\n");
                return 2;
        }
        if (ctl_target_parse(operands[0], &t) < 0 || t.kind == CTL_TARGET_PID) {
                fprintf(stderr, "map takes a cgroup or a unit, not %s. Try 'memwardenctl map --help'.\n",
                        operands[0]);
                return 2;
        }
        CgroupRoot *root = NULL;
        int k = cgroup_root_open(a->cgroup_root, a->proc_root, &root);
        if (k < 0) {
                if (k == -ENOMEDIUM)
                        fprintf(stderr, "No cgroup2 hierarchy with the memory controller on this host.\n");
                else
                        fprintf(stderr, "Cannot open the cgroup hierarchy: %s\n", strerror(-k));
                return 1;
        }
        _cleanup_free_ char *path = NULL;
        k = ctl_target_cgroup_path(root, &t, &path);
        if (k < 0) {
                fprintf(stderr, "%s: %s\n", t.name, k == -ENOENT ? "no such cgroup or unit" : strerror(-k));
                cgroup_root_free(root);
                return 1;
        }

        _cleanup_close_ int trim_fd = open(trim_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        MapOptions opt = {
                .count_fds = true,
                .scan_files = files > 0,
                .max_files = (size_t) files,
                .trim_dirfd = trim_fd,
        };
        CgroupMap *m = NULL;
        k = cgroup_map_build(root, path, &opt, &m);
        cgroup_root_free(root);
        if (k < 0) {
                fprintf(stderr, "%s: %s\n", path,
                        k == -ENOENT  ? "no such cgroup" :
                        k == -ENODEV ? "the memory controller is not enabled for this cgroup" :
                                       strerror(-k));
                return 1;
        }

        if (a->inject) {
                unsigned injected = 0, refused = 0;
                char why[300] = "";
                ctl_map_inject(m, a->timeout_sec, &injected, &refused, why, sizeof why);
                fprintf(stderr, "Allocator view: mallinfo2() injected into %u process(es)", injected);
                if (refused)
                        fprintf(stderr, "; %u refused, the first: %s", refused, why);
                fputs("\n", stderr);
        }

        CgroupIdentity id = {};
        (void) cgroup_identity_from_path(m->path, &id);
        const char *unit = id.is_unit_cgroup || id.unit ? id.unit : NULL;
        if (a->json)
                print_json(stdout, m, unit, (size_t) top, files > 0);
        else
                print_human(stdout, m, unit, (size_t) top, files > 0);
        cgroup_identity_done(&id);
        cgroup_map_free(m);
        return fflush(stdout) == 0 ? 0 : 1;
}
