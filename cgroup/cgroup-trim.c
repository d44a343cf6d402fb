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
/* Reports: a small JSON reader that visits every leaf with its dotted path ("mallinfo_after.fordblks"). */

#define JSON_DEPTH_MAX 8

typedef struct JsonLeaf {
        const char *path;
        bool is_string, is_number, number_ok;
        const char *str;
        uint64_t num;
        int num_error;
} JsonLeaf;

typedef int (*json_leaf_cb)(const JsonLeaf *l, void *userdata);

static const char *skip_ws(const char *p)
{
        while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
                p++;
        return p;
}

/* Parses a string at p ('"'), unescaping simple escapes into out (truncated to size). Returns the
 * position after the closing quote, or NULL. */
static const char *json_string(const char *p, char *out, size_t size)
{
        size_t n = 0;
        if (*p++ != '"')
                return NULL;
        for (;;) {
                char c = *p++;
                if (!c || (unsigned char) c < 0x20)
                        return NULL;
                if (c == '"')
                        break;
                if (c == '\\') {
                        c = *p++;
                        switch (c) {
                        case '"': case '\\': case '/': break;
                        case 'n': c = '\n'; break;
                        case 't': c = '\t'; break;
                        case 'r': c = '\r'; break;
                        case 'b': c = '\b'; break;
                        case 'f': c = '\f'; break;
                        case 'u':
                                for (int i = 0; i < 4; i++)
                                        if (!strchr("0123456789abcdefABCDEF", p[i]) || !p[i])
                                                return NULL;
                                p += 4;
                                c = '?';
                                break;
                        default:
                                return NULL;
                        }
                }
                if (n + 1 < size)
                        out[n++] = c;
        }
        if (size)
                out[n] = 0;
        return p;
}

static const char *json_value(const char *p, char *path, size_t plen, int depth, json_leaf_cb cb, void *ud,
                              int *err);

static const char *json_object(const char *p, char *path, size_t plen, int depth, json_leaf_cb cb, void *ud,
                               int *err)
{
        size_t base = strlen(path);
        p = skip_ws(p + 1);
        if (*p == '}')
                return p + 1;
        for (;;) {
                char key[64];
                p = json_string(skip_ws(p), key, sizeof key);
                if (!p)
                        return NULL;
                p = skip_ws(p);
                if (*p++ != ':')
                        return NULL;
                snprintf(path + base, plen - base, "%s%s", base ? "." : "", key);
                p = json_value(skip_ws(p), path, plen, depth + 1, cb, ud, err);
                path[base] = 0;
                if (!p)
                        return NULL;
                p = skip_ws(p);
                if (*p == ',') {
                        p++;
                        continue;
                }
                if (*p == '}')
                        return p + 1;
                return NULL;
        }
}

static const char *json_array(const char *p, char *path, size_t plen, int depth, json_leaf_cb cb, void *ud,
                              int *err)
{
        size_t base = strlen(path);
        p = skip_ws(p + 1);
        if (*p == ']')
                return p + 1;
        for (;;) {
                /* Array elements are visited under "path[]". */
                snprintf(path + base, plen - base, "[]");
                p = json_value(skip_ws(p), path, plen, depth + 1, cb, ud, err);
                path[base] = 0;
                if (!p)
                        return NULL;
                p = skip_ws(p);
                if (*p == ',') {
                        p++;
                        continue;
                }
                if (*p == ']')
                        return p + 1;
                return NULL;
        }
}

static const char *json_value(const char *p, char *path, size_t plen, int depth, json_leaf_cb cb, void *ud,
                              int *err)
{
        if (depth > JSON_DEPTH_MAX)
                return NULL;
        JsonLeaf l = { .path = path };
        char s[64];

        if (*p == '{')
                return json_object(p, path, plen, depth, cb, ud, err);
        if (*p == '[')
                return json_array(p, path, plen, depth, cb, ud, err);
        if (*p == '"') {
                p = json_string(p, s, sizeof s);
                if (!p)
                        return NULL;
                l.is_string = true;
                l.str = s;
        } else if (*p == '-' || (*p >= '0' && *p <= '9')) {
                const char *start = p;
                bool plain = *p != '-';
                uint64_t v = 0;
                int num_error = 0;
                if (*p == '-')
                        p++;
                while (*p >= '0' && *p <= '9') {
                        unsigned d = (unsigned) (*p - '0');
                        if (v > (UINT64_MAX - d) / 10)
                                num_error = -ERANGE;
                        else
                                v = v * 10 + d;
                        p++;
                }
                if (p == start + !plain)
                        return NULL;
                if (*p == '.' || *p == 'e' || *p == 'E') {
                        plain = false;
                        p++;
                        while ((*p >= '0' && *p <= '9') || *p == '+' || *p == '-' || *p == 'e' || *p == 'E')
                                p++;
                }
                l.is_number = true;
                l.number_ok = plain && num_error == 0;
                l.num_error = plain ? num_error : -EINVAL;
                l.num = v;
        } else if (!strncmp(p, "true", 4) || !strncmp(p, "null", 4))
                p += 4;
        else if (!strncmp(p, "false", 5))
                p += 5;
        else
                return NULL;
        int r = cb(&l, ud);
        if (r < 0 && *err == 0)
                *err = r;
        return p;
}

