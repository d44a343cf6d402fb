/* SPDX-License-Identifier: MIT */
/* daemon/record-container.h: the container and Kubernetes pod of a guard, in records and in status. */
#pragma once

#include <stdio.h>

#include "record.h"

/* Adds CONTAINER_ID= CONTAINER_RUNTIME= CONTAINER_NAME= CONTAINER_IMAGE= and, in a pod, POD_NAME=
 * POD_NAMESPACE= POD_UID= POD_QOS=. Names not known when the guard was made (the kubelet links a
 * container's log only after it started) are looked up again; CONTAINER_NAME= falls back to the short
 * (12-hex) id. Nothing for a cgroup that is neither a container nor in a pod. */
void record_add_container(Record *r, const Guard *g);
/* One line for `memwardenctl status` under the guard's own, e.g. "  container web (localhost/mwtest:1)" or
 * "  pod shop/web-7f9c container nginx (Burstable)"; nothing for other cgroups. */
void container_status_text(const Guard *g, FILE *f);
/* ,"container":{...} for the JSON status; nothing for other cgroups. */
void container_status_json(const Guard *g, FILE *f);
