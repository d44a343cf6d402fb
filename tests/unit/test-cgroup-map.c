/* SPDX-License-Identifier: MIT */
/* The map (cgroup/cgroup-map.h): smaps_rollup and allocator-report parsers with hostile input, the map of
 * a fixture tree with known numbers (tests/fixtures/map/make-fixture.sh lists them: shared pages,
 * LazyFree, a zombie, a process gone mid-scan, a kernel thread, a name with ") Z "), a real process
 * with a real file in the page cache, the diagnosis rules table, and `memwardenctl map` golden output. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cgroup/cgroup-map.h"
#include "cgroup/cgroup-trim.h"
#include "util/fileio.h"
#include "util/macro.h"

#define MAPFIX FIXTURES_DIR "/map"
#define MiB (1024ULL * 1024ULL)

/* ---- smaps_rollup ---- */

static const char rollup[] = "55d1c0a1b000-7ffd2e5fe000 ---p 00000000 00:00 0                          [rollup]\n"
                             "Rss:                1200 kB\n"
                             "Pss:                 900 kB\n"
                             "Pss_Dirty:           700 kB\n"
                             "Pss_Anon:            600 kB\n"
                             "Pss_File:            200 kB\n"
                             "Pss_Shmem:           100 kB\n"
                             "Shared_Clean:        400 kB\n"
                             "Shared_Dirty:        200 kB\n"
                             "Private_Clean:       100 kB\n"
                             "Private_Dirty:       500 kB\n"
                             "Referenced:         1200 kB\n"
                             "Anonymous:           650 kB\n"
                             "LazyFree:             64 kB\n"
                             "AnonHugePages:         0 kB\n"
                             "Swap:                 32 kB\n"
                             "SwapPss:              16 kB\n"
                             "Locked:                0 kB\n";

/* A fake cgroup DIR/NAME (DIR made from its mkdtemp template) with memory.current at 64 MiB and the n PIDs
 * in its cgroup.procs, for a map over the real /proc or the fixture's. */
static void fake_cgroup(char *dir, const char *name, const int *pids, size_t n)
{
        char path[512];
        cr_assert_not_null(mkdtemp(dir));
        snprintf(path, sizeof path, "%s/%s", dir, name);
        cr_assert_eq(mkdir(path, 0755), 0);
        snprintf(path, sizeof path, "%s/%s/memory.current", dir, name);
        FILE *f = fopen(path, "we");
        cr_assert_not_null(f);
        fprintf(f, "%llu\n", 64 * MiB);
        fclose(f);
        snprintf(path, sizeof path, "%s/%s/cgroup.procs", dir, name);
        cr_assert_not_null(f = fopen(path, "we"));
        for (size_t i = 0; i < n; i++)
                fprintf(f, "%d\n", pids[i]);
        fclose(f);
}

Test(smaps, rollup_in_bytes)
{
        SmapsRollup s;
        cr_assert_eq(smaps_parse(rollup, false, &s), 0);
        cr_expect_eq(s.rss, 1200 * 1024);
        cr_expect_eq(s.pss, 900 * 1024);
        cr_expect_eq(s.pss_anon, 600 * 1024);
        cr_expect_eq(s.pss_file, 200 * 1024);
        cr_expect_eq(s.pss_shmem, 100 * 1024);
        cr_expect_eq(s.shared_clean, 400 * 1024);
        cr_expect_eq(s.shared_dirty, 200 * 1024);
        cr_expect_eq(s.private_clean, 100 * 1024);
        cr_expect_eq(s.private_dirty, 500 * 1024);
        cr_expect_eq(s.anonymous, 650 * 1024);
        cr_expect_eq(s.lazyfree, 64 * 1024);
        cr_expect_eq(s.swap, 32 * 1024);
        cr_expect_eq(s.swap_pss, 16 * 1024);
        cr_expect(s.has_pss_anon);
}

Test(smaps, old_kernel_without_pss_anon)
{
        SmapsRollup s;
        cr_assert_eq(smaps_parse("Rss: 8 kB\nPss: 4 kB\nAnonymous: 4 kB\n", false, &s), 0);
        cr_expect_not(s.has_pss_anon);
        cr_expect_eq(s.anonymous, 4096);
}

