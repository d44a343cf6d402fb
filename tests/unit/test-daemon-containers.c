/* SPDX-License-Identifier: MIT */
/* The real memwardend on a fixture tree of Kubernetes (systemd driver) and podman cgroups, with a host tree
 * (--host-root) holding /var/log/pods, /var/log/containers and podman's containers.json
 * (tests/fixtures/containers/root): policies match by PodNamespace= and Container=, records and status name
 * the pod and container, a memory.high the kubelet set is never touched, and one the kubelet writes while our
 * brake is on is not overwritten when the brake is restored. */
#include "daemon-fixture.h"

TestSuite(containers, .init = fx_setup, .fini = fx_teardown, .timeout = 60);

#define ID_A "3f2a9c0e1b7d4a5c6e8f9012a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6"
#define ID_B "9b8c7d6e5f40312a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f607182"
#define ID_C "c0ffee00112233445566778899aabbccddeeff00112233445566778899aabbcc"
#define UID1 "0e8d3c1a-5b7f-4a2e-9c6d-1f2e3a4b5c6d"
#define POD "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod0e8d3c1a_5b7f_4a2e_9c6d_1f2e3a4b5c6d.slice"
#define NGINX POD "/cri-containerd-" ID_B ".scope"
#define SIDECAR POD "/cri-containerd-" ID_C ".scope"
#define PODMAN "/machine.slice/libpod-" ID_A ".scope"

/* The one log line (record) holding all of a, b and c. */
static const char *line_with(const char *log, const char *a, const char *b, const char *c)
{
        static char line[8192];
        for (const char *p = log; p && *p;) {
                const char *nl = strchr(p, '\n');
                size_t n = nl ? (size_t) (nl - p) : strlen(p);
                snprintf(line, sizeof line, "%.*s", (int) (n < sizeof line ? n : sizeof line - 1), p);
                if (strstr(line, a) && (!b || strstr(line, b)) && (!c || strstr(line, c)))
                        return line;
                p = nl ? nl + 1 : NULL;
        }
        return NULL;
}

static void make_tree(void)
{
        char cmd[600];
        snprintf(cmd, sizeof cmd, "cp -a '%s/containers/root' '%s/host'", FIXTURES_DIR, fx_dir);
        cr_assert_eq(system(cmd), 0);
        fx_make_cgroup("/kubepods.slice", "max\n");
        fx_make_cgroup("/kubepods.slice/kubepods-burstable.slice", "max\n");
        fx_make_cgroup(POD, "300000000\n");
        fx_make_cgroup(NGINX, "100000000\n");
        fx_make_cgroup(SIDECAR, "100000000\n");
        fx_put("cg" SIDECAR "/memory.high", "80000000\n"); /* the kubelet's MemoryQoS */
        fx_make_cgroup("/machine.slice", "max\n");
        fx_make_cgroup(PODMAN, "max\n");
        fx_make_cgroup(PODMAN "/container", "100000000\n");
        fx_make_cgroup("/machine.slice/libpod-conmon-" ID_A ".scope", "max\n");
}

static const char *POLICY = "[Match]\nPodNamespace=shop\nContainer=web\n"
                            "[Pressure]\nBrake=90%\n[Actions]\nLadder=alert\n";

