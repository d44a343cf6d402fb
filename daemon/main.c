/* SPDX-License-Identifier: MIT */
/* memwardend: guard cgroups against the OOM killer. Everything but argument parsing lives in the
 * static library (daemon/manager.c and friends). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "daemon/manager.h"
#include "util/log.h"
#include "util/strv.h"

/* Exit codes (documented in memwardend(8)). */
#define EXIT_USAGE 2
#define EXIT_CONFIG 6 /* LSB "program is not configured": the configuration was rejected */
#define EXIT_NO_CGROUP2 7

static void help(void)
{
        printf("Usage: memwardend [OPTIONS]\n"
               "\n"
               "Guard cgroups against the kernel OOM killer: watch PSI and memory.events, and apply the\n"
               "gentlest action the policy allows (alert, reclaim, kill; see memwarden.policy(5)).\n"
               "Normally started by systemd as memwardend.service.\n"
               "\n"
               "Options:\n"
               "  -c, --config=FILE         daemon settings (default " MAIN_CONFIG_DEFAULT ")\n"
               "  -p, --policy-dir=DIR      policy directory; repeat for several, earlier masks later\n"
               "                            (default /etc/memwarden/policy.d /run/memwarden/policy.d\n"
               "                             /usr/lib/memwarden/policy.d)\n"
               "      --cgroup-root=DIR     cgroup2 mount (default: found through libcgroup)\n"
               "      --proc-root=DIR       procfs (default /proc)\n"
               "      --host-root=DIR       where container and pod names are read: var/log/pods,\n"
               "                            var/lib/containers, ... below DIR (default /)\n"
               "      --control-socket=PATH control socket (default /run/memwarden/control)\n"
               "  -n, --dry-run             decide and log, but change nothing\n"
               "  -l, --log-level=LEVEL     debug, info, notice, warning, err (default: LogLevel=, info)\n"
               "      --log-target=TARGET   auto, journal or stderr (default auto)\n"
               "  -h, --help                show this help\n"
               "  -V, --version             show the version\n"
               "\n"
               "Signals: SIGHUP reloads the configuration (a broken one is rejected with file:line and the\n"
               "running one stays); SIGTERM/SIGINT restore memory.high brakes and exit.\n"
               "Exit status: 0 ok, 1 failure, 2 bad usage, 6 configuration rejected, 7 no cgroup v2.\n");
}

/* The guard must stay resident when everything else is reclaimed. MemoryMin= protects what is charged to
 * its cgroup, but not its shared-library pages that another cgroup faulted in first: under a global OOM in
 * the VM its RssFile fell from 2.5 to 1.4 MiB and it refaulted them (test-own-pressure). With an unlimited
 * RLIMIT_MEMLOCK (the unit's LimitMEMLOCK=infinity) every page it has and every page it faults later is
 * locked; MCL_ONFAULT never faults in what it does not touch. With a finite limit MCL_FUTURE would make
 * malloc() fail once the limit is reached, so nothing is locked then. Transparent huge pages are off for
 * it (inherited by Command= children, harmless for them): a khugepaged merge grew its RSS by 1.3-1.8 MiB
 * at random moments in the churn test. */
static void lock_memory(void)
{
        struct rlimit rl;

        if (prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0) < 0)
                log_debug_errno(-errno, "PR_SET_THP_DISABLE failed: %m");
        if (getrlimit(RLIMIT_MEMLOCK, &rl) < 0 || rl.rlim_cur != RLIM_INFINITY) {
                log_debug("RLIMIT_MEMLOCK is limited: not locking memory");
                return;
        }
        if (mlockall(MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT) < 0)
                log_info_errno(-errno, "Cannot lock memwardend's memory (%m): its pages may be reclaimed under "
                                       "pressure, ignoring");
        else
                log_debug("Memory locked (mlockall on fault)");
}

