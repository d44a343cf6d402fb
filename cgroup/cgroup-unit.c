/* SPDX-License-Identifier: MIT */
/* cgroup/cgroup-unit.c: systemd units and container ids from a cgroup path. Pure string work. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cgroup-unit.h"
#include "util/macro.h"

#define UNIT_NAME_MAX 255
#define CONTAINER_ID_LEN 64

static bool is_hex(char c)
{
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

static bool all_hex(const char *s, size_t len)
{
        for (size_t i = 0; i < len; i++)
                if (!is_hex(s[i]))
                        return false;
        return true;
}

static bool unit_char_ok(char c)
{
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == ':' ||
                c == '-' || c == '_' || c == '.' || c == '\\' || c == '@';
}

/* A component c[0..len) that looks like a systemd unit name: "prefix.suffix" with a known suffix, a
 * non-empty prefix and only characters systemd allows. */
static bool is_unit_name(const char *c, size_t len, bool *ret_is_slice)
{
        static const char *const suffixes[] = {
                ".service", ".scope", ".slice", ".socket", ".mount", ".swap",
        };

        if (len > UNIT_NAME_MAX)
                return false;
        for (size_t i = 0; i < len; i++)
                if (!unit_char_ok(c[i]))
                        return false;
        for (size_t i = 0; i < ELEMENTSOF(suffixes); i++) {
                size_t sl = strlen(suffixes[i]);
                if (len > sl && memcmp(c + len - sl, suffixes[i], sl) == 0) {
                        /* ".service", or "foo@.service": a template, never a running unit. */
                        if (c[0] == '.' || c[len - sl - 1] == '@')
                                return false;
                        if (ret_is_slice)
                                *ret_is_slice = streq(suffixes[i], ".slice");
                        return true;
                }
        }
        return false;
}

/* Container runtime scopes and cgroupfs-driver directories. Returns a pointer to the 64-hex id within c, or
 * NULL. */
static const char *container_id_of(const char *c, size_t len)
{
        static const char *const prefixes[] = {
                "docker-", "libpod-", "cri-containerd-", "crio-",
        };

        /* cgroupfs driver: /docker/<id>, /kubepods/burstable/pod<uid>/<id>, /libpod_parent/libpod-<id> */
        if (len == CONTAINER_ID_LEN && all_hex(c, len))
                return c;

        /* podman's and CRI-O's monitor (conmon) beside the container: not the container */
        if ((len > 14 && memcmp(c, "libpod-conmon-", 14) == 0) || (len > 12 && memcmp(c, "crio-conmon-", 12) == 0))
                return NULL;
        for (size_t i = 0; i < ELEMENTSOF(prefixes); i++) {
                size_t pl = strlen(prefixes[i]);
                if (len < pl + CONTAINER_ID_LEN || memcmp(c, prefixes[i], pl) != 0)
                        continue;
                const char *id = c + pl, *rest = id + CONTAINER_ID_LEN;
                size_t rl = len - pl - CONTAINER_ID_LEN;
                if (!all_hex(id, CONTAINER_ID_LEN))
                        continue;
                if (rl == 0 || (rl == 6 && memcmp(rest, ".scope", 6) == 0))
                        return id;
        }
        return NULL;
}

int cgroup_identity_from_path(const char *cgpath, CgroupIdentity *ret)
{
        const char *unit = NULL, *slice = NULL, *cid = NULL;
        size_t unit_len = 0, slice_len = 0;
        const char *prev = NULL;
        size_t prev_len = 0;
        bool last_is_unit = false, unit_at_top = false;

        if (!cgpath || !ret)
                return -EINVAL;

        for (const char *p = cgpath; *p;) {
                while (*p == '/')
                        p++;
                if (!*p)
                        break;
                const char *c = p;
                while (*p && *p != '/')
                        p++;
                size_t len = (size_t) (p - c);

                const char *id = container_id_of(c, len);
                if (id)
                        cid = id; /* deepest wins: docker-in-docker names the inner container */

                bool is_slice = false;
                if (is_unit_name(c, len, &is_slice)) {
                        unit = c;
                        unit_len = len;
                        last_is_unit = true;
                        unit_at_top = !prev;
                        bool parent_is_slice = false;
                        if (prev && is_unit_name(prev, prev_len, &parent_is_slice) && parent_is_slice) {
                                slice = prev;
                                slice_len = prev_len;
                        } else
                                slice = NULL;
                } else
                        last_is_unit = false;

                prev = c;
                prev_len = len;
        }

        CgroupIdentity id = {};
        if (unit) {
                id.unit = strndup(unit, unit_len);
                if (!id.unit)
                        goto oom;
                /* systemd puts top-level units (init.scope, system.slice) into the root slice. */
                if (slice || unit_at_top) {
                        id.slice = slice ? strndup(slice, slice_len) : strdup("-.slice");
                        if (!id.slice)
                                goto oom;
                }
                id.is_unit_cgroup = last_is_unit;
        }
        if (cid) {
                id.container_id = strndup(cid, CONTAINER_ID_LEN);
                if (!id.container_id)
                        goto oom;
        }
        if (cgroup_container_parse_path(cgpath, &id) < 0)
                goto oom;
        *ret = id;
        return 0;

oom:
        cgroup_identity_done(&id);
        return -ENOMEM;
}

void cgroup_identity_done(CgroupIdentity *id)
{
        if (!id)
                return;
        free(id->unit);
        free(id->slice);
        free(id->container_id);
        free(id->pod_uid);
        free(id->container_name);
        free(id->container_image);
        free(id->pod_name);
        free(id->pod_namespace);
        *id = (CgroupIdentity) {};
}

static int dup_or_null(const char *s, char **ret)
{
        *ret = NULL;
        if (s && !(*ret = strdup(s)))
                return -ENOMEM;
        return 0;
}

int cgroup_identity_copy(const CgroupIdentity *id, CgroupIdentity *ret)
{
        CgroupIdentity c = {
                .is_unit_cgroup = id->is_unit_cgroup,
                .runtime = id->runtime,
                .is_container_cgroup = id->is_container_cgroup,
                .pod_qos = id->pod_qos,
        };
        if (dup_or_null(id->unit, &c.unit) < 0 || dup_or_null(id->slice, &c.slice) < 0 ||
            dup_or_null(id->container_id, &c.container_id) < 0 || dup_or_null(id->pod_uid, &c.pod_uid) < 0 ||
            dup_or_null(id->container_name, &c.container_name) < 0 ||
            dup_or_null(id->container_image, &c.container_image) < 0 ||
            dup_or_null(id->pod_name, &c.pod_name) < 0 || dup_or_null(id->pod_namespace, &c.pod_namespace) < 0) {
                cgroup_identity_done(&c);
                return -ENOMEM;
        }
        *ret = c;
        return 0;
}
