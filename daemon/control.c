/* SPDX-License-Identifier: MIT */
/* daemon/control.c: the control socket memwardenctl talks to (/run/memwarden/control).
 *
 * Why a socket and not D-Bus: it works where there is no dbus-daemon (containers, early boot), and the
 * kernel tells us who the peer is (SO_PEERCRED). Protocol: one request line, one reply, then close.
 *   status        -> human-readable table        status json -> one JSON object
 *   reload        -> "ok" or "error: file:line: message" (root only)
 *   metrics       -> Prometheus text exposition format (daemon/metrics.h)
 * status is open to every local user: it shows cgroup paths and memory figures, as /sys/fs/cgroup does.
 * Everything that acts is refused to non-root peers.
 *
 * Nothing here blocks the event loop, whoever the peer is: the request is read and the reply written as
 * the socket allows (EPOLLIN, then EPOLLOUT), the reply buffered in memory until the peer drains it. Bounds:
 * CONTROL_CONNECTIONS_MAX connections, CONTROL_BUFFERED_MAX bytes of replies buffered for all of them
 * (a reply larger than that is refused), and CONTROL_IDLE_USEC without progress (nothing read or written)
 * drops a connection. When a new connection or reply needs room, the connection that has made no progress
 * for the longest time, if at least CONTROL_EVICT_USEC, is dropped first; otherwise the newcomer is refused
 * ("error: busy"). A peer that never reads therefore costs memory for a few seconds, not the loop's time.
 *
 * Rendering a status reads every guarded cgroup's memory files: with thousands of cgroups that is most of
 * a second under emulation, so peers asking in a loop could keep the loop busy rendering. A root peer always
 * gets a fresh rendering; other peers get the last rendering of the same kind while it is younger than
 * CONTROL_STATUS_REUSE_FACTOR times what it cost to make (at least CONTROL_STATUS_REUSE_MIN_USEC): their
 * requests cost the loop at most about a tenth of its time. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "config.h"
#include "guard-poll.h"
#include "record.h"
#include "record-container.h"
#include "manager.h"
#include "util/json.h"
#include "util/log.h"
#include "util/time-util.h"

#define REQUEST_MAX 256
#define CONTROL_CONNECTIONS_MAX 64U
#define CONTROL_BUFFERED_MAX (16U * 1024U * 1024U)
#define CONTROL_IDLE_USEC (10 * USEC_PER_SEC)
#define CONTROL_EVICT_USEC (1 * USEC_PER_SEC)
#define CONTROL_STATUS_REUSE_MIN_USEC (1 * USEC_PER_SEC)
#define CONTROL_STATUS_REUSE_FACTOR 10

/* The last rendering of each kind of status (Manager.control_cache). */
typedef struct ControlRendering {
        char *data;
        size_t len;
        usec_t at_usec, cost_usec;
} ControlRendering;

struct ControlCache {
        ControlRendering status[2]; /* text, json */
};

typedef struct ControlConnection ControlConnection;
struct ControlConnection {
        Manager *manager;
        ControlConnection *next, *prev; /* Manager.control_connections */
        int fd;
        sd_event_source *source;
        sd_event_source *timeout;
        usec_t progress_usec; /* CLOCK_MONOTONIC of the last byte read or written */
        size_t len;
        char buf[REQUEST_MAX];
        char *out; /* the reply, once the request is read */
        size_t out_len, out_done;
};

static void connection_free(ControlConnection *c)
{
        Manager *m = c->manager;

        if (c->prev)
                c->prev->next = c->next;
        else
                m->control_connections = c->next;
        if (c->next)
                c->next->prev = c->prev;
        m->n_control_connections--;
        m->control_buffered_bytes -= c->out_len - c->out_done;
        sd_event_source_disable_unref(c->source);
        sd_event_source_disable_unref(c->timeout);
        closep(&c->fd);
        free(c->out);
        free(c);
}

/* Drops the connection that has made no progress for the longest time, if that is at least
 * CONTROL_EVICT_USEC, other than keep. Returns true if one was dropped. */
static bool connection_evict_stalled(Manager *m, const ControlConnection *keep)
{
        usec_t now = now_usec(CLOCK_MONOTONIC);
        ControlConnection *victim = NULL;

        for (ControlConnection *c = m->control_connections; c; c = c->next)
                if (c != keep && c->progress_usec + CONTROL_EVICT_USEC <= now &&
                    (!victim || c->progress_usec < victim->progress_usec))
                        victim = c;
        if (!victim)
                return false;
        log_debug("Control connection without progress for %" PRIu64 " ms dropped to make room, ignoring",
                  (now - victim->progress_usec) / USEC_PER_MSEC);
        connection_free(victim);
        return true;
}