int main(int argc, char *argv[])
{
        enum { ARG_CGROUP_ROOT = 0x100, ARG_PROC_ROOT, ARG_CONTROL_SOCKET, ARG_LOG_TARGET, ARG_HOST_ROOT };
        static const struct option options[] = {
                { "config", required_argument, NULL, 'c' },
                { "policy-dir", required_argument, NULL, 'p' },
                { "cgroup-root", required_argument, NULL, ARG_CGROUP_ROOT },
                { "proc-root", required_argument, NULL, ARG_PROC_ROOT },
                { "host-root", required_argument, NULL, ARG_HOST_ROOT },
                { "control-socket", required_argument, NULL, ARG_CONTROL_SOCKET },
                { "dry-run", no_argument, NULL, 'n' },
                { "log-level", required_argument, NULL, 'l' },
                { "log-target", required_argument, NULL, ARG_LOG_TARGET },
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, 'V' },
                {}
        };
        Manager *m = NULL;
        int c, r;

        r = manager_new(&m);
        if (r < 0) {
                fprintf(stderr, "Out of memory.\n");
                return EXIT_FAILURE;
        }

        while ((c = getopt_long(argc, argv, "c:p:nl:hV", options, NULL)) >= 0) {
                switch (c) {
                case 'c':
                        free(m->main_conf);
                        m->main_conf = strdup(optarg);
                        break;
                case 'p':
                        if (strv_extend(&m->policy_dirs, optarg) < 0)
                                return EXIT_FAILURE;
                        break;
                case ARG_CGROUP_ROOT:
                        m->cgroup_root_arg = strdup(optarg);
                        break;
                case ARG_PROC_ROOT:
                        m->proc_root_arg = strdup(optarg);
                        break;
                case ARG_HOST_ROOT:
                        closep(&m->host_fd);
                        m->host_fd = open(optarg, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                        if (m->host_fd < 0) {
                                fprintf(stderr, "memwardend: cannot open --host-root %s: %m\n", optarg);
                                return EXIT_FAILURE;
                        }
                        break;
                case ARG_CONTROL_SOCKET:
                        m->control_socket_arg = strdup(optarg);
                        break;
                case 'n':
                        m->dry_run_arg = true;
                        break;
                case 'l':
                        r = log_level_from_string(optarg);
                        if (r < 0) {
                                fprintf(stderr, "memwardend: invalid log level '%s'\n", optarg);
                                return EXIT_USAGE;
                        }
                        log_set_max_level(r);
                        setenv("MEMWARDEN_LOG_LEVEL_FORCED", "1", 1);
                        break;
                case ARG_LOG_TARGET:
                        if (streq(optarg, "auto"))
                                log_set_target(LOG_TARGET_AUTO);
                        else if (streq(optarg, "journal"))
                                log_set_target(LOG_TARGET_JOURNAL);
                        else if (streq(optarg, "stderr") || streq(optarg, "console"))
                                log_set_target(LOG_TARGET_STDERR);
                        else {
                                fprintf(stderr, "memwardend: invalid log target '%s'\n", optarg);
                                return EXIT_USAGE;
                        }
                        break;
                case 'h':
                        help();
                        manager_free(m);
                        return EXIT_SUCCESS;
                case 'V':
                        printf("memwardend %s\n", PACKAGE_VERSION);
                        manager_free(m);
                        return EXIT_SUCCESS;
                default:
                        fprintf(stderr, "Try 'memwardend --help'.\n");
                        return EXIT_USAGE;
                }
        }
        if (optind < argc) {
                fprintf(stderr, "memwardend: unexpected argument '%s'. Try 'memwardend --help'.\n", argv[optind]);
                return EXIT_USAGE;
        }

        r = manager_startup(m);
        if (r >= 0)
                lock_memory();
        if (r == -EINVAL) {
                manager_free(m);
                return EXIT_CONFIG;
        }
        if (r == -ENOMEDIUM) {
                manager_free(m);
                return EXIT_NO_CGROUP2;
        }
        if (r < 0) {
                manager_free(m);
                return EXIT_FAILURE;
        }
        r = manager_run(m);
        manager_free(m);
        return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
