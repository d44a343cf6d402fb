/* SPDX-License-Identifier: MIT */
/* memwardenctl: the operator's CLI. check validates configuration offline; status and reload talk to the
 * running daemon over its control socket (daemon/control.c explains why a socket). */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
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
#include "ctl.h"
#include "ctl-map.h"
#include "ctl-inject.h"
#include "ctl-trim.h"
#include "ctl-brakes.h"
#include "ctl-check.h"

#define CONTROL_SOCKET_DEFAULT "/run/memwarden/control"

static void help(void)
{
        printf("Usage: memwardenctl [OPTIONS] COMMAND [ARGS...]\n"
               "\n"
               "Commands:\n"
               "  check [FILE...]   validate policy files (default: the whole configuration the daemon\n"
               "                    would load) and print the effective policy with every default;\n"
               "                    exit status 1 and file:line: every error of the given\n"
               "                    files, or the first one of the whole configuration\n"
               "  status            what the running daemon guards and the state of each cgroup\n"
               "  metrics           the running daemon's metrics, Prometheus text format (the same\n"
               "                    series as memwarden.conf MetricsFile=, live)\n"
               "  reload            make the daemon reload its configuration (root); a broken\n"
               "                    configuration is rejected and the running one stays\n"
               "  map CGROUP|UNIT   where the cgroup's memory went, per kind, process, allocator and\n"
               "                    cached file, with a diagnosis (--json, --top N, --files N; see\n"
               "                    memwardenctl map --help)\n"
               "  trim [--info] UNIT|CGROUP|PID...\n"
               "                    ask the processes to release free allocator memory now (SIGRTMIN+18,\n"
               "                    only to those that handle it) and print what each released; --info\n"
               "                    asks for the allocator's view instead (0x301), which map then shows\n"
               "  trim --inject [--report] [--no-mallinfo] [--timeout SEC] UNIT|CGROUP|PID...\n"
               "                    call malloc_trim(0) (glibc) or purge all arenas (jemalloc) inside each\n"
               "                    process through ptrace, no preload or restart needed; prints what each\n"
               "                    released or why it was refused (root: CAP_SYS_PTRACE)\n"
               "  enroll UNIT       preload libmemwarden-trim.so into UNIT (a drop-in; restart the unit)\n"
               "  unenroll UNIT     remove that drop-in\n"
               "  release-brakes    remove the memory.high brakes memwardend set, from its saved state,\n"
               "                    while it does not run (the unit's ExecStopPost=; root)\n"
               "\n"
               "Options:\n"
               "      --json            machine-readable output (status, map)\n"
               "  -q, --quiet           check: print errors only\n"
               "  -c, --config=FILE     daemon settings for check (default " MAIN_CONFIG_DEFAULT ")\n"
               "  -p, --policy-dir=DIR  policy directory for check; repeatable, earlier masks later\n"
               "      --socket=PATH     the daemon's control socket (default " CONTROL_SOCKET_DEFAULT ")\n"
               "  -h, --help            show this help\n"
               "  -V, --version         show the version\n"
               "\n"
               "Options go before or after the command; a command rejects options it does not take.\n"
               "'memwardenctl COMMAND --help' shows a command's own options. A UNIT is a name ending in\n"
               ".service, .scope, .slice, .socket, .mount or .swap; a CGROUP a path in the cgroup2 hierarchy.\n"
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

typedef struct LintErrors {
        ConfigError *v;
        size_t n, cap;
        bool oom;
} LintErrors;

static void lint_collect(const ConfigError *e, void *userdata)
{
        LintErrors *l = userdata;
        if (l->n == l->cap) {
                size_t cap = l->cap ? l->cap * 2 : 16;
                ConfigError *v = realloc(l->v, cap * sizeof *v);
                if (!v) {
                        l->oom = true;
                        return;
                }
                l->v = v;
                l->cap = cap;
        }
        l->v[l->n++] = *e;
}

static int lint_compare(const void *x, const void *y)
{
        const ConfigError *a = x, *b = y;
        /* By line; the array index breaks ties, so the order found is kept for one line (a stable sort). */
        if (a->line != b->line)
                return a->line < b->line ? -1 : 1;
        return a < b ? -1 : a > b;
}

/* check FILE...: every error of every file, as a linter (each file's in line order). Returns the exit
 * status: 0 when all are clean (nothing printed), 1 otherwise. */
static int lint_files(char **files)
{
        LintErrors l = {};
        size_t n_files = 0, n_bad = 0, n_errors = 0;

        for (char **f = files; *f; f++, n_files++) {
                l.n = 0;
                int r = policy_lint_file(*f, lint_collect, &l);
                if (r == -ENOMEM || l.oom) {
                        fprintf(stderr, "%s: out of memory\n", *f);
                        free(l.v);
                        return EXIT_FAILURE;
                }
                if (l.n == 0)
                        continue;
                /* qsort is not stable: sort copies tagged by position through the address order. */
                qsort(l.v, l.n, sizeof *l.v, lint_compare);
                for (size_t i = 0; i < l.n; i++)
                        print_error(&l.v[i]);
                n_bad++;
                n_errors += l.n;
        }
        free(l.v);
        if (n_errors == 0)
                return EXIT_SUCCESS;
        fprintf(stderr, "%zu error%s in %zu of %zu file%s\n", n_errors, n_errors == 1 ? "" : "s", n_bad,
                n_files, n_files == 1 ? "" : "s");
        return EXIT_FAILURE;
}

static int verb_check(const CtlArgs *a, char **files)
{
        Config *c = NULL;
        ConfigError err = {};
        int r;

        if (strv_length(files) > 0 && lint_files(files) != EXIT_SUCCESS)
                return EXIT_FAILURE;
        if (strv_length(files) > 0)
                r = config_load_files(files, &c, &err);
        else
                r = config_load(a->config,
                        a->policy_dirs ? (const char *const *) a->policy_dirs : POLICY_DIRS_DEFAULT, &c, &err);
        if (r < 0) {
                print_error(&err);
                return EXIT_FAILURE;
        }
        /* Warnings do not fail the check (exit 0); they go to stderr, also with --quiet. */
        for (size_t i = 0; i < c->n_policies; i++) {
                char w[512];
                if (policy_lint(c->policies[i], w, sizeof w) > 0)
                        fprintf(stderr, "%s: warning: %s\n", c->policies[i]->path, w);
        }
        (void) check_print_warnings(c, "/proc/meminfo", stderr); /* ctl/ctl-check.c: no swap, no brake */
        if (!a->quiet) {
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
static int request(const CtlArgs *a, const char *line, bool reply_is_verdict)
{
        const char *path = a->socket ?: CONTROL_SOCKET_DEFAULT;
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

static int verb_status(const CtlArgs *a, char **operands)
{
        return request(a, a->json ? "status json" : "status", false);
}

static int verb_metrics(const CtlArgs *a, char **operands)
{
        return request(a, "metrics", false);
}

static int verb_reload(const CtlArgs *a, char **operands)
{
        return request(a, "reload", true);
}

static int verb_enroll_one(const CtlArgs *a, char **operands)
{
        return verb_enroll(operands[0]);
}

static int verb_unenroll_one(const CtlArgs *a, char **operands)
{
        return verb_unenroll(operands[0]);
}

static int verb_help(const CtlArgs *a, char **operands)
{
        help();
        return EXIT_SUCCESS;
}

/* trim: by signal (ctl/ctl-trim.c), or with --inject by a call inside each process (ctl/ctl-inject.c). */
static int verb_trim_or_inject(const CtlArgs *a, char **operands)
{
        return a->inject ? verb_trim_inject(a, operands) : verb_trim(a, operands);
}

typedef struct Verb {
        const char *name;
        const char *usage; /* operands and options, for the verb's --help and its usage errors */
        unsigned min_operands, max_operands;
        unsigned options; /* CtlOption bits the verb takes */
        CtlVerbFunction run;
        void (*help)(void); /* a longer --help of its own, or NULL */
} Verb;

#define MANY UINT_MAX
static const Verb verbs[] = {
        { "check", "[-q] [-c FILE] [-p DIR]... [FILE...]", 0, MANY, CTL_OPT_QUIET | CTL_OPT_CONFIG | CTL_OPT_POLICY_DIR,
          verb_check, NULL },
        { "status", "[--json] [--socket PATH]", 0, 0, CTL_OPT_JSON | CTL_OPT_SOCKET, verb_status, NULL },
        { "metrics", "[--socket PATH]", 0, 0, CTL_OPT_SOCKET, verb_metrics, NULL },
        { "reload", "[--socket PATH]", 0, 0, CTL_OPT_SOCKET, verb_reload, NULL },
        { "map", "CGROUP|UNIT [--json] [--top N] [--files N] [--inject [--timeout SEC]]", 1, 1,
          CTL_OPT_JSON | CTL_OPT_TOP | CTL_OPT_FILES | CTL_OPT_CGROUP_ROOT | CTL_OPT_PROC_ROOT | CTL_OPT_TRIM_DIR |
                  CTL_OPT_INJECT | CTL_OPT_TIMEOUT,
          verb_map, map_help },
        { "trim", "[--info] UNIT|CGROUP|PID... | --inject [--report] [--no-mallinfo] [--timeout SEC] UNIT|CGROUP|PID...",
          1, MANY,
          CTL_OPT_INFO | CTL_OPT_CGROUP_ROOT | CTL_OPT_PROC_ROOT | CTL_OPT_TRIM_DIR | CTL_OPT_INJECT | CTL_OPT_REPORT |
                  CTL_OPT_NO_MALLINFO | CTL_OPT_TIMEOUT,
          verb_trim_or_inject, trim_help },
        { "enroll", "UNIT", 1, 1, 0, verb_enroll_one, NULL },
        { "unenroll", "UNIT", 1, 1, 0, verb_unenroll_one, NULL },
        { "release-brakes", "[--state-dir DIR] [--cgroup-root DIR] [-c FILE]", 0, 0,
          CTL_OPT_STATE_DIR | CTL_OPT_CGROUP_ROOT | CTL_OPT_CONFIG, verb_release_brakes, release_brakes_help },
        { "help", "", 0, 0, 0, verb_help, NULL },
};

static const struct {
        CtlOption bit;
        const char *name;
} option_names[] = {
        { CTL_OPT_JSON, "--json" },           { CTL_OPT_QUIET, "--quiet" },
        { CTL_OPT_CONFIG, "--config" },       { CTL_OPT_POLICY_DIR, "--policy-dir" },
        { CTL_OPT_SOCKET, "--socket" },       { CTL_OPT_TOP, "--top" },
        { CTL_OPT_FILES, "--files" },         { CTL_OPT_INFO, "--info" },
        { CTL_OPT_CGROUP_ROOT, "--cgroup-root" }, { CTL_OPT_PROC_ROOT, "--proc-root" },
        { CTL_OPT_TRIM_DIR, "--trim-dir" },   { CTL_OPT_STATE_DIR, "--state-dir" },
        { CTL_OPT_INJECT, "--inject" },       { CTL_OPT_REPORT, "--report" },
        { CTL_OPT_NO_MALLINFO, "--no-mallinfo" }, { CTL_OPT_TIMEOUT, "--timeout" },
};

static int parse_count(const char *name, const char *s, long *ret)
{
        char *end = NULL;
        errno = 0;
        long v = strtol(s, &end, 10);
        if (errno || !end || *end || end == s || v < 0 || v > 1000000) {
                fprintf(stderr, "Invalid number for %s: %s\n", name, s);
                return -EINVAL;
        }
        *ret = v;
        return 0;
}

int main(int argc, char *argv[])
{
        enum {
                ARG_JSON = 0x100,
                ARG_SOCKET,
                ARG_TOP,
                ARG_FILES,
                ARG_INFO,
                ARG_CGROUP_ROOT,
                ARG_PROC_ROOT,
                ARG_TRIM_DIR,
                ARG_STATE_DIR,
                ARG_INJECT,
                ARG_REPORT,
                ARG_NO_MALLINFO,
                ARG_TIMEOUT,
        };
        static const struct option options[] = {
                { "json", no_argument, NULL, ARG_JSON },
                { "quiet", no_argument, NULL, 'q' },
                { "config", required_argument, NULL, 'c' },
                { "policy-dir", required_argument, NULL, 'p' },
                { "socket", required_argument, NULL, ARG_SOCKET },
                { "top", required_argument, NULL, ARG_TOP },
                { "files", required_argument, NULL, ARG_FILES },
                { "info", no_argument, NULL, ARG_INFO },
                { "cgroup-root", required_argument, NULL, ARG_CGROUP_ROOT },
                { "proc-root", required_argument, NULL, ARG_PROC_ROOT },
                { "trim-dir", required_argument, NULL, ARG_TRIM_DIR },
                { "state-dir", required_argument, NULL, ARG_STATE_DIR },
                { "inject", no_argument, NULL, ARG_INJECT },
                { "report", no_argument, NULL, ARG_REPORT },
                { "no-mallinfo", no_argument, NULL, ARG_NO_MALLINFO },
                { "timeout", required_argument, NULL, ARG_TIMEOUT },
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, 'V' },
                {}
        };
        CtlArgs a = {
                .config = MAIN_CONFIG_DEFAULT,
                .top = MAP_TOP_DEFAULT,
                .files = MAP_FILES_DEFAULT,
        };
        bool want_help = false;
        int c, r = 2;

        /* One parse for every verb: options anywhere (getopt permutes), "--" ends them. */
        while ((c = getopt_long(argc, argv, "qc:p:hV", options, NULL)) >= 0) {
                switch (c) {
                case ARG_JSON:
                        a.json = true;
                        a.given |= CTL_OPT_JSON;
                        break;
                case 'q':
                        a.quiet = true;
                        a.given |= CTL_OPT_QUIET;
                        break;
                case 'c':
                        a.config = optarg;
                        a.given |= CTL_OPT_CONFIG;
                        break;
                case 'p':
                        if (strv_extend(&a.policy_dirs, optarg) < 0)
                                return EXIT_FAILURE;
                        a.given |= CTL_OPT_POLICY_DIR;
                        break;
                case ARG_SOCKET:
                        a.socket = optarg;
                        a.given |= CTL_OPT_SOCKET;
                        break;
                case ARG_TOP:
                        if (parse_count("--top", optarg, &a.top) < 0)
                                goto out;
                        a.given |= CTL_OPT_TOP;
                        break;
                case ARG_FILES:
                        if (parse_count("--files", optarg, &a.files) < 0)
                                goto out;
                        a.given |= CTL_OPT_FILES;
                        break;
                case ARG_INFO:
                        a.info = true;
                        a.given |= CTL_OPT_INFO;
                        break;
                case ARG_CGROUP_ROOT:
                        a.cgroup_root = optarg;
                        a.given |= CTL_OPT_CGROUP_ROOT;
                        break;
                case ARG_PROC_ROOT:
                        a.proc_root = optarg;
                        a.given |= CTL_OPT_PROC_ROOT;
                        break;
                case ARG_TRIM_DIR:
                        a.trim_dir = optarg;
                        a.given |= CTL_OPT_TRIM_DIR;
                        break;
                case ARG_STATE_DIR:
                        a.state_dir = optarg;
                        a.given |= CTL_OPT_STATE_DIR;
                        break;
                case ARG_INJECT:
                        a.inject = true;
                        a.given |= CTL_OPT_INJECT;
                        break;
                case ARG_REPORT:
                        a.report = true;
                        a.given |= CTL_OPT_REPORT;
                        break;
                case ARG_NO_MALLINFO:
                        a.no_mallinfo = true;
                        a.given |= CTL_OPT_NO_MALLINFO;
                        break;
                case ARG_TIMEOUT: {
                        char *e = NULL;
                        errno = 0;
                        a.timeout_sec = strtod(optarg, &e);
                        if (errno || !e || *e || e == optarg || !(a.timeout_sec > 0 && a.timeout_sec <= 3600)) {
                                fprintf(stderr, "Invalid number for --timeout (seconds, 0 < s <= 3600): %s\n", optarg);
                                goto out;
                        }
                        a.given |= CTL_OPT_TIMEOUT;
                        break;
                }
                case 'h':
                        want_help = true;
                        break;
                case 'V':
                        printf("memwardenctl %s\n", PACKAGE_VERSION);
                        r = EXIT_SUCCESS;
                        goto out;
                default:
                        fprintf(stderr, "Try 'memwardenctl --help'.\n");
                        goto out;
                }
        }
        if (optind >= argc) {
                help();
                r = want_help ? EXIT_SUCCESS : 2;
                goto out;
        }

        const char *name = argv[optind];
        char **operands = argv + optind + 1;
        unsigned n = (unsigned) (argc - optind - 1);
        const Verb *v = NULL;
        for (size_t i = 0; i < ELEMENTSOF(verbs); i++)
                if (streq(verbs[i].name, name))
                        v = &verbs[i];
        if (!v) {
                fprintf(stderr, "Unknown command or wrong arguments: %s. Try 'memwardenctl --help'.\n", name);
                goto out;
        }
        if (want_help) {
                if (v->help)
                        v->help();
                else
                        help();
                r = EXIT_SUCCESS;
                goto out;
        }
        for (size_t i = 0; i < ELEMENTSOF(option_names); i++)
                if ((a.given & option_names[i].bit) && !(v->options & option_names[i].bit)) {
                        fprintf(stderr, "%s does not apply to %s. Usage: memwardenctl %s %s\n",
                                option_names[i].name, v->name, v->name, v->usage);
                        goto out;
                }
        if (n < v->min_operands || n > v->max_operands) {
                fprintf(stderr, "Wrong arguments: %s %s. Usage: memwardenctl %s %s\n", name,
                        n < v->min_operands ? "needs more operands" : "takes fewer operands", v->name, v->usage);
                goto out;
        }
        r = v->run(&a, operands);
out:
        strv_free(a.policy_dirs);
        return r;
}
