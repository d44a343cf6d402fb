/* SPDX-License-Identifier: MIT */
/* Rungs that policies may name but this version does not carry out yet: the record says
 * RESULT=unsupported and the ladder moves on after the rung's settle time. Each moves to its own
 * action-*.c file when it is implemented. */
#include <stdio.h>

#include "action.h"

int action_trim(Guard *g, const Observation *o, ActionOutcome *out)
{
        snprintf(out->summary, sizeof out->summary, "trim is not implemented in this version");
        return out->result = -EOPNOTSUPP;
}

int action_drop_cache(Guard *g, const Observation *o, ActionOutcome *out)
{
        snprintf(out->summary, sizeof out->summary, "drop-cache is not implemented in this version");
        return out->result = -EOPNOTSUPP;
}

int action_restart(Guard *g, const Observation *o, ActionOutcome *out)
{
        snprintf(out->summary, sizeof out->summary, "restart is not implemented in this version");
        return out->result = -EOPNOTSUPP;
}
