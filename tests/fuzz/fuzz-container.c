/* SPDX-License-Identifier: MIT */
/* libFuzzer harness for what cgroup/cgroup-container.c reads from other programs: podman's containers.json,
 * docker's config.v2.json, containers-storage.conf, /var/log/pods and /var/log/containers names, and cgroup
 * paths. The JSON is handed over WITHOUT a terminating NUL (the reader must stop at its end).
 *   tests/fuzz/run-fuzz ./fuzz-container 30 tests/fixtures/containers/root (never point libFuzzer at the
 *   fixtures themselves: it writes new inputs into its first corpus directory) */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cgroup/cgroup-container.h"
#include "cgroup/cgroup-unit.h"

#define ID "3f2a9c0e1b7d4a5c6e8f9012a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_name(char *s)
{
        if (s && !container_name_is_valid(s))
                abort(); /* only valid names are ever handed out */
        free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        char *exact = malloc(size ?: 1);
        if (!exact)
                return 0;
        memcpy(exact, data, size);
        char *name = NULL, *image = NULL;
        if (podman_containers_json_find(exact, size, ID, &name, &image) == 0) {
                check_name(name);
                check_name(image);
        }
        name = image = NULL;
        if (docker_config_parse(exact, size, &name, &image) == 0) {
                check_name(name);
                check_name(image);
        }
        free(exact);

        char *buf = malloc(size + 1);
        if (!buf)
                return 0;
        memcpy(buf, data, size);
        buf[size] = 0;
        char *g = NULL;
        if (storage_conf_graphroot(buf, &g) == 0 && g[0] != '/')
                abort();
        free(g);
        char *ns = NULL, *pod = NULL;
        if (pod_log_dir_parse(buf, "0e8d3c1a-5b7f-4a2e-9c6d-1f2e3a4b5c6d", &ns, &pod) == 0) {
                check_name(ns);
                check_name(pod);
        }
        char *c = NULL;
        if (container_log_link_parse(buf, "web", "shop", ID, &c) == 0)
                check_name(c);
        CgroupIdentity id;
        if (cgroup_identity_from_path(buf, &id) == 0) {
                if (id.pod_uid && (strlen(id.pod_uid) == 0 || strlen(id.pod_uid) > 64 || strchr(id.pod_uid, '/')))
                        abort();
                cgroup_identity_done(&id);
        }
        free(buf);
        return 0;
}