Test(containers, names_matching_and_memory_high_ownership)
{
        make_tree();
        fx_start(&(FxRun) { .policy = POLICY, .host_fixture = true, .no_bus = true });
        char *log = strdup(fx_slurp("daemon.log"));

        /* the Kubernetes container: braked, and the record names pod, namespace, container, QoS */
        const char *l = line_with(log, "BRAKE=set", "CGROUP=" NGINX " ", NULL);
        if (!l)
                l = line_with(log, "BRAKE=set", "CGROUP=" NGINX, "POD_NAME=");
        cr_assert_not_null(l, "no brake record for the pod's container:\n%s", log);
        cr_assert(strstr(l, "POD_NAME=web-7f9c") && strstr(l, "POD_NAMESPACE=shop") && strstr(l, "POD_UID=" UID1) &&
                  strstr(l, "POD_QOS=Burstable") && strstr(l, "CONTAINER_NAME=nginx") &&
                  strstr(l, "CONTAINER_ID=" ID_B) && strstr(l, "CONTAINER_RUNTIME=containerd"), "%s", l);
        cr_assert_str_eq(fx_slurp("cg" NGINX "/memory.high"), "89997312");

        /* the sidecar: matched too, but its memory.high is the kubelet's: untouched, no brake */
        cr_assert_null(line_with(log, "BRAKE=set", "CONTAINER_NAME=sidecar", NULL), "%s", log);
        cr_assert_str_eq(fx_slurp("cg" SIDECAR "/memory.high"), "80000000\n");

        /* podman: the container's own cgroup by name, not its scope nor conmon */
        l = line_with(log, "BRAKE=set", "CONTAINER_NAME=web ", NULL);
        if (!l)
                l = line_with(log, "BRAKE=set", "CONTAINER_NAME=web", "CONTAINER_IMAGE=");
        cr_assert_not_null(l, "no brake record for the podman container:\n%s", log);
        cr_assert(strstr(l, "CGROUP=" PODMAN "/container") && strstr(l, "CONTAINER_IMAGE=localhost/mwtest:1") &&
                  strstr(l, "CONTAINER_RUNTIME=podman"), "%s", l);
        cr_assert_str_eq(fx_slurp("cg" PODMAN "/memory.high"), "max\n");

        char *st = strdup(fx_control("status\n"));
        cr_assert(strstr(st, "  pod shop/web-7f9c (Burstable) container nginx\n"), "%s", st);
        cr_assert(strstr(st, "  container web (localhost/mwtest:1)\n"), "%s", st);
        cr_assert_null(strstr(st, PODMAN " "), "the scope around the container is guarded:\n%s", st);
        cr_assert_null(strstr(st, "libpod-conmon-"), "conmon is guarded:\n%s", st);
        cr_assert_null(strstr(st, POD " "), "the pod's own cgroup is guarded:\n%s", st);
        char *js = strdup(fx_control("status json\n"));
        cr_assert(strstr(js, "\"container\":{\"id\":\"" ID_B "\",\"runtime\":\"containerd\",\"name\":\"nginx\""), "%s",
                  js);

        /* The kubelet writes memory.high while our brake is on: at shutdown it is left as the kubelet set it;
         * the podman container's brake is restored to "max". */
        fx_put("cg" NGINX "/memory.high", "95000000\n");
        cr_assert_eq(fx_stop(), 0);
        free(log);
        log = strdup(fx_slurp("daemon.log"));
        cr_assert_str_eq(fx_slurp("cg" NGINX "/memory.high"), "95000000\n", "restore overwrote the kubelet's value");
        cr_assert_not_null(line_with(log, "BRAKE=left", "CONTAINER_NAME=nginx", "MEMORY_HIGH=95000000"), "%s", log);
        /* (a fixture file is written in place like cgroupfs, without truncation: "max" over "89997312") */
        cr_assert_eq(strncmp(fx_slurp("cg" PODMAN "/container/memory.high"), "max", 3), 0);
        cr_assert_not_null(line_with(log, "BRAKE=restored", "CONTAINER_NAME=web", NULL), "%s", log);
        free(st);
        free(js);
        free(log);
}

/* A podman container appears while the daemon runs, and crun writes its memory.max only later (seen in the
 * VM: seconds after mkdir under load). The brake follows that write, with no timer: the guard watches
 * memory.max until a limit is there. Before, one look 1 s after mkdir found "max" and the brake never came. */
Test(containers, brake_follows_a_limit_written_after_mkdir)
{
        char cmd[600];
        snprintf(cmd, sizeof cmd, "cp -a '%s/containers/root' '%s/host'", FIXTURES_DIR, fx_dir);
        cr_assert_eq(system(cmd), 0);
        fx_make_cgroup("/machine.slice", "max\n");
        fx_start(&(FxRun) { .policy = POLICY, .host_fixture = true, .no_bus = true });

        /* Built aside and moved in, as a cgroup appears with its files at once; no limit yet. */
        fx_make_cgroup_at("aside", "/libpod-" ID_A ".scope", "max\n");
        fx_make_cgroup_at("aside", "/libpod-" ID_A ".scope/container", "max\n");
        char from[300], to[300];
        snprintf(from, sizeof from, "%s/aside/libpod-" ID_A ".scope", fx_dir);
        snprintf(to, sizeof to, "%s/cg" PODMAN, fx_dir);
        cr_assert_eq(rename(from, to), 0);
        bool seen = false;
        for (int i = 0; i < 100 * fx_scale() && !seen; i++) {
                seen = strstr(fx_control("status\n"), PODMAN "/container") != NULL;
                if (!seen)
                        usleep(50 * 1000);
        }
        cr_assert(seen, "the new container is not guarded: %s", fx_control("status\n"));
        usleep(1500 * 1000 * fx_scale()); /* past the one look again after mkdir */
        cr_assert_null(strstr(fx_slurp("daemon.log"), "BRAKE=set"), "a brake without a limit:\n%s",
                       fx_slurp("daemon.log"));
        cr_assert_eq(strncmp(fx_slurp("cg" PODMAN "/container/memory.high"), "max", 3), 0);

        fx_put("cg" PODMAN "/container/memory.max", "100000000\n");
        const char *log = fx_wait_log("BRAKE=set", 3000);
        cr_assert_not_null(log, "no brake after the limit was written");
        const char *l = line_with(log, "BRAKE=set", "CONTAINER_NAME=web", NULL);
        cr_assert_not_null(l, "%s", log);
        cr_assert(strstr(l, "CGROUP=" PODMAN "/container") && strstr(l, "BRAKE_BYTES=89997312"), "%s", l);
        cr_assert_str_eq(fx_slurp("cg" PODMAN "/container/memory.high"), "89997312");
}

