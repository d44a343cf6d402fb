/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json-read.h"

static const char *skip_ws(const char *p, const char *end)
{
        while (p && p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
                p++;
        return p;
}

/* p at the opening quote: the byte after the closing quote, or NULL. */
static const char *skip_string(const char *p, const char *end)
{
        if (p >= end || *p != '"')
                return NULL;
        for (p++; p < end; p++) {
                if (*p == '"')
                        return p + 1;
                if ((unsigned char) *p < 0x20)
                        return NULL;
                if (*p == '\\') {
                        if (++p >= end)
                                return NULL;
                        if (*p == 'u') {
                                if (end - p < 5)
                                        return NULL;
                                p += 4;
                        }
                }
        }
        return NULL;
}

static const char *skip_value_depth(const char *p, const char *end, unsigned depth)
{
        p = skip_ws(p, end);
        if (!p || p >= end || depth > JSON_DEPTH_MAX)
                return NULL;
        switch (*p) {
        case '"':
                return skip_string(p, end);
        case '{':
        case '[': {
                char close = *p == '{' ? '}' : ']';
                bool object = *p == '{';
                p = skip_ws(p + 1, end);
                if (p < end && *p == close)
                        return p + 1;
                for (;;) {
                        if (object) {
                                p = skip_string(skip_ws(p, end), end);
                                p = skip_ws(p, end);
                                if (!p || p >= end || *p != ':')
                                        return NULL;
                                p++;
                        }
                        p = skip_ws(skip_value_depth(p, end, depth + 1), end);
                        if (!p || p >= end)
                                return NULL;
                        if (*p == close)
                                return p + 1;
                        if (*p != ',')
                                return NULL;
                        p++;
                }
        }
        default: {
                /* numbers, true, false, null: a run of their characters */
                const char *s = p;
                while (p < end && strchr("0123456789+-.eEtruefalsn", *p) && *p)
                        p++;
                return p > s ? p : NULL;
        }
        }
}

const char *json_skip_value(const char *p, const char *end)
{
        return p ? skip_value_depth(p, end, 0) : NULL;
}

/* Compares the string at p (a quote) with key, without decoding escapes (keys we look for have none). */
static bool string_is(const char *p, const char *end, const char *key)
{
        size_t n = strlen(key);
        return end - p >= (ptrdiff_t) n + 2 && p[0] == '"' && memcmp(p + 1, key, n) == 0 && p[n + 1] == '"';
}

const char *json_object_get(const char *p, const char *end, const char *key)
{
        p = skip_ws(p, end);
        if (!p || !key || p >= end || *p != '{')
                return NULL;
        p = skip_ws(p + 1, end);
        if (p < end && *p == '}')
                return NULL;
        for (;;) {
                const char *k = skip_ws(p, end);
                p = skip_ws(skip_string(k, end), end);
                if (!p || p >= end || *p != ':')
                        return NULL;
                p = skip_ws(p + 1, end);
                if (string_is(k, end, key))
                        return p < end ? p : NULL;
                p = skip_ws(json_skip_value(p, end), end);
                if (!p || p >= end || *p != ',')
                        return NULL;
                p++;
        }
}

const char *json_array_first(const char *p, const char *end)
{
        p = skip_ws(p, end);
        if (!p || p >= end || *p != '[')
                return NULL;
        p = skip_ws(p + 1, end);
        return p < end && *p != ']' ? p : NULL;
}

const char *json_array_next(const char *elem, const char *end)
{
        const char *p = skip_ws(json_skip_value(elem, end), end);
        if (!p || p >= end || *p != ',')
                return NULL;
        p = skip_ws(p + 1, end);
        return p < end ? p : NULL;
}

static int hex4(const char *p, unsigned *ret)
{
        unsigned v = 0;
        for (int i = 0; i < 4; i++) {
                char c = p[i];
                v <<= 4;
                if (c >= '0' && c <= '9')
                        v |= (unsigned) (c - '0');
                else if (c >= 'a' && c <= 'f')
                        v |= (unsigned) (c - 'a' + 10);
                else if (c >= 'A' && c <= 'F')
                        v |= (unsigned) (c - 'A' + 10);
                else
                        return -EINVAL;
        }
        *ret = v;
        return 0;
}

static size_t put_utf8(char *o, unsigned cp)
{
        if (cp < 0x80) {
                o[0] = (char) cp;
                return 1;
        }
        if (cp < 0x800) {
                o[0] = (char) (0xc0 | (cp >> 6));
                o[1] = (char) (0x80 | (cp & 0x3f));
                return 2;
        }
        if (cp < 0x10000) {
                o[0] = (char) (0xe0 | (cp >> 12));
                o[1] = (char) (0x80 | ((cp >> 6) & 0x3f));
                o[2] = (char) (0x80 | (cp & 0x3f));
                return 3;
        }
        o[0] = (char) (0xf0 | (cp >> 18));
        o[1] = (char) (0x80 | ((cp >> 12) & 0x3f));
        o[2] = (char) (0x80 | ((cp >> 6) & 0x3f));
        o[3] = (char) (0x80 | (cp & 0x3f));
        return 4;
}

int json_string_dup(const char *p, const char *end, char **ret)
{
        p = skip_ws(p, end);
        const char *e = p ? skip_string(p, end) : NULL;
        if (!e)
                return -EINVAL;
        /* Every escape decodes to at most as many bytes as it takes ("\uXXXX" 6 -> at most 3, a surrogate
         * pair 12 -> 4). */
        char *s = malloc((size_t) (e - p)), *o = s;
        if (!s)
                return -ENOMEM;
        for (p++; p < e - 1; p++) {
                if (*p != '\\') {
                        *o++ = *p;
                        continue;
                }
                p++;
                unsigned cp;
                switch (*p) {
                case '"': case '\\': case '/':
                        *o++ = *p;
                        break;
                case 'b': *o++ = '\b'; break;
                case 'f': *o++ = '\f'; break;
                case 'n': *o++ = '\n'; break;
                case 'r': *o++ = '\r'; break;
                case 't': *o++ = '\t'; break;
                case 'u':
                        if (hex4(p + 1, &cp) < 0 || cp == 0)
                                goto bad;
                        p += 4;
                        if (cp >= 0xd800 && cp < 0xdc00) {
                                unsigned lo;
                                if (e - 1 - p < 7 || p[1] != '\\' || p[2] != 'u' || hex4(p + 3, &lo) < 0 ||
                                    lo < 0xdc00 || lo >= 0xe000)
                                        goto bad;
                                p += 6;
                                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                        } else if (cp >= 0xdc00 && cp < 0xe000)
                                goto bad;
                        o += put_utf8(o, cp);
                        break;
                default:
                        goto bad;
                }
        }
        *o = 0;
        *ret = s;
        return 0;
bad:
        free(s);
        return -EINVAL;
}
