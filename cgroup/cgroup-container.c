/* SPDX-License-Identifier: MIT */
/* cgroup/cgroup-container.c: containers and Kubernetes pods of a cgroup path, and their names from the
 * host's own files. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cgroup-container.h"
#include "cgroup-unit.h"
#include "util/fileio.h"
#include "util/json-read.h"
#include "util/log.h"
#include "util/macro.h"

#define CONTAINER_ID_LEN 64
#define POD_UID_MAX 64
#define CONTAINERS_JSON_MAX (16U * 1024 * 1024)
#define SMALL_JSON_MAX (1024U * 1024)
#define STORAGE_CONF_MAX (64U * 1024)
#define LOG_DIR_ENTRIES_MAX 100000 /* a directory scan stops here */

const char *container_runtime_to_string(ContainerRuntime r)
{
        static const char *const names[_CONTAINER_RUNTIME_MAX] = {
                [CONTAINER_RUNTIME_PODMAN] = "podman",         [CONTAINER_RUNTIME_DOCKER] = "docker",
                [CONTAINER_RUNTIME_CONTAINERD] = "containerd", [CONTAINER_RUNTIME_CRIO] = "cri-o",
                [CONTAINER_RUNTIME_UNKNOWN] = "unknown",
        };
        return r >= 0 && r < _CONTAINER_RUNTIME_MAX ? names[r] : NULL;
}

const char *pod_qos_to_string(PodQos q)
{
        static const char *const names[_POD_QOS_MAX] = {
                [POD_QOS_GUARANTEED] = "Guaranteed",
                [POD_QOS_BURSTABLE] = "Burstable",
                [POD_QOS_BESTEFFORT] = "BestEffort",
        };
        return q >= 0 && q < _POD_QOS_MAX ? names[q] : NULL;
}

bool container_name_is_valid(const char *s)
{
        if (!s || !*s)
                return false;
        size_t n = 0;
        for (; s[n]; n++)
                if ((unsigned char) s[n] <= 0x20 || (unsigned char) s[n] >= 0x7f || n >= CONTAINER_NAME_MAX)
                        return false;
        return true;
}

static bool comp_is(const char *c, size_t len, const char *s)
{
        return strlen(s) == len && memcmp(c, s, len) == 0;
}

static bool comp_starts(const char *c, size_t len, const char *s)
{
        size_t n = strlen(s);
        return len >= n && memcmp(c, s, n) == 0;
}

/* A pod uid as it appears in a cgroup name: hex digits and "-" (cgroupfs) or "_" (systemd). */
static bool uid_ok(const char *u, size_t len)
{
        if (len == 0 || len > POD_UID_MAX)
                return false;
        for (size_t i = 0; i < len; i++)
                if (!((u[i] >= '0' && u[i] <= '9') || (u[i] >= 'a' && u[i] <= 'f') || u[i] == '-' || u[i] == '_'))
                        return false;
        return true;
}

/* "kubepods[-<qos>]-pod<uid>.slice" or "pod<uid>": the uid, or NULL. */
static const char *pod_uid_of(const char *c, size_t len, bool systemd, size_t *ret_len)
{
        const char *u;
        size_t ul;
        if (systemd) {
                static const char *const prefixes[] = {
                        "kubepods-burstable-pod", "kubepods-besteffort-pod", "kubepods-pod",
                };
                if (len < 6 || memcmp(c + len - 6, ".slice", 6) != 0)
                        return NULL;
                size_t i;
                for (i = 0; i < ELEMENTSOF(prefixes); i++)
                        if (comp_starts(c, len, prefixes[i]))
                                break;
                if (i == ELEMENTSOF(prefixes))
                        return NULL;
                u = c + strlen(prefixes[i]);
                ul = len - 6 - strlen(prefixes[i]);
        } else {
                if (!comp_starts(c, len, "pod"))
                        return NULL;
                u = c + 3;
                ul = len - 3;
        }
        if (!uid_ok(u, ul))
                return NULL;
        *ret_len = ul;
        return u;
}

