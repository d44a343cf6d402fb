/* SPDX-License-Identifier: MIT */
/* cgroup/cgroup-trim.c: choosing and asking trim candidates, and reading the trim library's reports. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "cgroup-act.h"
#include "cgroup-procs.h"
#include "cgroup-trim.h"
#include "util/fileio.h"
#include "util/json-read.h"
#include "util/log.h"

int trim_signal(void)
{
        return SIGRTMIN + 18;
}

bool sigcgt_has(uint64_t mask, int sig)
{
        if (sig < 1 || sig > 64)
                return false;
        return mask & (UINT64_C(1) << (sig - 1));
}

static const char *const verdict_table[_TRIM_VERDICT_MAX] = {
        [TRIM_VERDICT_CANDIDATE] = "candidate",
        [TRIM_VERDICT_NO_HANDLER] = "no-handler",
        [TRIM_VERDICT_NOT_A_PROCESS] = "not-a-process",
};

const char *trim_verdict_to_string(TrimVerdict v)
{
        return v >= 0 && v < _TRIM_VERDICT_MAX ? verdict_table[v] : NULL;
}

TrimVerdict trim_verdict(const ProcStatus *st)
{
        if (st->is_kernel_thread || st->state == 'Z' || st->state == 'X')
                return TRIM_VERDICT_NOT_A_PROCESS;
        if (!sigcgt_has(st->sig_cgt, trim_signal()))
                return TRIM_VERDICT_NO_HANDLER;
        return TRIM_VERDICT_CANDIDATE;
}

static void read_comm(const CgroupRoot *r, pid_t pid, char *buf, size_t size)
{
        _cleanup_free_ char *s = NULL;
        char path[32];

        buf[0] = 0;
        snprintf(path, sizeof path, "%d/comm", (int) pid);
        if (read_full_file_at(r->proc_fd, path, 4096, &s, NULL) < 0)
                return;
        s[strcspn(s, "\n")] = 0;
        snprintf(buf, size, "%s", s);
}

int trim_list(const CgroupRoot *r, const char *cgpath, TrimCandidate **ret)
{
        _cleanup_(proc_list_freep) ProcList *l = NULL;
        _cleanup_free_ TrimCandidate *c = NULL;
        int k;
        size_t nc = 0;

        if (!r || !cgpath || !ret)
                return -EINVAL;
        /* The one process picker's list (cgroup-procs.h), of this cgroup alone. */
        k = proc_list_collect(r, cgpath, /* max_cgroups= */ 1, &l);
        if (k < 0)
                return k;
        if (l->n_procs == 0) {
                *ret = NULL;
                return 0;
        }
        c = calloc(l->n_procs, sizeof *c);
        if (!c)
                return -ENOMEM;
        for (size_t i = 0; i < l->n_procs; i++) {
                pid_t pid = l->procs[i].pid;
                ProcStatus st;
                k = proc_read_status(r, pid, &st);
                if (k == -ENOMEM)
                        return k;
                if (k < 0) {
                        log_debug_errno(k, "Cannot read the status of process %d: %m, ignoring", (int) pid);
                        continue;
                }
                c[nc] = (TrimCandidate) { .pid = pid, .verdict = trim_verdict(&st), .rss_bytes = st.vm_rss_bytes };
                read_comm(r, pid, c[nc].comm, sizeof c[nc].comm);
                nc++;
        }
        *ret = nc ? TAKE_PTR(c) : NULL;
        return (int) nc;
}

