/* SPDX-License-Identifier: MIT */
/* util/json-read.h: reading a few values out of JSON text that other programs wrote (podman's
 * containers.json, docker's config.v2.json, OCI config.json). No tree is built: values are found by
 * scanning [p, end), which need not be NUL-terminated. Malformed input, nesting deeper than
 * JSON_DEPTH_MAX and strings with a NUL escape are refused, never read past end. */
#pragma once

#include <stddef.h>

#define JSON_DEPTH_MAX 32

/* Skips whitespace and one value. Returns the first byte after it, or NULL if malformed. */
const char *json_skip_value(const char *p, const char *end);
/* p points at (whitespace before) an object: returns its member key's value (whitespace skipped), or NULL
 * when p is no object, the key is absent or the object is malformed before the key. */
const char *json_object_get(const char *p, const char *end, const char *key);
/* p points at (whitespace before) an array: its first element, or NULL when empty or no array. */
const char *json_array_first(const char *p, const char *end);
/* elem points at an array element: the next element, or NULL after the last one or when malformed. */
const char *json_array_next(const char *elem, const char *end);
/* Decodes the string value at p (whitespace before it skipped) into a NUL-terminated UTF-8 copy. Returns 0,
 * -EINVAL when it is no string or malformed (or holds \u0000), -ENOMEM. */
int json_string_dup(const char *p, const char *end, char **ret);
