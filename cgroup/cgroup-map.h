/* SPDX-License-Identifier: MIT */
/* cgroup/cgroup-map.h: the map, where a cgroup's memory went. One pass over the cgroup (and its
 * descendants) gives:
 *   - the kernel view: memory.current/max/high, memory.stat, memory.events (all hierarchical);
 *   - one record per process from /proc/PID/{smaps_rollup,comm,cmdline} (status only for the odd ones):
 *     Rss, Pss (anon/file/shmem),
 *     private/shared clean/dirty, Anonymous, LazyFree, Swap, SwapPss; comm, a short cmdline, open fds;
 *   - the allocator view, for processes with libmemwarden-trim.so: what the allocator holds vs uses;
 *   - one-pass candidates: regular files the processes have open and how much of each sits in the page
 *     cache (mincore), the part behind the read position separately;
 *   - a diagnosis: plain sentences with numbers, from the rules in map_diagnose().
 *
 * Which processes: every PID in cgroup.procs of the cgroup and of all its descendants, because
 * memory.current and memory.stat are hierarchical too (a service's sub-cgroups are part of its charge).
 * Kernel threads and zombies are counted and left out (no memory of their own). A process that exits
 * while we read it (-ENOENT/-ESRCH) is counted as gone and skipped. A process whose smaps_rollup we may
 * not read (-EACCES: another user's, without ptrace access) is kept with its name, without figures.
 *
 * Shared pages are charged by Pss: a page mapped by n processes counts 1/n to each, so the sums over
 * processes never count a page twice.
 *
 * Sort order ("reclaimable", what killing or trimming a process could give back): Pss_Anon + SwapPss.
 * Anonymous memory is what the kernel cannot reclaim without swap and what a kill returns (its
 * proportional share of it, shared anon included by Pss); allocator-held free memory, what a trim returns,
 * is part of it. File pages (Pss_File) are left out: the kernel reclaims them anyway, nobody needs to
 * die for them. Shmem (Pss_Shmem) is left out too: tmpfs pages outlive the process. On kernels without
 * Pss_Anon (before 5.8) Anonymous stands in. Ties: larger Pss first, then lower PID.
 *
 * All I/O is relative to a CgroupRoot (tests use fixture trees). Parsers are pure and take buffers. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "cgroup-fs.h"
#include "cgroup-parse.h"
#include "trim/memwarden-trim.h"
#include "util/format-util.h"
#include "util/macro.h"

/* Default caps. The daemon uses smaller ones (daemon/record-map.c). */
#define MAP_PROCS_MAX_DEFAULT 20000U   /* processes read per map */
#define MAP_CGROUPS_MAX 4096U          /* cgroups walked below the mapped one */
#define MAP_FILES_SCAN_MAX 512U        /* open regular files examined with mincore */
#define MAP_DEADLINE_MIN_PROCS 16U     /* read even past MapOptions.deadline_usec: a map is never empty for time */
#define MAP_COMM_MAX 64U
#define MAP_CMDLINE_MAX 128U           /* including the NUL; longer ones end in "..." */
#define MAP_TRIM_DIR_DEFAULT MEMWARDEN_TRIM_DIR_DEFAULT

/* smaps_rollup (or the sum over all mappings of smaps), in bytes. */
typedef struct SmapsRollup {
        uint64_t rss, pss, pss_anon, pss_file, pss_shmem;
        uint64_t shared_clean, shared_dirty, private_clean, private_dirty;
        uint64_t anonymous, lazyfree, swap, swap_pss;
        bool has_pss_anon; /* Pss_Anon/File/Shmem present (5.8+) */
} SmapsRollup;

/* Parses /proc/PID/smaps_rollup ("Key:   123 kB" lines; header line, unknown keys and lines without
 * "kB" are skipped), converting kB to bytes. With sum=true it parses a full /proc/PID/smaps and adds up
 * every mapping instead (a repeated key is then expected). Returns 0; -EINVAL when Rss is missing (empty:
 * a kernel thread, or truncated), a known key has a malformed number, or (sum=false) a key appears twice;
 * -ERANGE when a value or a sum does not fit in 64 bits. */
int smaps_parse(const char *buf, bool sum, SmapsRollup *ret);

/* The allocator view of one process, from the reports libmemwarden-trim.so writes (cgroup/cgroup-trim.h:
 * <pid>.info.json after a 0x301 request: malloc_info's system/in-use/free and arenas; <pid>.json after a
 * trim: mallinfo2 after it). Free held memory = held - in use (0 if negative). */
