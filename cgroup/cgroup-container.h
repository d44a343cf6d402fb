/* SPDX-License-Identifier: MIT */
/* cgroup/cgroup-container.h: which container (and Kubernetes pod) a cgroup belongs to, and the names a
 * person knows it by, from what the host already has: no runtime CLI, no API server.
 *
 * From the path (pure): the runtime, whether this is the container's own cgroup, the pod uid and QoS class.
 *   podman:     /machine.slice/libpod-<id>.scope/container (crun makes the "container" child and puts the
 *               limit and the processes there), /libpod_parent/libpod-<id>; libpod-conmon-<id>.scope is
 *               podman's monitor, not the container
 *   docker:     /system.slice/docker-<id>.scope, /docker/<id>
 *   Kubernetes: /kubepods.slice[/kubepods-<qos>.slice]/kubepods[-<qos>]-pod<uid_with_underscores>.slice/
 *               {cri-containerd,crio,docker}-<id>.scope (systemd driver) and
 *               /kubepods[/<qos>]/pod<uid>/<id> (cgroupfs driver); no <qos> level means Guaranteed.
 * Names (cgroup_identity_resolve_names(), files relative to a root directory fd):
 *   Kubernetes: var/log/pods/<namespace>_<pod>_<uid>/ (pod name and namespace by uid) and the kubelet's
 *               var/log/containers/<pod>_<namespace>_<container>-<id>.log symlink (container name by id)
 *   podman:     <graphroot>/<driver>-containers/containers.json (names, metadata "image-name"), graphroot
 *               from etc/containers/storage.conf or var/lib/containers/storage
 *   docker:     var/lib/docker/containers/<id>/config.v2.json ("Name", "Config"."Image")
 * Names that are not printable ASCII (or longer than CONTAINER_NAME_MAX) are not taken: the id stands in. */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>

#define CONTAINER_NAME_MAX 253

typedef enum ContainerRuntime {
        CONTAINER_RUNTIME_NONE,
        CONTAINER_RUNTIME_PODMAN,
        CONTAINER_RUNTIME_DOCKER,
        CONTAINER_RUNTIME_CONTAINERD,
        CONTAINER_RUNTIME_CRIO,
        CONTAINER_RUNTIME_UNKNOWN, /* a bare 64-hex cgroupfs directory */
        _CONTAINER_RUNTIME_MAX,
} ContainerRuntime;

typedef enum PodQos {
        POD_QOS_NONE,
        POD_QOS_GUARANTEED,
        POD_QOS_BURSTABLE,
        POD_QOS_BESTEFFORT,
        _POD_QOS_MAX,
} PodQos;

/* "podman", "docker", "containerd", "cri-o", "unknown"; NULL for NONE. */
const char *container_runtime_to_string(ContainerRuntime r);
/* "Guaranteed", "Burstable", "BestEffort" (Kubernetes' spelling); NULL for NONE. */
const char *pod_qos_to_string(PodQos q);

struct CgroupIdentity;

/* Fills the container and pod fields of id from the path (called by cgroup_identity_from_path(); id's
 * container_id is already set). Returns 0 or -ENOMEM. */
int cgroup_container_parse_path(const char *cgpath, struct CgroupIdentity *id);

/* Looks the names up under root_fd (the host's "/", or a fixture tree) and sets those found; what is not
 * found stays NULL. Files that are missing, too large or do not parse are skipped. Returns 0 or -ENOMEM. */
int cgroup_identity_resolve_names(int root_fd, struct CgroupIdentity *id);

/* The pure parsers behind it (exported for tests and fuzzing). */
/* "<namespace>_<pod>_<uid>": 0 with both names when the uid matches, -EINVAL otherwise, -ENOMEM. */
int pod_log_dir_parse(const char *name, const char *pod_uid, char **ret_namespace, char **ret_pod);
/* "<pod>_<namespace>_<container>-<id>.log": the container name when pod, namespace and id match. */
int container_log_link_parse(const char *name, const char *pod, const char *namespace, const char *id,
                             char **ret_container);
/* podman's containers.json: name (names[0]) and image (metadata's "image-name", NULL when empty) of id.
 * Returns 0, -ENOENT (no such id), -EINVAL (does not parse), -ENOMEM. */
int podman_containers_json_find(const char *buf, size_t size, const char *id, char **ret_name,
                                char **ret_image);
/* docker's config.v2.json: "Name" without its "/" and "Config"."Image". Returns 0, -EINVAL, -ENOMEM. */
int docker_config_parse(const char *buf, size_t size, char **ret_name, char **ret_image);
/* The graphroot = "..." of a containers-storage.conf; -ENOENT when not set. */
int storage_conf_graphroot(const char *buf, char **ret);
/* A name we accept: 1..CONTAINER_NAME_MAX bytes of printable ASCII without blanks. */
bool container_name_is_valid(const char *s);
