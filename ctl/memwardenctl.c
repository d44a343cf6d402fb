/* SPDX-License-Identifier: MIT */
/* memwardenctl: the operator's CLI. check validates configuration offline; status and reload talk to the
 * running daemon over its control socket (daemon/control.c explains why a socket). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "config.h"
#include "policy/policy.h"
#include "util/macro.h"
#include "util/strv.h"
#include "ctl-map.h"
#include "ctl-trim.h"
#include "ctl-brakes.h"

#define CONTROL_SOCKET_DEFAULT "/run/memwarden/control"

static bool arg_json;
static const char *arg_socket;
static const char *arg_config = MAIN_CONFIG_DEFAULT;
static char **arg_policy_dirs;
static bool arg_quiet;

static void help(void)
{
        printf("Usage: memwardenctl [OPTIONS] COMMAND [ARGS...]\n"
               "\n"
               "Commands:\n"
               "  check [FILE...]   validate policy files (default: the whole configuration the daemon\n"
               "                    would load) and print the effective policy with every default;\n"
               "                    exit status 1 and file:line on the first error\n"
               "  status            what the running daemon guards and the state of each cgroup\n"
               "  reload            make the daemon reload its configuration (root); a broken\n"
               "                    configuration is rejected and the running one stays\n"
               "  map CGROUP|UNIT   where the cgroup's memory went, per kind, process, allocator and\n"
               "                    cached file, with a diagnosis (--json, --top N, --files N; see\n"
               "                    memwardenctl map --help)\n"
               "  trim [--info] CGROUP|PID...\n"
               "                    ask the processes to release free allocator memory now (SIGRTMIN+18,\n"
               "                    only to those that handle it) and print what each released; --info\n"
               "                    asks for the allocator's view instead (0x301), which map then shows\n"
               "  enroll UNIT       preload libmemwarden-trim.so into UNIT (a drop-in; restart the unit)\n"
               "  unenroll UNIT     remove that drop-in\n"
               "  release-brakes    remove the memory.high brakes memwardend set, from its saved state,\n"
               "                    while it does not run (the unit's ExecStopPost=; root)\n"
               "\n"
               "Options:\n"
               "      --json            machine-readable output (status)\n"
               "  -q, --quiet           check: print errors only\n"
               "  -c, --config=FILE     daemon settings for check (default " MAIN_CONFIG_DEFAULT ")\n"
               "  -p, --policy-dir=DIR  policy directory for check; repeatable, earlier masks later\n"
               "      --socket=PATH     the daemon's control socket (default " CONTROL_SOCKET_DEFAULT ")\n"
               "  -h, --help            show this help\n"
               "  -V, --version         show the version\n"
               "\n"
               "See memwardenctl(1), memwarden.policy(5).\n");
}

static void print_error(const ConfigError *err)
{
        if (err->file[0] && err->line > 0)
                fprintf(stderr, "%s:%u: %s\n", err->file, err->line, err->message);
        else if (err->file[0])
                fprintf(stderr, "%s: %s\n", err->file, err->message);
        else
                fprintf(stderr, "%s\n", err->message);
}

static int verb_check(char **files)
{
        Config *c = NULL;
        ConfigError err = {};
        int r;

        if (strv_length(files) > 0)
                r = config_load_files(files, &c, &err);
        else
                r = config_load(arg_config,
                        arg_policy_dirs ? (const char *const *) arg_policy_dirs : POLICY_DIRS_DEFAULT, &c, &err);
        if (r < 0) {
                print_error(&err);
                return EXIT_FAILURE;
        }
        if (!arg_quiet) {
                if (strv_length(files) > 0)
                        for (size_t i = 0; i < c->n_policies; i++)
                                policy_dump(c->policies[i], stdout);
                else
                        config_dump(c, stdout);
        }
        config_free(c);
        return EXIT_SUCCESS;
}

/* Sends one request line and copies the reply to stdout. Returns the exit status. */
static int request(const char *line, bool reply_is_verdict)
{
        const char *path = arg_socket ?: CONTROL_SOCKET_DEFAULT;
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        if (strlen(path) >= sizeof sa.sun_path) {
                fprintf(stderr, "Socket path too long: %s\n", path);
                return EXIT_FAILURE;
        }
        strcpy(sa.sun_path, path);

        _cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0 || connect(fd, (struct sockaddr *) &sa, sizeof sa) < 0) {
                fprintf(stderr, "Cannot reach memwardend at %s: %m (is memwardend.service running?)\n", path);
                return 3;
        }
        struct timeval tv = { .tv_sec = 30 };
        (void) setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);

        char req[300];
        snprintf(req, sizeof req, "%s\n", line);
        if (send(fd, req, strlen(req), MSG_NOSIGNAL) < 0) {
                fprintf(stderr, "Cannot send to memwardend: %m\n");
                return EXIT_FAILURE;
        }
        char buf[65536];
        bool first = true, error = false;
        for (;;) {
                ssize_t k = recv(fd, buf, sizeof buf, 0);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        fprintf(stderr, "Reading the reply failed: %m\n");
                        return EXIT_FAILURE;
                }
                if (k == 0)
                        break;
                if (first && reply_is_verdict && k >= 6 && !memcmp(buf, "error:", 6))
                        error = true;
                first = false;
                fwrite(buf, 1, (size_t) k, error ? stderr : stdout);
        }
        if (first) {
                fprintf(stderr, "memwardend closed the connection without a reply\n");
                return EXIT_FAILURE;
        }
        return error ? EXIT_FAILURE : EXIT_SUCCESS;
}

