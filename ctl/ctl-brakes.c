/* SPDX-License-Identifier: MIT */
/* memwardenctl release-brakes: removes the memory.high brakes a memwardend instance set, from its saved
 * state (<StateDirectory>/state, daemon/state-file.h), without the daemon. The unit runs it as ExecStopPost=, so
 * that a daemon that crashed, was SIGKILLed or timed out leaves no brake behind: a brake with nobody acting
 * livelocks the unit it throttles (docs/design.md, "The brake"). A brake is removed only where memory.high still holds
 * the value memwardend wrote to the same cgroup (same inode): a value someone set since is theirs. Brakes
 * set through systemd are removed through systemd (SetUnitProperties), so that a later daemon-reload does
 * not bring them back; cgroupfs is the fallback. The state file is then rewritten without the brakes; the
 * cooldowns in it stay for the next instance. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-bus.h>

#include "ctl-brakes.h"
#include "daemon/bus-systemd.h"
#include "daemon/state-file.h"
#include "policy/policy.h"
#include "util/macro.h"

static int cmp_saved(const void *a, const void *b)
{
        return strcmp((*(SavedGuard *const *) a)->path, (*(SavedGuard *const *) b)->path);
}

void release_brakes_help(void)
{
        printf("Usage: memwardenctl release-brakes [--state-dir=DIR] [--cgroup-root=DIR] [-c FILE]\n"
               "\n"
               "Remove the memory.high brakes memwardend set, from its saved state, while the\n"
               "daemon does not run (memwardend.service runs this as ExecStopPost=).\n");
}

int verb_release_brakes(const CtlArgs *a, char **operands)
{
        const char *state_dir = a->state_dir, *cgroup_root = a->cgroup_root, *conf = a->config;

        /* StateDirectory= and CgroupRoot= from the daemon's settings; defaults when they cannot be read. */
        Config *cfg = NULL;
        ConfigError err = {};
        static const char *const no_dirs[] = { NULL };
        if (config_load(conf, no_dirs, &cfg, &err) < 0)
                cfg = NULL;
        if (!state_dir)
                state_dir = cfg && cfg->daemon.state_dir && cfg->daemon.state_dir[0] ? cfg->daemon.state_dir :
                                                                                     "/run/memwarden";
        if (!cgroup_root && cfg)
                cgroup_root = cfg->daemon.cgroup_root;

        Hashmap *h = NULL;
        int r = state_read(state_dir, NULL, &h);
        if (r < 0) {
                fprintf(stderr, "Cannot read %s/%s: %s\n", state_dir, STATE_FILE_NAME, strerror(-r));
                config_free(cfg);
                return EXIT_FAILURE;
        }

        size_t n = hashmap_size(h), k = 0, n_brakes = 0;
        SavedGuard **list = calloc(n ?: 1, sizeof *list);
        if (!list) {
                saved_state_free(h);
                config_free(cfg);
                return EXIT_FAILURE;
        }
        void *v;
        HashmapIter i = HASHMAP_ITER_INIT;
        while (hashmap_iterate(h, &i, &v, NULL)) {
                list[k++] = v;
                n_brakes += ((SavedGuard *) v)->brake;
        }
        qsort(list, k, sizeof *list, cmp_saved);

        int ret = EXIT_SUCCESS;
        _cleanup_free_ char *root_path = NULL;
        if (n_brakes == 0)
                printf("No memory.high brake of memwardend to release.\n");
        else {
                CgroupRoot *root = NULL;
                r = cgroup_root_open(cgroup_root, NULL, &root);
                if (r < 0) {
                        fprintf(stderr, "Cannot open the cgroup hierarchy: %s\n", strerror(-r));
                        ret = EXIT_FAILURE;
                } else {
                        root_path = root->root_path ? strdup(root->root_path) : NULL;
                        sd_bus *bus = NULL;
                        (void) bus_connect_systemd(&bus); /* none: cgroupfs only */
                        for (size_t j = 0; j < k; j++) {
                                SavedGuard *s = list[j];
                                if (!s->brake)
                                        continue;
                                r = state_release_brake(bus, root, s);
                                if (r < 0) {
                                        fprintf(stderr, "%s: cannot remove the memory.high brake: %s\n", s->path,
                                                strerror(-r));
                                        ret = EXIT_FAILURE;
                                        continue; /* kept in the file: the next instance tries again */
                                }
                                if (r > 0) {
                                        char orig[32];
                                        if (s->brake_original == CGROUP_LIMIT_MAX)
                                                strcpy(orig, "max");
                                        else
                                                snprintf(orig, sizeof orig, "%" PRIu64, s->brake_original);
                                        printf("%s: memory.high brake removed (memory.high=%s, via %s)\n", s->path,
                                                orig, s->brake_via_dbus && bus ? "systemd" : "cgroupfs");
                                } else
                                        printf("%s: brake gone already (cgroup removed or memory.high changed)\n",
                                                s->path);
                                s->brake = false;
                        }
                        sd_bus_flush_close_unref(bus);
                        cgroup_root_free(root);
                }
                r = state_write(state_dir, root_path, list, k);
                if (r < 0) {
                        fprintf(stderr, "Cannot rewrite %s/%s: %s\n", state_dir, STATE_FILE_NAME, strerror(-r));
                        ret = EXIT_FAILURE;
                }
        }
        free(list);
        saved_state_free(h);
        config_free(cfg);
        return ret;
}