Test(smaps, full_smaps_summed)
{
        const char *smaps = "00400000-00452000 r-xp 00000000 08:02 173521 /usr/bin/dbus-daemon\n"
                            "Size:                328 kB\nRss:                 100 kB\nPss:                  50 kB\n"
                            "Private_Dirty:         0 kB\nVmFlags: rd ex mr mw me dw\nTHPeligible:    0\n"
                            "7f0000000000-7f0000100000 rw-p 00000000 00:00 0\n"
                            "Size:               1024 kB\nRss:                 200 kB\nPss:                 200 kB\n"
                            "Private_Dirty:       200 kB\nAnonymous:           200 kB\nVmFlags: rd wr mr mw me ac\n";
        SmapsRollup s;
        cr_assert_eq(smaps_parse(smaps, true, &s), 0);
        cr_expect_eq(s.rss, 300 * 1024);
        cr_expect_eq(s.pss, 250 * 1024);
        cr_expect_eq(s.private_dirty, 200 * 1024);
        cr_expect_eq(s.anonymous, 200 * 1024);
        /* The same text as a rollup has repeated keys: forged. */
        cr_expect_eq(smaps_parse(smaps, false, &s), -EINVAL);
}

Test(smaps, hostile)
{
        SmapsRollup s = { .rss = 4242 };
        static const struct {
                const char *buf;
                int ret;
        } cases[] = {
                { "", -EINVAL },                                  /* kernel thread / zombie: empty */
                { "55d1c0a1b000-7ffd2e5fe000 ---p 00000000 00:00 0 [rollup]\n", -EINVAL }, /* truncated */
                { "Rss: 12", -EINVAL },                           /* cut before the unit */
                { "Rss: lots kB\n", -EINVAL },
                { "Rss: -5 kB\n", -EINVAL },
                { "Rss: 5 MB\n", -EINVAL },
                { "Rss: 5 kB junk\n", -EINVAL },
                { "Rss: 1 kB\nRss: 1 kB\n", -EINVAL },            /* a forged second line */
                { "Rss: 99999999999999999999999 kB\n", -ERANGE },
                { "Rss: 18014398509481984 kB\n", -ERANGE },       /* 2^54 kB > 2^64 bytes */
                { "Pss: 5 kB\n", -EINVAL },                       /* no Rss */
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++)
                cr_expect_eq(smaps_parse(cases[i].buf, false, &s), cases[i].ret, "case %zu '%s'", i, cases[i].buf);
        cr_expect_eq(s.rss, 4242, "written on failure");
        cr_expect_eq(smaps_parse("Rss: 18014398509481983 kB\nRss: 18014398509481983 kB\n", true, &s), -ERANGE,
                     "the sum overflows");
        cr_expect_eq(smaps_parse("Rss:\t5 kB\r\nUnknown: x\nLazyFree:  3 kB\n", false, &s), 0);
        cr_expect_eq(s.lazyfree, 3072);
}

/* ---- allocator reports (the trim library's files) ---- */

Test(allocator, from_info_and_trim_reports)
{
        AllocatorReport a;
        TrimReport info = { .is_info = true, .allocator = "glibc", .system = 1000, .in_use = 300, .free = 700,
                            .n_arenas = 8 };
        cr_assert_eq(allocator_report_from_trim(&info, &a), 0);
        cr_expect_str_eq(a.allocator, "glibc");
        cr_expect_eq(a.held_bytes, 1000);
        cr_expect_eq(a.in_use_bytes, 300);
        cr_expect_eq(a.free_bytes, 700);
        cr_expect_eq(a.arenas, 8);

        TrimReport trim = { .allocator = "glibc",
                            .mallinfo_after = { .valid = true, .arena = 100, .hblkhd = 50, .uordblks = 70, .fordblks = 30 } };
        cr_assert_eq(allocator_report_from_trim(&trim, &a), 0);
        cr_expect_eq(a.held_bytes, 150);
        cr_expect_eq(a.in_use_bytes, 120);
        cr_expect_eq(a.free_bytes, 30);
        cr_expect_eq(a.arenas, 0);

        TrimReport je = { .is_info = true, .allocator = "jemalloc" };
        cr_expect_eq(allocator_report_from_trim(&je, &a), -ENODATA, "jemalloc's own JSON: no glibc figures");
        TrimReport nomi = { .allocator = "jemalloc" };
        cr_expect_eq(allocator_report_from_trim(&nomi, &a), -ENODATA);
        TrimReport odd = { .is_info = true, .system = 10, .in_use = 20 };
        cr_assert_eq(allocator_report_from_trim(&odd, &a), 0);
        cr_expect_eq(a.free_bytes, 0, "in use above held: 0, not a wrap-around");
        cr_expect_str_eq(a.allocator, "malloc");
}

/* ---- the fixture map ---- */

static CgroupRoot *fixture_root(void)
{
        CgroupRoot *r = NULL;
        cr_assert_eq(cgroup_root_open(MAPFIX "/cgroup", MAPFIX "/proc", &r), 0);
        return r;
}

static const MapProcess *find(const CgroupMap *m, pid_t pid)
{
        for (size_t i = 0; i < m->n_procs; i++)
                if (m->procs[i].pid == pid)
                        return &m->procs[i];
        return NULL;
}