int main(int argc, char *argv[])
{
        enum { ARG_JSON = 0x100, ARG_SOCKET };
        static const struct option options[] = {
                { "json", no_argument, NULL, ARG_JSON },
                { "quiet", no_argument, NULL, 'q' },
                { "config", required_argument, NULL, 'c' },
                { "policy-dir", required_argument, NULL, 'p' },
                { "socket", required_argument, NULL, ARG_SOCKET },
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, 'V' },
                {}
        };
        int c;

        /* map has options of its own (ctl/ctl-map.c). */
        if (argv_verb_is_map(argc, argv))
                return verb_map(argc, argv);
        /* release-brakes has options of its own too (ctl/ctl-brakes.c). */
        if (argc >= 2 && streq(argv[1], "release-brakes"))
                return verb_release_brakes(argc - 1, argv + 1);
        /* trim takes --info (ctl/ctl-trim.c). */
        if (argc >= 3 && streq(argv[1], "trim") && streq(argv[2], "--info"))
                return verb_trim(argv + 2);

        while ((c = getopt_long(argc, argv, "qc:p:hV", options, NULL)) >= 0) {
                switch (c) {
                case ARG_JSON:
                        arg_json = true;
                        break;
                case 'q':
                        arg_quiet = true;
                        break;
                case 'c':
                        arg_config = optarg;
                        break;
                case 'p':
                        if (strv_extend(&arg_policy_dirs, optarg) < 0)
                                return EXIT_FAILURE;
                        break;
                case ARG_SOCKET:
                        arg_socket = optarg;
                        break;
                case 'h':
                        help();
                        return EXIT_SUCCESS;
                case 'V':
                        printf("memwardenctl %s\n", PACKAGE_VERSION);
                        return EXIT_SUCCESS;
                default:
                        fprintf(stderr, "Try 'memwardenctl --help'.\n");
                        return 2;
                }
        }
        if (optind >= argc) {
                help();
                return 2;
        }
        const char *verb = argv[optind];
        char **rest = argv + optind + 1;
        size_t n_rest = (size_t) (argc - optind - 1);

        if (streq(verb, "check"))
                return verb_check(rest);
        if (streq(verb, "status") && n_rest == 0)
                return request(arg_json ? "status json" : "status", false);
        if (streq(verb, "reload") && n_rest == 0)
                return request("reload", true);
        if (streq(verb, "trim") && n_rest > 0)
                return verb_trim(rest);
        if (streq(verb, "enroll") && n_rest == 1)
                return verb_enroll(rest[0]);
        if (streq(verb, "unenroll") && n_rest == 1)
                return verb_unenroll(rest[0]);
        if (streq(verb, "help"))
                return help(), EXIT_SUCCESS;

        fprintf(stderr, "Unknown command or wrong arguments: %s. Try 'memwardenctl --help'.\n", verb);
        return 2;
}