static bool fx_status_has(const char *needle)
{
        for (int i = 0; i < 100 * fx_scale(); i++) {
                if (strstr(fx_control("status\n"), needle))
                        return true;
                usleep(50 * 1000);
        }
        return false;
}

static void move_in_container(const char *id)
{
        char rel[200], from[400], to[400];
        snprintf(rel, sizeof rel, "/libpod-%s.scope", id);
        fx_make_cgroup_at("aside", rel, "max\n");
        snprintf(rel, sizeof rel, "/libpod-%s.scope/container", id);
        fx_make_cgroup_at("aside", rel, "100000000\n");
        snprintf(from, sizeof from, "%s/aside/libpod-%s.scope", fx_dir, id);
        snprintf(to, sizeof to, "%s/cg/machine.slice/libpod-%s.scope", fx_dir, id);
        cr_assert_eq(rename(from, to), 0);
}

/* Containers come and go in machine.slice: the second one is guarded too. */
Test(containers, second_container_after_the_first_is_gone)
{
        fx_make_cgroup("/machine.slice", "max\n");
        fx_start(&(FxRun) { .policy = "[Match]\nCgroup=/machine.slice/*/container\n"
                                      "[Pressure]\nBrake=90%\n[Actions]\nLadder=alert\n",
                            .no_bus = true });
        char cmd[600];
        move_in_container(ID_B);
        cr_assert(fx_status_has(ID_B ".scope/container"), "first: %s", fx_control("status\n"));
        snprintf(cmd, sizeof cmd, "rm -rf '%s/cg/machine.slice/libpod-%s.scope'", fx_dir, ID_B);
        cr_assert_eq(system(cmd), 0);
        usleep(300 * 1000);
        move_in_container(ID_C);
        cr_assert(fx_status_has(ID_C ".scope/container"), "second: %s", fx_control("status\n"));
}

/* crun makes <scope>/container, then enables the controllers for it in the scope's cgroup.subtree_control:
 * in between the directory has no memory.* files. Seen in the VM: when the daemon looked in between, the
 * guard's set-up found no memory.events, took the cgroup for gone and never looked again (podman's second
 * container of a boot, "guarding 0 cgroups", the kernel OOM-killed as if memwarden were not there). Here the
 * controller is enabled a second later; the guard comes with that write, and no timer. */
