/* SPDX-License-Identifier: MIT */
/* cgroup_identity_from_path(): a table of real-world cgroup paths. */
#include <criterion/criterion.h>
#include <string.h>

#include "cgroup/cgroup-unit.h"
#include "util/macro.h"

#define ID64 "3f2a9c0e1b7d4a5c6e8f9012a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6"
#define ID64B "9b8c7d6e5f40312a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f607182"
#define POD "pod0e8d3c1a_5b7f_4a2e_9c6d_1f2e3a4b5c6d"

typedef struct Case {
        const char *path;
        const char *unit, *slice, *container_id;
        bool is_unit_cgroup;
} Case;

static const Case cases[] = {
        { "/", NULL, NULL, NULL, false },
        { "", NULL, NULL, NULL, false },
        { "/system.slice", "system.slice", "-.slice", NULL, true },
        { "/init.scope", "init.scope", "-.slice", NULL, true },
        { "/system.slice/nginx.service", "nginx.service", "system.slice", NULL, true },
        { "system.slice/nginx.service/", "nginx.service", "system.slice", NULL, true },
        { "//system.slice//nginx.service", "nginx.service", "system.slice", NULL, true },
        { "/system.slice/nginx.service/worker", "nginx.service", "system.slice", NULL, false },
        { "/system.slice/system-getty.slice/getty@tty1.service", "getty@tty1.service", "system-getty.slice", NULL,
          true },
        { "/system.slice/dev-mqueue.mount", "dev-mqueue.mount", "system.slice", NULL, true },
        { "/system.slice/dbus.socket", "dbus.socket", "system.slice", NULL, true },
        { "/system.slice/dev-disk-by\\x2duuid-1234.swap", "dev-disk-by\\x2duuid-1234.swap", "system.slice", NULL,
          true },
        { "/user.slice/user-1000.slice", "user-1000.slice", "user.slice", NULL, true },
        { "/user.slice/user-1000.slice/user@1000.service/app.slice/app-firefox-1234.scope",
          "app-firefox-1234.scope", "app.slice", NULL, true },
        { "/user.slice/user-1000.slice/session-3.scope", "session-3.scope", "user-1000.slice", NULL, true },
        { "/system.slice/docker-" ID64 ".scope", "docker-" ID64 ".scope", "system.slice", ID64, true },
        { "/machine.slice/libpod-" ID64 ".scope/container", "libpod-" ID64 ".scope", "machine.slice", ID64, false },
        /* podman's monitor beside the container is not the container */
        { "/machine.slice/libpod-conmon-" ID64 ".scope", "libpod-conmon-" ID64 ".scope", "machine.slice", NULL,
          true },
        { "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-" POD ".slice/cri-containerd-" ID64B ".scope",
          "cri-containerd-" ID64B ".scope", "kubepods-burstable-" POD ".slice", ID64B, true },
        { "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-" POD ".slice/crio-" ID64B ".scope",
          "crio-" ID64B ".scope", "kubepods-besteffort-" POD ".slice", ID64B, true },
        { "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-" POD ".slice",
          "kubepods-burstable-" POD ".slice", "kubepods-burstable.slice", NULL, true },
        /* cgroupfs drivers: no systemd units at all */
        { "/docker/" ID64, NULL, NULL, ID64, false },
        { "/kubepods/burstable/" POD "/" ID64B, NULL, NULL, ID64B, false },
        { "/kubepods/" POD "/" ID64B, NULL, NULL, ID64B, false },
        { "/libpod_parent/libpod-" ID64, NULL, NULL, ID64, false },
        /* docker in docker: the innermost container */
        { "/system.slice/docker-" ID64 ".scope/docker/" ID64B, "docker-" ID64 ".scope", "system.slice", ID64B,
          false },
        /* not containers: short, uppercase or non-hex ids, wrong suffix */
        { "/system.slice/docker-1234.scope", "docker-1234.scope", "system.slice", NULL, true },
        { "/system.slice/docker-" ID64 "x.scope", "docker-" ID64 "x.scope", "system.slice", NULL, true },
        { "/system.slice/docker-3F2A9C0E1B7D4A5C6E8F9012A3B4C5D6E7F8091A2B3C4D5E6F708192A3B4C5D6.scope",
          "docker-3F2A9C0E1B7D4A5C6E8F9012A3B4C5D6E7F8091A2B3C4D5E6F708192A3B4C5D6.scope", "system.slice", NULL, true },
        { "/system.slice/docker-" ID64 ".service", "docker-" ID64 ".service", "system.slice", NULL, true },
        /* not units */
        { "/system.slice/.service", "system.slice", "-.slice", NULL, false },
        { "/system.slice/foo@.service", "system.slice", "-.slice", NULL, false },
        { "/system.slice/foo.services", "system.slice", "-.slice", NULL, false },
        { "/system.slice/my service.service", "system.slice", "-.slice", NULL, false },
        { "/lxc/container1", NULL, NULL, NULL, false },
        /* a unit inside a non-slice unit (a delegated subtree): no slice directly contains it */
        { "/system.slice/foo.service/bar.scope", "bar.scope", NULL, NULL, true },
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

/* One test over the table (criterion's parameterized tests re-execute the binary, and a PIE's string
 * pointers do not survive that); each message names the path. */
Test(unit, table)
{
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                const Case *c = &cases[i];
                CgroupIdentity id;
                cr_assert_eq(cgroup_identity_from_path(c->path, &id), 0);
                assert_str_or_null(id.unit, c->unit, "unit", c->path);
                assert_str_or_null(id.slice, c->slice, "slice", c->path);
                assert_str_or_null(id.container_id, c->container_id, "container_id", c->path);
                cr_assert_eq(id.is_unit_cgroup, c->is_unit_cgroup, "is_unit_cgroup of %s", c->path);
                cgroup_identity_done(&id);
                cr_assert_null(id.unit);
        }
}

Test(unit, null_and_done_twice)
{
        CgroupIdentity id = {};
        cr_assert_eq(cgroup_identity_from_path(NULL, &id), -EINVAL);
        cgroup_identity_done(&id);
        cgroup_identity_done(&id);
        cgroup_identity_done(NULL);
        cr_assert_null(id.slice);
}

Test(unit, long_names)
{
        char path[1024] = "/system.slice/";
        memset(path + strlen(path), 'a', 300);
        strcat(path, ".service");
        CgroupIdentity id;
        cr_assert_eq(cgroup_identity_from_path(path, &id), 0);
        cr_assert_str_eq(id.unit, "system.slice", "a 308-byte name is no unit name");
        cr_assert_not(id.is_unit_cgroup);
        cgroup_identity_done(&id);
}
