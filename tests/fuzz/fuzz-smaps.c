/* SPDX-License-Identifier: MIT */
/* libFuzzer harness for smaps_parse() (cgroup/cgroup-map-smaps.c): /proc/PID/smaps_rollup of any process
 * in a guarded cgroup, and the full /proc/PID/smaps summed. Input: a NUL-terminated copy, as
 * read_full_file_at() hands it over. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz-util.h"
#include "cgroup/cgroup-map.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        char *buf = fuzz_cstring(data, size);
        if (!buf)
                return 0;

        SmapsRollup one, sum;
        int a = smaps_parse(buf, false, &one);
        int b = smaps_parse(buf, true, &sum);
        /* A rollup (every key once) reads the same as a sum over that one "mapping". */
        if (a == 0 && (b != 0 || one.rss != sum.rss || one.pss != sum.pss || one.pss_anon != sum.pss_anon ||
                       one.pss_file != sum.pss_file || one.pss_shmem != sum.pss_shmem ||
                       one.shared_clean != sum.shared_clean || one.shared_dirty != sum.shared_dirty ||
                       one.private_clean != sum.private_clean || one.private_dirty != sum.private_dirty ||
                       one.anonymous != sum.anonymous || one.lazyfree != sum.lazyfree || one.swap != sum.swap ||
                       one.swap_pss != sum.swap_pss || one.has_pss_anon != sum.has_pss_anon))
                abort();
        free(buf);
        return 0;
}
