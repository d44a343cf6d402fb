/* SPDX-License-Identifier: MIT */
/* policy/policy-parse.h: what the three files of the loader share (not installed, not for other layers).
 *   policy-load.c    the value parsers, the key tables, the whole-file checks: a buffer -> Policy/DaemonConfig
 *   policy-ini.c     the one file that calls inih: it feeds the buffer line by line to the key tables
 *   policy-search.c  the files: reading them (with the security checks), policy.d search with masking */
#pragma once

#include <stdbool.h>
#include <string.h>

#include "policy.h"

typedef enum ConfigKind {
        CONFIG_KIND_POLICY,
        CONFIG_KIND_DAEMON,
} ConfigKind;

typedef struct ParseContext {
        ConfigKind kind;
        const char *path;

        /* the input, handed to inih line by line */
        const char *buf;
        size_t size, pos;
        unsigned line;        /* the line inih is working on */
        bool colon_separator; /* that line is "Key: Value" (inih accepts it, we do not) */

        /* the first error */
        int error;
        ConfigError err;
        /* policy_lint_buffer(): every error goes here too, and parsing goes on after one */
        config_error_cb_t on_error;
        void *on_error_userdata;

        /* what is being built */
        Policy *policy;
        DaemonConfig *daemon;
        Policy policy_defaults;

        /* where things were said, for the checks after the whole file is read */
        bool seen_match_section;
        unsigned match_line;
        bool ladder_set;
        unsigned ladder_line;
        unsigned settle_line[_RUNG_MAX], cooldown_line[_RUNG_MAX];
        unsigned trim_command_line;
} ParseContext;

static inline bool is_blank(char c)
{
        return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

static inline bool string_endswith(const char *s, const char *suffix)
{
        size_t a = strlen(s), b = strlen(suffix);
        return a >= b && streq(s + a - b, suffix);
}

/* policy-load.c. An error at c->line: kept as the first (c->err) and, when linting, reported. -EINVAL. */
_printf_(2, 3) int parse_error(ParseContext *c, const char *fmt, ...);
/* Out of memory: kept as the first error. -ENOMEM. */
int parse_oom(ParseContext *c);
/* Is [section] one of the kind's? And the list of them, for the error message. */
bool config_section_known(ConfigKind kind, const char *section);
const char *config_sections_known(ConfigKind kind);
/* One Key=Value of [section] into the struct being built. 0 or -EINVAL/-ENOMEM (through parse_error()). */
int config_parse_assignment(ParseContext *c, const char *section, const char *key, const char *value);

/* policy-ini.c. Runs inih over c->buf. Returns 0 or the first error (c->err filled in). */
int config_parse_buffer(ParseContext *c);