int trim_send(const CgroupRoot *r, pid_t pid, const char *cgpath, int value, TrimVerdict *ret_verdict,
              uint64_t *ret_rss_bytes)
{
        _cleanup_close_ int pidfd = -EBADF;
        ProcStatus st;
        int k;

        if (!r || pid <= 0)
                return -EINVAL;
        /* A fixture tree in place of /proc describes processes that are not the ones a pidfd would reach:
         * a PID of the fixture may be a real process without the handler. Never signal on its word. */
        struct statfs sfs;
        if (fstatfs(r->proc_fd, &sfs) < 0)
                return -errno;
        if (sfs.f_type != PROC_SUPER_MAGIC)
                return log_debug_errno(-EMEDIUMTYPE, "%s is not procfs: not signalling PID %d", r->proc_path ?: "?",
                                       (int) pid);
        if (cgpath)
                pidfd = pidfd_open_in_cgroup(r, pid, cgpath);
        else
                pidfd = pidfd_open_pid(pid);
        if (pidfd < 0)
                return pidfd;

        /* With the pidfd held the PID cannot be reused: this status is the process we will signal. */
        k = proc_read_status(r, pid, &st);
        if (k < 0)
                return ERRNO_IS_GONE(k) ? -ESRCH : k;
        TrimVerdict v = trim_verdict(&st);
        if (ret_verdict)
                *ret_verdict = v;
        if (ret_rss_bytes)
                *ret_rss_bytes = st.vm_rss_bytes;
        if (v != TRIM_VERDICT_CANDIDATE)
                return 0;
        k = pidfd_signal(pidfd, trim_signal(), value);
        return k < 0 ? k : 1;
}

/* ---------------------------------------------------------------------------------------------------- */
/* Reports, read with util/json-read. Every member is read in order (a repeated key: the last one counts,
 * each is checked); unknown keys are ignored. */

#define TRIM_REPORT_DEPTH_MAX 8

/* A string meant for a terminal or a journal field: the control characters an escape can spell become '?'. */
static int report_string(const char *v, const char *end, char *buf, size_t size)
{
        int k = json_string_copy(v, end, buf, size);
        if (k < 0)
                return k;
        for (char *c = buf; *c; c++)
                if ((unsigned char) *c < 0x20 || *c == 0x7f)
                        *c = '?';
        return 0;
}

static int report_mallinfo(const char *obj, const char *end, TrimMallinfo *m)
{
        static const struct {
                const char *key;
                size_t offset;
        } keys[] = {
#define K(f) { #f, offsetof(TrimMallinfo, f) }
                K(arena), K(hblkhd), K(uordblks), K(fordblks), K(keepcost),
#undef K
        };

        for (const char *mb = json_object_first(obj, end); mb; mb = json_object_next(mb, end))
                for (size_t i = 0; i < ELEMENTSOF(keys); i++) {
                        if (!json_string_is(mb, end, keys[i].key))
                                continue;
                        int k = json_uint64(json_member_value(mb, end), end,
                                            (uint64_t *) ((char *) m + keys[i].offset));
                        if (k < 0)
                                return k;
                        m->valid = true;
                }
        return 0;
}

/* The objects in arenas[] that hold an "nr" (not an object or array). */
static unsigned report_count_arenas(const char *arr, const char *end)
{
        unsigned n = 0;
        for (const char *e = json_array_first(arr, end); e; e = json_array_next(e, end))
                for (const char *mb = json_object_first(e, end); mb; mb = json_object_next(mb, end)) {
                        const char *v = json_member_value(mb, end);
                        if (json_string_is(mb, end, "nr") && v && *v != '{' && *v != '[')
                                n++;
                }
        return n;
}

