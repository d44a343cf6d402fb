/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
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

/* p at a number: the byte after it ('-'? digits ('.' digits)? ([eE] [+-]? digits)?; leading zeros let
 * through), or NULL. */
static const char *skip_number(const char *p, const char *end)
{
        const char *d;

        if (p < end && *p == '-')
                p++;
        for (d = p; p < end && *p >= '0' && *p <= '9'; p++)
                ;
        if (p == d)
                return NULL;
        if (p < end && *p == '.') {
                for (d = ++p; p < end && *p >= '0' && *p <= '9'; p++)
                        ;
                if (p == d)
                        return NULL;
        }
        if (p < end && (*p == 'e' || *p == 'E')) {
                p++;
                if (p < end && (*p == '+' || *p == '-'))
                        p++;
                for (d = p; p < end && *p >= '0' && *p <= '9'; p++)
                        ;
                if (p == d)
                        return NULL;
        }
        return p;
}

static const char *skip_literal(const char *p, const char *end, const char *word)
{
        size_t n = strlen(word);
        return end - p >= (ptrdiff_t) n && memcmp(p, word, n) == 0 ? p + n : NULL;
}

static const char *skip_value_depth(const char *p, const char *end, unsigned depth, unsigned depth_max)
{
        p = skip_ws(p, end);
        if (!p || p >= end || depth > depth_max)
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
                        p = skip_ws(skip_value_depth(p, end, depth + 1, depth_max), end);
                        if (!p || p >= end)
                                return NULL;
                        if (*p == close)
                                return p + 1;
                        if (*p != ',')
                                return NULL;
                        p++;
                }
        }
        case 't':
                return skip_literal(p, end, "true");
        case 'f':
                return skip_literal(p, end, "false");
        case 'n':
                return skip_literal(p, end, "null");
        default:
                return skip_number(p, end);
        }
}

const char *json_skip_value(const char *p, const char *end)
{
        return p ? skip_value_depth(p, end, 0, JSON_DEPTH_MAX) : NULL;
}

const char *json_skip_value_depth(const char *p, const char *end, unsigned depth_max)
{
        return p ? skip_value_depth(p, end, 0, depth_max < JSON_DEPTH_MAX ? depth_max : JSON_DEPTH_MAX) : NULL;
}

bool json_string_is(const char *p, const char *end, const char *s)
{
        p = skip_ws(p, end);
        if (!p || !s)
                return false;
        size_t n = strlen(s);
        return end - p >= (ptrdiff_t) n + 2 && p[0] == '"' && memcmp(p + 1, s, n) == 0 && p[n + 1] == '"';
}

const char *json_object_first(const char *p, const char *end)
{
        p = skip_ws(p, end);
        if (!p || p >= end || *p != '{')
                return NULL;
        p = skip_ws(p + 1, end);
        return p < end && *p == '"' ? p : NULL;
}

const char *json_member_value(const char *member, const char *end)
{
        const char *p = skip_ws(skip_string(skip_ws(member, end), end), end);
        if (!p || p >= end || *p != ':')
                return NULL;
        p = skip_ws(p + 1, end);
        return p < end ? p : NULL;
}

const char *json_object_next(const char *member, const char *end)
{
        const char *p = skip_ws(json_skip_value(json_member_value(member, end), end), end);
        if (!p || p >= end || *p != ',')
                return NULL;
        p = skip_ws(p + 1, end);
        return p < end && *p == '"' ? p : NULL;
}

const char *json_object_get(const char *p, const char *end, const char *key)
{
        if (!key)
                return NULL;
        for (const char *m = json_object_first(p, end); m; m = json_object_next(m, end))
                if (json_string_is(m, end, key))
                        return json_member_value(m, end);
        return NULL;
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

int json_uint64(const char *p, const char *end, uint64_t *ret)
{
        uint64_t v = 0;
        bool overflow = false;

        p = skip_ws(p, end);
        const char *e = p && p < end && *p >= '0' && *p <= '9' ? skip_number(p, end) : NULL;
        if (!e)
                return -EINVAL;
        for (; p < e && *p >= '0' && *p <= '9'; p++) {
                unsigned d = (unsigned) (*p - '0');
                if (v > (UINT64_MAX - d) / 10)
                        overflow = true;
                else
                        v = v * 10 + d;
        }
        if (p != e)
                return -EINVAL; /* a fraction or an exponent */
        if (overflow)
                return -ERANGE;
        *ret = v;
        return 0;
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

int json_string_copy(const char *p, const char *end, char *buf, size_t size)
{
        char *s = NULL;
        int r;

        if (!buf || size == 0)
                return -EINVAL;
        r = json_string_dup(p, end, &s);
        if (r < 0)
                return r;
        size_t n = strlen(s);
        r = n >= size;
        if (r) {
                /* Cut before the character that does not fit whole: s[n] is the first byte left out. */
                n = size - 1;
                while (n > 0 && ((unsigned char) s[n] & 0xc0) == 0x80)
                        n--;
        }
        memcpy(buf, s, n);
        buf[n] = 0;
        free(s);
        return r;
}