static void connection_progress(ControlConnection *c)
{
        c->progress_usec = now_usec(CLOCK_MONOTONIC);
        (void) sd_event_source_set_time(c->timeout, c->progress_usec + CONTROL_IDLE_USEC);
}

void manager_status_json(Manager *m, FILE *f)
{
        usec_t now = now_usec(CLOCK_MONOTONIC);
        fprintf(f, "{\"version\":\"%s\",\"cgroup_root\":", PACKAGE_VERSION);
        json_write_string(f, m->root->root_path);
        fprintf(f, ",\"uptime_usec\":%" PRIu64 ",\"dry_run\":%s,\"policies\":[", now - m->started_usec,
                m->dry_run_arg || m->config->daemon.dry_run ? "true" : "false");
        for (size_t i = 0; i < m->config->n_policies; i++) {
                const Policy *p = m->config->policies[i];
                if (i > 0)
                        fputc(',', f);
                fputs("{\"name\":", f);
                json_write_string(f, p->name);
                fputs(",\"path\":", f);
                json_write_string(f, p->path);
                fputs(",\"ladder\":[", f);
                for (size_t k = 0; k < p->n_ladder; k++)
                        fprintf(f, "%s\"%s\"", k ? "," : "", rung_to_string(p->ladder[k]));
                fputs("]}", f);
        }
        fprintf(f, "],\"guarded\":%zu,\"unwatched\":%zu,\"under_pressure\":%u,\"cgroups\":[",
                hashmap_size(m->guards), guard_poll_count(m), m->n_under_pressure);
        void *v;
        bool first = true, swap = metrics_swap_available(m);
        HashmapIter i = HASHMAP_ITER_INIT;
        while (hashmap_iterate(m->guards, &i, &v, NULL)) {
                if (!first)
                        fputc(',', f);
                first = false;
                guard_status_json(v, f, now, swap);
        }
        fputs("]}\n", f);
}

static int cmp_guard(const void *a, const void *b)
{
        return strcmp((*(Guard *const *) a)->path, (*(Guard *const *) b)->path);
}

static void status_text(Manager *m, FILE *f)
{
        char c[FORMAT_BYTES_MAX], x[FORMAT_BYTES_MAX], h[FORMAT_BYTES_MAX];
        size_t n = hashmap_size(m->guards), k = 0;
        Guard **gs = calloc(n ? n : 1, sizeof(Guard *));
        if (!gs)
                return;
        void *v;
        HashmapIter i = HASHMAP_ITER_INIT;
        while (hashmap_iterate(m->guards, &i, &v, NULL))
                gs[k++] = v;
        qsort(gs, k, sizeof(Guard *), cmp_guard);
        bool swap = metrics_swap_available(m);
        size_t n_unwarned = 0; /* gs[0..n_unwarned) is reused for them: row j is read before slot j is */

        fprintf(f, "memwardend %s: %zu policies, guarding %zu cgroups, %u under pressure%s\n", PACKAGE_VERSION,
                m->config->n_policies, n, m->n_under_pressure,
                m->dry_run_arg || m->config->daemon.dry_run ? " (dry-run)" : "");
        guard_poll_status_text(m, f);
        if (k > 0)
                fprintf(f, "%-48s %-10s %-16s %9s %9s %9s %7s\n", "CGROUP", "STATE", "POLICY", "CURRENT", "HIGH",
                        "MAX", "ACTIONS");
        for (size_t j = 0; j < k; j++) {
                Guard *g = gs[j];
                CgroupMemory mem;
                bool have = cgroup_read_memory_limits(g->cgfd, &mem) >= 0;
                fprintf(f, "%-48s %-10s %-16s %9s %9s %9s %7" PRIu64 "\n", g->path,
                        g->unreadable ? "unknown" : guard_under_pressure(g) ? "PRESSURE" : "calm", g->policy->name,
                        have ? format_bytes(c, sizeof c, mem.current) : "?",
                        have ? format_bytes(h, sizeof h, mem.high) : "?",
                        have ? format_bytes(x, sizeof x, mem.max) : "?",
                        g->n_actions);
                if (!metrics_guard_early_warning_now(g, have ? &mem : NULL, swap))
                        gs[n_unwarned++] = g;
                container_status_text(g, f);
                if (g->last_reason)
                        fprintf(f, "    last %s failed: %s\n", rung_to_string(g->action_rung), g->last_reason);
                if (g->engine.brake_released)
                        fprintf(f, "    brake lifted: no rung could act; it is set again once the cgroup is calm\n");
                else if (g->relief_active)
                        fprintf(f, "    brake raised to %s while the last rung settles\n",
                                format_bytes(c, sizeof c, g->relief_bytes));
        }
        metrics_status_text(gs, n_unwarned, f);
        free(gs);
}