static ContainerRuntime runtime_of(const char *c, size_t len, bool in_kubepods, bool under_docker)
{
        if (comp_starts(c, len, "libpod-"))
                return CONTAINER_RUNTIME_PODMAN;
        if (comp_starts(c, len, "docker-"))
                return CONTAINER_RUNTIME_DOCKER;
        if (comp_starts(c, len, "cri-containerd-"))
                return CONTAINER_RUNTIME_CONTAINERD;
        if (comp_starts(c, len, "crio-"))
                return CONTAINER_RUNTIME_CRIO;
        if (under_docker && !in_kubepods)
                return CONTAINER_RUNTIME_DOCKER;
        return CONTAINER_RUNTIME_UNKNOWN;
}

int cgroup_container_parse_path(const char *cgpath, CgroupIdentity *id)
{
        bool in_kubepods = false, under_docker = false, qos_level = false;
        const char *uid = NULL, *prev = NULL;
        size_t uid_len = 0, prev_len = 0;
        PodQos qos = POD_QOS_NONE;
        const char *id_comp = NULL;
        size_t id_comp_len = 0;
        bool last_is_id = false, last_is_libpod_child = false;
        bool id_in_pod = false;

        if (!cgpath || !id)
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
                bool is_id = id->container_id && len >= CONTAINER_ID_LEN &&
                        memmem(c, len, id->container_id, CONTAINER_ID_LEN) != NULL;

                last_is_libpod_child = comp_is(c, len, "container") && prev && prev == id_comp &&
                        comp_starts(prev, prev_len, "libpod-");
                last_is_id = is_id;
                if (is_id) {
                        id_comp = c;
                        id_comp_len = len;
                        id_in_pod = uid != NULL;
                } else if (comp_is(c, len, "kubepods.slice") || comp_is(c, len, "kubepods"))
                        in_kubepods = true;
                else if (comp_is(c, len, "docker"))
                        under_docker = true;
                else if (in_kubepods && !uid) {
                        size_t ul;
                        bool systemd = len > 6 && memcmp(c + len - 6, ".slice", 6) == 0;
                        const char *u = pod_uid_of(c, len, systemd, &ul);
                        if (comp_is(c, len, "kubepods-burstable.slice") || comp_is(c, len, "burstable")) {
                                qos = POD_QOS_BURSTABLE;
                                qos_level = true;
                        } else if (comp_is(c, len, "kubepods-besteffort.slice") || comp_is(c, len, "besteffort")) {
                                qos = POD_QOS_BESTEFFORT;
                                qos_level = true;
                        } else if (u) {
                                uid = u;
                                uid_len = ul;
                                if (!qos_level)
                                        qos = POD_QOS_GUARANTEED;
                                else if (systemd && ((qos == POD_QOS_BURSTABLE &&
                                                      !comp_starts(c, len, "kubepods-burstable-pod")) ||
                                                     (qos == POD_QOS_BESTEFFORT &&
                                                      !comp_starts(c, len, "kubepods-besteffort-pod"))))
                                        uid = NULL; /* a QoS slice holding another class's pod: not the kubelet's */
                        }
                }
                prev = c;
                prev_len = len;
        }

        if (id->container_id && id_comp) {
                id->runtime = runtime_of(id_comp, id_comp_len, in_kubepods, under_docker);
                bool scope = id_comp_len > 6 && memcmp(id_comp + id_comp_len - 6, ".scope", 6) == 0;
                /* crun puts a podman container into <scope>/container (limit and processes); the scope is
                 * only its parent. */
                if (id->runtime == CONTAINER_RUNTIME_PODMAN)
                        id->is_container_cgroup = last_is_libpod_child || (last_is_id && !scope);
                else
                        id->is_container_cgroup = last_is_id;
        }
        if (uid && (!id->container_id || id_in_pod || !id_comp)) {
                char *u = strndup(uid, uid_len);
                if (!u)
                        return -ENOMEM;
                for (char *q = u; *q; q++)
                        if (*q == '_')
                                *q = '-';
                free(id->pod_uid);
                id->pod_uid = u;
                id->pod_qos = qos;
        }
        return 0;
}

