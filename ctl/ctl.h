/* SPDX-License-Identifier: MIT */
/* ctl/ctl.h: how memwardenctl's verbs get their arguments. memwardenctl.c parses the whole command line once
 * (options may come before or after the verb and its operands), checks the operand count and that each
 * option given is one the verb takes, and calls the verb with the parsed options and its operands. */
#pragma once

#include <stdbool.h>

/* One bit per option, so that a verb can say which it takes. */
typedef enum CtlOption {
        CTL_OPT_JSON = 1U << 0,
        CTL_OPT_QUIET = 1U << 1,
        CTL_OPT_CONFIG = 1U << 2,
        CTL_OPT_POLICY_DIR = 1U << 3,
        CTL_OPT_SOCKET = 1U << 4,
        CTL_OPT_TOP = 1U << 5,
        CTL_OPT_FILES = 1U << 6,
        CTL_OPT_INFO = 1U << 7,
        CTL_OPT_CGROUP_ROOT = 1U << 8, /* hidden, with proc-root, trim-dir, state-dir: tests use fixtures */
        CTL_OPT_PROC_ROOT = 1U << 9,
        CTL_OPT_TRIM_DIR = 1U << 10,
        CTL_OPT_STATE_DIR = 1U << 11,
        CTL_OPT_INJECT = 1U << 12,    /* trim --inject and its options (ctl/ctl-inject.c) */
        CTL_OPT_REPORT = 1U << 13,
        CTL_OPT_NO_MALLINFO = 1U << 14,
        CTL_OPT_TIMEOUT = 1U << 15,
} CtlOption;

typedef struct CtlArgs {
        unsigned given; /* CtlOption bits seen on the command line */
        bool json, quiet, info;
        const char *config;   /* -c: daemon settings (check, release-brakes) */
        char **policy_dirs;   /* -p, repeatable (check); NULL: the defaults */
        const char *socket;   /* the daemon's control socket (status, reload) */
        long top, files;      /* map */
        const char *cgroup_root, *proc_root, *trim_dir, *state_dir; /* NULL: the system's */
        bool inject, report, no_mallinfo; /* trim --inject */
        double timeout_sec;               /* trim --inject --timeout; 0: the default */
} CtlArgs;

/* Each verb gets the parsed options and its operands (a NULL-terminated vector, the count already checked)
 * and returns the exit status: 0; 1 failure; 2 bad usage; 3 the daemon cannot be reached. */
typedef int (*CtlVerbFunction)(const CtlArgs *a, char **operands);
