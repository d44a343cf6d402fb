/* SPDX-License-Identifier: MIT */
/* cgroup/cgroup-parse.c: pure parsers for cgroupfs and procfs contents. No I/O, no locale (strtod and
 * strtoull accept things the kernel never prints: signs, leading blanks, "inf", "0x"): digits are parsed
 * by hand so that hostile input is -EINVAL/-ERANGE, never a crash or a silently wrong value. */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "cgroup-parse.h"
#include "util/strv.h"

static bool is_blank(char c)
{
        return c == ' ' || c == '\t';
}

static bool is_space(char c)
{
        return is_blank(c) || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static bool is_digit(char c)
{
        return c >= '0' && c <= '9';
}

/* Parses decimal digits at *p. At least one digit; advances *p past them. -EINVAL: no digit; -ERANGE:
 * the value does not fit into 64 bits (all of its digits are still consumed). */
static int parse_digits(const char **p, uint64_t *ret)
{
        const char *s = *p;
        uint64_t v = 0;
        bool overflow = false;

        if (!is_digit(*s))
                return -EINVAL;
        for (; is_digit(*s); s++) {
                unsigned d = (unsigned) (*s - '0');
                if (v > (UINT64_MAX - d) / 10)
                        overflow = true;
                else
                        v = v * 10 + d;
        }
        *p = s;
        if (overflow)
                return -ERANGE;
        *ret = v;
        return 0;
}

/* Parses up to 16 hex digits (a 64-bit signal mask). */
static int parse_hex64(const char **p, uint64_t *ret)
{
        const char *s = *p;
        uint64_t v = 0;
        bool overflow = false;
        size_t n = 0;

        for (;; s++, n++) {
                unsigned d;
                if (is_digit(*s))
                        d = (unsigned) (*s - '0');
                else if (*s >= 'a' && *s <= 'f')
                        d = (unsigned) (*s - 'a' + 10);
                else if (*s >= 'A' && *s <= 'F')
                        d = (unsigned) (*s - 'A' + 10);
                else
                        break;
                if (v >> 60)
                        overflow = true;
                v = (v << 4) | d;
        }
        if (n == 0)
                return -EINVAL;
        *p = s;
        if (overflow)
                return -ERANGE;
        *ret = v;
        return 0;
}

/* "12.34" as the kernel prints PSI averages (LOAD_INT.LOAD_FRAC). No sign, exponent, inf or nan. */
static int parse_decimal(const char **p, double *ret)
{
        const char *s = *p;
        uint64_t ip;
        int r;

        /* An integer part beyond 2^64 is no PSI percentage. */
        r = parse_digits(&s, &ip);
        if (r < 0)
                return r;
        double v = (double) ip;
        if (*s == '.') {
                double scale = 0.1;
                s++;
                if (!is_digit(*s))
                        return -EINVAL;
                for (; is_digit(*s); s++) {
                        v += (*s - '0') * scale;
                        scale /= 10;
                }
        }
        *p = s;
        *ret = v;
        return 0;
}

/* True when p is at the end of the line (blanks, then newline or NUL). */
static bool at_line_end(const char *p)
{
        while (is_blank(*p) || *p == '\r')
                p++;
        return *p == '\n' || *p == 0;
}

static const char *next_line(const char *p)
{
        const char *nl = strchr(p, '\n');
        return nl ? nl + 1 : NULL;
}

/* Does the line at p start with token tok, followed by a blank or end of line? Returns the position after
 * the token, or NULL. Guards against prefix collisions ("file" vs "file_mapped"). */
static const char *line_startswith_token(const char *p, const char *tok, size_t len)
{
        if (strncmp(p, tok, len) != 0)
                return NULL;
        p += len;
        if (!is_blank(*p) && *p != '\n' && *p != 0)
                return NULL;
        return p;
}

int cgroup_parse_u64(const char *buf, uint64_t *ret)
{
        const char *p = buf;
        uint64_t v;
        int r;

        if (!buf)
                return -EINVAL;

        if (strncmp(p, "max", 3) == 0) {
                p += 3;
                v = CGROUP_LIMIT_MAX;
        } else {
                r = parse_digits(&p, &v);
                if (r < 0)
                        return r;
        }
        while (is_space(*p))
                p++;
        if (*p != 0)
                return -EINVAL;
        *ret = v;
        return 0;
}

static int psi_parse_line(const char *p, PsiLine *ret)
{
        PsiLine l = {};
        bool have_avg10 = false, have_total = false;

        for (;;) {
                while (is_blank(*p) || *p == '\r')
                        p++;
                if (*p == '\n' || *p == 0)
                        break;

                const char *key = p;
                while (*p && *p != '=' && !is_space(*p))
                        p++;
                size_t klen = (size_t) (p - key);
                if (*p != '=') {
                        /* A bare word: junk. */
                        return -EINVAL;
                }
                p++;

                double *avg = NULL;
                if (klen == 5 && strncmp(key, "avg10", 5) == 0) {
                        avg = &l.avg10;
                        have_avg10 = true;
                } else if (klen == 5 && strncmp(key, "avg60", 5) == 0)
                        avg = &l.avg60;
                else if (klen == 6 && strncmp(key, "avg300", 6) == 0)
                        avg = &l.avg300;
                else if (klen == 5 && strncmp(key, "total", 5) == 0) {
                        int r = parse_digits(&p, &l.total_usec);
                        if (r < 0)
                                return r;
                        have_total = true;
                } else {
                        /* Unknown key=value: skip the value. */
                        while (*p && !is_space(*p))
                                p++;
                        continue;
                }
                if (avg) {
                        int r = parse_decimal(&p, avg);
                        if (r < 0)
                                return r;
                }
                if (*p && !is_space(*p))
                        return -EINVAL; /* "avg10=1.5x" */
        }

        if (!have_avg10 || !have_total)
                return -EINVAL;
        *ret = l;
        return 0;
}

int psi_parse(const char *buf, Psi *ret)
{
        Psi psi = {};
        bool have_some = false;
        int r;

        if (!buf)
                return -EINVAL;

        for (const char *p = buf; p && *p; p = next_line(p)) {
                const char *rest;
                PsiLine *line;
                bool *seen;

                if ((rest = line_startswith_token(p, "some", 4))) {
                        line = &psi.some;
                        seen = &have_some;
                } else if ((rest = line_startswith_token(p, "full", 4))) {
                        line = &psi.full;
                        seen = &psi.has_full;
                } else
                        continue; /* unknown line */

                if (*seen)
                        return -EINVAL; /* twice: which one is true? */
                r = psi_parse_line(rest, line);
                if (r < 0)
                        return r;
                *seen = true;
        }

        if (!have_some)
                return -EINVAL;
        *ret = psi;
        return 0;
}

typedef struct KeyField {
        const char *key;
        size_t offset;
} KeyField;

/* "key value" lines into uint64_t fields of a struct. Unknown keys are ignored whatever their value; a
 * known key needs exactly one unsigned number. Returns the number of known keys found, or -errno. */
static int parse_flat_keyed(const char *buf, const KeyField *fields, size_t n_fields, void *ret)
{
        if (!buf)
                return -EINVAL;

        int n = 0;
        for (const char *p = buf; p && *p; p = next_line(p)) {
                const char *key = p;
                while (*p && !is_space(*p))
                        p++;
                size_t klen = (size_t) (p - key);
                if (klen == 0)
                        continue; /* empty line or leading blank: not a key we know */

                const KeyField *f = NULL;
                for (size_t i = 0; i < n_fields; i++)
                        if (strlen(fields[i].key) == klen && strncmp(fields[i].key, key, klen) == 0) {
                                f = &fields[i];
                                break;
                        }
                if (!f)
                        continue;

                if (!is_blank(*p))
                        return -EINVAL; /* "anon" without a value (truncated) */
                while (is_blank(*p))
                        p++;
                uint64_t v;
                int r = parse_digits(&p, &v);
                if (r < 0)
                        return r;
                if (!at_line_end(p))
                        return -EINVAL;
                memcpy((uint8_t *) ret + f->offset, &v, sizeof v);
                n++;
        }
        return n;
}

#define FIELD(type, name) { #name, offsetof(type, name) }

int memory_events_parse(const char *buf, MemoryEvents *ret)
{
        static const KeyField fields[] = {
                FIELD(MemoryEvents, low), FIELD(MemoryEvents, high),     FIELD(MemoryEvents, max),
                FIELD(MemoryEvents, oom), FIELD(MemoryEvents, oom_kill), FIELD(MemoryEvents, oom_group_kill),
        };
        MemoryEvents e = {};
        int r = parse_flat_keyed(buf, fields, ELEMENTSOF(fields), &e);
        if (r < 0)
                return r;
        if (r == 0)
                return -ENODATA; /* the kernel always writes low high max oom: read while rewritten (fixture) */
        *ret = e;
        return 0;
}

int memory_stat_parse(const char *buf, MemoryStat *ret)
{
        static const KeyField fields[] = {
                FIELD(MemoryStat, anon),
                FIELD(MemoryStat, file),
                FIELD(MemoryStat, active_file),
                FIELD(MemoryStat, inactive_file),
                FIELD(MemoryStat, active_anon),
                FIELD(MemoryStat, inactive_anon),
                FIELD(MemoryStat, shmem),
                FIELD(MemoryStat, file_mapped),
                FIELD(MemoryStat, file_dirty),
                FIELD(MemoryStat, file_writeback),
                FIELD(MemoryStat, sock),
                FIELD(MemoryStat, slab_reclaimable),
                FIELD(MemoryStat, slab_unreclaimable),
                FIELD(MemoryStat, kernel_stack),
                FIELD(MemoryStat, pagetables),
                FIELD(MemoryStat, workingset_refault_anon),
                FIELD(MemoryStat, workingset_refault_file),
                FIELD(MemoryStat, pgscan),
                FIELD(MemoryStat, pgsteal),
        };
        MemoryStat s = {};
        int r = parse_flat_keyed(buf, fields, ELEMENTSOF(fields), &s);
        if (r < 0)
                return r;
        *ret = s;
        return 0;
}

/* /proc/PID/status: "Key:\tvalue" lines. The Name: line is escaped by the kernel (a newline in a name
 * is printed as "\n"), but if a raw newline ever appeared it could forge a line: every key we use must
 * therefore appear at most once, or the whole file is -EINVAL (a caller skips such a process). */
int proc_status_parse(const char *buf, ProcStatus *ret)
{
        enum {
                SEEN_TGID = 1 << 0,
                SEEN_SIGCGT = 1 << 1,
                SEEN_SIGBLK = 1 << 2,
                SEEN_VMRSS = 1 << 3,
                SEEN_VMSIZE = 1 << 4,
                SEEN_KTHREAD = 1 << 5,
                SEEN_STATE = 1 << 6,
        };
        ProcStatus st = {};
        unsigned seen = 0;
        bool kthread = false;
        int r;

        if (!buf)
                return -EINVAL;

        for (const char *p = buf; p && *p; p = next_line(p)) {
                static const struct {
                        const char *key;
                        unsigned bit;
                } keys[] = {
                        { "Tgid:", SEEN_TGID },     { "SigCgt:", SEEN_SIGCGT }, { "SigBlk:", SEEN_SIGBLK },
                        { "VmRSS:", SEEN_VMRSS },   { "VmSize:", SEEN_VMSIZE }, { "Kthread:", SEEN_KTHREAD },
                        { "State:", SEEN_STATE },
                };
                unsigned bit = 0;

                for (size_t i = 0; i < ELEMENTSOF(keys); i++) {
                        size_t l = strlen(keys[i].key);
                        if (strncmp(p, keys[i].key, l) == 0) {
                                bit = keys[i].bit;
                                p += l;
                                break;
                        }
                }
                if (bit == 0)
                        continue;
                if (seen & bit)
                        return -EINVAL;
                seen |= bit;

                while (is_blank(*p))
                        p++;

                uint64_t v;
                switch (bit) {
                case SEEN_TGID:
                        r = parse_digits(&p, &v);
                        if (r < 0)
                                return r;
                        if (v == 0 || v > INT32_MAX)
                                return -ERANGE;
                        st.tgid = (pid_t) v;
                        break;
                case SEEN_SIGCGT:
                case SEEN_SIGBLK:
                        r = parse_hex64(&p, bit == SEEN_SIGCGT ? &st.sig_cgt : &st.sig_blk);
                        if (r < 0)
                                return r;
                        break;
                case SEEN_VMRSS:
                        r = parse_digits(&p, &v);
                        if (r < 0)
                                return r;
                        while (is_blank(*p))
                                p++;
                        if (strncmp(p, "kB", 2) != 0)
                                return -EINVAL;
                        p += 2;
                        if (v > UINT64_MAX / 1024)
                                return -ERANGE;
                        st.vm_rss_bytes = v * 1024;
                        break;
                case SEEN_VMSIZE:
                        /* Only its presence matters: kernel threads have no mm. */
                        continue;
                case SEEN_KTHREAD:
                        r = parse_digits(&p, &v);
                        if (r < 0)
                                return r;
                        if (v > 1)
                                return -EINVAL;
                        kthread = v == 1;
                        break;
                case SEEN_STATE:
                        /* "S (sleeping)": one letter, then the description. */
                        if (*p < 'A' || *p > 'Z')
                                return -EINVAL;
                        st.state = *p++;
                        continue;
                }
                if (!at_line_end(p))
                        return -EINVAL;
        }

        if ((seen & (SEEN_TGID | SEEN_SIGCGT | SEEN_SIGBLK)) != (SEEN_TGID | SEEN_SIGCGT | SEEN_SIGBLK))
                return -EINVAL; /* truncated */

        if (seen & SEEN_KTHREAD)
                /* 6.x kernels say it outright (Kthread:). */
                st.is_kernel_thread = kthread;
        else
                /* Older ones: no VmSize line. A zombie has released its mm too, so it has no VmSize either:
                 * it is not a kernel thread. */
                st.is_kernel_thread = !(seen & SEEN_VMSIZE) && st.state != 'Z' && st.state != 'X';

        *ret = st;
        return 0;
}

int proc_cgroup_parse_unified(const char *buf, char **ret)
{
        if (!buf)
                return -EINVAL;

        for (const char *p = buf; p && *p; p = next_line(p)) {
                if (strncmp(p, "0::", 3) != 0)
                        continue;
                p += 3;
                const char *e = strchrnul(p, '\n');
                if (e == p || *p != '/')
                        return -EINVAL;
                char *s = strndup(p, (size_t) (e - p));
                if (!s)
                        return -ENOMEM;
                *ret = s;
                return 0;
        }
        return -ENODATA;
}

static int pid_cmp(const void *a, const void *b)
{
        const pid_t *x = a, *y = b;
        /* By PID, then by position (the second member of each pair). */
        if (x[0] != y[0])
                return x[0] < y[0] ? -1 : 1;
        return x[1] < y[1] ? -1 : x[1] > y[1];
}

int cgroup_procs_parse(const char *buf, pid_t **ret)
{
        _cleanup_free_ pid_t *pids = NULL, *pairs = NULL;
        size_t n = 0, alloc = 0;

        if (!buf)
                return -EINVAL;

        for (const char *p = buf; p && *p; p = next_line(p)) {
                uint64_t v;
                int r;

                if (at_line_end(p))
                        continue; /* empty line */
                r = parse_digits(&p, &v);
                if (r < 0)
                        return r;
                if (!at_line_end(p))
                        return -EINVAL;
                if (v == 0 || v > INT32_MAX)
                        return -ERANGE;
                if (n >= INT32_MAX)
                        return -E2BIG;
                if (n == alloc) {
                        size_t na = alloc ? alloc * 2 : 16;
                        pid_t *np = reallocarray(pids, na, sizeof(pid_t));
                        if (!np)
                                return -ENOMEM;
                        pids = np;
                        alloc = na;
                }
                pids[n++] = (pid_t) v;
        }

        if (n == 0) {
                *ret = NULL;
                return 0;
        }

        /* Deduplicate, keeping the first occurrence and the file order: sort (pid, position) pairs, mark
         * later duplicates with 0, then compact. */
        pairs = reallocarray(NULL, n, 2 * sizeof(pid_t));
        if (!pairs)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                pairs[2 * i] = pids[i];
                pairs[2 * i + 1] = (pid_t) i;
        }
        qsort(pairs, n, 2 * sizeof(pid_t), pid_cmp);
        for (size_t i = 1; i < n; i++)
                if (pairs[2 * i] == pairs[2 * (i - 1)])
                        pids[pairs[2 * i + 1]] = 0;
        size_t m = 0;
        for (size_t i = 0; i < n; i++)
                if (pids[i] != 0)
                        pids[m++] = pids[i];

        *ret = TAKE_PTR(pids);
        return (int) m;
}