/* ---------------------------------------------------------------------------------------------------- */
/* Names */

int pod_log_dir_parse(const char *name, const char *pod_uid, char **ret_namespace, char **ret_pod)
{
        if (!name || !pod_uid)
                return -EINVAL;
        const char *a = strchr(name, '_'), *b = strrchr(name, '_');
        if (!a || a == b || a == name || b == a + 1 || !streq(b + 1, pod_uid))
                return -EINVAL;
        _cleanup_free_ char *ns = strndup(name, (size_t) (a - name));
        _cleanup_free_ char *pod = strndup(a + 1, (size_t) (b - a - 1));
        if (!ns || !pod)
                return -ENOMEM;
        if (!container_name_is_valid(ns) || !container_name_is_valid(pod))
                return -EINVAL;
        *ret_namespace = TAKE_PTR(ns);
        *ret_pod = TAKE_PTR(pod);
        return 0;
}

int container_log_link_parse(const char *name, const char *pod, const char *namespace, const char *id,
                             char **ret_container)
{
        if (!name || !pod || !namespace || !id)
                return -EINVAL;
        size_t pl = strlen(pod), nl = strlen(namespace), il = strlen(id), n = strlen(name);
        /* <pod>_<namespace>_ ... -<id>.log */
        if (n < pl + nl + 2 + 1 + il + 5 || memcmp(name, pod, pl) != 0 || name[pl] != '_' ||
            memcmp(name + pl + 1, namespace, nl) != 0 || name[pl + 1 + nl] != '_' ||
            !streq(name + n - 4, ".log") || name[n - 5 - il] != '-' || memcmp(name + n - 4 - il, id, il) != 0)
                return -EINVAL;
        const char *c = name + pl + nl + 2;
        size_t cl = (size_t) (name + n - 5 - il - c);
        if (cl == 0)
                return -EINVAL;
        _cleanup_free_ char *container = strndup(c, cl);
        if (!container)
                return -ENOMEM;
        if (!container_name_is_valid(container))
                return -EINVAL;
        *ret_container = TAKE_PTR(container);
        return 0;
}

/* Takes *s (decoded JSON) if it is a valid name, else frees it. */
static char *valid_or_free(char *s)
{
        if (container_name_is_valid(s))
                return s;
        free(s);
        return NULL;
}

int podman_containers_json_find(const char *buf, size_t size, const char *id, char **ret_name,
                                char **ret_image)
{
        const char *end = buf + size;
        if (!buf || !id)
                return -EINVAL;
        const char *e = json_array_first(buf, end);
        if (!e) /* "[]": no containers */
                return json_skip_value(buf, end) ? -ENOENT : -EINVAL;
        for (; e; e = json_array_next(e, end)) {
                _cleanup_free_ char *cid = NULL;
                int r = json_string_dup(json_object_get(e, end, "id"), end, &cid);
                if (r == -ENOMEM)
                        return r;
                if (r < 0 || !streq(cid, id))
                        continue;

                _cleanup_free_ char *name = NULL, *image = NULL, *meta = NULL;
                r = json_string_dup(json_array_first(json_object_get(e, end, "names"), end), end, &name);
                if (r == -ENOMEM)
                        return r;
                /* "metadata" is JSON in a JSON string */
                r = json_string_dup(json_object_get(e, end, "metadata"), end, &meta);
                if (r == -ENOMEM)
                        return r;
                if (r >= 0) {
                        const char *mend = meta + strlen(meta);
                        if (!name) {
                                r = json_string_dup(json_object_get(meta, mend, "name"), mend, &name);
                                if (r == -ENOMEM)
                                        return r;
                        }
                        r = json_string_dup(json_object_get(meta, mend, "image-name"), mend, &image);
                        if (r == -ENOMEM)
                                return r;
                }
                *ret_name = valid_or_free(TAKE_PTR(name));
                *ret_image = valid_or_free(TAKE_PTR(image));
                return 0;
        }
        return json_skip_value(buf, end) ? -ENOENT : -EINVAL;
}

