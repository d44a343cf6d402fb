/* SPDX-License-Identifier: MIT */
/* daemon/manager.c: the event loop, discovery of cgroups, configuration (re)loading, sd_notify. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/resource.h>
#include <systemd/sd-daemon.h>

#include "action-trim-inject.h"
#include "action.h"
#include "action-command.h"
#include "guard-poll.h"
#include "manager-await.h"
#include "record.h"
#include "bus-systemd.h"
#include "config.h"
#include "manager.h"
#include "state.h"
#include "unit-record.h"
#include "util/log.h"
#include "util/strv.h"
#include "util/time-util.h"

int manager_new(Manager **ret)
{
        Manager *m = calloc(1, sizeof *m);
        if (!m)
                return -ENOMEM;
        m->inotify_fd = -EBADF;
        m->control_fd = -EBADF;
        m->host_fd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        m->dirs_by_path = hashmap_new(HASHMAP_KEY_STRING);
        m->dir_by_wd = hashmap_new(HASHMAP_KEY_INT);
        m->guard_by_wd = hashmap_new(HASHMAP_KEY_INT);
        m->guards = hashmap_new(HASHMAP_KEY_STRING);
        m->stateful = hashmap_new(HASHMAP_KEY_STRING);
        m->unit_records = hashmap_new(HASHMAP_KEY_STRING);
        m->awaits = hashmap_new(HASHMAP_KEY_INT);
        if (!m->dirs_by_path || !m->dir_by_wd || !m->guard_by_wd || !m->guards || !m->stateful ||
            !m->unit_records || !m->awaits) {
                manager_free(m);
                return -ENOMEM;
        }
        int r = sd_event_default(&m->event);
        if (r < 0) {
                manager_free(m);
                return r;
        }
        *ret = m;
        return 0;
}

static void dir_watch_free(DirWatch *d)
{
        free(d);
}

Manager *manager_free(Manager *m)
{
        if (!m)
                return NULL;
        m->exiting = true; /* the loop is over: what is said to systemd from here is said synchronously */
        state_shutdown(m); /* restores brakes, keeps cooldowns for the next instance */
        metrics_free(m);   /* removes the metrics file */
        void *v;
        HashmapIter i = HASHMAP_ITER_INIT;
        while (hashmap_iterate(m->guards, &i, &v, NULL)) {
                Guard *g = v;
                (void) hashmap_remove(m->guards, g->path);
                guard_free(g, /* cgroup_gone= */ false); /* restores brakes */
        }
        sentinel_manager_done(m);
        guard_poll_free(m);
        i = HASHMAP_ITER_INIT;
        while (hashmap_iterate(m->dirs_by_path, &i, &v, NULL))
                dir_watch_free(v);
        hashmap_free(m->guards);
        hashmap_free(m->stateful);
        unit_records_free(m);
        hashmap_free(m->dirs_by_path);
        hashmap_free(m->dir_by_wd);
        hashmap_free(m->guard_by_wd);
        manager_await_free(m);
        closep(&m->host_fd);
        control_close(m);
        sd_event_source_disable_unref(m->inotify_source);
        closep(&m->inotify_fd);
        brake_calls_free(m);
        command_watches_free(m);
        trim_inject_manager_free(m);
        restart_stops_free(m);
        sd_bus_flush_close_unref(m->bus);
        sd_event_unref(m->event);
        cgroup_root_free(m->root);
        config_free(m->config);
        free(m->main_conf);
        strv_free(m->policy_dirs);
        free(m->cgroup_root_arg);
        free(m->proc_root_arg);
        free(m->control_socket_arg);
        free(m);
        return NULL;
}

void manager_update_status(Manager *m)
{
        sd_notifyf(false, "STATUS=guarding %zu cgroups, %u under pressure", hashmap_size(m->guards),
                m->n_under_pressure);
}

void manager_drop_guard(Manager *m, Guard *g, bool cgroup_gone)
{
        if (hashmap_get(m->guards, g->path) == g)
                (void) hashmap_remove(m->guards, g->path);
        log_debug("%s: no longer guarded%s", g->path, cgroup_gone ? " (cgroup removed)" : "");
        metrics_guard_retire(m, g); /* its series stay a while (a kill usually removes the cgroup) */
        guard_free(g, cgroup_gone);
        m->status_dirty = true;
        state_changed(m);
}

