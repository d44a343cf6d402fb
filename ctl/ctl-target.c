/* SPDX-License-Identifier: MIT */
/* ctl/ctl-target.c: operands that name a cgroup (ctl/ctl-target.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cgroup/cgroup-unit.h"
#include "ctl-target.h"
#include "util/macro.h"

static const char *const unit_suffixes[] = { ".service", ".scope", ".slice", ".socket", ".mount", ".swap" };

static bool has_unit_suffix(const char *s)
{
        size_t l = strlen(s);
        for (size_t i = 0; i < ELEMENTSOF(unit_suffixes); i++) {
                size_t k = strlen(unit_suffixes[i]);
                if (l > k && streq(s + l - k, unit_suffixes[i]))
                        return true;
        }
        return false;
}

int ctl_target_parse(const char *s, CtlTarget *ret)
{
        if (!s || !s[0])
                return -EINVAL;
        if (strspn(s, "0123456789") == strlen(s)) {
                char *e = NULL;
                errno = 0;
                long v = strtol(s, &e, 10);
                if (errno || *e || v <= 0 || v > INT32_MAX)
                        return -EINVAL;
                *ret = (CtlTarget) { .kind = CTL_TARGET_PID, .pid = (pid_t) v, .name = s };
                return 0;
        }
        if (s[0] != '/' && !strchr(s, '/') && has_unit_suffix(s)) {
                *ret = (CtlTarget) { .kind = CTL_TARGET_UNIT, .name = s };
                return 0;
        }
        *ret = (CtlTarget) { .kind = CTL_TARGET_CGROUP, .name = s };
        return 0;
}

typedef struct UnitSearch {
        const char *unit;
        char *found;
} UnitSearch;

static int unit_search_cb(const CgroupRoot *r, const char *cgpath, void *userdata)
{
        UnitSearch *u = userdata;
        CgroupIdentity id = {};

        if (cgroup_identity_from_path(cgpath, &id) < 0)
                return -ENOMEM;
        bool match = id.is_unit_cgroup && streq_ptr(id.unit, u->unit);
        cgroup_identity_done(&id);
        if (!match)
                return 0;
        u->found = strdup(cgpath);
        return u->found ? -ECANCELED : -ENOMEM; /* stop the walk */
}

int ctl_target_cgroup_path(const CgroupRoot *r, const CtlTarget *t, char **ret)
{
        switch (t->kind) {
        case CTL_TARGET_UNIT: {
                /* Pre-order, so the shallowest one: a unit has exactly one cgroup. */
                UnitSearch u = { .unit = t->name };
                int k = cgroup_walk(r, "/", unit_search_cb, &u);
                if (k == -ECANCELED) {
                        *ret = u.found;
                        return 0;
                }
                return k < 0 ? k : -ENOENT;
        }
        case CTL_TARGET_CGROUP: {
                const char *p = t->name;
                size_t l = r->root_path ? strlen(r->root_path) : 0;
                /* The mount point as a prefix ("/sys/fs/cgroup/system.slice/x"): a path from the root. */
                if (l > 1 && !strncmp(p, r->root_path, l) && (p[l] == '/' || !p[l]))
                        p = p[l] ? p + l : "/";
                char *s = NULL;
                if (asprintf(&s, "%s%s", p[0] == '/' ? "" : "/", p) < 0)
                        return -ENOMEM;
                *ret = s;
                return 0;
        }
        case CTL_TARGET_PID:
        default:
                return -EINVAL;
        }
}
