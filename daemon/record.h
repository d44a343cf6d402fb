/* SPDX-License-Identifier: MIT */
/* daemon/record.h: every alert, action and config error is one journald record with a MESSAGE_ID
 * (systemd/memwarden.catalog explains each) and fields a script can filter on. When stderr is not the
 * journal the same record is printed as one line: MESSAGE, then KEY=value pairs. */
#pragma once

#include "manager.h"
#include "util/format-util.h" /* format_bytes(), which records use */

#define MW_MESSAGE_PRESSURE "cc09ac76392d4205bf123cd640dcc1a6"     /* pressure onset (+ first rung) */
#define MW_MESSAGE_ACTION "6e42d91a5e50420ea92356dafbb4b46a"       /* a rung ran (escalation, repeat) */
#define MW_MESSAGE_RESULT "e9b2e03630c84a74a65f842d7f6e6cdc"       /* what an action freed, after settle */
#define MW_MESSAGE_RELIEVED "c45d22c01f94415eb5aab3c6cd52fc02"     /* calm again */
#define MW_MESSAGE_OOM_KILL "fe022f9f3cd047d2bcbda2bb17ec3356"     /* the kernel OOM-killed in a guarded cgroup */
#define MW_MESSAGE_CONFIG_ERROR "731a61ff7d8b4b13820062ed415dec13" /* configuration rejected */
#define MW_MESSAGE_BRAKE "2b9b064a4b5a436f93b3c9190d1ef89b"        /* memory.high brake set or restored */
#define MW_MESSAGE_STARTED "0f497462c8564442a45216908fdf07c9"      /* started or reloaded */
#define MW_MESSAGE_UNWATCHED "7a96a90329494ebf8f522d395e50b9e1"    /* guards polled for want of inotify watches */

typedef struct Record Record;

Record *record_new(const char *message_id, int priority);
/* Adds "KEY=value". Silently drops fields beyond the record's capacity. */
void record_add(Record *r, const char *fmt, ...) _printf_(2, 3);
/* Adds CGROUP= UNIT= SLICE= CONTAINER_* POD_* (daemon/record-container.h) POLICY= POLICY_FILE= DRY_RUN=. */
void record_add_guard(Record *r, const Guard *g);
/* Adds MEMORY_* (current/max/high), PSI_* and memory.events counters and deltas from an observation,
 * and where the memory went from memory.stat (read now; skipped if the cgroup is gone). */
void record_add_observation(Record *r, const Guard *g, const Observation *o, const MemoryEvents *delta);
/* Sends (journal) or prints (stderr) the record with MESSAGE= formatted from fmt, and frees it. */
void record_send(Record *r, const char *fmt, ...) _printf_(2, 3);


/* A configuration error, with file:line. */
void record_config_error(const ConfigError *err, const char *what);