/* Guards cgpath if a policy matches it, or re-points / drops its guard after a reload. */
static int manager_evaluate(Manager *m, const char *cgpath, int dfd)
{
        if (streq(cgpath, "/"))
                return 0; /* the root has no memory.current/max: nothing to guard */

        CgroupIdentity id = {};
        int r = cgroup_identity_from_path(cgpath, &id);
        if (r >= 0 && (id.container_id || id.pod_uid))
                r = cgroup_identity_resolve_names(m->host_fd, &id);
        if (r < 0) {
                cgroup_identity_done(&id);
                return r;
        }
        const Policy *p = config_match_identity(m->config, cgpath, &id);
        Guard *g = hashmap_get(m->guards, cgpath);

        if (!p) {
                if (g)
                        manager_drop_guard(m, g, /* cgroup_gone= */ false);
                cgroup_identity_done(&id);
                return 0;
        }
        if (g) {
                cgroup_identity_done(&id);
                return guard_set_policy(g, p);
        }

        r = guard_new(m, cgpath, dfd, &id, p, &g);
        if (r == -ENOENT && manager_await_memory(m, cgpath) == 2) /* no memory.* files yet, or just now */
                r = guard_new(m, cgpath, dfd, &id, p, &g);
        cgroup_identity_done(&id);
        if (r < 0) {
                if (ERRNO_IS_GONE(r))
                        return 0;
                return log_warning_errno(r, "%s: cannot guard: %m, ignoring", cgpath);
        }
        r = hashmap_put(m->guards, g->path, g);
        if (r < 0) {
                guard_free(g, false);
                return r;
        }
        m->status_dirty = true;
        log_debug("%s: guarded by policy %s", cgpath, p->name);
        return guard_step(g); /* baseline, brake */
}

int manager_watch_dir(Manager *m, const char *cgpath)
{
        if (hashmap_get(m->dirs_by_path, cgpath))
                return 0;

        char *full = NULL;
        if (asprintf(&full, "%s%s", m->root->root_path, streq(cgpath, "/") ? "" : cgpath) < 0)
                return -ENOMEM;
        int wd = inotify_add_watch(m->inotify_fd, full, IN_CREATE | IN_DELETE | IN_MOVED_TO | IN_MOVED_FROM | IN_ONLYDIR);
        int r = -errno;
        free(full);
        if (wd < 0)
                return r;

        size_t n = strlen(cgpath) + 1;
        DirWatch *d = malloc(sizeof *d + n);
        if (!d)
                return -ENOMEM;
        d->wd = wd;
        memcpy(d->path, cgpath, n);
        DirWatch *old = hashmap_remove(m->dir_by_wd, INT_TO_PTR(wd));
        if (old) {
                /* Same inode reached by another name: cannot happen in cgroupfs; keep the newer. */
                (void) hashmap_remove(m->dirs_by_path, old->path);
                dir_watch_free(old);
        }
        if (hashmap_put(m->dirs_by_path, d->path, d) < 0 || hashmap_put(m->dir_by_wd, INT_TO_PTR(wd), d) < 0) {
                (void) hashmap_remove(m->dirs_by_path, d->path);
                dir_watch_free(d);
                return -ENOMEM;
        }
        return 0;
}

static int walk_cb(const CgroupRoot *root, const char *cgpath, int dfd, void *userdata)
{
        Manager *m = userdata;
        int r = manager_watch_dir(m, cgpath);
        if (r < 0) {
                if (ERRNO_IS_GONE(r))
                        return 1; /* gone already: skip its children */
                log_debug_errno(r, "%s: cannot watch the directory: %m; polled instead", cgpath);
                (void) dir_poll_add(m, cgpath); /* said in guard-poll's record */
        }
        (void) manager_evaluate(m, cgpath, dfd);
        return 0;
}

int manager_discover(Manager *m, const char *cgpath)
{
        return cgroup_walk_fd(m->root, cgpath, walk_cb, m);
}

