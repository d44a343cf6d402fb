/* SPDX-License-Identifier: MIT */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "action.h"

void action_add_field(ActionOutcome *out, const char *fmt, ...)
{
        if (out->n_fields >= ACTION_FIELDS_MAX)
                return;
        char *s = NULL;
        va_list ap;
        va_start(ap, fmt);
        int k = vasprintf(&s, fmt, ap);
        va_end(ap);
        if (k >= 0)
                out->fields[out->n_fields++] = s;
}

void action_outcome_done(ActionOutcome *out)
{
        for (size_t i = 0; i < out->n_fields; i++)
                free(out->fields[i]);
        out->n_fields = 0;
}

int action_run(Guard *g, Rung rung, const Observation *o, ActionOutcome *out)
{
        switch (rung) {
        case RUNG_ALERT:
                out->result = 0; /* the record itself is the action */
                return 0;
        case RUNG_TRIM:
                return action_trim(g, o, out);
        case RUNG_DROP_CACHE:
                return action_drop_cache(g, o, out);
        case RUNG_RECLAIM:
                return action_reclaim(g, o, out);
        case RUNG_RESTART:
                return action_restart(g, o, out);
        case RUNG_KILL:
                return action_kill(g, o, out);
        default:
                return out->result = -EINVAL;
        }
}