int docker_config_parse(const char *buf, size_t size, char **ret_name, char **ret_image)
{
        const char *end = buf + size;
        _cleanup_free_ char *name = NULL, *image = NULL;

        if (!buf || !json_skip_value(buf, end))
                return -EINVAL;
        int r = json_string_dup(json_object_get(buf, end, "Name"), end, &name);
        if (r == -ENOMEM)
                return r;
        r = json_string_dup(json_object_get(json_object_get(buf, end, "Config"), end, "Image"), end, &image);
        if (r == -ENOMEM)
                return r;
        if (name && name[0] == '/')
                memmove(name, name + 1, strlen(name));
        *ret_name = valid_or_free(TAKE_PTR(name));
        *ret_image = valid_or_free(TAKE_PTR(image));
        return 0;
}

int storage_conf_graphroot(const char *buf, char **ret)
{
        bool in_storage = false;
        for (const char *l = buf; l && *l;) {
                const char *nl = strchr(l, '\n'), *e = nl ? nl : l + strlen(l);
                while (l < e && (*l == ' ' || *l == '\t'))
                        l++;
                if (*l == '[')
                        in_storage = e - l >= 9 && memcmp(l, "[storage]", 9) == 0;
                else if (in_storage && e - l > 9 && memcmp(l, "graphroot", 9) == 0) {
                        const char *v = l + 9;
                        while (v < e && (*v == ' ' || *v == '\t'))
                                v++;
                        if (v < e && *v == '=') {
                                v++;
                                while (v < e && (*v == ' ' || *v == '\t'))
                                        v++;
                                const char *q = v < e && (*v == '"' || *v == '\'') ? memchr(v + 1, *v, (size_t) (e - v - 1)) : NULL;
                                if (q && q > v + 1 && v[1] == '/') {
                                        char *s = strndup(v + 1, (size_t) (q - v - 1));
                                        if (!s)
                                                return -ENOMEM;
                                        *ret = s;
                                        return 0;
                                }
                        }
                }
                l = nl ? nl + 1 : e;
        }
        return -ENOENT;
}

/* Absolute path -> relative to the root fd. */
static const char *rel(const char *path)
{
        while (*path == '/')
                path++;
        return *path ? path : ".";
}