Test(containers, guarded_when_the_memory_controller_comes_after_mkdir)
{
        char cmd[600], rel[300];
        snprintf(cmd, sizeof cmd, "cp -a '%s/containers/root' '%s/host'", FIXTURES_DIR, fx_dir);
        cr_assert_eq(system(cmd), 0);
        fx_make_cgroup("/machine.slice", "max\n");
        fx_start(&(FxRun) { .policy = POLICY, .main_conf = "LogLevel=debug\n", .host_fixture = true, .no_bus = true });

        /* the scope with its files, the container's directory with the core files only */
        fx_make_cgroup_at("aside", "/libpod-" ID_A ".scope", "max\n");
        fx_put("aside/libpod-" ID_A ".scope/cgroup.subtree_control", "");
        snprintf(rel, sizeof rel, "%s/aside/libpod-" ID_A ".scope/container", fx_dir);
        cr_assert_eq(mkdir(rel, 0755), 0);
        fx_put("aside/libpod-" ID_A ".scope/container/cgroup.procs", "");
        fx_put("aside/libpod-" ID_A ".scope/container/cgroup.subtree_control", "");
        fx_put("aside/libpod-" ID_A ".scope/container/memory.pressure", /* a core file: there from mkdir */
               "some avg10=0.00 avg60=0.00 avg300=0.00 total=0\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n");
        char from[300], to[300];
        snprintf(from, sizeof from, "%s/aside/libpod-" ID_A ".scope", fx_dir);
        snprintf(to, sizeof to, "%s/cg" PODMAN, fx_dir);
        cr_assert_eq(rename(from, to), 0);
        cr_assert_not_null(fx_wait_log("container: no memory controller yet", 3000),
                           "the daemon did not look at the new container");
        cr_assert_null(strstr(fx_control("status\n"), PODMAN "/container"), "guarded without memory files");

        /* the kernel adds the files when "+memory" is written to the parent's subtree_control */
        usleep(500 * 1000);
        snprintf(cmd, sizeof cmd, "cp -a '%s/cg" PODMAN "/'memory.* '%s/cg" PODMAN "/container/'", fx_dir, fx_dir);
        cr_assert_eq(system(cmd), 0);
        fx_put("cg" PODMAN "/container/memory.max", "100000000\n");
        fx_put("cg" PODMAN "/cgroup.subtree_control", "memory pids\n");
        const char *log = fx_wait_log("BRAKE=set", 3000);
        cr_assert_not_null(log, "not guarded after the memory controller was enabled: %s", fx_control("status\n"));
        const char *l = line_with(log, "BRAKE=set", "CONTAINER_NAME=web", NULL);
        cr_assert_not_null(l, "%s", log);
        cr_assert(strstr(l, "CGROUP=" PODMAN "/container") && strstr(l, "BRAKE_BYTES=89997312"), "%s", l);
        cr_assert(strstr(fx_control("status\n"), "  container web (localhost/mwtest:1)\n"), "%s",
                  fx_control("status\n"));

        /* the scope goes with the container: nothing of the wait is left (no stale watch to dispatch) */
        snprintf(cmd, sizeof cmd, "rm -rf '%s/cg" PODMAN "'", fx_dir);
        cr_assert_eq(system(cmd), 0);
        move_in_container(ID_A);
        cr_assert(fx_status_has(ID_A ".scope/container"), "the next container: %s", fx_control("status\n"));
}

Test(containers, names_missing_fall_back_to_the_id)
{
        /* No host tree: nothing to match by name, and Cgroup= still matches with the short id as the name. */
        fx_make_cgroup("/machine.slice", "max\n");
        fx_make_cgroup(PODMAN, "max\n");
        fx_make_cgroup(PODMAN "/container", "100000000\n");
        fx_start(&(FxRun) { .policy = "[Match]\nContainer=web\nCgroup=/machine.slice/*/container\n"
                                      "[Pressure]\nBrake=90%\n[Actions]\nLadder=alert\n",
                            .no_bus = true });
        char *log = fx_slurp("daemon.log");
        const char *l = line_with(log, "BRAKE=set", "CONTAINER_ID=" ID_A, NULL);
        cr_assert_not_null(l, "%s", log);
        cr_assert(strstr(l, "CONTAINER_NAME=3f2a9c0e1b7d"), "%s", l);
        cr_assert_null(strstr(l, "CONTAINER_IMAGE="), "%s", l);
}

/* [Restart] Command= through a container runtime that hangs, or is not installed: bounded, and an error
 * record naming the container. */
Test(containers, restart_command_hangs)
{
        make_tree();
        fx_start(&(FxRun) {
                .policy = "[Match]\nContainer=web\n[Pressure]\nHighEvents=yes\n[Actions]\nLadder=restart\n"
                          "[Restart]\nCommand=/bin/sleep 30\nCommandTimeout=1s\n",
                .host_fixture = true,
                .no_bus = true,
        });
        fx_events(PODMAN "/container", 3);
        char *log = fx_wait_log("RESULT=timeout", 5000);
        cr_assert_not_null(log, "no timeout record for a hanging restart command");
        const char *l = line_with(log, "RESULT=timeout", "CONTAINER_NAME=web", "RESTART_COMMAND=/bin/sleep");
        cr_assert_not_null(l, "%s", log);
        cr_assert(strstr(l, "CGROUP=" PODMAN "/container") && strstr(l, "RESTART_COMMAND_TIMEOUT_USEC=1000000"), "%s",
                  l);
}

