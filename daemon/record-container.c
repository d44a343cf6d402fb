/* SPDX-License-Identifier: MIT */
#include <string.h>

#include "record-container.h"
#include "cgroup/cgroup-container.h"
#include "util/json.h"

/* g's identity, with names looked up again where they were missing. ret is a copy to be freed; returns
 * false (nothing to show) when the guard is neither a container nor in a pod, or on -ENOMEM. */
static bool identity_now(const Guard *g, CgroupIdentity *ret)
{
        const CgroupIdentity *id = &g->id;
        if (!id->container_id && !id->pod_uid)
                return false;
        if (cgroup_identity_copy(id, ret) < 0)
                return false;
        if ((ret->container_id && !ret->container_name) || (ret->pod_uid && !ret->pod_name))
                (void) cgroup_identity_resolve_names(g->manager->host_fd, ret);
        return true;
}

void record_add_container(Record *r, const Guard *g)
{
        CgroupIdentity id;
        if (!identity_now(g, &id))
                return;
        if (id.container_id) {
                record_add(r, "CONTAINER_ID=%s", id.container_id);
                record_add(r, "CONTAINER_RUNTIME=%s", container_runtime_to_string(id.runtime));
                if (id.container_name)
                        record_add(r, "CONTAINER_NAME=%s", id.container_name);
                else
                        record_add(r, "CONTAINER_NAME=%.12s", id.container_id);
                if (id.container_image)
                        record_add(r, "CONTAINER_IMAGE=%s", id.container_image);
        }
        if (id.pod_uid) {
                record_add(r, "POD_UID=%s", id.pod_uid);
                record_add(r, "POD_QOS=%s", pod_qos_to_string(id.pod_qos));
                if (id.pod_name)
                        record_add(r, "POD_NAME=%s", id.pod_name);
                if (id.pod_namespace)
                        record_add(r, "POD_NAMESPACE=%s", id.pod_namespace);
        }
        cgroup_identity_done(&id);
}

void container_status_text(const Guard *g, FILE *f)
{
        CgroupIdentity id;
        if (!identity_now(g, &id))
                return;
        fputs("    ", f);
        if (id.pod_uid)
                fprintf(f, "pod %s/%s (%s)%s", id.pod_namespace ?: "?", id.pod_name ?: id.pod_uid,
                        pod_qos_to_string(id.pod_qos), id.container_id ? " " : "");
        if (id.container_id) {
                if (id.container_name)
                        fprintf(f, "container %s", id.container_name);
                else
                        fprintf(f, "container %.12s", id.container_id);
                if (id.container_image)
                        fprintf(f, " (%s)", id.container_image);
        }
        fputc('\n', f);
        cgroup_identity_done(&id);
}

static void json_field(FILE *f, const char *key, const char *value, bool *first)
{
        if (!value)
                return;
        fprintf(f, "%s\"%s\":", *first ? "" : ",", key);
        json_write_string(f, value);
        *first = false;
}

void container_status_json(const Guard *g, FILE *f)
{
        CgroupIdentity id;
        if (!identity_now(g, &id))
                return;
        bool first = true;
        fputs(",\"container\":{", f);
        json_field(f, "id", id.container_id, &first);
        json_field(f, "runtime", container_runtime_to_string(id.runtime), &first);
        json_field(f, "name", id.container_name, &first);
        json_field(f, "image", id.container_image, &first);
        json_field(f, "pod_uid", id.pod_uid, &first);
        json_field(f, "pod_qos", pod_qos_to_string(id.pod_qos), &first);
        json_field(f, "pod_name", id.pod_name, &first);
        json_field(f, "pod_namespace", id.pod_namespace, &first);
        fputc('}', f);
        cgroup_identity_done(&id);
}
