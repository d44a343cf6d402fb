/* SPDX-License-Identifier: MIT */
/* policy/policy-command.h: the one command language of [Trim] Command= and [Restart] Command= (pure).
 *
 * A command is a program and its arguments, split at blanks (space, tab), without a shell and without
 * quoting. Every word but the first may hold specifiers, which expand inside their word (a value never
 * splits a word, whatever it holds):
 *
 *   %p  the PID of the process the command is for     [Trim] only (it runs once per process)
 *   %c  the container id of the guarded cgroup         [Restart] only (see command_specifier_check())
 *   %u  the unit of the guarded cgroup
 *   %g  the cgroup the command is for: [Trim] the process's own cgroup (the guarded one or one below it),
 *       [Restart] the guarded cgroup
 *   %%  a percent sign
 *
 * A specifier whose value is missing for a cgroup (%c for a cgroup that is no container) refuses the
 * command rather than run it without its argument ("podman restart" alone). The table is
 * command_specifiers[]; memwarden.policy(5) prints the same one. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "policy.h"

typedef struct CommandSpecifier {
        char letter;
        const char *meaning;   /* "the PID of the process the command is for" */
        bool trim, restart;    /* the rungs whose Command= offers it */
} CommandSpecifier;

/* The table, ending with an entry whose letter is 0. */
extern const CommandSpecifier command_specifiers[];

/* The values for one run. Missing: NULL or "" (strings), 0 (pid). */
typedef struct CommandVars {
        pid_t pid;                 /* %p */
        const char *container_id;  /* %c */
        const char *unit;          /* %u */
        const char *cgroup;        /* %g */
} CommandVars;

#define COMMAND_ERROR_MAX 256

/* Checks a Command= template for rung (RUNG_TRIM or RUNG_RESTART): a program that is named (no specifier in
 * the first word), and only the specifiers of the table that this rung offers. The meanings of the two
 * dialects before this language (%c the cgroup path in [Trim], %p the cgroup path in [Restart]) are refused
 * with a message that names the new one. Returns 0; -EINVAL with a message for the user in ret_error (a
 * sentence without the key, e.g. "unknown specifier %n (known: ...)"). */
int command_check(const char *tmpl, Rung rung, char *ret_error, size_t size);

/* Splits tmpl at blanks and expands the specifiers of every word. Returns 0 with a NULL-terminated malloc'd
 * argv (strv_free()); -EINVAL for an empty template, an unknown specifier or a lone '%' at the end;
 * -ENODATA when a specifier is used whose value is missing (ret_missing, if given, gets its letter);
 * -ENOMEM. It does not check the rung's table: the loader did (command_check()). */
int command_expand(const char *tmpl, const CommandVars *v, char ***ret_argv, char *ret_missing);