/* A copy of the last rendering of this kind, if it is recent enough for a peer that is not root. */
static bool status_reuse(Manager *m, bool json, char **ret, size_t *ret_len)
{
        const ControlRendering *c = m->control_cache ? &m->control_cache->status[json] : NULL;
        if (!c || !c->data)
                return false;
        usec_t now = now_usec(CLOCK_MONOTONIC);
        if (now - c->at_usec >= MAX(CONTROL_STATUS_REUSE_MIN_USEC, CONTROL_STATUS_REUSE_FACTOR * c->cost_usec))
                return false;
        char *copy = malloc(c->len + 1);
        if (!copy)
                return false;
        memcpy(copy, c->data, c->len + 1);
        *ret = copy;
        *ret_len = c->len;
        return true;
}

static void status_remember(Manager *m, bool json, const char *data, size_t len, usec_t cost)
{
        if (!m->control_cache && !(m->control_cache = calloc(1, sizeof *m->control_cache)))
                return;
        ControlRendering *c = &m->control_cache->status[json];
        char *copy = malloc(len + 1);
        if (!copy)
                return;
        memcpy(copy, data, len + 1);
        free(c->data);
        *c = (ControlRendering) { .data = copy, .len = len, .at_usec = now_usec(CLOCK_MONOTONIC), .cost_usec = cost };
}

/* Writes what the socket takes now. Returns 1 when the whole reply is out, 0 when more is to come, -errno
 * when the peer went away. */
static int connection_flush(ControlConnection *c)
{
        while (c->out_done < c->out_len) {
                ssize_t k = send(c->fd, c->out + c->out_done, c->out_len - c->out_done,
                                 MSG_NOSIGNAL | MSG_DONTWAIT);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno == EAGAIN)
                                return 0;
                        return -errno;
                }
                c->out_done += (size_t) k;
                c->manager->control_buffered_bytes -= (size_t) k;
                connection_progress(c);
        }
        return 1;
}

static void connection_reply(ControlConnection *c, const char *request)
{
        Manager *m = c->manager;
        struct ucred cred = {};
        socklen_t sl = sizeof cred;
        bool root = getsockopt(c->fd, SOL_SOCKET, SO_PEERCRED, &cred, &sl) == 0 && cred.uid == 0;

        char *out = NULL;
        size_t outlen = 0;
        bool json = streq(request, "status json");
        if ((json || streq(request, "status")) && !root && status_reuse(m, json, &out, &outlen))
                goto queue;

        usec_t t0 = now_usec(CLOCK_MONOTONIC);
        FILE *f = open_memstream(&out, &outlen);
        if (!f)
                return;

        if (streq(request, "status"))
                status_text(m, f);
        else if (json)
                manager_status_json(m, f);
        else if (streq(request, "metrics"))
                (void) metrics_text(m, f);
        else if (streq(request, "reload")) {
                if (!root)
                        fputs("error: permission denied: reload needs root\n", f);
                else {
                        ConfigError err = {};
                        if (manager_reload(m, &err) >= 0)
                                fputs("ok\n", f);
                        else if (err.line > 0)
                                fprintf(f, "error: %s:%u: %s\n", err.file, err.line, err.message);
                        else if (err.file[0])
                                fprintf(f, "error: %s: %s\n", err.file, err.message);
                        else
                                fprintf(f, "error: %s\n", err.message);
                }
        } else
                fprintf(f, "error: unknown request\n");
        if (fclose(f) != 0 || !out) {
                free(out);
                return;
        }
        if (json || streq(request, "status"))
                status_remember(m, json, out, outlen, now_usec(CLOCK_MONOTONIC) - t0);

queue:;

        /* Room for it among the replies buffered for all connections. */
        const char *refusal = NULL;
        if (outlen > CONTROL_BUFFERED_MAX)
                refusal = "error: reply too large\n";
        else
                while (m->control_buffered_bytes + outlen > CONTROL_BUFFERED_MAX)
                        if (!connection_evict_stalled(m, c)) {
                                refusal = "error: busy, try again\n";
                                break;
                        }
        if (refusal) {
                log_debug("Control reply of %zu bytes refused (%zu bytes buffered for %u connections), ignoring",
                          outlen, m->control_buffered_bytes, m->n_control_connections);
                free(out);
                out = strdup(refusal);
                if (!out)
                        return;
                outlen = strlen(out);
        }
        c->out = out;
        c->out_len = outlen;
        m->control_buffered_bytes += outlen;
}

