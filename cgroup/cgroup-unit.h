/* SPDX-License-Identifier: MIT */
/* cgroup/cgroup-unit.h: what a cgroup path says about systemd units and containers. Pure string work. */
#pragma once

#include <stdbool.h>

#include "cgroup-container.h"

typedef struct CgroupIdentity {
        char *unit;         /* deepest systemd unit in the path ("nginx.service", "docker-<id>.scope"),
                               NULL if none */
        char *slice;        /* slice directly containing that unit ("system.slice"), NULL if none */
        char *container_id; /* docker/podman(libpod)/containerd(cri-containerd)/crio scope id, 64 hex, or NULL */
        bool is_unit_cgroup; /* the path's last component is the unit itself (not a sub-cgroup inside it) */

        /* Containers and pods (cgroup/cgroup-container.h). Ordered without holes: one per guard. */
        bool is_container_cgroup;  /* the container's own cgroup (not its parent scope or a sub-cgroup) */
        ContainerRuntime runtime;  /* NONE when container_id is NULL */
        PodQos pod_qos;
        char *pod_uid;             /* Kubernetes pod uid (with dashes), NULL outside kubepods */
        /* Names, set by cgroup_identity_resolve_names(); NULL when unknown (records fall back to the id). */
        char *container_name;
        char *container_image;
        char *pod_name;
        char *pod_namespace;
} CgroupIdentity;

/* Parses e.g. "/system.slice/nginx.service", "/user.slice/user-1000.slice/user@1000.service/app.slice/x.scope",
 * "/system.slice/docker-<64hex>.scope", "/kubepods.slice/kubepods-burstable.slice/.../cri-containerd-<id>.scope",
 * "/machine.slice/libpod-<id>.scope/container" (podman's conmon scope, libpod-conmon-<id>.scope, is no
 * container: no container_id). Unit names are recognised by their suffix (.service .scope
 * .slice .socket .mount .swap); systemd escapes (\x2d) are kept as they are. Returns 0 or -ENOMEM. */
int cgroup_identity_from_path(const char *cgpath, CgroupIdentity *ret);
/* A deep copy into *ret. Returns 0 or -ENOMEM. */
int cgroup_identity_copy(const CgroupIdentity *id, CgroupIdentity *ret);
void cgroup_identity_done(CgroupIdentity *id);