int cgroup_controllers_has(const char *buf, const char *controller)
{
        size_t l;

        if (!buf || !controller || (l = strlen(controller)) == 0)
                return -EINVAL;

        for (const char *p = buf; *p;) {
                while (is_space(*p))
                        p++;
                const char *w = p;
                while (*p && !is_space(*p))
                        p++;
                if ((size_t) (p - w) == l && strncmp(w, controller, l) == 0)
                        return 1;
        }
        return 0;
}

/* mountinfo escapes ' ', '\t', '\n', '\\' as \ooo. */
static char *mountinfo_unescape(const char *s, size_t len)
{
        char *d = malloc(len + 1), *q = d;
        if (!d)
                return NULL;
        for (size_t i = 0; i < len; i++) {
                if (s[i] == '\\' && i + 3 < len && s[i + 1] >= '0' && s[i + 1] <= '3' &&
                    s[i + 2] >= '0' && s[i + 2] <= '7' && s[i + 3] >= '0' && s[i + 3] <= '7') {
                        *q++ = (char) (((s[i + 1] - '0') << 6) | ((s[i + 2] - '0') << 3) | (s[i + 3] - '0'));
                        i += 3;
                } else
                        *q++ = s[i];
        }
        *q = 0;
        return d;
}

int mountinfo_cgroup2_mounts(const char *buf, char ***ret)
{
        _cleanup_strv_free_ char **l = NULL;
        int n = 0;

        if (!buf)
                return -EINVAL;

        for (const char *p = buf; p && *p; p = next_line(p)) {
                /* 36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue
                 * (1)(2)(3)   (4)   (5)      (6)      (7)   (8) (9)   (10)         (11) */
                const char *f[5];
                size_t flen[5];
                const char *q = p;
                size_t i;

                for (i = 0; i < 5; i++) {
                        while (*q == ' ')
                                q++;
                        if (*q == '\n' || *q == 0)
                                break;
                        f[i] = q;
                        while (*q && *q != ' ' && *q != '\n')
                                q++;
                        flen[i] = (size_t) (q - f[i]);
                }
                if (i < 5)
                        continue; /* short line */

                /* Optional fields until the lone "-", then the fs type. */
                const char *eol = strchrnul(q, '\n');
                const char *sep = NULL;
                for (const char *s = q; s + 2 < eol; s++)
                        if (s[0] == ' ' && s[1] == '-' && s[2] == ' ') {
                                sep = s + 3;
                                break;
                        }
                if (!sep)
                        continue;
                if ((size_t) (eol - sep) < 8 || strncmp(sep, "cgroup2 ", 8) != 0)
                        continue;

                _cleanup_free_ char *path = mountinfo_unescape(f[4], flen[4]);
                if (!path)
                        return -ENOMEM;
                if (strv_extend(&l, path) < 0)
                        return -ENOMEM;
                n++;
        }

        *ret = TAKE_PTR(l);
        return n;
}
