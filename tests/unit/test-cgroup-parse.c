/* SPDX-License-Identifier: MIT */
/* Pure parsers of cgroup/cgroup-parse.h: real kernel samples and hostile input. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <string.h>

#include "cgroup/cgroup-parse.h"
#include "util/fileio.h"
#include "util/strv.h"

static char *fixture(const char *name)
{
        char *buf = NULL;
        int dfd = open(FIXTURES_DIR "/cgroup/files", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        cr_assert_geq(dfd, 0);
        cr_assert_eq(read_full_file_at(dfd, name, 1 << 20, &buf, NULL), 0, "reading %s", name);
        close(dfd);
        return buf;
}

/* ---- cgroup_parse_u64 ---- */

Test(parse_u64, plain)
{
        uint64_t v = 0;
        cr_assert_eq(cgroup_parse_u64("268435456\n", &v), 0);
        cr_assert_eq(v, 268435456ULL);
        cr_assert_eq(cgroup_parse_u64("0", &v), 0); /* no newline */
        cr_assert_eq(v, 0);
}

Test(parse_u64, max)
{
        uint64_t v = 0;
        cr_assert_eq(cgroup_parse_u64("max\n", &v), 0);
        cr_assert_eq(v, CGROUP_LIMIT_MAX);
        v = 7;
        cr_assert_eq(cgroup_parse_u64("maximum\n", &v), -EINVAL);
        cr_assert_eq(cgroup_parse_u64("ma", &v), -EINVAL);
        cr_assert_eq(v, 7, "ret written on failure");
}

Test(parse_u64, limits)
{
        uint64_t v = 0;
        cr_assert_eq(cgroup_parse_u64("18446744073709551615\n", &v), 0);
        cr_assert_eq(v, UINT64_MAX);
        cr_assert_eq(cgroup_parse_u64("18446744073709551616\n", &v), -ERANGE);
        cr_assert_eq(cgroup_parse_u64("99999999999999999999999999\n", &v), -ERANGE);
}

Test(parse_u64, junk)
{
        uint64_t v = 42;
        const char *bad[] = { "", "\n", " 12\n", "-1\n", "+1\n", "12abc\n", "0x10\n", "1 2\n", "lots\n", "1.5\n",
                              "abc" };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                cr_assert_eq(cgroup_parse_u64(bad[i], &v), -EINVAL, "\"%s\"", bad[i]);
        cr_assert_eq(v, 42);
        cr_assert_eq(cgroup_parse_u64(NULL, &v), -EINVAL);
        cr_assert_eq(cgroup_parse_u64("12  \n\n", &v), 0);
        cr_assert_eq(v, 12);
}

/* ---- psi_parse ---- */

Test(psi, kernel_sample)
{
        _cleanup_free_ char *b = fixture("memory.pressure-6.1");
        Psi p;
        cr_assert_eq(psi_parse(b, &p), 0);
        cr_assert_float_eq(p.some.avg10, 1.53, 1e-9);
        cr_assert_float_eq(p.some.avg60, 0.87, 1e-9);
        cr_assert_float_eq(p.some.avg300, 0.21, 1e-9);
        cr_assert_eq(p.some.total_usec, 4832167ULL);
        cr_assert(p.has_full);
        cr_assert_float_eq(p.full.avg10, 0.97, 1e-9);
        cr_assert_eq(p.full.total_usec, 2709543ULL);
}

Test(psi, missing_full_line)
{
        _cleanup_free_ char *b = fixture("cpu.pressure-old");
        Psi p;
        memset(&p, 0xff, sizeof p);
        cr_assert_eq(psi_parse(b, &p), 0);
        cr_assert_not(p.has_full);
        cr_assert_float_eq(p.some.avg10, 12.5, 1e-9);
        cr_assert_eq(p.some.total_usec, 918273645ULL);
        cr_assert_eq(p.full.total_usec, 0);
}

