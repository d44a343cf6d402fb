/* SPDX-License-Identifier: MIT */
/* libFuzzer harness for state_parse() (daemon/state-file.c): the state file memwardend and
 * `memwardenctl release-brakes` (as root) read back. Every entry it returns must format (state_format_guard())
 * to a line that parses to an entry formatting the same again. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz-util.h"
#include "daemon/state-file.h"

#define BOOT "0123456789abcdef0123456789abcdef"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char *format(const SavedGuard *s, size_t *ret_len)
{
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        if (!f)
                abort();
        fputs("memwarden-state 1\nboot " BOOT "\n", f);
        state_format_guard(f, s);
        if (fclose(f) != 0)
                abort();
        *ret_len = len;
        return buf;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        if (size > 1024 * 1024)
                return 0;
        char *buf = fuzz_cstring(data, size);
        if (!buf)
                return 0;

        Hashmap *h = NULL;
        /* Both a file of this boot and hierarchy, and one filtered by root. */
        if (state_parse(buf, BOOT, NULL, &h) == 0) {
                void *v;
                HashmapIter i = HASHMAP_ITER_INIT;
                while (hashmap_iterate(h, &i, &v, NULL)) {
                        size_t n1, n2;
                        char *once = format(v, &n1);
                        Hashmap *h2 = NULL;
                        if (state_parse(once, BOOT, NULL, &h2) != 0 || hashmap_size(h2) != 1) {
                                fprintf(stderr, "formatted entry does not parse again:\n%s", once);
                                abort();
                        }
                        void *w;
                        HashmapIter j = HASHMAP_ITER_INIT;
                        if (!hashmap_iterate(h2, &j, &w, NULL))
                                abort();
                        char *twice = format(w, &n2);
                        if (n1 != n2 || memcmp(once, twice, n1) != 0) {
                                fprintf(stderr, "not stable:\n%s---\n%s", once, twice);
                                abort();
                        }
                        free(once);
                        free(twice);
                        saved_state_free(h2);
                }
                saved_state_free(h);
        }
        if (state_parse(buf, BOOT, "/sys/fs/cgroup", &h) == 0)
                saved_state_free(h);
        free(buf);
        return 0;
}