Test(containers, restart_command_not_installed)
{
        make_tree();
        fx_start(&(FxRun) {
                .policy = "[Match]\nContainer=web\n[Pressure]\nHighEvents=yes\n[Actions]\nLadder=restart\n"
                          "[Restart]\nCommand=/nonexistent/podman restart --time 10 %c\n",
                .host_fixture = true,
                .no_bus = true,
        });
        fx_events(PODMAN "/container", 6);
        char *log = fx_wait_log("cannot run /nonexistent/podman", 5000);
        cr_assert_not_null(log, "no record for a runtime that is not installed");
        const char *l = line_with(log, "cannot run /nonexistent/podman", "RESULT=failed", "CONTAINER_NAME=web");
        cr_assert_not_null(l, "%s", log);
        cr_assert(strstr(l, "ERRNO=2"), "%s", l);
}

/* The one Command= spawner (daemon/action-command.c): the command sees no file descriptor of the daemon's
 * beyond 0-2 (ls opens 3 itself), its output reaches the daemon's log where there is no journal, the
 * specifiers are expanded, and an exit status other than 0 is a warning record. */
Test(containers, restart_command_sandbox_and_status)
{
        make_tree();
        fx_start(&(FxRun) {
                .policy = "[Match]\nContainer=web\n[Pressure]\nHighEvents=yes\n[Actions]\nLadder=restart\n"
                          "[Restart]\nCommand=/bin/ls -m /proc/self/fd /nonexistent-%c\n",
                .host_fixture = true,
                .no_bus = true,
                .hide_journal = true,
        });
        fx_events(PODMAN "/container", 3);
        char *log = fx_wait_log("RESTART_COMMAND_STATUS=", 5000);
        cr_assert_not_null(log, "no record for a command that failed");
        cr_assert(strstr(log, "/proc/self/fd:\n0, 1, 2, 3\n"), "the command saw other descriptors:\n%s", log);
        cr_assert(strstr(log, "/nonexistent-" ID_A), "%%c was not expanded into its word:\n%s", log);
        const char *l = line_with(log, "RESULT=failed", "RESTART_COMMAND=/bin/ls", "RESTART_COMMAND_STATUS=2");
        cr_assert_not_null(l, "%s", log);
        cr_assert(strstr(l, "ACTION=restart") && strstr(l, "RESTART_VIA=command") && strstr(l, "CONTAINER_NAME=web") &&
                  strstr(l, "CGROUP=" PODMAN "/container"), "%s", l);
}

/* The container goes away while memwarden acts on it: its runtime removes it while the restart command runs
 * (here the command removes the scope itself). The daemon drops the guard, acts on no other cgroup, and
 * keeps working. */
Test(containers, container_removed_while_the_restart_command_runs)
{
        char policy[1024], script[600];
        make_tree();
        snprintf(script, sizeof script, "#!/bin/sh\nrm -rf '%s/cg" PODMAN "'\nsleep 1\n", fx_dir);
        fx_put("rm-container.sh", script);
        snprintf(script, sizeof script, "%s/rm-container.sh", fx_dir);
        cr_assert_eq(chmod(script, 0755), 0);
        snprintf(policy, sizeof policy,
                 "[Match]\nContainer=web\n[Pressure]\nHighEvents=yes\n[Actions]\nLadder=restart\n"
                 "[Restart]\nCommand=%s %%c\nCommandTimeout=5s\n", script);
        fx_start(&(FxRun) { .policy = policy, .host_fixture = true, .no_bus = true });
        fx_events(PODMAN "/container", 3);
        cr_assert_not_null(fx_wait_log("RESTART_VIA=command", 5000), "the restart command did not start");
        bool gone = false;
        for (int i = 0; i < 100 * fx_scale() && !gone; i++) {
                gone = strstr(fx_control("status\n"), "guarding 0 cgroups") != NULL;
                if (!gone)
                        usleep(50 * 1000);
        }
        cr_assert(gone, "the removed container is still guarded: %s", fx_control("status\n"));
        usleep(1500 * 1000 * fx_scale()); /* past the command's end */
        const char *log = fx_slurp("daemon.log");
        const char *l = line_with(log, "ACTION=restart", "CONTAINER_NAME=web", NULL);
        cr_assert_not_null(l, "no restart record naming the container:\n%s", log);
        cr_assert_null(line_with(log, "ACTION=restart", "CGROUP=/kubepods", NULL), "acted on another cgroup:\n%s", log);
        cr_assert_null(line_with(log, "BRAKE=", "CGROUP=/kubepods", NULL), "touched another cgroup:\n%s", log);
        cr_assert(strstr(fx_control("status\n"), "memwardend"), "the daemon does not answer");
        cr_assert_eq(fx_stop(), 0, "the daemon did not exit cleanly:\n%s", fx_slurp("daemon.log"));
}
