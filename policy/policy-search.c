/* SPDX-License-Identifier: MIT */
/* policy/policy-search.c: the configuration files: reading one (with the security checks) and loading it
 * (policy-load.c), and the policy.d search: the directories in order, a name in an earlier one hides the
 * same name in later ones, an empty file or a link to /dev/null masks it. */
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "policy-parse.h"
#include "util/fileio.h"
#include "util/log.h"
#include "util/strv.h"

#include "config.h"

/* The vendor directory is where meson installs the shipped policies (prefix/lib/memwarden/policy.d, i.e.
 * /usr/lib/memwarden/policy.d for a /usr build); /etc and /run are fixed, like MAIN_CONFIG_DEFAULT. */
#ifndef LIBDIR_POLICY
#define LIBDIR_POLICY "/usr/lib/memwarden/policy.d"
#endif

const char *const POLICY_DIRS_DEFAULT[] = {
        "/etc/memwarden/policy.d",
        "/run/memwarden/policy.d",
        LIBDIR_POLICY,
        NULL,
};

static bool check_ownership = true;

void config_set_check_ownership(bool b)
{
        check_ownership = b;
}

_printf_(4, 5) static int config_error(ConfigError *err, const char *file, unsigned line, const char *fmt, ...)
{
        va_list ap;

        if (!err)
                return -EINVAL;
        snprintf(err->file, sizeof err->file, "%s", file ?: "");
        err->line = line;
        va_start(ap, fmt);
        vsnprintf(err->message, sizeof err->message, fmt, ap);
        va_end(ap);
        return -EINVAL;
}

static int check_security(const char *path, const struct stat *st, ConfigError *err)
{
        const char *what = S_ISDIR(st->st_mode) ? "directory" : "file";

        if (st->st_mode & S_IWOTH) {
                config_error(err, path, 0, "%s is world-writable, refusing (chmod o-w)", what);
                return -EPERM;
        }
        if (check_ownership && st->st_uid != 0 && st->st_uid != geteuid()) {
                config_error(err, path, 0, "%s is owned by uid %u, not root, refusing", what,
                             (unsigned) st->st_uid);
                return -EPERM;
        }
        return 0;
}

/* Reads a configuration file, with the security checks. -ENOENT when it does not exist. */
static int read_config_file(const char *path, char **ret, size_t *ret_size, ConfigError *err)
{
        _cleanup_close_ int fd = -EBADF;
        _cleanup_free_ char *buf = NULL;
        struct stat st;
        size_t n = 0;
        int r;

        /* O_NONBLOCK: a FIFO named foo.conf must not hang us; it is refused below. */
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        if (fd < 0) {
                r = -errno;
                config_error(err, path, 0, "cannot open: %s", strerror(-r));
                return r;
        }
        if (fstat(fd, &st) < 0) {
                r = -errno;
                config_error(err, path, 0, "cannot stat: %s", strerror(-r));
                return r;
        }
        if (!S_ISREG(st.st_mode)) {
                config_error(err, path, 0, "not a regular file");
                return -EINVAL;
        }
        r = check_security(path, &st, err);
        if (r < 0)
                return r;

        r = read_full_fd(fd, CONFIG_FILE_SIZE_MAX, &buf, &n);
        if (r == -EFBIG) {
                config_error(err, path, 0, "file too large (more than %u bytes)", CONFIG_FILE_SIZE_MAX);
                return r;
        }
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                config_error(err, path, 0, "cannot read: %s", strerror(-r));
                return r;
        }
        *ret = TAKE_PTR(buf);
        *ret_size = n;
        return 0;
}

int policy_lint_file(const char *path, config_error_cb_t cb, void *userdata)
{
        _cleanup_free_ char *buf = NULL;
        ConfigError err = {};
        size_t size;
        int r;

        r = read_config_file(path, &buf, &size, &err);
        if (r < 0) {
                if (r != -ENOMEM)
                        cb(&err, userdata);
                return r;
        }
        return policy_lint_buffer(path, buf, size, cb, userdata);
}

int policy_load_file(const char *path, Policy **ret, ConfigError *err)
{
        _cleanup_free_ char *buf = NULL;
        size_t size;
        int r;

        r = read_config_file(path, &buf, &size, err);
        if (r < 0)
                return r;
        return policy_load_buffer(path, buf, size, ret, err);
}

int daemon_config_load_file(const char *path, DaemonConfig *ret, ConfigError *err)
{
        _cleanup_free_ char *buf = NULL;
        size_t size;
        int r;

        r = read_config_file(path, &buf, &size, err);
        if (r < 0)
                return r;
        return daemon_config_load_buffer(path, buf, size, ret, err);
}

typedef enum EntryKind {
        ENTRY_POLICY,
        ENTRY_MASK, /* empty file or symlink to /dev/null */
} EntryKind;

typedef struct Entry {
        char *name;
        char *path;
        size_t dir_index;
        EntryKind kind;
} Entry;

typedef struct EntryList {
        Entry *entries;
        size_t n;
} EntryList;

static void entry_list_done(EntryList *l)
{
        for (size_t i = 0; i < l->n; i++) {
                free(l->entries[i].name);
                free(l->entries[i].path);
        }
        free(l->entries);
        *l = (EntryList) {};
}

static int entry_compare(const void *a, const void *b)
{
        const Entry *x = a, *y = b;
        int r = strcmp(x->name, y->name);
        if (r != 0)
                return r;
        return x->dir_index < y->dir_index ? -1 : x->dir_index > y->dir_index ? 1 : 0;
}

static int path_join(const char *dir, const char *name, char **ret)
{
        size_t a = strlen(dir);
        bool slash = a > 0 && dir[a - 1] == '/';
        char *s;

        if (asprintf(&s, "%s%s%s", dir, slash ? "" : "/", name) < 0)
                return -ENOMEM;
        *ret = s;
        return 0;
}