static int resolve_pod(int root_fd, CgroupIdentity *id)
{
        _cleanup_close_ int fd = openat(root_fd, "var/log/pods", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return 0;
        _cleanup_closedir_ DIR *d = fdopendir(fd);
        if (!d)
                return errno == ENOMEM ? -ENOMEM : 0;
        fd = -EBADF;
        unsigned n = 0;
        for (struct dirent *de; (de = readdir(d)) && n < LOG_DIR_ENTRIES_MAX; n++) {
                char *ns = NULL, *pod = NULL;
                int r = pod_log_dir_parse(de->d_name, id->pod_uid, &ns, &pod);
                if (r == -ENOMEM)
                        return r;
                if (r < 0)
                        continue;
                id->pod_namespace = ns;
                id->pod_name = pod;
                return 0;
        }
        return 0;
}

static int resolve_k8s_container(int root_fd, CgroupIdentity *id)
{
        _cleanup_close_ int fd = openat(root_fd, "var/log/containers", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return 0;
        int dfd = fd;
        _cleanup_closedir_ DIR *d = fdopendir(fd);
        if (!d)
                return errno == ENOMEM ? -ENOMEM : 0;
        fd = -EBADF;
        unsigned n = 0;
        for (struct dirent *de; (de = readdir(d)) && n < LOG_DIR_ENTRIES_MAX; n++) {
                char *container = NULL;
                int r = container_log_link_parse(de->d_name, id->pod_name, id->pod_namespace, id->container_id,
                                                 &container);
                if (r == -ENOMEM)
                        return r;
                if (r < 0)
                        continue;
                /* The kubelet's link points into the pod's log directory: a link that says otherwise is
                 * not taken. */
                char target[4096], want[512];
                ssize_t k = readlinkat(dfd, de->d_name, target, sizeof target - 1);
                snprintf(want, sizeof want, "/%s_%s_%s/%s/", id->pod_namespace, id->pod_name, id->pod_uid,
                         container);
                if (k > 0) {
                        target[k] = 0;
                        if (strstr(target, want)) {
                                id->container_name = container;
                                return 0;
                        }
                }
                free(container);
        }
        return 0;
}

static int resolve_podman_in(int root_fd, const char *graphroot, CgroupIdentity *id)
{
        _cleanup_close_ int fd = openat(root_fd, rel(graphroot), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return 0;
        int gfd = fd;
        _cleanup_closedir_ DIR *d = fdopendir(fd);
        if (!d)
                return errno == ENOMEM ? -ENOMEM : 0;
        fd = -EBADF;
        /* one <driver>-containers directory per storage driver used (vfs, overlay, ...) */
        for (struct dirent *de; (de = readdir(d));) {
                size_t l = strlen(de->d_name);
                if (l <= 11 || !streq(de->d_name + l - 11, "-containers") || strchr(de->d_name, '/'))
                        continue;
                char path[300];
                snprintf(path, sizeof path, "%s/containers.json", de->d_name);
                _cleanup_free_ char *buf = NULL;
                size_t size;
                int r = read_full_file_at(gfd, path, CONTAINERS_JSON_MAX, &buf, &size);
                if (r == -ENOMEM)
                        return r;
                if (r < 0)
                        continue;
                char *name = NULL, *image = NULL;
                r = podman_containers_json_find(buf, size, id->container_id, &name, &image);
                if (r == -ENOMEM)
                        return r;
                if (r < 0)
                        continue;
                id->container_name = name;
                id->container_image = image;
                return 0;
        }
        return 0;
}

static int resolve_podman(int root_fd, CgroupIdentity *id)
{
        _cleanup_free_ char *conf = NULL, *graphroot = NULL;
        size_t size;
        int r = read_full_file_at(root_fd, "etc/containers/storage.conf", STORAGE_CONF_MAX, &conf, &size);
        if (r == -ENOMEM)
                return r;
        if (r >= 0) {
                r = storage_conf_graphroot(conf, &graphroot);
                if (r == -ENOMEM)
                        return r;
        }
        if (graphroot) {
                r = resolve_podman_in(root_fd, graphroot, id);
                if (r < 0 || id->container_name)
                        return r;
        }
        return resolve_podman_in(root_fd, "/var/lib/containers/storage", id);
}

static int resolve_docker(int root_fd, CgroupIdentity *id)
{
        char path[128];
        snprintf(path, sizeof path, "var/lib/docker/containers/%s/config.v2.json", id->container_id);
        _cleanup_free_ char *buf = NULL;
        size_t size;
        int r = read_full_file_at(root_fd, path, SMALL_JSON_MAX, &buf, &size);
        if (r < 0)
                return r == -ENOMEM ? r : 0;
        char *name = NULL, *image = NULL;
        r = docker_config_parse(buf, size, &name, &image);
        if (r < 0)
                return r == -ENOMEM ? r : 0;
        id->container_name = name;
        id->container_image = image;
        return 0;
}

int cgroup_identity_resolve_names(int root_fd, CgroupIdentity *id)
{
        int r = 0;

        if (!id)
                return -EINVAL;
        if (id->pod_uid && !id->pod_name) {
                r = resolve_pod(root_fd, id);
                if (r < 0)
                        return r;
        }
        if (!id->container_id || id->container_name)
                return 0;
        if (id->pod_uid) {
                if (id->pod_name)
                        r = resolve_k8s_container(root_fd, id);
        } else if (id->runtime == CONTAINER_RUNTIME_PODMAN)
                r = resolve_podman(root_fd, id);
        else if (id->runtime == CONTAINER_RUNTIME_DOCKER)
                r = resolve_docker(root_fd, id);
        if (r < 0)
                log_debug_errno(r, "container %s: cannot look up its name: %m", id->container_id);
        return r;
}
