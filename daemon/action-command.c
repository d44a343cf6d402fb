/* SPDX-License-Identifier: MIT */
/* daemon/action-command.c: the one spawner of Command= (trim and restart), watched through a pidfd. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <systemd/sd-journal.h>

#include "action-command.h"
#include "record.h"
#include "cgroup/cgroup-act.h"
#include "util/log.h"
#include "util/list.h"
#include "util/time-util.h"

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

extern char **environ;

struct CommandWatch {
        Manager *manager;
        CommandWatch *next, *prev; /* Manager.commands */
        Rung rung;
        char *argv0;
        char *cgroup, *container_id, *container_name; /* copied: the guard may be gone by the end */
        pid_t pid, for_pid;
        int pidfd;
        usec_t timeout_usec;
        bool timed_out;
        sd_event_source *io, *timer;
};

/* Also from within its own io handler (sd-event allows it). */
static void command_watch_free(CommandWatch *c)
{
        if (!c)
                return;
        c->io = sd_event_source_disable_unref(c->io);
        c->timer = sd_event_source_disable_unref(c->timer);
        closep(&c->pidfd);
        free(c->argv0);
        free(c->cgroup);
        free(c->container_id);
        free(c->container_name);
        if (c->manager) {
                LIST_REMOVE(c->manager->commands, c);
                c->manager->n_commands--;
        }
        free(c);
}

void command_watches_free(Manager *m)
{
        while (m->commands)
                command_watch_free(m->commands);
}

/* "RESTART", "TRIM": the field prefix. */
static const char *field_prefix(Rung r)
{
        return r == RUNG_TRIM ? "TRIM" : "RESTART";
}

/* A command that failed, died or hung is a warning record with the cgroup and container it was for (the
 * action record said only that it was started). */
static void command_record_failure(const CommandWatch *c, const siginfo_t *si)
{
        char t[FORMAT_TIME_MAX], pidtext[32] = "";
        const char *rung = rung_to_string(c->rung), *f = field_prefix(c->rung);
        Record *r = record_new(MW_MESSAGE_ACTION, LOG_WARNING);

        record_add(r, "CGROUP=%s", c->cgroup);
        if (c->container_id)
                record_add(r, "CONTAINER_ID=%s", c->container_id);
        if (c->container_name)
                record_add(r, "CONTAINER_NAME=%s", c->container_name);
        record_add(r, "ACTION=%s", rung);
        record_add(r, "%s_VIA=command", f);
        record_add(r, "%s_COMMAND=%s", f, c->argv0);
        record_add(r, "%s_COMMAND_PID=%i", f, (int) c->pid);
        if (c->for_pid > 0) {
                record_add(r, "TRIM_PID=%i", (int) c->for_pid);
                snprintf(pidtext, sizeof pidtext, " for PID %i", (int) c->for_pid);
        }
        record_add(r, "RESULT=%s", c->timed_out ? "timeout" : "failed");
        if (c->timed_out) {
                record_add(r, "%s_COMMAND_TIMEOUT_USEC=%" PRIu64, f, c->timeout_usec);
                record_send(r, "%s: %s command %s%s did not finish within %s, killed it", c->cgroup, rung, c->argv0,
                            pidtext, format_time(t, sizeof t, c->timeout_usec));
        } else if (si->si_code == CLD_EXITED) {
                record_add(r, "%s_COMMAND_STATUS=%i", f, si->si_status);
                record_send(r, "%s: %s command %s%s failed with exit status %i", c->cgroup, rung, c->argv0, pidtext,
                            si->si_status);
        } else {
                record_add(r, "%s_COMMAND_SIGNAL=%i", f, si->si_status);
                record_send(r, "%s: %s command %s%s died of signal %i", c->cgroup, rung, c->argv0, pidtext,
                            si->si_status);
        }
}

static int on_command_exit(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
        CommandWatch *c = userdata;
        siginfo_t si = {};

        if (waitid((idtype_t) P_PIDFD, (id_t) c->pidfd, &si, WEXITED | WNOHANG) < 0) {
                log_debug_errno(-errno, "%s: cannot reap %s command %s (PID %i): %m, ignoring", c->cgroup,
                                rung_to_string(c->rung), c->argv0, (int) c->pid);
                command_watch_free(c);
                return 0;
        }
        if (si.si_pid == 0)
                return 0; /* not yet: readable means exited, but be safe */
        if (si.si_code == CLD_EXITED && si.si_status == 0 && !c->timed_out)
                log_info("%s: %s command %s (PID %i) finished", c->cgroup, rung_to_string(c->rung), c->argv0,
                         (int) c->pid);
        else
                command_record_failure(c, &si);
        command_watch_free(c);
        return 0;
}