/* EPOLLIN until the request line is in, then EPOLLOUT until the reply is out. */
static int on_connection(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
        ControlConnection *c = userdata;
        int r;

        if (c->out) {
                r = connection_flush(c);
                if (r < 0)
                        log_debug("Control client went away before the reply was sent, ignoring");
                if (r != 0)
                        connection_free(c);
                return 0;
        }

        ssize_t k = recv(fd, c->buf + c->len, sizeof c->buf - 1 - c->len, MSG_DONTWAIT);
        if (k < 0 && (errno == EAGAIN || errno == EINTR))
                return 0;
        if (k <= 0) {
                connection_free(c);
                return 0;
        }
        connection_progress(c);
        c->len += (size_t) k;
        c->buf[c->len] = 0;
        char *nl = strchr(c->buf, '\n');
        if (!nl) {
                if (c->len >= sizeof c->buf - 1)
                        connection_free(c); /* too long: not one of ours */
                return 0;
        }
        *nl = 0;
        connection_reply(c, c->buf);
        if (!c->out) {
                connection_free(c); /* out of memory: nothing to say */
                return 0;
        }
        r = connection_flush(c);
        if (r == 0)
                r = sd_event_source_set_io_events(c->source, EPOLLOUT);
        if (r != 0)
                connection_free(c); /* all out, or the peer is gone */
        return 0;
}

static int on_connection_timeout(sd_event_source *s, uint64_t usec, void *userdata)
{
        connection_free(userdata);
        return 0;
}

static int on_accept(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
        Manager *m = userdata;
        int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (cfd < 0)
                return 0;
        if (m->n_control_connections >= CONTROL_CONNECTIONS_MAX && !connection_evict_stalled(m, NULL)) {
                static const char busy[] = "error: busy, try again\n";
                log_debug("%u control connections, none stalled: refusing one more, ignoring",
                          m->n_control_connections);
                (void) send(cfd, busy, sizeof busy - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
                close(cfd);
                return 0;
        }
        ControlConnection *c = calloc(1, sizeof *c);
        if (!c) {
                close(cfd);
                return 0;
        }
        c->manager = m;
        c->fd = cfd;
        c->progress_usec = now_usec(CLOCK_MONOTONIC);
        c->next = m->control_connections;
        if (c->next)
                c->next->prev = c;
        m->control_connections = c;
        m->n_control_connections++;
        if (sd_event_add_io(m->event, &c->source, cfd, EPOLLIN, on_connection, c) < 0 ||
            sd_event_add_time(m->event, &c->timeout, CLOCK_MONOTONIC, c->progress_usec + CONTROL_IDLE_USEC, 0,
                              on_connection_timeout, c) < 0)
                connection_free(c);
        return 0;
}

static int mkdir_parents(const char *path)
{
        char *copy = strdup(path);
        if (!copy)
                return -ENOMEM;
        for (char *p = copy + 1; *p; p++) {
                if (*p != '/')
                        continue;
                *p = 0;
                if (mkdir(copy, 0755) < 0 && errno != EEXIST) {
                        int r = -errno;
                        free(copy);
                        return r;
                }
                *p = '/';
        }
        free(copy);
        return 0;
}

int control_open(Manager *m)
{
        const char *path = m->control_socket_arg ?: m->config->daemon.control_socket;
        if (!path || !*path)
                return 0;
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        if (strlen(path) >= sizeof sa.sun_path)
                return -ENAMETOOLONG;
        strcpy(sa.sun_path, path);

        int r = mkdir_parents(path);
        if (r < 0)
                return r;
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        (void) unlink(path);
        mode_t old = umask(0111);
        r = bind(fd, (struct sockaddr *) &sa, sizeof sa);
        umask(old);
        if (r < 0 || listen(fd, 16) < 0) {
                r = -errno;
                close(fd);
                return r;
        }
        r = sd_event_add_io(m->event, &m->control_source, fd, EPOLLIN, on_accept, m);
        if (r < 0) {
                close(fd);
                return r;
        }
        m->control_fd = fd;
        m->control_path = strdup(path);
        return 0;
}

void control_close(Manager *m)
{
        while (m->control_connections)
                connection_free(m->control_connections);
        if (m->control_cache) {
                for (size_t i = 0; i < ELEMENTSOF(m->control_cache->status); i++)
                        free(m->control_cache->status[i].data);
                free(m->control_cache);
                m->control_cache = NULL;
        }
        m->control_source = sd_event_source_disable_unref(m->control_source);
        closep(&m->control_fd);
        m->control_fd = -EBADF;
        if (m->control_path) {
                (void) unlink(m->control_path);
                free(m->control_path);
                m->control_path = NULL;
        }
}
