/* SPDX-License-Identifier: MIT */
/* libFuzzer harness for trim_report_parse() (cgroup/cgroup-trim.c, reading with util/json-read.c) that runs
 * as root on reports other users' processes write into /run/memwarden/trim. Input: a NUL-terminated copy,
 * as trim_report_read() hands it over (it refuses files over TRIM_REPORT_FILE_MAX). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz-util.h"
#include "cgroup/cgroup-trim.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        if (size > TRIM_REPORT_FILE_MAX)
                return 0;
        char *buf = fuzz_cstring(data, size);
        if (!buf)
                return 0;

        TrimReport r;
        memset(&r, 0xAA, sizeof r); /* written only on success: garbage must not leak into a result */
        if (trim_report_parse(buf, &r) == 0) {
                /* The strings are terminated within their arrays. */
                if (!memchr(r.comm, 0, sizeof r.comm) || !memchr(r.allocator, 0, sizeof r.allocator))
                        abort();
                /* Parsing is a pure function of the input. */
                TrimReport again;
                if (trim_report_parse(buf, &again) != 0 || again.pid != r.pid || again.released != r.released ||
                    again.rss_before != r.rss_before || again.is_info != r.is_info)
                        abort();
        }
        free(buf);
        return 0;
}