Test(map, fixture_known_numbers)
{
        CgroupRoot *r = fixture_root();
        int trim = open(MAPFIX "/trim", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        cr_assert_geq(trim, 0);
        MapOptions opt = { .count_fds = true, .trim_dirfd = trim };
        CgroupMap *m = NULL;

        cr_assert_eq(cgroup_map_build(r, "/app.service", &opt, &m), 0);
        cr_expect_eq(m->mem.current, 1024 * MiB);
        cr_expect_eq(m->mem.max, 1536 * MiB);
        cr_expect_eq(m->mem.high, CGROUP_LIMIT_MAX);
        cr_expect(m->has_stat && m->has_events);
        cr_expect_eq(m->events.high, 12);

        cr_expect_eq(m->n_listed, 9, "8 in app.service, 1 in worker");
        cr_expect_eq(m->n_zombies, 1);
        cr_expect_eq(m->n_kernel_threads, 1);
        cr_expect_eq(m->n_gone, 1, "205 is listed but has no /proc entry");
        cr_expect_eq(m->n_unreadable, 1, "206's smaps_rollup is garbage");
        cr_expect_not(m->truncated);
        cr_assert_eq(m->n_procs, 6);

        /* Sorted by Pss_Anon + SwapPss; the two postgres tie and go by Pss, then PID; 206 has no figures. */
        static const pid_t order[] = { 200, 201, 203, 204, 210, 206 };
        for (size_t i = 0; i < ELEMENTSOF(order); i++)
                cr_expect_eq(m->procs[i].pid, order[i], "position %zu: %d, want %d", i, m->procs[i].pid, order[i]);

        const MapProcess *java = find(m, 200), *worker = find(m, 201), *pg = find(m, 203), *sl = find(m, 210);
        cr_assert(java && worker && pg && sl);
        cr_expect_eq(java->reclaimable, 350 * MiB);
        cr_expect_eq(java->n_fds, 12);
        cr_expect_str_eq(java->comm, "java");
        cr_expect_str_eq(java->cmdline, "java -Xmx512m -jar /srv/app.jar");
        cr_expect_str_eq(java->cgroup, "/app.service");
        cr_expect(java->has_allocator);
        cr_expect_eq(java->allocator.free_bytes, 260 * MiB);
        cr_expect_eq(java->allocator.arenas, 32);
        cr_expect_not(pg->has_allocator, "203.info.json names another pid: stale, ignored");
        cr_expect(worker->has_allocator, "201.json: a trim report");
        cr_expect_eq(worker->allocator.held_bytes, 14 * MiB);
        cr_expect_eq(worker->allocator.free_bytes, 2 * MiB);
        cr_expect_eq(pg->n_fds, -1);

        cr_expect_str_eq(worker->comm, "my ) Z (worker");
        cr_expect_eq(strlen(worker->cmdline), MAP_CMDLINE_MAX - 1);
        cr_expect(strncmp(worker->cmdline, "/usr/bin/python3 -u /srv/worker.py --queue=aaa", 46) == 0);
        cr_expect_str_eq(worker->cmdline + MAP_CMDLINE_MAX - 4, "...");
        cr_expect_eq(worker->smaps.lazyfree, 110 * MiB);

        cr_expect_str_eq(sl->cgroup, "/app.service/worker", "descendants are part of the map");
        cr_expect_eq(sl->reclaimable, 256 * 1024 + 2 * MiB, "SwapPss counts");

        /* Shared pages by Pss: 40 MiB of shmem shared by 203 and 204 count once. */
        cr_expect_eq(pg->smaps.pss_shmem, 20 * MiB);
        cr_expect_eq(m->total.pss_shmem, 50 * MiB);
        cr_expect_eq(map_unowned_shmem(m), 120 * MiB);
        cr_expect_eq(m->total.lazyfree, 110 * MiB);

        /* The diagnosis, largest first. */
        static const MapDiagnosisRule rules[] = { MAP_RULE_TOP_PROCESS, MAP_RULE_ALLOCATOR, MAP_RULE_TMPFS,
                                                  MAP_RULE_SOCK, MAP_RULE_LAZYFREE };
        cr_assert_eq(m->n_diagnoses, ELEMENTSOF(rules));
        for (size_t i = 0; i < ELEMENTSOF(rules); i++)
                cr_expect_eq(m->diagnoses[i].rule, rules[i], "diagnosis %zu: %s", i,
                             map_rule_to_string(m->diagnoses[i].rule));
        cr_expect_str_eq(m->diagnoses[1].text, "260 MiB of 400 MiB RSS of java (pid 200) is free memory held by "
                                               "glibc in 32 arenas: trim, or MALLOC_ARENA_MAX=2, or jemalloc");
        cr_expect(strncmp(m->diagnoses[2].text, "120 MiB is tmpfs/shared memory (shmem) that no process maps", 59) == 0);
        cr_expect(strstr(m->diagnoses[3].text, "socket buffers hold 120 MiB"));
        cr_expect(strstr(m->diagnoses[4].text, "110 MiB of RSS is LazyFree pages (MADV_FREE)"));

        cgroup_map_free(m);
        close(trim);
        cgroup_root_free(r);
}

Test(map, caps_and_own_cgroup_only)
{
        CgroupRoot *r = fixture_root();
        CgroupMap *m = NULL;
        MapOptions opt = { .no_subtree = true, .trim_dirfd = -1 };

        cr_assert_eq(cgroup_map_build(r, "/app.service", &opt, &m), 0);
        cr_expect_eq(m->n_listed, 8);
        cr_expect_null(find(m, 210), "the worker sub-cgroup is not read");
        cr_expect_eq(m->procs[0].n_fds, -1, "fds not counted unless asked");
        cr_expect_not(m->procs[0].has_allocator, "no report directory");
        cgroup_map_free(m);

        opt = (MapOptions){ .max_procs = 2, .trim_dirfd = -1 };
        cr_assert_eq(cgroup_map_build(r, "/app.service", &opt, &m), 0);
        cr_expect(m->truncated);
        cr_expect_eq(m->n_procs + m->n_kernel_threads + m->n_zombies + m->n_gone, 2 + 1, "PID order: 2 (kthread), 200, 201");
        cgroup_map_free(m);

        /* A deadline already past when the scan begins (the listing and the cgroup's own files took the
         * budget: 83-125 ms of 80 under TCG in the VM, and the daemon's records said "0 processes"): the
         * first MAP_DEADLINE_MIN_PROCS are read all the same. */
        opt = (MapOptions){ .deadline_usec = 1, .trim_dirfd = -1 };
        cr_assert_eq(cgroup_map_build(r, "/app.service", &opt, &m), 0);
        cr_expect_not(m->truncated, "9 listed: fewer than the minimum, all read");
        cr_expect_eq(m->n_procs, 6);
        cgroup_map_free(m);
        cgroup_root_free(r);

        /* ... and no more: 40 listed (none alive), 16 looked at, then the deadline stops the scan. */
        char dir[] = BUILD_ROOT "/test-map-deadline-XXXXXX", path[512];
        int many[40];
        for (int i = 0; i < 40; i++)
                many[i] = 4194304 + 100 + i; /* above any pid_max: never a process */
        fake_cgroup(dir, "many.service", many, 40);
        cr_assert_eq(cgroup_root_open(dir, MAPFIX "/proc", &r), 0);
        cr_assert_eq(cgroup_map_build(r, "/many.service", &opt, &m), 0);
        cr_expect(m->truncated, "a deadline in the past stops the scan after the minimum");
        cr_expect_eq(m->n_listed, 40);
        cr_expect_eq(m->n_gone, MAP_DEADLINE_MIN_PROCS, "%zu looked at", m->n_gone);
        cgroup_map_free(m);
        cgroup_root_free(r);
        snprintf(path, sizeof path, "rm -rf '%s'", dir);
        cr_assert_eq(system(path), 0);
        r = fixture_root();

        cr_expect_eq(cgroup_map_build(r, "/nonexistent.service", NULL, &m), -ENOENT);
        cr_expect_eq(cgroup_map_build(r, "/app.service/worker/..", NULL, &m), -EINVAL);
        cgroup_root_free(r);
}

Test(map, no_memory_controller)
{
        CgroupRoot *r = NULL;
        CgroupMap *m = NULL;
        cr_assert_eq(cgroup_root_open(FIXTURES_DIR "/cgroup/tree", MAPFIX "/proc", &r), 0);
        cr_expect_eq(cgroup_map_build(r, "/hostile.slice/nomemory.service", NULL, &m), -ENODEV);
        cgroup_root_free(r);
}

/* A real process (this one) with a real file: a fake cgroup lists our PID, /proc is the real one. */
Test(map, real_process_and_page_cache)
{
        char dir[] = BUILD_ROOT "/test-map-XXXXXX";
        char data[512];
        fake_cgroup(dir, "cg.service", &(int){ getpid() }, 1);

        /* 4 MiB written (dirty pages are resident), then read half of it through a read-only fd. */
        snprintf(data, sizeof data, "%s/backup.tar", dir);
        int w = open(data, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        cr_assert_geq(w, 0);
        static char chunk[1 << 20];
        memset(chunk, 'x', sizeof chunk);
        for (int i = 0; i < 4; i++)
                cr_assert_eq(write(w, chunk, sizeof chunk), (ssize_t) sizeof chunk);
        close(w);
        int rd = open(data, O_RDONLY | O_CLOEXEC);
        cr_assert_geq(rd, 0);
        for (int i = 0; i < 2; i++)
                cr_assert_eq(read(rd, chunk, sizeof chunk), (ssize_t) sizeof chunk);

        CgroupRoot *r = NULL;
        cr_assert_eq(cgroup_root_open(dir, "/proc", &r), 0);
        CgroupMap *m = NULL;
        MapOptions opt = { .count_fds = true, .scan_files = true, .trim_dirfd = -1 };
        cr_assert_eq(cgroup_map_build(r, "/cg.service", &opt, &m), 0);
        cr_assert_eq(m->n_procs, 1);
        const MapProcess *p = &m->procs[0];
        cr_expect_eq(p->pid, getpid());
        cr_expect(p->has_smaps, "our own smaps_rollup is readable");
        cr_expect_gt(p->smaps.rss, 0);
        cr_expect_gt(p->reclaimable, 0);
        cr_expect_geq(p->n_fds, 4);
        cr_expect(p->cmdline[0] != 0 && p->comm[0] != 0, "cmdline '%s' comm '%s'", p->cmdline, p->comm);

        const MapFile *file = NULL;
        for (size_t i = 0; i < m->n_files; i++)
                if (streq(m->files[i].path, data))
                        file = &m->files[i];
        cr_assert_not_null(file, "%s not among the %zu files", data, m->n_files);
        cr_expect_eq(file->size, 4 * MiB);
        cr_expect_eq(file->pos, 2 * MiB);
        cr_expect_eq(file->pid, getpid());
        cr_expect_eq(file->fd, rd);
        cr_expect(file->readable && !file->writable);
        /* Just written: resident unless the host is under heavy memory pressure. */
        cr_expect_geq(file->cached, 2 * MiB, "cached %llu", (unsigned long long) file->cached);
        cr_expect_leq(file->cached_behind, 2 * MiB);
        cr_expect_leq(file->cached_behind, file->cached);
        cr_expect_not(file->shmem);
        cr_expect(file->droppable, "read-only, moved on: drop-cache would drop behind it (%s)",
                  file->skip_reason ?: "");
        cr_expect_geq(m->files_cached, file->cached);

        cgroup_map_free(m);
        cgroup_root_free(r);
        close(rd);
        char cmd[600];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        cr_expect_eq(system(cmd), 0);
}

/* ---- diagnosis rules, table-driven on hand-made maps ---- */

typedef struct DiagCase {
        const char *name;
        uint64_t current;
        MemoryStat stat;
        SmapsRollup total;
        uint64_t proc_rss, proc_reclaimable[2];
        AllocatorReport alloc;
        bool has_alloc;
        MapFile file;
        bool has_file;
        int want[4]; /* rules expected, in order; -1 ends */
} DiagCase;

static const DiagCase diag_cases[] = {
        { "calm: nothing stands out", 512 * MiB, { .anon = 100 * MiB, .file = 100 * MiB }, {}, 0, { 0, 0 }, {},
          false, {}, false, { -1 } },
        { "tmpfs nobody maps", 512 * MiB, { .shmem = 410 * MiB }, { .pss_shmem = 10 * MiB }, 0, { 0, 0 }, {}, false,
          {}, false, { MAP_RULE_TMPFS, -1 } },
        { "shmem mapped by processes is theirs", 512 * MiB, { .shmem = 410 * MiB }, { .pss_shmem = 400 * MiB }, 0,
          { 0, 0 }, {}, false, {}, false, { -1 } },
        { "below 16 MiB is never worth it", 64 * MiB, { .sock = 15 * MiB }, {}, 0, { 0, 0 }, {}, false, {}, false,
          { -1 } },
        { "below 10% of usage neither", 4096 * MiB, { .sock = 300 * MiB }, {}, 0, { 0, 0 }, {}, false, {}, false,
          { -1 } },
        { "socket buffers", 1024 * MiB, { .sock = 300 * MiB }, {}, 0, { 0, 0 }, {}, false, {}, false,
          { MAP_RULE_SOCK, -1 } },
        { "lazyfree", 512 * MiB, {}, { .lazyfree = 100 * MiB }, 0, { 0, 0 }, {}, false, {}, false,
          { MAP_RULE_LAZYFREE, -1 } },
        { "kernel memory at 15%", 512 * MiB,
          { .slab_unreclaimable = 60 * MiB, .pagetables = 10 * MiB, .kernel_stack = 8 * MiB }, {}, 0, { 0, 0 }, {},
          false, {}, false, { MAP_RULE_KERNEL, -1 } },
        { "kernel memory below 15%", 1024 * MiB, { .slab_unreclaimable = 100 * MiB }, {}, 0, { 0, 0 }, {}, false,
          {}, false, { -1 } },
        { "page cache, no open file", 512 * MiB, { .file = 300 * MiB, .inactive_file = 250 * MiB }, {}, 0,
          { 0, 0 }, {}, false, {}, false, { MAP_RULE_PAGECACHE, -1 } },
        { "page cache of a one-pass file", 1024 * MiB, { .file = 700 * MiB },
          {}, 0, { 0, 0 }, {}, false,
          { .path = (char *) "/var/backups/db.tar", .cached = 650 * MiB, .cached_behind = 600 * MiB, .pid = 300 },
          true, { MAP_RULE_PAGECACHE_ONEPASS, -1 } },
        { "a tmpfs file is not page cache", 1024 * MiB, { .file = 700 * MiB, .shmem = 650 * MiB },
          { .pss_shmem = 0 }, 0, { 0, 0 }, {}, false,
          { .path = (char *) "/dev/shm/blob", .cached = 650 * MiB, .shmem = true, .pid = 300 }, true,
          { MAP_RULE_TMPFS, -1 } },
        { "glibc holds free memory", 1536 * MiB, { .anon = 1100 * MiB }, {}, 1100 * MiB, { 1000 * MiB, 1000 * MiB },
          { .allocator = "glibc", .held_bytes = 900 * MiB, .in_use_bytes = 120 * MiB, .free_bytes = 780 * MiB,
            .arenas = 32 },
          true, {}, false, { MAP_RULE_ALLOCATOR, -1 } },
        { "allocator free below 25% of RSS", 1536 * MiB, { .anon = 1100 * MiB }, {}, 1100 * MiB, { 1000 * MiB, 1000 * MiB },
          { .allocator = "glibc", .held_bytes = 300 * MiB, .in_use_bytes = 100 * MiB, .free_bytes = 200 * MiB },
          true, {}, false, { -1 } },
        { "one process holds most", 1024 * MiB, { .anon = 800 * MiB }, {}, 0, { 600 * MiB, 200 * MiB }, {}, false,
          {}, false, { MAP_RULE_TOP_PROCESS, -1 } },
        { "two alike: no single culprit", 1024 * MiB, { .anon = 800 * MiB }, {}, 0, { 300 * MiB, 300 * MiB }, {},
          false, {}, false, { -1 } },
};

Test(diagnosis, rules_table)
{
        for (size_t i = 0; i < ELEMENTSOF(diag_cases); i++) {
                const DiagCase *c = &diag_cases[i];
                MapProcess procs[2] = {
                        { .pid = 100, .comm = "app", .has_smaps = true,
                          .smaps = { .rss = c->proc_rss }, .reclaimable = c->proc_reclaimable[0],
                          .has_allocator = c->has_alloc, .allocator = c->alloc },
                        { .pid = 101, .comm = "helper", .has_smaps = true, .reclaimable = c->proc_reclaimable[1] },
                };
                MapFile file = c->file;
                CgroupMap m = {
                        .mem = { .current = c->current, .max = CGROUP_LIMIT_MAX, .high = CGROUP_LIMIT_MAX },
                        .has_stat = true,
                        .stat = c->stat,
                        .total = c->total,
                        .procs = procs,
                        .n_procs = c->proc_reclaimable[0] > 0 ? 2 : 0,
                        .files = c->has_file ? &file : NULL,
                        .n_files = c->has_file ? 1 : 0,
                };
                size_t n = map_diagnose(&m);
                size_t want = 0;
                while (want < ELEMENTSOF(c->want) && c->want[want] >= 0)
                        want++;
                cr_expect_eq(n, want, "%s: %zu diagnoses, want %zu (first: %s)", c->name, n, want,
                             n ? m.diagnoses[0].text : "-");
                for (size_t j = 0; j < MIN(n, want); j++)
                        cr_expect_eq((int) m.diagnoses[j].rule, c->want[j], "%s: #%zu is %s: %s", c->name, j,
                                     map_rule_to_string(m.diagnoses[j].rule), m.diagnoses[j].text);
        }
}

Test(diagnosis, sentences_with_numbers)
{
        const DiagCase *c = NULL;
        for (size_t i = 0; i < ELEMENTSOF(diag_cases); i++)
                if (streq(diag_cases[i].name, "glibc holds free memory"))
                        c = &diag_cases[i];
        cr_assert_not_null(c);
        MapProcess p = { .pid = 4711, .comm = "frag", .has_smaps = true, .smaps = { .rss = 1127 * MiB },
                         .reclaimable = 1000 * MiB, .has_allocator = true, .allocator = c->alloc };
        CgroupMap m = { .mem = { .current = 1536 * MiB }, .has_stat = true, .procs = &p, .n_procs = 1 };
        cr_assert_eq(map_diagnose(&m), 1);
        cr_expect_str_eq(m.diagnoses[0].text, "780 MiB of 1.1 GiB RSS of frag (pid 4711) is free memory held by glibc "
                                              "in 32 arenas: trim, or MALLOC_ARENA_MAX=2, or jemalloc");

        MapFile f = { .path = (char *) "/var/backups/db.tar", .cached = 650 * MiB, .cached_behind = 600 * MiB,
                      .pid = 300 };
        m = (CgroupMap){ .mem = { .current = 1024 * MiB }, .has_stat = true, .stat = { .file = 700 * MiB },
                         .files = &f, .n_files = 1 };
        cr_assert_eq(map_diagnose(&m), 1);
        cr_expect_str_eq(m.diagnoses[0].text, "page cache holds 700 MiB; 650 MiB of it is 1 file open in this cgroup, "
                                              "most /var/backups/db.tar (650 MiB cached, 600 MiB of it behind the "
                                              "read position of pid 300): drop-cache");
}

Test(format, sizes)
{
        char b[MAP_SIZE_MAX];
        cr_expect_str_eq(map_format_size(b, 0), "0 B");
        cr_expect_str_eq(map_format_size(b, 1023), "1023 B");
        cr_expect_str_eq(map_format_size(b, 1024), "1.0 KiB");
        cr_expect_str_eq(map_format_size(b, 780 * MiB), "780 MiB");
        cr_expect_str_eq(map_format_size(b, 1127 * MiB), "1.1 GiB");
        cr_expect_str_eq(map_format_size(b, UINT64_MAX), "16 EiB");
        cr_expect_str_eq(map_format_size(b, 10188 * 1024), "9.9 MiB", "one decimal below 9.95 units");
        cr_expect_str_eq(map_format_size(b, 10 * MiB), "10 MiB");

        /* The records' style, from the same formatter (util/format-util.h). */
        char s[FORMAT_BYTES_MAX];
        cr_expect_str_eq(format_bytes(s, sizeof s, 800), "800B");
        cr_expect_str_eq(format_bytes(s, sizeof s, 1024), "1K", "a whole number of units without .0");
        cr_expect_str_eq(format_bytes(s, sizeof s, 1536 * 1024), "1.5M");
        cr_expect_str_eq(format_bytes(s, sizeof s, 226 * MiB), "226M");
        cr_expect_str_eq(format_bytes(s, sizeof s, 99 * MiB + 512 * 1024), "99.5M", "one decimal below 100");
        cr_expect_str_eq(format_bytes(s, sizeof s, 1536 * MiB), "1.5G");
        cr_expect_str_eq(format_bytes(s, sizeof s, UINT64_MAX), "max", "a limit of max");
}

/* ---- memwardenctl map: golden output on the fixture tree ---- */

static char out[1 << 17], err[1 << 14];
/* Per process: other checkouts may run this test at the same time. */
static char out_path[64], err_path[64];

static int ctl(const char *args)
{
        const char *bin = getenv("MEMWARDENCTL");
        cr_assert_not_null(bin, "MEMWARDENCTL not set (run through meson test)");
        snprintf(out_path, sizeof out_path, "/tmp/mwctl-map-test.%d.out", (int) getpid());
        snprintf(err_path, sizeof err_path, "/tmp/mwctl-map-test.%d.err", (int) getpid());
        char cmd[4096];
        snprintf(cmd, sizeof cmd,
                 "%s %s --cgroup-root " MAPFIX "/cgroup --proc-root " MAPFIX "/proc --trim-dir " MAPFIX
                 "/trim >%s 2>%s",
                 bin, args, out_path, err_path);
        int status = system(cmd);
        cr_assert(WIFEXITED(status));
        FILE *f = fopen(out_path, "re");
        size_t n = fread(out, 1, sizeof out - 1, f);
        out[n] = 0;
        fclose(f);
        f = fopen(err_path, "re");
        n = fread(err, 1, sizeof err - 1, f);
        err[n] = 0;
        fclose(f);
        return WEXITSTATUS(status);
}

static void expect_golden(const char *name)
{
        char path[512];
        _cleanup_free_ char *want = NULL;
        snprintf(path, sizeof path, MAPFIX "/golden/%s", name);
        if (getenv("MEMWARDEN_UPDATE_GOLDEN")) {
                FILE *f = fopen(path, "we");
                cr_assert_not_null(f);
                fputs(out, f);
                fclose(f);
        }
        cr_assert_eq(read_full_file_at(AT_FDCWD, path, 1 << 20, &want, NULL), 0, "%s missing", path);
        cr_expect_str_eq(out, want, "%s differs (MEMWARDEN_UPDATE_GOLDEN=1 rewrites it). Got:\n%s", name, out);
}

Test(ctl_map, golden_human)
{
        cr_assert_eq(ctl("map app.service"), 0, "stderr: %s", err);
        expect_golden("app.service.txt");
        cr_expect(strstr(out, "\u2588"), "bars are drawn");
}

Test(ctl_map, golden_json_and_valid)
{
        cr_assert_eq(ctl("--json map /app.service"), 0, "stderr: %s", err);
        expect_golden("app.service.json");
        char py[1024];
        snprintf(py, sizeof py,
                 "python3 -c 'import json,sys; d=json.load(open(\"%s\")); "
                 "assert d[\"version\"]==1 and d[\"top\"][0][\"pid\"]==200 and "
                 "d[\"shmem_unowned\"]==125829120, d' 2>/dev/null || ! command -v python3 >/dev/null",
                 out_path);
        cr_expect_eq(system(py), 0, "not valid JSON or wrong content");
}

Test(ctl_map, top_and_errors)
{
        cr_assert_eq(ctl("map app.service --json --top 2 --files 0"), 0);
        cr_expect(strstr(out, "\"pid\": 201"));
        cr_expect_null(strstr(out, "\"pid\": 203"), "--top 2");
        cr_expect(strstr(out, "\"files\": null"));
        cr_expect_eq(ctl("map nosuch.service"), 1);
        cr_expect(strstr(err, "nosuch.service: no such cgroup or unit"), "%s", err);
        cr_expect_eq(ctl("map /nosuch"), 1);
        cr_expect_eq(ctl("map"), 2);
        cr_expect_eq(ctl("map a b"), 2);
        cr_expect_eq(ctl("map app.service --top lots"), 2);
}

/* MapOptions.precise_top: every process ranked by statm, smaps_rollup read for the top N only; the two
 * largest of real children come first and precisely, the rest are listed as estimates. */
Test(map, precise_top_ranks_by_statm)
{
        static const int mib[] = { 1, 24, 1, 8, 1, 16, 1, 1 };
        pid_t kids[8];
        int ready[2];
        cr_assert_eq(pipe(ready), 0);
        for (size_t i = 0; i < 8; i++) {
                kids[i] = fork();
                cr_assert_geq(kids[i], 0);
                if (kids[i] == 0) {
                        prctl(PR_SET_PDEATHSIG, SIGKILL); /* an orphan would hold meson's pipe open */
                        size_t n = (size_t) mib[i] << 20;
                        static char *volatile keep; /* or -O2 drops the unused buffer */
                        keep = malloc(n);
                        memset(keep, 1, n);
                        (void) !write(ready[1], "x", 1);
                        pause();
                        _exit(0);
                }
        }
        char c;
        for (size_t i = 0; i < 8; i++)
                cr_assert_eq(read(ready[0], &c, 1), 1);

        char dir[] = BUILD_ROOT "/test-map-top-XXXXXX";
        int kid_pids[8];
        for (size_t i = 0; i < 8; i++)
                kid_pids[i] = (int) kids[i];
        fake_cgroup(dir, "cg.service", kid_pids, 8);

        CgroupRoot *r = NULL;
        cr_assert_eq(cgroup_root_open(dir, "/proc", &r), 0);
        CgroupMap *m = NULL;
        MapOptions opt = { .trim_dirfd = -1, .precise_top = 2, .no_cmdline = true };
        cr_assert_eq(cgroup_map_build(r, "/cg.service", &opt, &m), 0);
        cr_assert_eq(m->n_procs, 8);
        cr_expect_eq(m->procs[0].pid, kids[1], "the 24 MiB child first");
        cr_expect_eq(m->procs[1].pid, kids[5], "the 16 MiB child second");
        cr_expect(!m->procs[0].estimated && m->procs[0].has_smaps && m->procs[0].smaps.pss > 0);
        cr_expect(!m->procs[1].estimated && m->procs[1].has_smaps);
        size_t estimated = 0;
        for (size_t i = 0; i < m->n_procs; i++)
                if (m->procs[i].estimated) {
                        estimated++;
                        cr_expect_eq(m->procs[i].smaps.pss, 0, "an estimate has no Pss");
                        cr_expect_gt(m->procs[i].smaps.rss, 0, "but its statm RSS");
                }
        cr_expect_eq(estimated, 6);
        cr_expect_geq(m->procs[0].reclaimable, 20 * MiB);

        cgroup_map_free(m);
        cgroup_root_free(r);
        for (size_t i = 0; i < 8; i++) {
                kill(kids[i], SIGKILL);
                waitpid(kids[i], NULL, 0);
        }
        char cmd[600];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        cr_assert_eq(system(cmd), 0);
}
