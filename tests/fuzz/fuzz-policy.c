/* SPDX-License-Identifier: MIT */
/* libFuzzer harness for the policy and daemon config parsers (policy/policy-load.c, policy-ini.c, policy-units.c).
 *
 * The first byte picks the parser (even: policy file, odd: memwarden.conf); the rest is the file. A policy
 * that loads must dump to INI that loads again and dumps the same (the dump is what `memwardenctl check`
 * shows and what the golden tests compare).
 *
 * Build and run (from the source root):
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -I. -Ibuild-policy \
 *       tests/fuzz/fuzz-policy.c policy/policy-units.c policy/policy.c policy/policy-load.c \
 *       policy/policy-ini.c policy/policy-search.c policy/policy-command.c \
 *       util/log.c util/strv.c $(pkg-config --cflags --libs inih libsystemd) -o fuzz-policy
 *   mkdir -p /tmp/corpus && cp -r tests/fixtures/policy/good etc/policy.d /tmp/corpus/
 *   ./fuzz-policy -dict=tests/fuzz/fuzz-policy.dict -max_total_time=30 /tmp/corpus/new /tmp/corpus/good
 * (seed files lack the selector byte: their first character is taken as it, which is fine.) */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "policy/policy.h"

static char *dump(const Policy *p, size_t *ret_size)
{
        char *buf = NULL;
        FILE *f = open_memstream(&buf, ret_size);
        if (!f)
                abort();
        policy_dump(p, f);
        fclose(f);
        return buf;
}

typedef struct LintFirst {
        unsigned n;
        ConfigError first;
} LintFirst;

static void lint_first(const ConfigError *e, void *userdata)
{
        LintFirst *l = userdata;
        if (l->n++ == 0)
                l->first = *e;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        ConfigError err;

        if (size < 1)
                return 0;
        const char *buf = (const char *) data + 1;
        size--;

        if (data[0] & 1) {
                DaemonConfig d;
                if (daemon_config_load_buffer("fuzz.conf", buf, size, &d, &err) >= 0) {
                        FILE *f = fopen("/dev/null", "we");
                        if (f) {
                                daemon_config_dump(&d, f);
                                fclose(f);
                        }
                        daemon_config_done(&d);
                }
                return 0;
        }

        Policy *p = NULL;
        int r = policy_load_buffer("/fuzz/policy.d/fuzz.conf", buf, size, &p, &err);

        /* The linter (memwardenctl check FILE...) agrees with the loader: errors iff the load fails, and
         * the first error it finds is the one the loader reports. */
        LintFirst lf = {};
        int k = policy_lint_buffer("/fuzz/policy.d/fuzz.conf", buf, size, lint_first, &lf);
        if (r != -ENOMEM && k != -ENOMEM &&
            ((r < 0) != (lf.n > 0) ||
             (r < 0 && (lf.first.line != err.line || strcmp(lf.first.message, err.message) != 0)))) {
                fprintf(stderr, "lint and load disagree: load %d line %u '%s'; lint %u errors, first line %u '%s'\n",
                        r, err.line, err.message, lf.n, lf.first.line, lf.first.message);
                abort();
        }
        if (r < 0)
                return 0;

        size_t n1, n2;
        char *d1 = dump(p, &n1);
        Policy *q = NULL;
        if (policy_load_buffer("/fuzz/policy.d/fuzz.conf", d1, n1, &q, &err) < 0) {
                fprintf(stderr, "dump does not load again: line %u: %s\n%s", err.line, err.message, d1);
                abort();
        }
        char *d2 = dump(q, &n2);
        if (n1 != n2 || memcmp(d1, d2, n1) != 0) {
                fprintf(stderr, "dump is not stable:\n%s\n---\n%s", d1, d2);
                abort();
        }

        /* matching must not crash on anything */
        (void) policy_matches(p, "/system.slice/a.service", "a.service", "system.slice", true);
        (void) policy_matches(p, "/", NULL, NULL, false);

        free(d1);
        free(d2);
        policy_free(q);
        policy_free(p);
        return 0;
}
