/* SPDX-License-Identifier: MIT */
/* policy/policy-units.h: human units used everywhere in the configuration. Pure. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "util/macro.h"

/* "150ms", "30s", "2min", "1h", "1.5s", "500us", "1s 500ms"; a bare number is seconds.
 * Returns 0; -EINVAL (empty, unknown unit such as "10 parsecs", negative), -ERANGE (overflow). */
int parse_time(const char *s, usec_t *ret);

/* "256M", "1G", "512K", "4096", "1.5G", "256MiB", "256MB" (K/M/G/T are all powers of 1024, as in systemd).
 * Returns 0; -EINVAL, -ERANGE. */
int parse_size(const char *s, uint64_t *ret);

/* A size or a share: "90%" (relative to something the key names) or a size as parse_size() takes.
 * Percent accepts decimals ("12.5%"), range 0..100. */
typedef struct Quantity {
        bool is_percent;
        double percent;  /* when is_percent */
        uint64_t bytes;  /* otherwise */
} Quantity;
int parse_quantity(const char *s, Quantity *ret);
/* Resolves q against base (e.g. memory.max). Percent of CGROUP_LIMIT_MAX (UINT64_MAX) yields UINT64_MAX. */
uint64_t quantity_resolve(const Quantity *q, uint64_t base);

/* "10%", "12.5%" (0..100) -> percent. Returns 0, -EINVAL, -ERANGE. */
int parse_percent(const char *s, double *ret);

/* yes/no/true/false/on/off/1/0. Returns 0/1, or -EINVAL. */
int parse_boolean(const char *s);

/* Formatting for dumps and alerts: "150ms", "30s", "2min 30s"; "256M", "1.5G"; "90%". The buffer is
 * returned. Formats so that parse_* of the output gives the value back (time and exact sizes). */
#define FORMAT_TIME_MAX 64
#define FORMAT_SIZE_MAX 32
const char *format_time(char *buf, size_t size, usec_t t);
const char *format_size(char *buf, size_t size, uint64_t bytes);
const char *format_quantity(char *buf, size_t size, const Quantity *q);