Test(psi, hundred_percent_and_no_newline)
{
        Psi p;
        cr_assert_eq(psi_parse("some avg10=100.00 avg60=99.99 avg300=50.00 total=18446744073709551615", &p), 0);
        cr_assert_float_eq(p.some.avg10, 100.0, 1e-9);
        cr_assert_eq(p.some.total_usec, UINT64_MAX);
}

Test(psi, extra_keys_and_lines)
{
        Psi p;
        cr_assert_eq(psi_parse("some avg10=0.10 avg60=0.20 avg300=0.30 total=5 avg1=9.99\n"
                               "full avg10=0.01 avg60=0.02 avg300=0.03 total=1\n"
                               "other avg10=x\n",
                               &p),
                     0);
        cr_assert_float_eq(p.some.avg10, 0.10, 1e-9);
        cr_assert_eq(p.full.total_usec, 1);
}

Test(psi, hostile)
{
        Psi p = { .some.total_usec = 77 };
        const char *bad[] = {
                "",
                "\n",
                "full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n",       /* no some */
                "some avg10=0.00 avg60=0.00 avg300=0.00\n",               /* no total */
                "some avg60=0.00 avg300=0.00 total=1\n",                  /* no avg10 */
                "some avg10=0.00 avg60=0.0",                              /* truncated */
                "some avg10=-1.00 avg60=0.00 avg300=0.00 total=0\n",      /* negative */
                "some avg10=nan avg60=0.00 avg300=0.00 total=0\n",
                "some avg10=1e3 avg60=0.00 avg300=0.00 total=0\n",
                "some avg10=1. avg60=0.00 avg300=0.00 total=0\n",
                "some avg10=0.00 avg60=0.00 avg300=0.00 total=18446744073709551616\n",
                "some avg10=0.00 avg60=0.00 avg300=0.00 total=12x\n",
                "some avg10 0.00 total=0\n",
                "some avg10=0.00 total=0\nsome avg10=0.00 total=0\n", /* twice */
                "some avg10=0.00 avg60=0.00 avg300=0.00 total=0\nfull avg10=0.0", /* truncated full */
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                int r = psi_parse(bad[i], &p);
                cr_assert(r == -EINVAL || r == -ERANGE, "\"%s\" gave %d", bad[i], r);
        }
        cr_assert_eq(psi_parse("some avg10=0.00 avg60=0.00 avg300=0.00 total=18446744073709551616\n", &p),
                     -ERANGE);
        cr_assert_eq(p.some.total_usec, 77, "ret written on failure");
        cr_assert_eq(psi_parse(NULL, &p), -EINVAL);
}

Test(psi, prefix_collision)
{
        Psi p;
        /* "something" is not "some"; "totally" is not "total". */
        cr_assert_eq(psi_parse("something avg10=1.00 total=1\nsome avg10=2.00 totally=5 total=3\n", &p), 0);
        cr_assert_float_eq(p.some.avg10, 2.0, 1e-9);
        cr_assert_eq(p.some.total_usec, 3);
}

/* ---- memory_events_parse ---- */

Test(events, kernel_sample)
{
        _cleanup_free_ char *b = fixture("memory.events-6.1");
        MemoryEvents e;
        cr_assert_eq(memory_events_parse(b, &e), 0);
        cr_assert_eq(e.low, 0);
        cr_assert_eq(e.high, 1532);
        cr_assert_eq(e.max, 87);
        cr_assert_eq(e.oom, 2);
        cr_assert_eq(e.oom_kill, 2);
        cr_assert_eq(e.oom_group_kill, 0);
}

Test(events, old_kernel_without_oom_group_kill)
{
        _cleanup_free_ char *b = fixture("memory.events-5.10");
        MemoryEvents e;
        memset(&e, 0xff, sizeof e);
        cr_assert_eq(memory_events_parse(b, &e), 0);
        cr_assert_eq(e.high, 12);
        cr_assert_eq(e.oom_kill, 1);
        cr_assert_eq(e.oom_group_kill, 0);
}

