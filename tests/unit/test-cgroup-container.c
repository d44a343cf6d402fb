/* SPDX-License-Identifier: MIT */
/* cgroup/cgroup-container.c: container and pod identity from cgroup paths (every naming form), and names
 * from a fixture host tree (tests/fixtures/containers/root), hostile input included. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "cgroup/cgroup-container.h"
#include "cgroup/cgroup-unit.h"
#include "util/json-read.h"
#include "util/macro.h"

#define ID_A "3f2a9c0e1b7d4a5c6e8f9012a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6"
#define ID_B "9b8c7d6e5f40312a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f607182"
#define ID_C "c0ffee00112233445566778899aabbccddeeff00112233445566778899aabbcc"
#define ID_D "d0d0d0d0112233445566778899aabbccddeeff00112233445566778899aabbcc"
#define UID1 "0e8d3c1a-5b7f-4a2e-9c6d-1f2e3a4b5c6d"
#define UID1_ "0e8d3c1a_5b7f_4a2e_9c6d_1f2e3a4b5c6d"
#define UID2 "7a1b2c3d-0000-4000-8000-00000000beef"
#define UID2_ "7a1b2c3d_0000_4000_8000_00000000beef"

typedef struct Case {
        const char *path;
        const char *container_id;
        ContainerRuntime runtime;
        bool is_container_cgroup;
        const char *pod_uid;
        PodQos qos;
} Case;

static const Case cases[] = {
        /* podman with crun: the limit and the processes are in <scope>/container */
        { "/machine.slice/libpod-" ID_A ".scope/container", ID_A, CONTAINER_RUNTIME_PODMAN, true, NULL, 0 },
        { "/machine.slice/libpod-" ID_A ".scope", ID_A, CONTAINER_RUNTIME_PODMAN, false, NULL, 0 },
        { "/machine.slice/libpod-" ID_A ".scope/container/child", ID_A, CONTAINER_RUNTIME_PODMAN, false, NULL, 0 },
        { "/machine.slice/libpod-conmon-" ID_A ".scope", NULL, CONTAINER_RUNTIME_NONE, false, NULL, 0 },
        { "/libpod_parent/libpod-" ID_A, ID_A, CONTAINER_RUNTIME_PODMAN, true, NULL, 0 },
        /* docker, both drivers */
        { "/system.slice/docker-" ID_A ".scope", ID_A, CONTAINER_RUNTIME_DOCKER, true, NULL, 0 },
        { "/docker/" ID_A, ID_A, CONTAINER_RUNTIME_DOCKER, true, NULL, 0 },
        /* Kubernetes, systemd driver, three QoS classes */
        { "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID1_ ".slice/cri-containerd-" ID_B
          ".scope", ID_B, CONTAINER_RUNTIME_CONTAINERD, true, UID1, POD_QOS_BURSTABLE },
        { "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" UID1_ ".slice/crio-" ID_B ".scope",
          ID_B, CONTAINER_RUNTIME_CRIO, true, UID1, POD_QOS_BESTEFFORT },
        { "/kubepods.slice/kubepods-pod" UID2_ ".slice/docker-" ID_B ".scope", ID_B, CONTAINER_RUNTIME_DOCKER, true,
          UID2, POD_QOS_GUARANTEED },
        { "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID1_ ".slice", NULL,
          CONTAINER_RUNTIME_NONE, false, UID1, POD_QOS_BURSTABLE },
        { "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID1_ ".slice/crio-conmon-" ID_B
          ".scope", NULL, CONTAINER_RUNTIME_NONE, false, UID1, POD_QOS_BURSTABLE },
        /* Kubernetes, cgroupfs driver */
        { "/kubepods/burstable/pod" UID1 "/" ID_B, ID_B, CONTAINER_RUNTIME_UNKNOWN, true, UID1, POD_QOS_BURSTABLE },
        { "/kubepods/besteffort/pod" UID1 "/" ID_B, ID_B, CONTAINER_RUNTIME_UNKNOWN, true, UID1,
          POD_QOS_BESTEFFORT },
        { "/kubepods/pod" UID2 "/" ID_B, ID_B, CONTAINER_RUNTIME_UNKNOWN, true, UID2, POD_QOS_GUARANTEED },
        { "/kubepods/pod" UID2 "/crio-" ID_B, ID_B, CONTAINER_RUNTIME_CRIO, true, UID2, POD_QOS_GUARANTEED },
        { "/kubepods/burstable/pod" UID1, NULL, CONTAINER_RUNTIME_NONE, false, UID1, POD_QOS_BURSTABLE },
        /* static pods: a 32-hex uid without dashes */
        { "/kubepods/pod0123456789abcdef0123456789abcdef/" ID_B, ID_B, CONTAINER_RUNTIME_UNKNOWN, true,
          "0123456789abcdef0123456789abcdef", POD_QOS_GUARANTEED },
        /* not pods: outside kubepods, a QoS slice with another class's pod, a uid with odd characters */
        { "/system.slice/kubepods-burstable-pod" UID1_ ".slice/docker-" ID_B ".scope", ID_B,
          CONTAINER_RUNTIME_DOCKER, true, NULL, 0 },
        { "/kubepods.slice/kubepods-burstable.slice/kubepods-besteffort-pod" UID1_ ".slice/crio-" ID_B ".scope",
          ID_B, CONTAINER_RUNTIME_CRIO, true, NULL, 0 },
        { "/kubepods/burstable/pod../" ID_B, ID_B, CONTAINER_RUNTIME_UNKNOWN, true, NULL, 0 },
        { "/kubepods/burstable/podXYZ/" ID_B, ID_B, CONTAINER_RUNTIME_UNKNOWN, true, NULL, 0 },
        { "/system.slice/nginx.service", NULL, CONTAINER_RUNTIME_NONE, false, NULL, 0 },
        { "/", NULL, CONTAINER_RUNTIME_NONE, false, NULL, 0 },
};