static int on_command_timeout(sd_event_source *s, uint64_t usec, void *userdata)
{
        CommandWatch *c = userdata;
        c->timed_out = true;
        /* The exit handler reports it once the kill is reaped. */
        (void) pidfd_signal(c->pidfd, SIGKILL, -1);
        return 0;
}

/* A journal stream for the child's stdout and stderr, under the program's name; -errno without journald
 * (the child then inherits the daemon's own). */
static int journal_stream(const char *argv0)
{
        const char *name = strrchr(argv0, '/');
        return sd_journal_stream_fd(name ? name + 1 : argv0, LOG_INFO, /* level_prefix= */ 0);
}

pid_t command_spawn(Manager *m, char **argv, const CommandFor *f)
{
        if (!argv || !argv[0])
                return -EINVAL;
        if (m->n_commands >= COMMANDS_RUNNING_MAX)
                return -EBUSY;

        _cleanup_close_ int out = journal_stream(argv[0]);
        posix_spawn_file_actions_t fa;
        posix_spawnattr_t attr;
        sigset_t none, all;

        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
        if (out >= 0) {
                posix_spawn_file_actions_adddup2(&fa, out, STDOUT_FILENO);
                posix_spawn_file_actions_adddup2(&fa, out, STDERR_FILENO);
        }
        posix_spawn_file_actions_addclosefrom_np(&fa, 3); /* nothing of ours leaks into it */
        posix_spawnattr_init(&attr);
        sigemptyset(&none);
        sigfillset(&all);
        posix_spawnattr_setsigmask(&attr, &none); /* the daemon blocks SIGTERM etc. for sd-event */
        posix_spawnattr_setsigdefault(&attr, &all);
        posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSID);
        pid_t child;
        int r = -posix_spawnp(&child, argv[0], &fa, &attr, argv, environ);
        posix_spawn_file_actions_destroy(&fa);
        posix_spawnattr_destroy(&attr);
        if (r < 0)
                return r;

        /* A pidfd at once (our unreaped child: its PID cannot be reused): every signal goes through it. */
        int pidfd = pidfd_open_pid(child);
        if (pidfd < 0) {
                /* Only with EMFILE/ENOMEM: it runs to its end unwatched (no bare PIDs: neither timed nor
                 * killed), and stays a zombie until memwardend exits; the loop never waits for it. */
                log_warning_errno(pidfd, "%s: cannot watch %s command %s (PID %i): %m; it runs unsupervised",
                                  f->cgroup, rung_to_string(f->rung), argv[0], (int) child);
                return child;
        }

        CommandWatch *c = calloc(1, sizeof *c);
        if (!c) {
                (void) pidfd_signal(pidfd, SIGKILL, -1);
                (void) waitid((idtype_t) P_PIDFD, (id_t) pidfd, &(siginfo_t) {}, WEXITED);
                close(pidfd);
                return -ENOMEM;
        }
        *c = (CommandWatch) {
                .manager = m,
                .rung = f->rung,
                .pid = child,
                .for_pid = f->pid,
                .pidfd = pidfd,
                .timeout_usec = f->timeout_usec,
                .argv0 = strdup(argv[0]),
                .cgroup = strdup(f->cgroup ?: "/"),
                .container_id = f->container_id ? strdup(f->container_id) : NULL,
                .container_name = f->container_name ? strdup(f->container_name) : NULL,
        };
        LIST_PREPEND(m->commands, c);
        m->n_commands++;
        if (!c->argv0 || !c->cgroup || (f->container_id && !c->container_id) ||
            (f->container_name && !c->container_name))
                r = -ENOMEM;
        else
                r = sd_event_add_io(m->event, &c->io, c->pidfd, EPOLLIN, on_command_exit, c);
        if (r >= 0)
                r = sd_event_add_time_relative(m->event, &c->timer, CLOCK_MONOTONIC, c->timeout_usec,
                                               100 * USEC_PER_MSEC, on_command_timeout, c);
        if (r < 0) {
                (void) pidfd_signal(c->pidfd, SIGKILL, -1);
                (void) waitid((idtype_t) P_PIDFD, (id_t) c->pidfd, &(siginfo_t) {}, WEXITED);
                command_watch_free(c);
                return r;
        }
        (void) sd_event_source_set_description(c->io, "command");
        log_debug("%s: started %s command %s as PID %i", f->cgroup, rung_to_string(f->rung), argv[0], (int) child);
        return child;
}
