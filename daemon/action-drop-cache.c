/* SPDX-License-Identifier: MIT */
/* drop-cache: posix_fadvise(POSIX_FADV_DONTNEED) on the page cache of one-pass files that the cgroup's
 * processes have open: behind sequential readers (automatic), and whole files matching [DropCache] Paths=.
 * The selection rules are in cgroup/cgroup-pagecache.h. Each file is opened through /proc/PID/fd/N and
 * checked to be the file that was scanned; its resident bytes are measured with mincore() before and after.
 * Never writes or truncates anything.
 *
 * Re-read files are protected beyond the rules of cgroup/cgroup-pagecache.h, which look at one scan only: a
 * program that reads a hot file again and again, start to end (cat in a loop, a config or index reloaded)
 * looks like a sequential reader in each pass. Two signs tell it apart, and either marks the inode as
 * re-read for as long as the guard remembers it (a table of the last REREAD_TRACK_MAX inodes per guard,
 * made at its first drop-cache, freed with it):
 * - its position went back since the last drop-cache saw it (a new pass);
 * - the file is cached well ahead of the reader: more than a quarter of [position + 4 MiB, end) is resident,
 *   which a first pass with readahead never causes.
 * And a file is dropped behind only once an earlier drop-cache saw the same inode at a lower position:
 * progress within one pass. On a first sighting nothing tells a hot file caught mid-pass (partly evicted,
 * so not cached ahead) from a one-pass reader; seen in the VM, where a hot file was dropped that way. A real
 * one-pass reader (a backup, a log shipper) runs long and is dropped from the next scan on.
 *
 * None of that protects a file larger than the cgroup can cache (memory.max, or memory.high when lower):
 * each pass over it evicts its own beginning before the next pass comes back to it (an LRU cache serves no
 * hit to a cyclic scan larger than itself), so re-reading it is no reason to keep it. Such a file is
 * dropped behind its reader from the first sighting, on every pass. Without this rule a nightly backup that
 * reads the same archive again was marked re-read on its second night and never dropped again (seen in
 * the VM: one run dropped 49 times, the runs after it not once). */
#include <inttypes.h>
#include <unistd.h>

#include "action.h"
#include "record.h"
#include "util/time-util.h"
#include "cgroup/cgroup-pagecache.h"
#include "util/log.h"

#define DROP_CACHE_FILES_MAX 4096
#define REREAD_TRACK_MAX 256
#define READAHEAD_ALLOWANCE (4ULL << 20)

struct PassTrack {
        dev_t dev;
        uint64_t ino;
        uint64_t pos;
        usec_t seen_usec;
        bool reread;
        bool seen_before; /* an earlier scan saw this inode: its position can be compared */
};

/* The entry of this inode, or the least recently seen one reset for it. NULL on OOM. */
static PassTrack *pass_track_for(Guard *g, const OpenFile *f, usec_t now)
{
        if (!g->pass_tracks && !(g->pass_tracks = calloc(REREAD_TRACK_MAX, sizeof *g->pass_tracks)))
                return NULL;
        PassTrack *victim = &g->pass_tracks[0];

        for (size_t i = 0; i < REREAD_TRACK_MAX; i++) {
                PassTrack *t = g->pass_tracks + i;
                if (t->seen_usec != 0 && t->dev == f->dev && t->ino == f->ino) {
                        t->seen_usec = now;
                        t->seen_before = true;
                        return t;
                }
                if (t->seen_usec < victim->seen_usec)
                        victim = t;
        }
        *victim = (PassTrack) { .dev = f->dev, .ino = f->ino, .pos = 0, .seen_usec = now };
        return victim;
}

