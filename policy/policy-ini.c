/* SPDX-License-Identifier: MIT */
/* policy/policy-ini.c: the one file that calls inih (policy-parse.h). inih's conventions are translated here
 * and nowhere else:
 * - its handler returns nonzero on success: ini_handler_cb() maps our 0 / -errno onto 1 / 0;
 * - ini_parse_stream() returns the line of the first error it saw itself (a syntax error): that becomes
 *   -EINVAL with ConfigError.line;
 * - we feed it lines through our own reader, which counts lines (so the handler knows its line without
 *   the compile-time INI_HANDLER_LINENO option, which Debian's build lacks), strips leading whitespace
 *   (so Debian's INI_ALLOW_MULTILINE never sees a continuation line: an indented line is an ordinary
 *   line, as in systemd), refuses lines longer than inih's buffer instead of letting them be split, and
 *   refuses unknown [Section] headers at their own line (inih does not report section lines). */
#include <ini.h>
#include <string.h>

#include "policy-parse.h"
#include "util/macro.h"

/* Where inih would end a section name: at "]" or at an inline comment (";" after whitespace). */
static const char *section_end(const char *s)
{
        bool was_space = false;

        for (; *s; s++) {
                if (*s == ']')
                        return s;
                if (*s == ';' && was_space)
                        return NULL;
                was_space = is_blank(*s);
        }
        return NULL;
}

/* Does inih find "=" or ":" in this line before an inline comment (";" after whitespace)? */
static bool has_separator(const char *s)
{
        bool was_space = false;

        for (; *s; s++) {
                if (*s == '=' || *s == ':')
                        return true;
                if (*s == ';' && was_space)
                        return false;
                was_space = is_blank(*s);
        }
        return false;
}

/* Linting: hand inih an empty line instead of one already reported. Not linting: end the parse. */
static char *skip_line(ParseContext *c, char *str)
{
        if (!c->on_error)
                return NULL;
        str[0] = '\0';
        return str;
}

static void syntax_error_message(ParseContext *c, const char *text)
{
        if (text[0] == '[')
                parse_error(c, "syntax error: section header without \"]\": \"%.60s\"", text);
        else
                parse_error(c, "syntax error: expected [Section], Key=Value or a comment: \"%.60s\"", text);
}

static void line_text(const char *buf, size_t size, unsigned line, char *ret, size_t ret_size);

/* Linting: a line inih would reject, reported here (inih reports only the first) and skipped. The text
 * quoted is the one config_parse_buffer() quotes for inih's own finding. */
static char *syntax_error(ParseContext *c, char *str)
{
        char text[64];
        line_text(c->buf, c->size, c->line, text, sizeof text);
        syntax_error_message(c, text);
        return skip_line(c, str);
}

