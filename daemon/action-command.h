/* SPDX-License-Identifier: MIT */
/* daemon/action-command.h: the one spawner of [Trim] Command= and [Restart] Command= (the language is
 * policy/policy-command.h). */
#pragma once

#include "manager.h"

#define COMMANDS_RUNNING_MAX 64

/* Whom a command is for: what its records say. */
typedef struct CommandFor {
        Rung rung;                  /* RUNG_TRIM or RUNG_RESTART: ACTION= and the TRIM_/RESTART_ field prefix */
        const char *cgroup;         /* CGROUP= */
        const char *container_id;   /* CONTAINER_ID=, or NULL */
        const char *container_name; /* CONTAINER_NAME=, or NULL */
        pid_t pid;                  /* [Trim]: the process it is for (TRIM_PID=); 0: none */
        usec_t timeout_usec;        /* CommandTimeout= */
} CommandFor;

/* Starts argv (argv[0] looked up in $PATH; no shell) and returns at once: stdin is /dev/null, stdout and
 * stderr a journal stream under the program's name (the daemon's own stderr where there is no journal), a
 * session of its own, an empty signal mask and default signal dispositions, no file descriptor beyond 0-2,
 * within memwardend's own sandbox. It is watched through a pidfd on the event loop, never waited for, and
 * SIGKILLed after f->timeout_usec. An exit status other than 0, a death by a signal or a timeout is a
 * warning record (ACTION=, RESULT=failed|timeout, <RUNG>_VIA=command, <RUNG>_COMMAND=,
 * <RUNG>_COMMAND_STATUS=|_SIGNAL=|_TIMEOUT_USEC=, CGROUP=, CONTAINER_ID=, CONTAINER_NAME=, TRIM_PID=);
 * success is a log line. Returns the child's PID (> 0); -EBUSY with COMMANDS_RUNNING_MAX commands
 * running; -errno when it cannot be started (-ENOENT: no such program). */
pid_t command_spawn(Manager *m, char **argv, const CommandFor *f);
/* At exit: the commands still running are no longer watched (they run on to their end, in their own
 * session); their watches are freed. */
void command_watches_free(Manager *m);