typedef struct AllocatorReport {
        char allocator[32];     /* "glibc", "jemalloc", ... */
        uint64_t held_bytes;    /* info: system; trim: arena + hblkhd */
        uint64_t in_use_bytes;  /* info: in_use; trim: uordblks + hblkhd */
        uint64_t free_bytes;
        unsigned arenas;        /* 0 when unknown (trim reports do not say) */
} AllocatorReport;

typedef struct TrimReport TrimReport;
/* Pure. Returns 0, or -ENODATA when the report has no allocator figures (jemalloc's info report, a trim
 * report without mallinfo). */
int allocator_report_from_trim(const TrimReport *t, AllocatorReport *ret);
/* Reads dirfd/<pid>.info.json and dirfd/<pid>.json with trim_report_read() (owner and pid checked: a stale
 * or forged report is ignored) and keeps the newer one with figures. Returns 0, -ENOENT when there is
 * none, -ENOMEM, or the error of reading /proc/PID (gone). */
int allocator_report_read(const CgroupRoot *r, int dirfd, pid_t pid, AllocatorReport *ret);

typedef struct MapProcess {
        pid_t pid;
        char comm[MAP_COMM_MAX];       /* /proc/PID/comm, or status Name; control bytes as '?' */
        char cmdline[MAP_CMDLINE_MAX]; /* NULs as spaces, control bytes as '?', truncated with "..." */
        const char *cgroup;            /* the cgroup it sits in (points into CgroupMap.cgroups) */
        int n_fds;                     /* open fds, -1 when not counted or unreadable */
        bool has_smaps;                /* false: smaps_rollup unreadable (-EACCES), figures are 0 */
        SmapsRollup smaps;
        bool has_allocator;
        AllocatorReport allocator;
        uint64_t reclaimable;          /* the sort key: Pss_Anon + SwapPss (see above) */
        bool estimated;                /* from statm only (MapOptions.precise_top): no Pss, no name */
} MapProcess;

/* An open regular file and its page cache. The same file (dev, ino) open several times is one entry:
 * the first opener is named. Found and measured with cgroup/cgroup-pagecache.c (pagecache_scan(),
 * pagecache_plan(), file_resident_bytes()): the same files and rules as the drop-cache rung. */
typedef struct MapFile {
        char *path;           /* readlink of /proc/PID/fd/N */
        pid_t pid;
        int fd;
        uint64_t dev, ino;
        uint64_t size;
        uint64_t pos;         /* fdinfo pos of the first opener */
        uint64_t cached;      /* bytes in page cache (mincore) */
        uint64_t cached_behind; /* of those, bytes in pages wholly before pos: read once, done with */
        bool readable, writable;
        bool shmem;           /* on a tmpfs: its pages are shmem, not page cache drop-cache could drop */
        bool droppable;       /* drop-cache would drop the part behind the reader (cgroup-pagecache.h rules) */
        const char *skip_reason; /* why not (static string), NULL when droppable or unknown */
} MapFile;

typedef struct MapOptions {
        size_t max_procs;      /* 0: MAP_PROCS_MAX_DEFAULT */
        usec_t deadline_usec;  /* CLOCK_MONOTONIC time after which the scan stops (truncated), checked every
                                * MAP_DEADLINE_MIN_PROCS processes after the first that many; 0: none */
        bool no_subtree;       /* only the cgroup's own cgroup.procs */
        bool count_fds;        /* count /proc/PID/fd entries */
        bool no_cmdline;       /* leave cmdline empty (the daemon's records name processes by comm) */
        bool scan_files;       /* look for one-pass candidates (a second pass over every fd and maps) */
        size_t max_files;      /* keep the top N files by cached bytes; 0 with scan_files: 10 */
        int trim_dirfd;        /* directory of PID.json allocator reports; < 0: none */
        size_t precise_top;    /* > 0: rank every process by /proc/PID/statm (resident - shared, constant
                                  time in the kernel) and read smaps_rollup, comm, cmdline only for the top
                                  N; the rest are listed with estimated=true and statm figures (Rss,
                                  Anonymous ~ resident - shared; no Pss). 0: every process precisely. */
} MapOptions;

typedef enum MapDiagnosisRule {
        MAP_RULE_ALLOCATOR,
        MAP_RULE_TMPFS,
        MAP_RULE_SOCK,
        MAP_RULE_LAZYFREE,
        MAP_RULE_PAGECACHE_ONEPASS,
        MAP_RULE_PAGECACHE,
        MAP_RULE_KERNEL,
        MAP_RULE_TOP_PROCESS,
        _MAP_RULE_MAX,
} MapDiagnosisRule;

