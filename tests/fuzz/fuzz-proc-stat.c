/* SPDX-License-Identifier: MIT */
/* libFuzzer harness for proc_stat_parse_starttime() (cgroup/cgroup-restart.c): /proc/PID/stat, whose comm
 * field the process chooses (") " included). Input: a NUL-terminated copy. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz-util.h"
#include "cgroup/cgroup-restart.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        char *buf = fuzz_cstring(data, size);
        if (!buf)
                return 0;

        uint64_t t = 0;
        if (proc_stat_parse_starttime(buf, &t) == 0) {
                /* Only what follows the last ')' counts: a prefix up to it cannot change the answer. */
                const char *close = strrchr(buf, ')');
                if (!close)
                        abort();
                size_t n = strlen(close);
                char *other = malloc(n + 4);
                if (!other)
                        abort();
                memcpy(other, "1 (", 3);
                memcpy(other + 3, close, n + 1);
                uint64_t u = 0;
                if (proc_stat_parse_starttime(other, &u) != 0 || u != t)
                        abort();
                free(other);
        }
        free(buf);
        return 0;
}