int action_drop_cache(Guard *g, const Observation *o, ActionOutcome *out)
{
        const CgroupRoot *root = g->manager->root;
        OpenFile *files = NULL;
        uint64_t *mapped = NULL;
        size_t n = 0, n_mapped = 0;
        bool maps_complete = true;
        long ps = sysconf(_SC_PAGESIZE);
        uint64_t page = ps > 0 ? (uint64_t) ps : 4096;

        int r = pagecache_scan(root, g->path, DROP_CACHE_FILES_MAX, &files, &n, &mapped, &n_mapped,
                &maps_complete);
        if (r < 0) {
                snprintf(out->summary, sizeof out->summary, "cannot list the open files of the cgroup");
                return out->result = r;
        }

        _cleanup_free_ DropChoice *choice = calloc(n ?: 1, sizeof *choice);
        if (!choice) {
                open_files_free(files, n);
                free(mapped);
                return out->result = -ENOMEM;
        }
        pagecache_plan(files, n, mapped, n_mapped, g->policy->drop_cache_paths, page, choice);

        uint64_t before_total = 0, after_total = 0;
        unsigned n_dropped = 0, n_failed = 0, n_whole = 0, n_unmeasured = 0, n_reread = 0;
        usec_t now = now_usec(CLOCK_MONOTONIC);
        uint64_t cacheable = MIN(o->mem.max, o->mem.high); /* CGROUP_LIMIT_MAX: no limit */
        size_t biggest = SIZE_MAX;
        uint64_t biggest_bytes = 0;
        int first_error = 0;

        for (size_t i = 0; i < n; i++) {
                if (choice[i].verdict == DROP_SKIP) {
                        log_debug("%s: %s (PID %d fd %d): skipped, %s", g->path, files[i].path, (int) files[i].pid,
                                files[i].fd, drop_skip_reason_to_string(choice[i].reason));
                        continue;
                }
                if (choice[i].verdict == DROP_BEHIND && !maps_complete)
                        continue; /* a mapping may have gone unnoticed: only the operator's globs */
                PassTrack *t = NULL;
                bool too_big = cacheable != CGROUP_LIMIT_MAX && files[i].size > cacheable;
                if (choice[i].verdict == DROP_BEHIND && too_big)
                        log_debug("%s: %s: larger than the cgroup can cache, dropped behind on every pass", g->path,
                                files[i].path);
                else if (choice[i].verdict == DROP_BEHIND) {
                        t = pass_track_for(g, files + i, now);
                        if (!t) {
                                log_debug("%s: %s: skipped, out of memory for its history", g->path, files[i].path);
                                continue;
                        }
                        if (!t->reread && t->seen_before && files[i].info.pos < t->pos)
                                t->reread = true; /* a new pass over the same file */
                        bool progress = t->seen_before && files[i].info.pos > t->pos;
                        t->pos = files[i].info.pos;
                        if (t->reread) {
                                n_reread++;
                                log_debug("%s: %s: skipped, read again and again", g->path, files[i].path);
                                continue;
                        }
                        if (!progress) {
                                log_debug("%s: %s: skipped until a later scan shows it reading on", g->path,
                                        files[i].path);
                                continue;
                        }
                }
                _cleanup_close_ int fd = pagecache_open(root, files + i);
                if (fd < 0) {
                        if (!ERRNO_IS_GONE(fd) && fd != -ESTALE) {
                                n_failed++;
                                if (!first_error)
                                        first_error = fd;
                        }
                        continue;
                }

                if (t) {
                        uint64_t ahead = choice[i].length + READAHEAD_ALLOWANCE, cached = 0;
                        if (ahead < files[i].size &&
                            file_resident_bytes(fd, ahead, files[i].size - ahead, &cached) >= 0 &&
                            cached > (files[i].size - ahead) / 4) {
                                t->reread = true;
                                n_reread++;
                                log_debug("%s: %s: skipped, cached ahead of its reader", g->path, files[i].path);
                                continue;
                        }
                }

                uint64_t before = 0, after = 0;
                bool measured = file_resident_bytes(fd, 0, choice[i].length, &before) >= 0;
                int k = file_drop_cache(fd, 0, choice[i].verdict == DROP_WHOLE ? 0 : choice[i].length);
                if (k < 0) {
                        n_failed++;
                        if (!first_error)
                                first_error = k;
                        continue;
                }
                measured = measured && file_resident_bytes(fd, 0, choice[i].length, &after) >= 0;
                n_dropped++;
                if (choice[i].verdict == DROP_WHOLE)
                        n_whole++;
                if (!measured) {
                        n_unmeasured++;
                        continue;
                }
                before_total += before;
                after_total += MIN(after, before);
                if (before - MIN(after, before) > biggest_bytes || biggest == SIZE_MAX) {
                        biggest = i;
                        biggest_bytes = before - MIN(after, before);
                }
                log_debug("%s: %s (PID %d fd %d): dropped %s, resident %" PRIu64 " -> %" PRIu64, g->path,
                        files[i].path, (int) files[i].pid, files[i].fd,
                        choice[i].verdict == DROP_WHOLE ? "the whole file" : "behind the reader", before, after);
        }

        uint64_t dropped = before_total - after_total;
        char b[FORMAT_BYTES_MAX];
        action_add_field(out, "DROPPED_BYTES=%" PRIu64, dropped);
        action_add_field(out, "FILES=%u", n_dropped);
        action_add_field(out, "FILES_WHOLE=%u", n_whole);
        action_add_field(out, "FILES_SCANNED=%zu", n);
        action_add_field(out, "RESIDENT_BEFORE=%" PRIu64, before_total);
        if (n_unmeasured > 0)
                action_add_field(out, "FILES_UNMEASURED=%u", n_unmeasured);
        if (n_reread > 0)
                action_add_field(out, "FILES_REREAD=%u", n_reread);
        if (!maps_complete)
                action_add_field(out, "DROP_CACHE_AUTOMATIC=off-maps-unreadable");
        if (biggest != SIZE_MAX && biggest_bytes > 0)
                action_add_field(out, "DROPPED_LARGEST=%s", files[biggest].path);

        if (n_dropped == 0 && n_failed == 0)
                snprintf(out->summary, sizeof out->summary, "no one-pass file open (%zu regular files checked)",
                        n);
        else if (biggest != SIZE_MAX && biggest_bytes > 0)
                snprintf(out->summary, sizeof out->summary, "dropped %s of page cache from %u one-pass file(s), "
                        "most from %.120s", format_bytes(b, sizeof b, dropped), n_dropped, files[biggest].path);
        else
                snprintf(out->summary, sizeof out->summary, "dropped %s of page cache from %u one-pass file(s)",
                        format_bytes(b, sizeof b, dropped), n_dropped);
        if (n_unmeasured > 0)
                log_debug("%s: %u file(s) dropped without a measure (mincore not available?)", g->path,
                        n_unmeasured);

        open_files_free(files, n);
        free(mapped);
        if (n_failed > 0 && n_dropped == 0)
                return out->result = first_error;
        out->partial = n_failed > 0;
        return out->result = 0;
}
