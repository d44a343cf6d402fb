/* SPDX-License-Identifier: MIT */
/* libFuzzer harness for the parsers of outside input in cgroup/: every input goes through each of them
 * (they are cheap), as a NUL-terminated copy, like read_full_file_at() hands them over.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -I. -Ibuild \
 *         tests/fuzz/fuzz-cgroup-parse.c cgroup/cgroup-parse.c cgroup/cgroup-unit.c util/strv.c \
 *         -o fuzz-cgroup-parse
 *   ./fuzz-cgroup-parse -max_total_time=30 tests/fixtures/cgroup/files */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz-util.h"
#include "cgroup/cgroup-parse.h"
#include "cgroup/cgroup-unit.h"
#include "util/strv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        char *buf = fuzz_cstring(data, size);
        if (!buf)
                return 0;

        uint64_t v;
        (void) cgroup_parse_u64(buf, &v);

        Psi psi;
        if (psi_parse(buf, &psi) == 0 && !(psi.some.avg10 >= 0))
                abort(); /* no negative or NaN percentages */

        MemoryEvents e;
        (void) memory_events_parse(buf, &e);

        MemoryStat st;
        (void) memory_stat_parse(buf, &st);

        ProcStatus ps;
        if (proc_status_parse(buf, &ps) == 0 && ps.tgid <= 0)
                abort();

        char *cg = NULL;
        if (proc_cgroup_parse_unified(buf, &cg) == 0 && cg[0] != '/')
                abort();
        free(cg);

        pid_t *pids = NULL;
        int n = cgroup_procs_parse(buf, &pids);
        for (int i = 0; i < n; i++)
                for (int j = 0; j < i; j++)
                        if (pids[i] == pids[j] || pids[i] <= 0)
                                abort(); /* not deduplicated */
        free(pids);

        (void) cgroup_controllers_has(buf, "memory");

        char **mounts = NULL;
        (void) mountinfo_cgroup2_mounts(buf, &mounts);
        strv_free(mounts);

        CgroupIdentity id;
        if (cgroup_identity_from_path(buf, &id) == 0) {
                if (id.container_id && strlen(id.container_id) != 64)
                        abort();
                cgroup_identity_done(&id);
        }

        free(buf);
        return 0;
}