Test(events, prefix_collisions_and_unknown_keys)
{
        MemoryEvents e;
        /* "oom_kill" must not be taken for "oom", nor "oom_group_kill" for "oom_kill"; unknown keys with
         * junk values are ignored. */
        cr_assert_eq(memory_events_parse("oom_group_kill 3\noom_kill 2\noom 1\nhigh_future 99\nsock_throttled x\n"
                                         "max 5",
                                         &e),
                     0);
        cr_assert_eq(e.oom, 1);
        cr_assert_eq(e.oom_kill, 2);
        cr_assert_eq(e.oom_group_kill, 3);
        cr_assert_eq(e.max, 5);
        cr_assert_eq(e.high, 0);
}

Test(events, empty_is_no_reading)
{
        MemoryEvents e = { .oom_kill = 7 };
        cr_assert_eq(memory_events_parse("", &e), -ENODATA);
        cr_assert_eq(memory_events_parse("\n", &e), -ENODATA);
        cr_assert_eq(memory_events_parse("high_future 99\n", &e), -ENODATA);
        cr_assert_eq(e.oom_kill, 7, "ret written on failure");
        cr_assert_eq(memory_events_parse("oom_kill 0\n", &e), 0);
        cr_assert_eq(e.oom_kill, 0);
}

Test(events, hostile)
{
        MemoryEvents e = { .high = 9 };
        cr_assert_eq(memory_events_parse("low 0\nhigh 5\nmax", &e), -EINVAL); /* truncated */
        cr_assert_eq(memory_events_parse("high\n", &e), -EINVAL);
        cr_assert_eq(memory_events_parse("high -1\n", &e), -EINVAL);
        cr_assert_eq(memory_events_parse("high max\n", &e), -EINVAL);
        cr_assert_eq(memory_events_parse("high 12 13\n", &e), -EINVAL);
        cr_assert_eq(memory_events_parse("high 12abc\n", &e), -EINVAL);
        cr_assert_eq(memory_events_parse("high 18446744073709551616\n", &e), -ERANGE);
        cr_assert_eq(e.high, 9, "ret written on failure");
        cr_assert_eq(memory_events_parse("high 18446744073709551615\n", &e), 0);
        cr_assert_eq(e.high, UINT64_MAX);
}

/* ---- memory_stat_parse ---- */

Test(stat, kernel_sample)
{
        _cleanup_free_ char *b = fixture("memory.stat-6.1");
        MemoryStat s;
        cr_assert_eq(memory_stat_parse(b, &s), 0);
        cr_assert_eq(s.anon, 104857600ULL);        /* not anon_thp */
        cr_assert_eq(s.file, 52428800ULL);         /* not file_mapped / file_thp */
        cr_assert_eq(s.file_mapped, 20971520ULL);
        cr_assert_eq(s.file_dirty, 81920ULL);
        cr_assert_eq(s.file_writeback, 4096ULL);
        cr_assert_eq(s.shmem, 4194304ULL);         /* not shmem_thp */
        cr_assert_eq(s.sock, 12288ULL);
        cr_assert_eq(s.active_file, 20971520ULL);
        cr_assert_eq(s.inactive_file, 31457280ULL);
        cr_assert_eq(s.active_anon, 8388608ULL);
        cr_assert_eq(s.inactive_anon, 96468992ULL);
        cr_assert_eq(s.slab_reclaimable, 2097152ULL);
        cr_assert_eq(s.slab_unreclaimable, 1572864ULL);
        cr_assert_eq(s.kernel_stack, 425984ULL);
        cr_assert_eq(s.pagetables, 1720320ULL);    /* not sec_pagetables */
        cr_assert_eq(s.workingset_refault_anon, 17);
        cr_assert_eq(s.workingset_refault_file, 2345);
        cr_assert_eq(s.pgscan, 10240);             /* not pgscan_kswapd */
        cr_assert_eq(s.pgsteal, 9876);
}