int trim_report_parse(const char *buf, TrimReport *ret)
{
        static const struct {
                const char *key;
                size_t offset;
        } u64_keys[] = {
#define K(f) { #f, offsetof(TrimReport, f) }
                K(seq), K(time_usec), K(duration_usec), K(rss_before), K(rss_after), K(released),
                K(anon_huge_before), K(anon_huge_after), K(rss), K(system), K(free), K(in_use),
#undef K
        };
        bool have_pid = false, have_request = false, have_time = false, have_rss_before = false,
             have_rss_after = false, have_released = false;
        TrimReport t = {};
        int k;

        if (!buf || !ret)
                return -EINVAL;
        const char *end = buf + strlen(buf), *p = json_skip_value_depth(buf, end, TRIM_REPORT_DEPTH_MAX);
        if (!p || !json_object_first(buf, end))
                return -EINVAL; /* no object, an empty one, malformed or too deep */
        while (p < end && strchr(" \t\r\n", *p))
                p++;
        if (p != end)
                return -EINVAL; /* trailing junk */

        for (const char *mb = json_object_first(buf, end); mb; mb = json_object_next(mb, end)) {
                const char *v = json_member_value(mb, end);
                uint64_t u;

                if (json_string_is(mb, end, "pid")) {
                        k = json_uint64(v, end, &u);
                        if (k < 0)
                                return k;
                        if (u == 0 || u > INT32_MAX)
                                return -EINVAL;
                        t.pid = (pid_t) u;
                        have_pid = true;
                } else if (json_string_is(mb, end, "request")) {
                        if (!json_string_is(v, end, "trim") && !json_string_is(v, end, "info"))
                                return -EINVAL;
                        t.is_info = json_string_is(v, end, "info");
                        have_request = true;
                } else if (json_string_is(mb, end, "comm")) {
                        k = report_string(v, end, t.comm, sizeof t.comm);
                        if (k < 0)
                                return k;
                } else if (json_string_is(mb, end, "allocator")) {
                        k = report_string(v, end, t.allocator, sizeof t.allocator);
                        if (k < 0)
                                return k;
                } else if (json_string_is(mb, end, "arenas"))
                        t.n_arenas += report_count_arenas(v, end);
                else if (json_string_is(mb, end, "mallinfo_before")) {
                        k = report_mallinfo(v, end, &t.mallinfo_before);
                        if (k < 0)
                                return k;
                } else if (json_string_is(mb, end, "mallinfo_after")) {
                        k = report_mallinfo(v, end, &t.mallinfo_after);
                        if (k < 0)
                                return k;
                } else
                        for (size_t i = 0; i < ELEMENTSOF(u64_keys); i++) {
                                if (!json_string_is(mb, end, u64_keys[i].key))
                                        continue;
                                k = json_uint64(v, end, (uint64_t *) ((char *) &t + u64_keys[i].offset));
                                if (k < 0)
                                        return k;
                                have_time |= streq(u64_keys[i].key, "time_usec");
                                have_rss_before |= streq(u64_keys[i].key, "rss_before");
                                have_rss_after |= streq(u64_keys[i].key, "rss_after");
                                have_released |= streq(u64_keys[i].key, "released");
                        }
        }
        if (!have_pid || !have_request || !have_time)
                return -EINVAL;
        if (!t.is_info && (!have_rss_before || !have_rss_after || !have_released))
                return -EINVAL;
        *ret = t;
        return 0;
}

int trim_report_read(int dirfd, pid_t pid, bool info, uid_t uid, TrimReport *ret)
{
        _cleanup_close_ int fd = -EBADF;
        _cleanup_free_ char *buf = NULL;
        char name[64];
        struct stat st;
        TrimReport t;
        int k;

        snprintf(name, sizeof name, "%d%s", (int) pid, info ? ".info.json" : ".json");
        fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode))
                return -EINVAL;
        if (st.st_uid != 0 && st.st_uid != uid)
                return log_debug_errno(-EPERM, "Report %s is owned by uid %u, not the process's uid %u", name,
                                       (unsigned) st.st_uid, (unsigned) uid);
        k = read_full_fd(fd, TRIM_REPORT_FILE_MAX, &buf, NULL);
        if (k < 0)
                return k;
        k = trim_report_parse(buf, &t);
        if (k < 0)
                return log_debug_errno(k, "Cannot parse report %s: %m", name);
        if (t.pid != pid || t.is_info != info)
                return -EPERM;
        *ret = t;
        return 0;
}

int proc_read_uid(const CgroupRoot *r, pid_t pid, uid_t *ret)
{
        char path[32];
        struct stat st;

        snprintf(path, sizeof path, "%d", (int) pid);
        if (fstatat(r->proc_fd, path, &st, 0) < 0)
                return -errno;
        *ret = st.st_uid;
        return 0;
}