static void manager_forget_subtree(Manager *m, const char *cgpath)
{
        size_t n = strlen(cgpath);
        void *v;
        HashmapIter i = HASHMAP_ITER_INIT;

        manager_await_forget(m, cgpath);

        while (hashmap_iterate(m->guards, &i, &v, NULL)) {
                Guard *g = v;
                if (!strncmp(g->path, cgpath, n) && (g->path[n] == 0 || g->path[n] == '/'))
                        manager_drop_guard(m, g, /* cgroup_gone= */ true);
        }
        i = HASHMAP_ITER_INIT;
        while (hashmap_iterate(m->dirs_by_path, &i, &v, NULL)) {
                DirWatch *d = v;
                if (!strncmp(d->path, cgpath, n) && (d->path[n] == 0 || d->path[n] == '/')) {
                        /* kernfs keeps the watch of a removed cgroup directory until it is removed. */
                        (void) inotify_rm_watch(m->inotify_fd, d->wd);
                        (void) hashmap_remove(m->dirs_by_path, d->path);
                        if (hashmap_get(m->dir_by_wd, INT_TO_PTR(d->wd)) == d)
                                (void) hashmap_remove(m->dir_by_wd, INT_TO_PTR(d->wd));
                        dir_watch_free(d);
                }
        }
}

/* One removed cgroup, in O(1): cgroupfs removes only cgroups without children (rmdir fails with EBUSY
 * otherwise), and the removal of each child came earlier on the same inotify queue, so nothing below cgpath
 * is known any more. A directory moved away (fixture trees) takes its subtree along: manager_forget_subtree. */
static void manager_forget_one(Manager *m, const char *cgpath)
{
        Guard *g = hashmap_get(m->guards, cgpath);
        if (g)
                manager_drop_guard(m, g, /* cgroup_gone= */ true);
        dir_poll_forget(m, cgpath);
        DirWatch *d = hashmap_remove(m->dirs_by_path, cgpath);
        if (d) {
                /* kernfs keeps the watch of a removed cgroup directory until it is removed. */
                (void) inotify_rm_watch(m->inotify_fd, d->wd);
                if (hashmap_get(m->dir_by_wd, INT_TO_PTR(d->wd)) == d)
                        (void) hashmap_remove(m->dir_by_wd, INT_TO_PTR(d->wd));
                dir_watch_free(d);
        }
}

static int manager_rescan(Manager *m)
{
        /* After an inotify queue overflow: drop what vanished, step the guards whose memory.events changed
         * (those events may be lost with the queue), then walk everything. */
        void *v;
        HashmapIter i = HASHMAP_ITER_INIT;
        while (hashmap_iterate(m->guards, &i, &v, NULL)) {
                Guard *g = v;
                if (!cgroup_has_memory(g->cgfd))
                        manager_drop_guard(m, g, true);
                else
                        (void) guard_events_recheck(g); /* may free g */
        }
        return cgroup_walk_fd(m->root, "/", walk_cb, m);
}

static void child_path(char *buf, size_t size, const char *parent, const char *name)
{
        snprintf(buf, size, "%s/%s", streq(parent, "/") ? "" : parent, name);
}

static int on_inotify(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
        Manager *m = userdata;
        union {
                struct inotify_event ev;
                char raw[64 * 1024];
        } buf;

        for (;;) {
                ssize_t n = read(fd, &buf, sizeof buf);
                if (n < 0) {
                        if (errno == EAGAIN || errno == EINTR)
                                break;
                        return log_error_errno(-errno, "Reading inotify events failed: %m");
                }
                for (char *p = buf.raw; p < buf.raw + n;) {
                        struct inotify_event *e = (struct inotify_event *) p;
                        p += sizeof *e + e->len;

                        if (e->mask & IN_Q_OVERFLOW) {
                                log_warning("inotify queue overflowed, rescanning the cgroup hierarchy");
                                (void) manager_rescan(m);
                                continue;
                        }
                        if (manager_await_event(m, e))
                                continue;
                        Guard *g = hashmap_get(m->guard_by_wd, INT_TO_PTR(e->wd));
                        if (g) {
                                if (e->mask & IN_IGNORED) {
                                        (void) hashmap_remove(m->guard_by_wd, INT_TO_PTR(e->wd));
                                        if (e->wd == g->limit_wd)
                                                g->limit_wd = -1;
                                        else
                                                g->events_wd = -1;
                                        if (!cgroup_has_memory(g->cgfd))
                                                manager_drop_guard(m, g, true);
                                        else if (g->events_wd < 0)
                                                (void) guard_poll_add(g); /* its watch dropped: polled */
                                } else if (e->mask & IN_MODIFY)
                                        guard_on_events_modified(g);
                                continue;
                        }
                        DirWatch *d = hashmap_get(m->dir_by_wd, INT_TO_PTR(e->wd));
                        if (!d)
                                continue;
                        if (e->mask & IN_IGNORED) {
                                (void) hashmap_remove(m->dir_by_wd, INT_TO_PTR(e->wd));
                                (void) hashmap_remove(m->dirs_by_path, d->path);
                                dir_watch_free(d);
                                continue;
                        }
                        if (!(e->mask & IN_ISDIR) || e->len == 0)
                                continue;
                        char path[PATH_MAX];
                        child_path(path, sizeof path, d->path, e->name);
                        /* cgroupfs only creates and deletes; moves are for trees of regular files
                         * (fixtures), which are built aside and moved into place. */
                        if (e->mask & (IN_CREATE | IN_MOVED_TO))
                                (void) cgroup_walk_fd(m->root, path, walk_cb, m);
                        else if (e->mask & IN_DELETE)
                                manager_forget_one(m, path);
                        else if (e->mask & IN_MOVED_FROM)
                                manager_forget_subtree(m, path);
                }
        }
        if (m->status_dirty) {
                m->status_dirty = false;
                manager_update_status(m);
        }
        return 0;
}