static int scan_dir(const char *dir, size_t dir_index, EntryList *l, ConfigError *err)
{
        _cleanup_closedir_ DIR *d = NULL;
        struct dirent *de;
        struct stat st;
        int r;

        d = opendir(dir);
        if (!d) {
                if (errno == ENOENT)
                        return 0;
                r = -errno;
                config_error(err, dir, 0, "cannot open directory: %s", strerror(-r));
                return r;
        }
        if (fstat(dirfd(d), &st) < 0) {
                r = -errno;
                config_error(err, dir, 0, "cannot stat directory: %s", strerror(-r));
                return r;
        }
        r = check_security(dir, &st, err);
        if (r < 0)
                return r;

        for (;;) {
                errno = 0;
                de = readdir(d);
                if (!de) {
                        if (errno != 0) {
                                r = -errno;
                                config_error(err, dir, 0, "cannot read directory: %s", strerror(-r));
                                return r;
                        }
                        break;
                }
                if (de->d_name[0] == '.' || strlen(de->d_name) <= 5 || !string_endswith(de->d_name, ".conf"))
                        continue;

                _cleanup_free_ char *path = NULL;
                if (path_join(dir, de->d_name, &path) < 0)
                        return -ENOMEM;

                if (fstatat(dirfd(d), de->d_name, &st, 0) < 0) {
                        r = -errno;
                        config_error(err, path, 0, "cannot stat: %s", strerror(-r));
                        return r;
                }

                EntryKind kind;
                if (S_ISDIR(st.st_mode)) {
                        log_debug("%s is a directory, ignoring.", path);
                        continue;
                } else if (S_ISCHR(st.st_mode) && st.st_rdev == makedev(1, 3))
                        kind = ENTRY_MASK; /* /dev/null */
                else if (S_ISREG(st.st_mode)) {
                        r = check_security(path, &st, err);
                        if (r < 0)
                                return r;
                        kind = st.st_size == 0 ? ENTRY_MASK : ENTRY_POLICY;
                } else
                        return config_error(err, path, 0, "not a regular file");

                Entry *n = reallocarray(l->entries, l->n + 1, sizeof(Entry));
                if (!n)
                        return -ENOMEM;
                l->entries = n;
                n[l->n] = (Entry) { .name = strdup(de->d_name), .path = TAKE_PTR(path),
                                    .dir_index = dir_index, .kind = kind };
                if (!n[l->n].name) {
                        free(n[l->n].path);
                        return -ENOMEM;
                }
                l->n++;
        }
        return 0;
}

static int config_new(Config **ret)
{
        Config *c = calloc(1, sizeof *c);
        if (!c)
                return -ENOMEM;
        if (daemon_config_init_defaults(&c->daemon) < 0) {
                free(c);
                return -ENOMEM;
        }
        *ret = c;
        return 0;
}

static int config_add_policy(Config *c, Policy *p)
{
        Policy **n = reallocarray(c->policies, c->n_policies + 1, sizeof(Policy *));
        if (!n)
                return -ENOMEM;
        c->policies = n;
        c->policies[c->n_policies++] = p;
        return 0;
}

static int oom_error(ConfigError *err)
{
        config_error(err, "", 0, "out of memory");
        return -ENOMEM;
}

/* Loads the policy at path into c. 0 or -errno (err filled in). */
static int config_load_policy_file(Config *c, const char *path, ConfigError *err)
{
        Policy *p;
        int r = policy_load_file(path, &p, err);
        if (r < 0)
                return r;
        if (config_add_policy(c, p) < 0) {
                policy_free(p);
                return oom_error(err);
        }
        return 0;
}

int config_load(const char *main_conf, const char *const *dirs, Config **ret, ConfigError *err)
{
        _cleanup_config_free_ Config *c = NULL;
        _cleanup_(entry_list_done) EntryList l = {};
        int r;

        if (config_new(&c) < 0)
                return oom_error(err);

        if (main_conf) {
                ConfigError e;
                DaemonConfig d;

                r = daemon_config_load_file(main_conf, &d, &e);
                if (r >= 0) {
                        daemon_config_done(&c->daemon);
                        c->daemon = d;
                        c->main_conf = strdup(main_conf);
                        if (!c->main_conf)
                                return oom_error(err);
                } else if (r != -ENOENT) {
                        if (err)
                                *err = e;
                        return r;
                }
        }

        for (size_t i = 0; dirs && dirs[i]; i++) {
                r = scan_dir(dirs[i], i, &l, err);
                if (r == -ENOMEM)
                        return oom_error(err);
                if (r < 0)
                        return r;
        }
        if (l.n > 0)
                qsort(l.entries, l.n, sizeof(Entry), entry_compare);

        for (size_t i = 0; i < l.n; i++) {
                Entry *e = l.entries + i;
                bool winner = i == 0 || !streq(l.entries[i - 1].name, e->name);

                if (!winner || e->kind == ENTRY_MASK) {
                        log_debug("%s is masked, ignoring.", e->path);
                        if (strv_extend(&c->masked, e->path) < 0)
                                return oom_error(err);
                        continue;
                }

                r = config_load_policy_file(c, e->path, err);
                if (r < 0)
                        return r;
        }

        *ret = TAKE_PTR(c);
        return 0;
}

int config_load_files(char *const *files, Config **ret, ConfigError *err)
{
        _cleanup_config_free_ Config *c = NULL;
        int r;

        if (config_new(&c) < 0)
                return oom_error(err);

        for (size_t i = 0; files && files[i]; i++) {
                r = config_load_policy_file(c, files[i], err);
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(c);
        return 0;
}