Test(stat, prefix_collision_order)
{
        MemoryStat s;
        /* Only the longer keys present, before the short ones. */
        cr_assert_eq(memory_stat_parse("anon_thp 1\nfile_mapped 2\nfile_thp 3\npgscan_direct 4\n", &s), 0);
        cr_assert_eq(s.anon, 0);
        cr_assert_eq(s.file, 0);
        cr_assert_eq(s.file_mapped, 2);
        cr_assert_eq(s.pgscan, 0);
        cr_assert_eq(memory_stat_parse("anon_thp 1\nanon 7\n", &s), 0);
        cr_assert_eq(s.anon, 7);
}

Test(stat, hostile)
{
        MemoryStat s = { .anon = 3 };
        cr_assert_eq(memory_stat_parse("anon 1048576\nfile", &s), -EINVAL); /* truncated at a known key */
        cr_assert_eq(memory_stat_parse("anon 1048576\nfile 12x\n", &s), -EINVAL);
        cr_assert_eq(memory_stat_parse("anon -5\n", &s), -EINVAL);
        cr_assert_eq(memory_stat_parse("anon 18446744073709551616\n", &s), -ERANGE);
        cr_assert_eq(memory_stat_parse(NULL, &s), -EINVAL);
        cr_assert_eq(s.anon, 3);
        /* Truncated in the middle of an unknown key: fine. */
        cr_assert_eq(memory_stat_parse("anon 5\nzswapp", &s), 0);
        cr_assert_eq(s.anon, 5);
        /* Leading junk lines and blank lines are skipped. */
        cr_assert_eq(memory_stat_parse("\n\n   \x01\x02 junk\nfile 6\r\n", &s), 0);
        cr_assert_eq(s.file, 6);
}

/* ---- proc_status_parse ---- */

static const char status_sample[] = "Name:\tsd-daemon\nUmask:\t0022\nState:\tS (sleeping)\nTgid:\t4242\nNgid:\t0\n"
                                    "Pid:\t4242\nPPid:\t1\nVmPeak:\t  122880 kB\nVmSize:\t   92160 kB\n"
                                    "VmRSS:\t   30720 kB\nSigQ:\t0/31457\nSigPnd:\t0000000000000000\n"
                                    "SigBlk:\t0000000000010000\nSigIgn:\t0000000000001000\n"
                                    "SigCgt:\t0008000000014a02\nCapInh:\t0000000000000000\n";

Test(status, sample)
{
        ProcStatus st;
        cr_assert_eq(proc_status_parse(status_sample, &st), 0);
        cr_assert_eq(st.tgid, 4242);
        cr_assert_eq(st.vm_rss_bytes, 30720ULL * 1024);
        cr_assert_eq(st.sig_cgt, 0x0008000000014a02ULL);
        cr_assert_eq(st.sig_blk, 0x10000ULL);
        cr_assert_not(st.is_kernel_thread);
        cr_assert_eq(st.state, 'S');
        /* SIGRTMIN+18 (glibc: 52) has a handler: bit 51. */
        cr_assert(st.sig_cgt & (1ULL << 51));
}

Test(status, kernel_thread_and_zombie)
{
        ProcStatus st;
        cr_assert_eq(proc_status_parse("Name:\tkthreadd\nState:\tS (sleeping)\nTgid:\t2\n"
                                       "SigBlk:\t0000000000000000\nSigCgt:\t0000000000000000\n",
                                       &st),
                     0);
        cr_assert(st.is_kernel_thread);
        cr_assert_eq(st.vm_rss_bytes, 0);
        cr_assert_eq(proc_status_parse("Name:\tnginx\nState:\tZ (zombie)\nTgid:\t102\n"
                                       "SigBlk:\t0000000000000000\nSigCgt:\t0000000000000000\n",
                                       &st),
                     0);
        cr_assert_not(st.is_kernel_thread);
        cr_assert_eq(st.state, 'Z');
        /* Kthread: (6.x) wins over the VmSize heuristic. */
        cr_assert_eq(proc_status_parse("Name:\tx\nState:\tS (sleeping)\nTgid:\t9\nKthread:\t0\n"
                                       "SigBlk:\t0000000000000000\nSigCgt:\t0000000000000000\n",
                                       &st),
                     0);
        cr_assert_not(st.is_kernel_thread);
}