static int on_sigterm(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata)
{
        Manager *m = userdata;
        sd_notify(false, "STOPPING=1\nSTATUS=Restoring memory.high brakes and exiting");
        log_info("Received %s, exiting.", si->ssi_signo == SIGINT ? "SIGINT" : "SIGTERM");
        return sd_event_exit(m->event, 0);
}

static int on_sighup(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata)
{
        (void) manager_reload(userdata, NULL);
        return 0;
}

static int manager_load_config(Manager *m, Config **ret, ConfigError *err)
{
        return config_load(m->main_conf ?: MAIN_CONFIG_DEFAULT,
                m->policy_dirs ? (const char *const *) m->policy_dirs : POLICY_DIRS_DEFAULT, ret, err);
}

static void manager_apply_daemon_config(Manager *m)
{
        if (!getenv("MEMWARDEN_LOG_LEVEL_FORCED"))
                log_set_max_level(m->config->daemon.log_level);
}

static void record_started(Manager *m, bool reload)
{
        Record *r = record_new(MW_MESSAGE_STARTED, LOG_INFO);
        record_add(r, "POLICIES=%zu", m->config->n_policies);
        record_add(r, "GUARDED=%zu", hashmap_size(m->guards));
        record_add(r, "RELOAD=%s", reload ? "yes" : "no");
        record_add(r, "DRY_RUN=%s", m->dry_run_arg || m->config->daemon.dry_run ? "yes" : "no");
        record_add(r, "CGROUP_ROOT=%s", m->root->root_path);
        record_send(r, "memwardend %s %s: %zu policies, guarding %zu cgroups", PACKAGE_VERSION,
                reload ? "reloaded" : "started", m->config->n_policies, hashmap_size(m->guards));
        metrics_changed(m); /* MetricsFile= may have changed; the guarded set did */
        trim_inject_check_sandbox(m);
}

int manager_reload(Manager *m, ConfigError *ret_err)
{
        Config *c = NULL;
        ConfigError err = {};

        sd_notify(false, "RELOADING=1\nSTATUS=Reloading configuration");
        int r = manager_load_config(m, &c, &err);
        if (r < 0) {
                record_config_error(&err, "Reload failed, keeping the running configuration");
                if (ret_err)
                        *ret_err = err;
                sd_notify(false, "READY=1");
                manager_update_status(m);
                return r;
        }

        Config *old = m->config;
        m->config = c;
        manager_apply_daemon_config(m);

        /* Re-match every known cgroup: guards move to the new policies, stop, or start. No pointer into
         * the old configuration survives this loop. */
        void *v;
        HashmapIter i = HASHMAP_ITER_INIT;
        while (hashmap_iterate(m->dirs_by_path, &i, &v, NULL))
                (void) manager_evaluate(m, ((DirWatch *) v)->path, -EBADF);
        i = HASHMAP_ITER_INIT;
        while (dir_poll_dirs(m) && hashmap_iterate(dir_poll_dirs(m), &i, &v, NULL))
                (void) manager_evaluate(m, v, -EBADF); /* directories without a watch (guard-poll.h) */
        /* Guards whose directory is not watched (out of inotify watches) are re-matched too. */
        i = HASHMAP_ITER_INIT;
        while (hashmap_iterate(m->guards, &i, &v, NULL)) {
                Guard *g = v;
                if (!hashmap_get(m->dirs_by_path, g->path)) {
                        const Policy *p = config_match_identity(m->config, g->path, &g->id);
                        if (p)
                                (void) guard_set_policy(g, p);
                        else
                                manager_drop_guard(m, g, false);
                }
        }
        config_free(old);

        record_started(m, /* reload= */ true);
        sd_notify(false, "READY=1");
        manager_update_status(m);
        return 0;
}

