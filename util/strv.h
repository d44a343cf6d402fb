/* SPDX-License-Identifier: MIT */
/* util/strv.h: NULL-terminated string vectors. */
#pragma once

#include <stddef.h>

/* Appends a copy of s. Returns 0, or -ENOMEM. */
int strv_extend(char ***l, const char *s);
size_t strv_length(char *const *l);
void strv_free(char **l);
static inline void strv_freep(char ***l)
{
        strv_free(*l);
}
#define _cleanup_strv_free_ __attribute__((cleanup(strv_freep)))
