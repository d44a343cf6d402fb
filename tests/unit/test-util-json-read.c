/* SPDX-License-Identifier: MIT */
/* util/json-read: the depth bound, strict literals and numbers, walking an object member by member,
 * integers and bounded string copies. end is honoured: a value cut by end is malformed. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "util/json-read.h"

static const char *end_of(const char *s)
{
        return s + strlen(s);
}

Test(json_read, skip_depth)
{
        const char *s = "[[[1]]]", *empty = "[[[]]]";
        cr_assert_eq(json_skip_value_depth(s, end_of(s), 3), end_of(s));
        cr_assert_null(json_skip_value_depth(s, end_of(s), 2)); /* the 1 is at depth 3 */
        cr_assert_eq(json_skip_value_depth(empty, end_of(empty), 2), end_of(empty));
        /* Never beyond JSON_DEPTH_MAX, whatever is asked. */
        char deep[2 * (JSON_DEPTH_MAX + 2) + 1] = "";
        for (int i = 0; i < JSON_DEPTH_MAX + 2; i++)
                strcat(deep, "[");
        for (int i = 0; i < JSON_DEPTH_MAX + 2; i++)
                strcat(deep, "]");
        cr_assert_null(json_skip_value_depth(deep, end_of(deep), 1000));
        cr_assert_null(json_skip_value(deep, end_of(deep)));
}

Test(json_read, literals_and_numbers)
{
        static const char *const good[] = { "true", "false", "null", "0", "-0", "007", "1.5", "-2e10", "3E+2",
                                             "4.25e-1" };
        static const char *const bad[] = { "tru", "nul", "fals", "t", "-", "1.", ".5", "1e", "1e+", "+1", "x" };
        for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
                cr_assert_eq(json_skip_value(good[i], end_of(good[i])), end_of(good[i]), "refused: %s", good[i]);
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
                cr_assert_null(json_skip_value(bad[i], end_of(bad[i])), "accepted: %s", bad[i]);
        /* "true" cut by end is no literal. */
        cr_assert_null(json_skip_value("true", end_of("true") - 1));
        /* A value ends where its grammar ends: what follows is the caller's to judge. */
        const char *s = "12-3";
        cr_assert_eq(json_skip_value(s, end_of(s)), s + 2);
}

Test(json_read, object_members)
{
        const char *s = " { \"a\" : 1 , \"b\":{\"a\":2}, \"a\":[3] } ", *end = end_of(s), *m, *v;
        char keys[8] = "";

        for (m = json_object_first(s, end); m; m = json_object_next(m, end)) {
                cr_assert_not_null(json_member_value(m, end));
                strcat(keys, json_string_is(m, end, "a") ? "a" : json_string_is(m, end, "b") ? "b" : "?");
        }
        cr_assert_str_eq(keys, "aba"); /* in order, the repeated key included */
        v = json_object_get(s, end, "a");
        cr_assert_eq(*v, '1'); /* json_object_get: the first */
        cr_assert_eq(*json_object_get(json_object_get(s, end, "b"), end, "a"), '2');
        cr_assert_null(json_object_get(s, end, "c"));
        cr_assert_null(json_object_first("{}", end_of("{}")));
        cr_assert_null(json_object_first("[1]", end_of("[1]")));
        /* Malformed after a member: the walk stops there. */
        const char *bad = "{\"a\":1 \"b\":2}";
        m = json_object_first(bad, end_of(bad));
        cr_assert_not_null(m);
        cr_assert_null(json_object_next(m, end_of(bad)));
        cr_assert_null(json_object_get(bad, end_of(bad), "b"));
        /* json_string_is compares as written, and only strings. */
        cr_assert(json_string_is(" \"trim\"", end_of(" \"trim\""), "trim"));
        cr_assert_not(json_string_is("\"tr\\u0069m\"", end_of("\"tr\\u0069m\""), "trim"));
        cr_assert_not(json_string_is("\"trims\"", end_of("\"trims\""), "trim"));
        cr_assert_not(json_string_is("\"trim", end_of("\"trim"), "trim"));
        cr_assert_not(json_string_is("trim", end_of("trim"), "trim"));
}

Test(json_read, uint64)
{
        uint64_t v = 7;
        cr_assert_eq(json_uint64(" 18446744073709551615", end_of(" 18446744073709551615"), &v), 0);
        cr_assert_eq(v, UINT64_MAX);
        cr_assert_eq(json_uint64("0", end_of("0"), &v), 0);
        cr_assert_eq(v, 0);
        v = 7;
        cr_assert_eq(json_uint64("18446744073709551616", end_of("18446744073709551616"), &v), -ERANGE);
        static const char *const bad[] = { "-1", "1.5", "1e3", "\"1\"", "true", "", "x", "99999999999999999999.5" };
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
                cr_assert_eq(json_uint64(bad[i], end_of(bad[i]), &v), -EINVAL, "accepted: %s", bad[i]);
        cr_assert_eq(v, 7); /* written only on success */
        /* end cuts the number: what is left is read. */
        cr_assert_eq(json_uint64("123", end_of("123") - 1, &v), 0);
        cr_assert_eq(v, 12);
}

Test(json_read, string_copy)
{
        char buf[6];
        const char *s = "\"ab\\n\\u00e9\"";
        cr_assert_eq(json_string_copy(s, end_of(s), buf, sizeof buf), 0);
        cr_assert_str_eq(buf, "ab\n\xc3\xa9");
        /* "abcd" + a 2-byte character into 6 bytes: the character does not fit whole and is left out. */
        s = "\"abcd\\u00e9\"";
        cr_assert_eq(json_string_copy(s, end_of(s), buf, sizeof buf), 1);
        cr_assert_str_eq(buf, "abcd");
        /* A 4-byte character (a surrogate pair) after one byte, into 4 bytes. */
        s = "\"a\\ud83d\\ude00\"";
        cr_assert_eq(json_string_copy(s, end_of(s), buf, 4), 1);
        cr_assert_str_eq(buf, "a");
        cr_assert_eq(json_string_copy(s, end_of(s), buf, sizeof buf), 0);
        cr_assert_str_eq(buf, "a\xf0\x9f\x98\x80");
        static const char *const bad[] = { "\"a\\u0000\"", "\"\\x\"", "\"abc", "12", "\"\\ud83d\"" };
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
                cr_assert_eq(json_string_copy(bad[i], end_of(bad[i]), buf, sizeof buf), -EINVAL, "accepted: %s",
                             bad[i]);
        cr_assert_eq(json_string_copy("\"a\"", end_of("\"a\""), buf, 0), -EINVAL);
}