typedef struct ReportParse {
        TrimReport *r;
        bool have_pid, have_request, have_time, have_rss_before, have_rss_after, have_released;
} ReportParse;

static int report_leaf(const JsonLeaf *l, void *userdata)
{
        ReportParse *rp = userdata;
        TrimReport *t = rp->r;
        static const struct {
                const char *key;
                size_t offset;
        } u64_keys[] = {
#define K(k, f) { k, offsetof(TrimReport, f) }
                K("seq", seq), K("time_usec", time_usec), K("duration_usec", duration_usec),
                K("rss_before", rss_before), K("rss_after", rss_after), K("released", released),
                K("anon_huge_before", anon_huge_before), K("anon_huge_after", anon_huge_after),
                K("rss", rss), K("system", system), K("free", free), K("in_use", in_use),
                K("mallinfo_before.arena", mallinfo_before.arena), K("mallinfo_before.hblkhd", mallinfo_before.hblkhd),
                K("mallinfo_before.uordblks", mallinfo_before.uordblks),
                K("mallinfo_before.fordblks", mallinfo_before.fordblks),
                K("mallinfo_before.keepcost", mallinfo_before.keepcost),
                K("mallinfo_after.arena", mallinfo_after.arena), K("mallinfo_after.hblkhd", mallinfo_after.hblkhd),
                K("mallinfo_after.uordblks", mallinfo_after.uordblks),
                K("mallinfo_after.fordblks", mallinfo_after.fordblks),
                K("mallinfo_after.keepcost", mallinfo_after.keepcost),
#undef K
        };

        if (streq(l->path, "pid")) {
                if (!l->is_number || !l->number_ok || l->num == 0 || l->num > INT32_MAX)
                        return l->num_error == -ERANGE ? -ERANGE : -EINVAL;
                t->pid = (pid_t) l->num;
                rp->have_pid = true;
                return 0;
        }
        if (streq(l->path, "request")) {
                if (!l->is_string || (!streq(l->str, "trim") && !streq(l->str, "info")))
                        return -EINVAL;
                t->is_info = streq(l->str, "info");
                rp->have_request = true;
                return 0;
        }
        if (streq(l->path, "comm") || streq(l->path, "allocator")) {
                if (!l->is_string)
                        return -EINVAL;
                char *dst = streq(l->path, "comm") ? t->comm : t->allocator;
                snprintf(dst, sizeof t->comm, "%s", l->str);
                return 0;
        }
        if (streq(l->path, "arenas[]")) {
                return 0;
        }
        if (!strncmp(l->path, "arenas[].", 9)) {
                if (streq(l->path, "arenas[].nr"))
                        t->n_arenas++;
                return 0;
        }
        for (size_t i = 0; i < ELEMENTSOF(u64_keys); i++) {
                if (!streq(l->path, u64_keys[i].key))
                        continue;
                if (!l->is_number || !l->number_ok)
                        return l->num_error == -ERANGE ? -ERANGE : -EINVAL;
                *(uint64_t *) ((char *) t + u64_keys[i].offset) = l->num;
                if (!strncmp(l->path, "mallinfo_before.", 16))
                        t->mallinfo_before.valid = true;
                else if (!strncmp(l->path, "mallinfo_after.", 15))
                        t->mallinfo_after.valid = true;
                rp->have_time |= streq(l->path, "time_usec");
                rp->have_rss_before |= streq(l->path, "rss_before");
                rp->have_rss_after |= streq(l->path, "rss_after");
                rp->have_released |= streq(l->path, "released");
                return 0;
        }
        return 0; /* unknown: ignored */
}

int trim_report_parse(const char *buf, TrimReport *ret)
{
        TrimReport t = {};
        ReportParse rp = { .r = &t };
        char path[256] = "";
        int err = 0;

        if (!buf || !ret)
                return -EINVAL;
        const char *p = skip_ws(buf);
        if (*p != '{')
                return -EINVAL;
        p = json_value(p, path, sizeof path, 0, report_leaf, &rp, &err);
        if (!p)
                return -EINVAL;
        if (err < 0)
                return err;
        if (*skip_ws(p))
                return -EINVAL; /* trailing junk */
        if (!rp.have_pid || !rp.have_request || !rp.have_time)
                return -EINVAL;
        if (!t.is_info && (!rp.have_rss_before || !rp.have_rss_after || !rp.have_released))
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
