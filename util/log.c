/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <systemd/sd-journal.h>

#include "log.h"

static int max_level = LOG_INFO;
static LogTarget target = LOG_TARGET_AUTO;
static int journal_resolved = -1;

static const char *const level_names[] = {
        [LOG_EMERG] = "emerg", [LOG_ALERT] = "alert", [LOG_CRIT] = "crit", [LOG_ERR] = "err",
        [LOG_WARNING] = "warning", [LOG_NOTICE] = "notice", [LOG_INFO] = "info", [LOG_DEBUG] = "debug",
};

void log_set_target(LogTarget t)
{
        target = t;
        journal_resolved = -1;
}

void log_set_max_level(int level)
{
        max_level = level;
}

int log_get_max_level(void)
{
        return max_level;
}

int log_level_from_string(const char *s)
{
        if (!s)
                return -EINVAL;
        for (size_t i = 0; i < ELEMENTSOF(level_names); i++)
                if (streq(s, level_names[i]))
                        return (int) i;
        if (streq(s, "error"))
                return LOG_ERR;
        if (s[0] >= '0' && s[0] <= '7' && s[1] == 0)
                return s[0] - '0';
        return -EINVAL;
}

const char *log_level_to_string(int level)
{
        if (level < 0 || level >= (int) ELEMENTSOF(level_names))
                return NULL;
        return level_names[level];
}

/* $JOURNAL_STREAM is "DEV:INO" of the stream systemd connected stdout/stderr to. */
static bool stderr_is_journal(void)
{
        const char *e = getenv("JOURNAL_STREAM");
        if (!e)
                return false;
        unsigned long long dev, ino;
        if (sscanf(e, "%llu:%llu", &dev, &ino) != 2)
                return false;
        struct stat st;
        if (fstat(STDERR_FILENO, &st) < 0)
                return false;
        return st.st_dev == (dev_t) dev && st.st_ino == (ino_t) ino;
}

bool log_to_journal(void)
{
        static bool warned;

        if (journal_resolved < 0)
                journal_resolved = target == LOG_TARGET_JOURNAL ||
                        (target == LOG_TARGET_AUTO && stderr_is_journal());
        if (!journal_resolved)
                return false;
        /* sd_journal_send() drops a message silently when journald does not listen (ENOENT): journald stopped
         * or not started yet, a container without it. Then stderr, so that nothing is lost unseen. */
        if (access("/run/systemd/journal/socket", F_OK) < 0) {
                if (!warned)
                        fprintf(stderr, "journald is not listening (/run/systemd/journal/socket: %s): logging "
                                        "to stderr\n", strerror(errno));
                warned = true;
                return false;
        }
        warned = false;
        return true;
}

int log_internal(int level, int error, const char *file, int line, const char *func, const char *fmt, ...)
{
        int saved = errno;
        int e = error < 0 ? -error : error;
        char msg[2048];
        va_list ap;

        errno = e; /* so %m prints the error we were given */
        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);

        int q = -ENOTCONN;
        if (log_to_journal()) {
                char cf[256], cl[32];
                snprintf(cf, sizeof cf, "CODE_FILE=%s", file);
                snprintf(cl, sizeof cl, "CODE_LINE=%d", line);
                if (e > 0)
                        q = sd_journal_send("MESSAGE=%s", msg, "PRIORITY=%i", level, "ERRNO=%i", e, cf, cl,
                                "CODE_FUNC=%s", func, NULL);
                else
                        q = sd_journal_send("MESSAGE=%s", msg, "PRIORITY=%i", level, cf, cl, "CODE_FUNC=%s",
                                func, NULL);
        }
        /* Not to the journal, or journald is not there (stopped, not started yet, a container without it):
         * stderr, so that nothing is lost silently. */
        if (q < 0)
                fprintf(stderr, "%s\n", msg);

        errno = saved;
        return e > 0 ? -e : 0;
}
