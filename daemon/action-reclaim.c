/* SPDX-License-Identifier: MIT */
/* reclaim: ask the kernel to reclaim Amount= of the cgroup's memory through memory.reclaim (5.19+). Where
 * it is missing, lower memory.high to current-amount, which makes the writer reclaim synchronously, and
 * put the old value back at once. */
#include <inttypes.h>

#include "action.h"
#include "record.h"
#include "cgroup/cgroup-act.h"
#include "util/log.h"

int action_reclaim(Guard *g, const Observation *o, ActionOutcome *out)
{
        char b[FORMAT_BYTES_MAX];
        uint64_t amount = MIN(quantity_resolve(&g->policy->reclaim_amount, o->mem.current), o->mem.current);

        action_add_field(out, "RECLAIM_REQUEST_BYTES=%" PRIu64, amount);
        if (amount == 0) {
                snprintf(out->summary, sizeof out->summary, "nothing to reclaim");
                return out->result = 0;
        }
        int r = cgroup_reclaim(g->cgfd, amount);
        if (r == -EAGAIN) {
                out->partial = true; /* the kernel reclaimed less than asked: memory.current tells */
                r = 0;
        } else if (r == -ENOENT) {
                action_add_field(out, "RECLAIM_VIA=memory.high");
                r = cgroup_write_high(g->cgfd, o->mem.current - amount);
                int q = cgroup_write_high(g->cgfd, o->mem.high);
                if (q < 0)
                        log_warning_errno(q, "%s: could not restore memory.high after reclaim: %m", g->path);
        }
        snprintf(out->summary, sizeof out->summary, "asked the kernel to reclaim %s%s",
                format_bytes(b, sizeof b, amount), out->partial ? " (it reclaimed less)" : "");
        return out->result = r;
}