Test(status, names_with_traps)
{
        ProcStatus st;
        /* ") Z " confuses /proc/PID/stat parsers; the kernel escapes "\n" in Name as backslash-n. */
        cr_assert_eq(proc_status_parse("Name:\tevil) Z 1 (x\nState:\tS (sleeping)\nTgid:\t103\nVmSize:\t 1 kB\n"
                                       "VmRSS:\t 4096 kB\nSigBlk:\t0\nSigCgt:\t4000\n",
                                       &st),
                     0);
        cr_assert_eq(st.tgid, 103);
        cr_assert_eq(st.state, 'S');
        cr_assert_eq(st.sig_cgt, 0x4000);
        cr_assert_eq(proc_status_parse("Name:\ta\\nTgid:\\t1\nState:\tR (running)\nTgid:\t104\nVmSize:\t 1 kB\n"
                                       "SigBlk:\t0\nSigCgt:\t0\n",
                                       &st),
                     0);
        cr_assert_eq(st.tgid, 104);
        /* An unescaped newline forging a second Tgid: refused, not believed. */
        st.tgid = 55;
        cr_assert_eq(proc_status_parse("Name:\ta\nTgid:\t1\nState:\tR (running)\nTgid:\t104\nSigBlk:\t0\nSigCgt:\t0\n",
                                       &st),
                     -EINVAL);
        cr_assert_eq(st.tgid, 55);
}