static int manager_connect_bus(Manager *m)
{
        int r = bus_connect_systemd(&m->bus);
        if (r < 0)
                return r;
        /* sd-bus closes an attached bus when the event loop exits (SIGTERM), before manager_free() restores
         * the brakes: the restore then went to cgroupfs only, systemd kept the unit's MemoryHigh= and put the
         * brake back at the next daemon-reload (dpkg's, after `apt remove`). Keep it open until then. */
        r = sd_bus_set_close_on_exit(m->bus, false);
        if (r < 0)
                return r;
        return sd_bus_attach_event(m->bus, m->event, SD_EVENT_PRIORITY_NORMAL);
}

int manager_startup(Manager *m)
{
        ConfigError err = {};
        int r = manager_load_config(m, &m->config, &err);
        if (r < 0) {
                record_config_error(&err, "Refusing to start with a broken configuration");
                return -EINVAL;
        }
        manager_apply_daemon_config(m);

        const char *root = m->cgroup_root_arg ?: m->config->daemon.cgroup_root;
        r = cgroup_root_open(root, m->proc_root_arg, &m->root);
        if (r == -ENOMEDIUM)
                return log_error_errno(r, "No cgroup v2 hierarchy with the memory controller is mounted; "
                                          "memwarden needs cgroup v2 (systemd.unified_cgroup_hierarchy=1).");
        if (r < 0)
                return log_error_errno(r, "Cannot open the cgroup hierarchy %s: %m", root ?: "(auto)");

        /* One trigger fd and one directory fd per guarded cgroup: thousands of fds are normal. */
        struct rlimit rl;
        if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
                rl.rlim_cur = rl.rlim_max;
                (void) setrlimit(RLIMIT_NOFILE, &rl);
        }

        sigset_t ss;
        sigemptyset(&ss);
        sigaddset(&ss, SIGTERM);
        sigaddset(&ss, SIGINT);
        sigaddset(&ss, SIGHUP);
        sigprocmask(SIG_BLOCK, &ss, NULL);
        if ((r = sd_event_add_signal(m->event, NULL, SIGTERM, on_sigterm, m)) < 0 ||
            (r = sd_event_add_signal(m->event, NULL, SIGINT, on_sigterm, m)) < 0 ||
            (r = sd_event_add_signal(m->event, NULL, SIGHUP, on_sighup, m)) < 0)
                return log_error_errno(r, "Cannot set up signal handling: %m");

        r = manager_connect_bus(m);
        if (r < 0)
                log_info_errno(r, "No connection to systemd over D-Bus (%m): brakes are written to "
                                  "cgroupfs directly, ignoring");

        m->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        if (m->inotify_fd < 0)
                return log_error_errno(-errno, "inotify_init1() failed: %m");
        r = sd_event_add_io(m->event, &m->inotify_source, m->inotify_fd, EPOLLIN, on_inotify, m);
        if (r < 0)
                return log_error_errno(r, "Cannot watch inotify: %m");

        action_trim_prepare(m);
        (void) state_load(m); /* cooldowns and brakes of the previous instance, taken over by each guard */
        m->started_usec = now_usec(CLOCK_MONOTONIC);
        r = cgroup_walk_fd(m->root, "/", walk_cb, m);
        if (r < 0)
                return log_error_errno(r, "Cannot walk the cgroup hierarchy at %s: %m", m->root->root_path);
        state_startup_done(m);

        r = control_open(m);
        if (r < 0)
                log_warning_errno(r, "Cannot open the control socket: %m; memwardenctl status/reload will not "
                                     "work, ignoring");

        /* WatchdogSec= from the unit: sd-event pings at half the interval. The only timer while calm. */
        (void) sd_event_set_watchdog(m->event, true);

        record_started(m, /* reload= */ false);
        sd_notify(false, "READY=1");
        manager_update_status(m);
        return 0;
}

int manager_run(Manager *m)
{
        return sd_event_loop(m->event);
}