static char *ini_reader_cb(char *str, int num, void *stream)
{
        ParseContext *c = stream;

        /* Linting goes on after an error (but not after running out of memory). */
        if ((c->error < 0 && (!c->on_error || c->error == -ENOMEM)) || c->pos >= c->size || num < 2)
                return NULL;

        const char *start = c->buf + c->pos;
        size_t left = c->size - c->pos;
        const char *nl = memchr(start, '\n', left);
        size_t len = nl ? (size_t) (nl - start) : left;

        c->pos += len + (nl ? 1 : 0);
        c->line++;
        c->colon_separator = false;

        if (memchr(start, '\0', len)) {
                parse_error(c, "line contains a NUL byte");
                return skip_line(c, str);
        }
        if (c->line == 1 && len >= 3 && memcmp(start, "\xEF\xBB\xBF", 3) == 0) { /* UTF-8 BOM */
                start += 3;
                len -= 3;
        }
        /* No continuation lines: an indented line is an ordinary line. */
        while (len > 0 && is_blank(*start)) {
                start++;
                len--;
        }
        while (len > 0 && is_blank(start[len - 1]))
                len--;
        if (len > (size_t) num - 1) {
                parse_error(c, "line too long (%zu characters, at most %d): repeat the key to spread a list "
                            "over several lines",
                            len, num - 1);
                return skip_line(c, str);
        }
        memcpy(str, start, len);
        str[len] = '\0';

        if (str[0] == '[') {
                const char *e = section_end(str + 1);
                if (e) {
                        _cleanup_free_ char *name = strndup(str + 1, (size_t) (e - str - 1));
                        if (!name) {
                                parse_oom(c);
                                return NULL;
                        }
                        if (!config_section_known(c->kind, name)) {
                                parse_error(c, "unknown section [%s] (known: %s)", name, config_sections_known(c->kind));
                                if (!c->on_error)
                                        return NULL;
                                return str; /* its keys are not errors of their own (config_parse_assignment) */
                        }
                        if (streq(name, "Match")) {
                                c->seen_match_section = true;
                                c->match_line = c->line;
                        }
                }
                else if (c->on_error) /* inih would stop reporting after its first syntax error */
                        return syntax_error(c, str);
                /* else: inih reports the syntax error */
        } else if (str[0] && str[0] != ';' && str[0] != '#') {
                /* inih splits at the first "=" or ":"; we only take "=". */
                size_t k = strcspn(str, "=:");
                c->colon_separator = str[k] == ':';
                if (c->on_error && !has_separator(str))
                        return syntax_error(c, str);
        }
        return str;
}

static int ini_handler_cb(void *user, const char *section, const char *name, const char *value)
{
        ParseContext *c = user;

        if (!name) /* a build with INI_CALL_HANDLER_ON_NEW_SECTION: the reader handled the header */
                return 1;
        /* The one translation of our errno style into inih's: nonzero is success. Linting, the error is
         * reported already: inih's own return value is then left to the syntax errors the reader missed. */
        return config_parse_assignment(c, section ?: "", name, value ?: "") >= 0 || c->on_error;
}

/* The text of line `line` of buf, for syntax error messages. */
static void line_text(const char *buf, size_t size, unsigned line, char *ret, size_t ret_size)
{
        const char *p = buf, *end = buf + size;

        for (unsigned i = 1; i < line && p < end; i++) {
                const char *nl = memchr(p, '\n', (size_t) (end - p));
                p = nl ? nl + 1 : end;
        }
        const char *nl = memchr(p, '\n', (size_t) (end - p));
        size_t len = (nl ? nl : end) - p;
        while (len > 0 && is_blank(*p)) {
                p++;
                len--;
        }
        snprintf(ret, ret_size, "%.*s", (int) MIN(len, (size_t) 60), p);
}

int config_parse_buffer(ParseContext *c)
{
        int r = ini_parse_stream(ini_reader_cb, c, ini_handler_cb, c);
        if (r == -2)
                return parse_oom(c);
        if (r > 0 && c->on_error) {
                /* Linting: the reader reported the lines it knew inih rejects; this one it did not. */
                char text[64];
                line_text(c->buf, c->size, (unsigned) r, text, sizeof text);
                c->line = (unsigned) r;
                syntax_error_message(c, text);
        } else if (r > 0 && (c->error >= 0 || (unsigned) r < c->err.line)) {
                /* inih's own finding, earlier than ours */
                char text[64];
                line_text(c->buf, c->size, (unsigned) r, text, sizeof text);
                c->error = -EINVAL;
                snprintf(c->err.file, sizeof c->err.file, "%s", c->path);
                c->err.line = (unsigned) r;
                if (text[0] == '[')
                        snprintf(c->err.message, sizeof c->err.message,
                                 "syntax error: section header without \"]\": \"%s\"", text);
                else
                        snprintf(c->err.message, sizeof c->err.message,
                                 "syntax error: expected [Section], Key=Value or a comment: \"%s\"", text);
        }
        return c->error;
}