Test(status, hostile)
{
        ProcStatus st = { .tgid = 5 };
        const char *bad[] = {
                "",
                "Name:\tx\nTgid:\t1\nSigBlk:\t0000000000000000\n",                              /* truncated */
                "Tgid:\t1\nSigBlk:\t0\nSigCgt:\tzz\n",                                          /* not hex */
                "Tgid:\tx\nSigBlk:\t0\nSigCgt:\t0\n",                                           /* not a number */
                "Tgid:\t-1\nSigBlk:\t0\nSigCgt:\t0\n",                                          /* negative */
                "Tgid:\t1\nSigBlk:\t0\nSigCgt:\t0\nVmRSS:\t12\n",                               /* no unit */
                "Tgid:\t1\nSigBlk:\t0\nSigCgt:\t0\nVmRSS:\t12 MB\n",                            /* wrong unit */
                "Tgid:\t1\nSigBlk:\t0\nSigCgt:\t0 junk\n",                                      /* trailing junk */
                "Tgid:\t1\nSigBlk:\t0\nSigCgt:\t0\nState:\t?\n",
                "Tgid:\t1\nSigBlk:\t0\nSigCgt:\t0\nKthread:\t2\n",
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                cr_assert_eq(proc_status_parse(bad[i], &st), -EINVAL, "case %zu", i);
        cr_assert_eq(proc_status_parse("Tgid:\t1\nSigBlk:\t0\nSigCgt:\t10000000000000000\n", &st), -ERANGE);
        cr_assert_eq(proc_status_parse("Tgid:\t4294967296\nSigBlk:\t0\nSigCgt:\t0\n", &st), -ERANGE);
        cr_assert_eq(proc_status_parse("Tgid:\t1\nSigBlk:\t0\nSigCgt:\t0\nVmRSS:\t18014398509481984 kB\n", &st),
                     -ERANGE);
        cr_assert_eq(st.tgid, 5);
        /* Leading zeros beyond 16 digits are still a 64-bit mask. */
        cr_assert_eq(proc_status_parse("Tgid:\t1\nSigBlk:\t0\nSigCgt:\t0000ffffffffffffffff", &st), 0);
        cr_assert_eq(st.sig_cgt, UINT64_MAX);
}

/* ---- the small ones ---- */

Test(proc_cgroup, unified_line)
{
        _cleanup_free_ char *p = NULL;
        cr_assert_eq(proc_cgroup_parse_unified("0::/system.slice/nginx.service\n", &p), 0);
        cr_assert_str_eq(p, "/system.slice/nginx.service");
        free(p);
        p = NULL;
        /* hybrid: v1 lines first; a v1 "0::"-like prefix in a named hierarchy is not it */
        cr_assert_eq(proc_cgroup_parse_unified("10:name=0::/x\n4:memory:/a\n0::/user.slice", &p), 0);
        cr_assert_str_eq(p, "/user.slice");
        free(p);
        p = NULL;
        cr_assert_eq(proc_cgroup_parse_unified("4:memory:/a\n", &p), -ENODATA);
        cr_assert_eq(proc_cgroup_parse_unified("0::\n", &p), -EINVAL);
        cr_assert_null(p);
}

Test(procs, dedup_in_order)
{
        _cleanup_free_ pid_t *p = NULL;
        cr_assert_eq(cgroup_procs_parse("100\n101\n100\n102\n101\n", &p), 3);
        cr_assert_eq(p[0], 100);
        cr_assert_eq(p[1], 101);
        cr_assert_eq(p[2], 102);
        free(p);
        p = NULL;
        cr_assert_eq(cgroup_procs_parse("", &p), 0);
        cr_assert_null(p);
        cr_assert_eq(cgroup_procs_parse("5\n4\n3\n2\n1\n1\n2\n3\n4\n5", &p), 5);
        cr_assert_eq(p[0], 5);
        cr_assert_eq(p[4], 1);
}

Test(procs, hostile)
{
        pid_t *p = NULL;
        cr_assert_eq(cgroup_procs_parse("abc\n", &p), -EINVAL);
        cr_assert_eq(cgroup_procs_parse("12 13\n", &p), -EINVAL);
        cr_assert_eq(cgroup_procs_parse("-1\n", &p), -EINVAL);
        cr_assert_eq(cgroup_procs_parse("0\n", &p), -ERANGE);
        cr_assert_eq(cgroup_procs_parse("2147483648\n", &p), -ERANGE);
        cr_assert_null(p);
}

Test(controllers, words)
{
        _cleanup_free_ char *u = fixture("cgroup.controllers-unified"), *h = fixture("cgroup.controllers-hybrid");
        cr_assert_eq(cgroup_controllers_has(u, "memory"), 1);
        cr_assert_eq(cgroup_controllers_has(h, "memory"), 0);
        cr_assert_eq(cgroup_controllers_has("memoryx cpu\n", "memory"), 0);
        cr_assert_eq(cgroup_controllers_has("", "memory"), 0);
        cr_assert_eq(cgroup_controllers_has("cpu", ""), -EINVAL);
}

Test(mountinfo, hybrid)
{
        _cleanup_free_ char *b = fixture("mountinfo-hybrid");
        _cleanup_strv_free_ char **l = NULL;
        cr_assert_eq(mountinfo_cgroup2_mounts(b, &l), 1);
        cr_assert_str_eq(l[0], "/sys/fs/cgroup/unified");
        cr_assert_null(l[1]);
}

Test(mountinfo, unified_with_escapes)
{
        _cleanup_free_ char *b = fixture("mountinfo-unified");
        _cleanup_strv_free_ char **l = NULL;
        cr_assert_eq(mountinfo_cgroup2_mounts(b, &l), 2);
        cr_assert_str_eq(l[0], "/sys/fs/cgroup");
        cr_assert_str_eq(l[1], "/mnt/my cgroups");
}

Test(mountinfo, none)
{
        char **l = (char **) 1;
        cr_assert_eq(mountinfo_cgroup2_mounts("24 28 0:22 / /proc rw - proc proc rw\nshort line\n", &l), 0);
        cr_assert_null(l);
}