typedef struct MapDiagnosis {
        MapDiagnosisRule rule;
        uint64_t bytes;  /* the amount the sentence is about; diagnoses are sorted by it, largest first */
        char text[320];
} MapDiagnosis;

#define MAP_DIAGNOSES_MAX 12

typedef struct CgroupMap {
        char *path;
        CgroupMemory mem;
        bool has_stat, has_events;
        MemoryStat stat;
        MemoryEvents events;

        char **cgroups;          /* the cgroups walked, the mapped one first */
        size_t n_listed;         /* PIDs in the cgroup.procs files */
        size_t n_kernel_threads, n_zombies, n_gone, n_unreadable;
        bool truncated;          /* a cap or the deadline cut the scan short: sums are partial */

        MapProcess *procs;       /* sorted: reclaimable, Pss, PID */
        size_t n_procs;
        SmapsRollup total;       /* sum over procs */

        MapFile *files;          /* sorted: cached, then path */
        size_t n_files;
        uint64_t files_cached, files_cached_behind; /* sums over every file examined, not only the top */
        size_t n_files_examined;

        MapDiagnosis diagnoses[MAP_DIAGNOSES_MAX];
        size_t n_diagnoses;
} CgroupMap;

/* Builds the map of cgpath. opt may be NULL (defaults: subtree, no fds, no files, no allocator
 * reports). Returns 0; -ENOENT when the cgroup does not exist; -ENODEV when it has no memory controller
 * (no memory.current); -ENOMEM. Processes that vanish, and unreadable optional files, are not errors. */
int cgroup_map_build(const CgroupRoot *r, const char *cgpath, const MapOptions *opt, CgroupMap **ret);
CgroupMap *cgroup_map_free(CgroupMap *m);
static inline void cgroup_map_freep(CgroupMap **m)
{
        cgroup_map_free(*m);
}

/* The diagnosis rules, pure (the map's figures in, sentences out). Each rule, when it fires:
 *   allocator          a process's allocator report: free held bytes >= 25% of its RSS (per process, at most 3)
 *   tmpfs              shmem that no process maps (map_unowned_shmem()); names an open tmpfs file if any
 *   sock               memory.stat sock
 *   lazyfree           the processes' LazyFree sum
 *   kernel             slab + kernel stacks + page tables >= 15% of memory.current
 *   pagecache-onepass  cached bytes of open (non-tmpfs) files >= 25% of the page cache: drop-cache
 *   pagecache          otherwise, page cache >= 50% of memory.current: the kernel reclaims it
 *   top-process        one process (of 2 or more) holds more than half of the reclaimable total
 * and every amount must also pass MAP_DIAG_MIN_BYTES and (except kernel/pagecache, which have their own
 * share) MAP_DIAG_MIN_PERCENT. Thresholds: */
#define MAP_DIAG_MIN_BYTES (16ULL << 20)   /* nothing below 16 MiB is worth a sentence */
#define MAP_DIAG_MIN_PERCENT 10            /* ... nor below 10% of memory.current */
#define MAP_DIAG_ALLOC_FREE_PERCENT 25     /* allocator: free held >= 25% of the process's RSS */
#define MAP_DIAG_ALLOC_MAX 3               /* at most 3 allocator sentences (largest first) */
#define MAP_DIAG_ONEPASS_PERCENT 25        /* open files' cache >= 25% of the page cache (file - shmem) */
#define MAP_DIAG_PAGECACHE_PERCENT 50      /* page cache (file - shmem) >= 50% of memory.current */
#define MAP_DIAG_KERNEL_PERCENT 15         /* slab + stacks + page tables >= 15% of memory.current */
#define MAP_DIAG_TOP_PROCESS_PERCENT 50    /* one process holds more than 50% of the reclaimable total */
/* Fills m->diagnoses, sorted by bytes (largest first). Returns the count. */
size_t map_diagnose(CgroupMap *m);
const char *map_rule_to_string(MapDiagnosisRule rule);

/* Tmpfs/shared memory no process maps: memory.stat shmem minus the processes' Pss_Shmem (0 if less). */
uint64_t map_unowned_shmem(const CgroupMap *m);

/* The report's sizes, "780 MiB", "1.1 GiB": util's format_bytes_iec(). */
#define MAP_SIZE_MAX FORMAT_BYTES_IEC_MAX
static inline const char *map_format_size(char buf[static MAP_SIZE_MAX], uint64_t v)
{
        return format_bytes_iec(buf, MAP_SIZE_MAX, v);
}
