/* SPDX-License-Identifier: MIT */
/* util/json-read.h: reading a few values out of JSON text that other programs wrote (podman's
 * containers.json, docker's config.v2.json, OCI config.json, the trim library's reports). No tree is built: values are found by
 * scanning [p, end), which need not be NUL-terminated. Malformed input, nesting deeper than
 * JSON_DEPTH_MAX and strings with a NUL escape are refused, never read past end. The literals true, false,
 * null and numbers are checked as JSON writes them (leading zeros let through). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JSON_DEPTH_MAX 32

/* Skips whitespace and one value. Returns the first byte after it, or NULL if malformed. */
const char *json_skip_value(const char *p, const char *end);
/* The same with nesting refused beyond depth_max (at most JSON_DEPTH_MAX): the outermost value is depth 0,
 * the values it holds depth 1, and so on. */
const char *json_skip_value_depth(const char *p, const char *end, unsigned depth_max);
/* p points at (whitespace before) an object: returns its member key's value (whitespace skipped), or NULL
 * when p is no object, the key is absent or the object is malformed before the key. */
const char *json_object_get(const char *p, const char *end, const char *key);
/* p points at (whitespace before) an object: its first member (the key's opening quote), or NULL when the
 * object is empty or p is no object. Members are visited in order, duplicates included. */
const char *json_object_first(const char *p, const char *end);
/* member points at a member: the next member, or NULL after the last one or when malformed. */
const char *json_object_next(const char *member, const char *end);
/* member points at a member: its value (whitespace skipped), or NULL when malformed. */
const char *json_member_value(const char *member, const char *end);
/* Whether the string at p (whitespace before it skipped) is s as written (escapes are not decoded; false
 * when p is no string). */
bool json_string_is(const char *p, const char *end, const char *s);
/* p points at (whitespace before) an array: its first element, or NULL when empty or no array. */
const char *json_array_first(const char *p, const char *end);
/* elem points at an array element: the next element, or NULL after the last one or when malformed. */
const char *json_array_next(const char *elem, const char *end);
/* Decodes the string value at p (whitespace before it skipped) into a NUL-terminated UTF-8 copy. Returns 0,
 * -EINVAL when it is no string or malformed (or holds \u0000), -ENOMEM. */
int json_string_dup(const char *p, const char *end, char **ret);
/* Decodes the string value at p into buf (size > 0), cut at a UTF-8 character boundary when it does not fit.
 * Returns 0, 1 when cut, -EINVAL as json_string_dup(), -ENOMEM. */
int json_string_copy(const char *p, const char *end, char *buf, size_t size);
/* Reads the number at p (whitespace before it skipped): a plain decimal integer. Returns 0, -EINVAL when it
 * is no number or has a sign, fraction or exponent, -ERANGE beyond 2^64-1. */
int json_uint64(const char *p, const char *end, uint64_t *ret);
