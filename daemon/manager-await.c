/* SPDX-License-Identifier: MIT */
/* daemon/manager-await.c: cgroups waiting for their memory controller (daemon/manager-await.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>

#include "manager-await.h"
#include "manager.h"
#include "util/log.h"
#include "util/strv.h"

typedef struct MemoryAwait {
        int wd;          /* IN_MODIFY on <parent>/cgroup.subtree_control */
        char *parent;    /* cgroup path */
        char **children; /* the cgroups below parent that wait */
} MemoryAwait;

static bool path_below(const char *path, const char *top)
{
        size_t n = strlen(top);
        if (streq(top, "/"))
                return true;
        return strncmp(path, top, n) == 0 && (path[n] == 0 || path[n] == '/');
}

static void await_free(Manager *m, MemoryAwait *a)
{
        if (!a)
                return;
        if (hashmap_get(m->awaits, INT_TO_PTR(a->wd)) == a)
                (void) hashmap_remove(m->awaits, INT_TO_PTR(a->wd));
        /* kernfs sends no IN_IGNORED for a removed cgroup's file: the watch goes explicitly. */
        if (a->wd >= 0)
                (void) inotify_rm_watch(m->inotify_fd, a->wd);
        free(a->parent);
        strv_free(a->children);
        free(a);
}

static MemoryAwait *await_find(Manager *m, const char *parent)
{
        void *v;
        HashmapIter i = HASHMAP_ITER_INIT;
        while (hashmap_iterate(m->awaits, &i, &v, NULL))
                if (streq(((MemoryAwait *) v)->parent, parent))
                        return v;
        return NULL;
}

static bool strv_has(char *const *l, const char *s)
{
        for (; l && *l; l++)
                if (streq(*l, s))
                        return true;
        return false;
}

/* Removes entry i of a->children. */
static void children_remove(MemoryAwait *a, size_t i)
{
        free(a->children[i]);
        memmove(a->children + i, a->children + i + 1, (strv_length(a->children + i + 1) + 1) * sizeof(char *));
}

/* 1: the directory is there without memory.current, 2: with it, 0: gone, -errno. */
static int cgroup_memory_state(Manager *m, const char *cgpath)
{
        _cleanup_close_ int fd = cgroup_open(m->root, cgpath);
        if (fd < 0)
                return ERRNO_IS_GONE(fd) ? 0 : fd;
        return cgroup_has_memory(fd) ? 2 : 1;
}

int manager_await_memory(Manager *m, const char *cgpath)
{
        const char *slash = strrchr(cgpath, '/');
        if (!slash || streq(cgpath, "/"))
                return 0;
        int r = cgroup_memory_state(m, cgpath);
        if (r != 1)
                return r;

        _cleanup_free_ char *parent = slash == cgpath ? strdup("/") : strndup(cgpath, (size_t) (slash - cgpath));
        if (!parent)
                return -ENOMEM;
        MemoryAwait *a = await_find(m, parent);
        if (!a) {
                _cleanup_free_ char *file = NULL;
                if (asprintf(&file, "%s%s/cgroup.subtree_control", m->root->root_path,
                             streq(parent, "/") ? "" : parent) < 0)
                        return -ENOMEM;
                int wd = inotify_add_watch(m->inotify_fd, file, IN_MODIFY);
                if (wd < 0)
                        return log_debug_errno(-errno, "%s: no memory controller yet, and %s cannot be watched: "
                                                       "%m, ignoring", cgpath, file);
                a = calloc(1, sizeof *a);
                if (!a) {
                        (void) inotify_rm_watch(m->inotify_fd, wd);
                        return -ENOMEM;
                }
                a->wd = wd;
                a->parent = TAKE_PTR(parent);
                r = hashmap_put(m->awaits, INT_TO_PTR(wd), a);
                if (r < 0) {
                        await_free(m, a);
                        return r;
                }
        }
        if (!strv_has(a->children, cgpath)) {
                r = strv_extend(&a->children, cgpath);
                if (r < 0)
                        return r;
        }
        log_debug("%s: no memory controller yet (no memory.current), waiting for a write to "
                  "%s/cgroup.subtree_control",
                  cgpath, streq(a->parent, "/") ? "" : a->parent);
        /* The controller may have been enabled between the failed set-up and the watch. */
        r = cgroup_memory_state(m, cgpath);
        if (r != 1)
                manager_await_forget(m, cgpath); /* no longer waits (2: the caller sets the guard up now) */
        return r;
}

bool manager_await_event(Manager *m, const struct inotify_event *e)
{
        MemoryAwait *a = hashmap_get(m->awaits, INT_TO_PTR(e->wd));
        if (!a)
                return false;
        if (e->mask & IN_IGNORED) {
                (void) hashmap_remove(m->awaits, INT_TO_PTR(e->wd));
                a->wd = -1;
                await_free(m, a);
                return true;
        }
        if (!(e->mask & IN_MODIFY))
                return true;

        /* Each waiting child is looked at again; those that have their files now (guarded or not) or are gone
         * stop waiting. The list is taken first: a child discovered again may be added back. */
        _cleanup_strv_free_ char **children = TAKE_PTR(a->children);
        for (size_t i = 0; children && children[i]; i++) {
                /* Still without: waits on (this await, found by parent). 2 also when the files came between
                 * its two looks: that case once went unguarded (a podman container in the VM: "no memory
                 * controller yet" twice 40 ms apart, then nothing, and the kernel OOM-killed in it). */
                int r = manager_await_memory(m, children[i]);
                if (r == 2) {
                        log_debug("%s: its memory controller is enabled now", children[i]);
                        (void) manager_discover(m, children[i]);
                }
                if (r == -ENOMEM)
                        break;
        }
        a = hashmap_get(m->awaits, INT_TO_PTR(e->wd));
        if (!a)
                return true;
        if (strv_length(a->children) == 0)
                await_free(m, a);
        return true;
}

void manager_await_forget(Manager *m, const char *cgpath)
{
        void *v;
        HashmapIter i = HASHMAP_ITER_INIT;
        while (hashmap_iterate(m->awaits, &i, &v, NULL)) {
                MemoryAwait *a = v;
                if (path_below(a->parent, cgpath)) {
                        await_free(m, a);
                        continue;
                }
                bool removed = false;
                for (size_t k = 0; a->children && a->children[k];)
                        if (path_below(a->children[k], cgpath)) {
                                children_remove(a, k);
                                removed = true;
                        } else
                                k++;
                /* (an await whose list is taken by manager_await_event() is empty and stays) */
                if (removed && strv_length(a->children) == 0)
                        await_free(m, a);
        }
}

void manager_await_free(Manager *m)
{
        void *v;
        HashmapIter i = HASHMAP_ITER_INIT;
        while (hashmap_iterate(m->awaits, &i, &v, NULL))
                await_free(m, v);
        m->awaits = hashmap_free(m->awaits);
}