static void assert_str_or_null(const char *got, const char *want, const char *what, const char *path)
{
        if (!want)
                cr_assert_null(got, "%s of %s: got \"%s\", want NULL", what, path, got);
        else {
                cr_assert_not_null(got, "%s of %s: got NULL, want \"%s\"", what, path, want);
                cr_assert_str_eq(got, want, "%s of %s", what, path);
        }
}

Test(container, path_table)
{
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                const Case *c = &cases[i];
                CgroupIdentity id;
                cr_assert_eq(cgroup_identity_from_path(c->path, &id), 0);
                assert_str_or_null(id.container_id, c->container_id, "container_id", c->path);
                cr_assert_eq(id.runtime, c->runtime, "runtime of %s: %d", c->path, id.runtime);
                cr_assert_eq(id.is_container_cgroup, c->is_container_cgroup, "is_container_cgroup of %s", c->path);
                assert_str_or_null(id.pod_uid, c->pod_uid, "pod_uid", c->path);
                cr_assert_eq(id.pod_qos, c->qos, "qos of %s: %d", c->path, id.pod_qos);
                cgroup_identity_done(&id);
        }
}

static int fixture_root(void)
{
        int fd = open(FIXTURES_DIR "/containers/root", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        cr_assert_geq(fd, 0);
        return fd;
}

static void resolve(const char *path, CgroupIdentity *id)
{
        _cleanup_close_ int root = fixture_root();
        cr_assert_eq(cgroup_identity_from_path(path, id), 0);
        cr_assert_eq(cgroup_identity_resolve_names(root, id), 0, "%s", path);
}

Test(container, kubernetes_names)
{
        CgroupIdentity id;

        resolve("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID1_ ".slice/cri-containerd-" ID_B
                ".scope", &id);
        cr_assert_str_eq(id.pod_namespace, "shop");
        cr_assert_str_eq(id.pod_name, "web-7f9c");
        cr_assert_str_eq(id.container_name, "nginx");
        cr_assert_null(id.container_image);
        cgroup_identity_done(&id);

        /* the same container under the cgroupfs driver */
        resolve("/kubepods/burstable/pod" UID1 "/" ID_C, &id);
        cr_assert_str_eq(id.pod_name, "web-7f9c");
        cr_assert_str_eq(id.container_name, "sidecar");
        cgroup_identity_done(&id);

        /* the pod's own cgroup: pod names, no container */
        resolve("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID1_ ".slice", &id);
        cr_assert_str_eq(id.pod_namespace, "shop");
        cr_assert_null(id.container_name);
        cgroup_identity_done(&id);

        /* a /var/log/containers link pointing at another pod's directory is not believed */
        resolve("/kubepods/burstable/pod" UID1 "/" ID_D, &id);
        cr_assert_str_eq(id.pod_name, "web-7f9c");
        cr_assert_null(id.container_name, "took \"%s\" from a link into another pod", id.container_name);
        cgroup_identity_done(&id);

        /* a pod (the sandbox) with no link: names of the pod, container by id only */
        resolve("/kubepods/pod" UID2 "/" ID_A, &id);
        cr_assert_str_eq(id.pod_namespace, "kube-system");
        cr_assert_str_eq(id.pod_name, "static-etcd");
        cr_assert_null(id.container_name);
        cr_assert_str_eq(id.container_id, ID_A);
        cgroup_identity_done(&id);

        /* an unknown pod uid: nothing found, no crash */
        resolve("/kubepods/pod11111111-2222-3333-4444-555555555555/" ID_B, &id);
        cr_assert_null(id.pod_name);
        cr_assert_null(id.container_name);
        cgroup_identity_done(&id);
}

Test(container, podman_names)
{
        CgroupIdentity id;

        /* graphroot from etc/containers/storage.conf (vfs driver) */
        resolve("/machine.slice/libpod-" ID_A ".scope/container", &id);
        cr_assert_str_eq(id.container_name, "web");
        cr_assert_str_eq(id.container_image, "localhost/mwtest:1");
        cgroup_identity_done(&id);

        /* --rootfs: no image */
        resolve("/machine.slice/libpod-" ID_C ".scope/container", &id);
        cr_assert_str_eq(id.container_name, "pyweb");
        cr_assert_null(id.container_image);
        cgroup_identity_done(&id);

        /* not in the configured graphroot: the default one */
        resolve("/machine.slice/libpod-" ID_B ".scope/container", &id);
        cr_assert_str_eq(id.container_name, "from-default-graphroot");
        cr_assert_str_eq(id.container_image, "docker.io/library/redis:7");
        cgroup_identity_done(&id);

        /* hostile: a name with a newline and an image with a blank are not taken */
        resolve("/machine.slice/libpod-" ID_D ".scope/container", &id);
        cr_assert_null(id.container_name);
        cr_assert_null(id.container_image);
        cr_assert_str_eq(id.container_id, ID_D);
        cgroup_identity_done(&id);

        /* the conmon scope is no container: nothing to look up */
        resolve("/machine.slice/libpod-conmon-" ID_A ".scope", &id);
        cr_assert_null(id.container_id);
        cr_assert_null(id.container_name);
        cgroup_identity_done(&id);
}

Test(container, docker_names)
{
        CgroupIdentity id;
        resolve("/system.slice/docker-" ID_A ".scope", &id);
        cr_assert_str_eq(id.container_name, "db");
        cr_assert_str_eq(id.container_image, "postgres:16");
        cgroup_identity_done(&id);

        resolve("/system.slice/docker-" ID_B ".scope", &id); /* no config.v2.json */
        cr_assert_null(id.container_name);
        cgroup_identity_done(&id);
}

Test(container, missing_root)
{
        CgroupIdentity id;
        cr_assert_eq(cgroup_identity_from_path("/kubepods/pod" UID2 "/" ID_B, &id), 0);
        cr_assert_eq(cgroup_identity_resolve_names(-EBADF, &id), 0);
        cr_assert_null(id.pod_name);
        cgroup_identity_done(&id);
}

Test(container, copy)
{
        CgroupIdentity id, c;
        resolve("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID1_ ".slice/cri-containerd-" ID_B
                ".scope", &id);
        cr_assert_eq(cgroup_identity_copy(&id, &c), 0);
        cr_assert_str_eq(c.container_name, "nginx");
        cr_assert_str_eq(c.pod_uid, UID1);
        cr_assert_eq(c.pod_qos, POD_QOS_BURSTABLE);
        cr_assert_eq(c.is_container_cgroup, true);
        cr_assert_neq(c.pod_name, id.pod_name);
        cgroup_identity_done(&id);
        cgroup_identity_done(&c);
}

Test(container, log_dir_parse)
{
        char *ns = NULL, *pod = NULL;
        cr_assert_eq(pod_log_dir_parse("shop_web-7f9c_" UID1, UID1, &ns, &pod), 0);
        cr_assert_str_eq(ns, "shop");
        cr_assert_str_eq(pod, "web-7f9c");
        free(ns);
        free(pod);
        static const char *const bad[] = {
                "shop_web_" UID2, "_web_" UID1, "shop__" UID1, "shop_" UID1, UID1, "", "shop_we\tb_" UID1,
                "shop_web_" UID1 "x",
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                cr_assert_eq(pod_log_dir_parse(bad[i], UID1, &ns, &pod), -EINVAL, "%s", bad[i]);

        char *c = NULL;
        cr_assert_eq(container_log_link_parse("web_shop_nginx-" ID_B ".log", "web", "shop", ID_B, &c), 0);
        cr_assert_str_eq(c, "nginx");
        free(c);
        static const char *const badl[] = {
                "web_shop_-" ID_B ".log", "web_shop_nginx-" ID_A ".log", "web_other_nginx-" ID_B ".log",
                "web_shop_nginx-" ID_B ".txt", "web_shop_nginx" ID_B ".log", "short.log", "",
        };
        for (size_t i = 0; i < ELEMENTSOF(badl); i++)
                cr_assert_eq(container_log_link_parse(badl[i], "web", "shop", ID_B, &c), -EINVAL, "%s", badl[i]);
}

Test(container, hostile_json)
{
        static const char *const texts[] = {
                "", "[", "[{", "[{\"id\":", "[{\"id\":\"" ID_A "\"", "[{\"id\":\"" ID_A "\",\"names\":[\"a",
                "{\"id\":\"" ID_A "\"}", "null", "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[",
                "[{\"id\":\"" ID_A "\",\"names\":[\"a\\u0000b\"]}]", "[{\"id\":\"" ID_A "\",\"names\":[\"\\ud800\"]}]",
                "[{\"id\":\"" ID_A "\",\"metadata\":\"{\\\"image-name\\\":\"}]",
        };
        for (size_t i = 0; i < ELEMENTSOF(texts); i++) {
                char *name = (char *) 1, *image = (char *) 1;
                int r = podman_containers_json_find(texts[i], strlen(texts[i]), ID_A, &name, &image);
                if (r == 0) {
                        /* parsed up to the id: whatever was not valid is NULL, never garbage */
                        cr_assert(name == NULL || container_name_is_valid(name), "case %zu", i);
                        cr_assert(image == NULL || container_name_is_valid(image), "case %zu", i);
                        free(name);
                        free(image);
                } else
                        cr_assert(r == -EINVAL || r == -ENOENT, "case %zu: %d", i, r);
        }
        /* escapes decode */
        const char *t = "[{\"id\":\"" ID_A "\",\"names\":[\"w\\u0065b\"],\"metadata\":\"{\\\"image-name\\\":"
                        "\\\"r\\\\/x:1\\\"}\"}]";
        char *name, *image;
        cr_assert_eq(podman_containers_json_find(t, strlen(t), ID_A, &name, &image), 0);
        cr_assert_str_eq(name, "web");
        cr_assert_str_eq(image, "r/x:1");
        free(name);
        free(image);
        cr_assert_eq(podman_containers_json_find("[]", 2, ID_A, &name, &image), -ENOENT);
        cr_assert_eq(docker_config_parse("{\"Name\":", 8, &name, &image), -EINVAL);
}

Test(container, storage_conf)
{
        char *g = NULL;
        cr_assert_eq(storage_conf_graphroot("[storage]\n  graphroot = \"/srv/x\"\n", &g), 0);
        cr_assert_str_eq(g, "/srv/x");
        free(g);
        cr_assert_eq(storage_conf_graphroot("[storage.options]\ngraphroot = \"/srv/x\"\n", &g), -ENOENT);
        cr_assert_eq(storage_conf_graphroot("[storage]\ngraphroot = \"relative\"\n", &g), -ENOENT);
        cr_assert_eq(storage_conf_graphroot("[storage]\ngraphroot = \"/unterminated\n", &g), -ENOENT);
        cr_assert_eq(storage_conf_graphroot("", &g), -ENOENT);
}
