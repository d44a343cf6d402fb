/* SPDX-License-Identifier: MIT */
/* cgroup/cgroup-fs.h: the cgroup2 hierarchy and /proc, always relative to directory fds held in a
 * CgroupRoot, so tests point it at a fixture tree (tests/fixtures/). Cgroup paths are absolute within the
 * hierarchy: "/" is the root, "/system.slice/nginx.service" a unit. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "cgroup-parse.h"

typedef struct CgroupRoot {
        int root_fd;  /* O_DIRECTORY fd of the cgroup2 mount (or fixture) */
        int proc_fd;  /* O_DIRECTORY fd of /proc (or fixture) */
        char *root_path;
        char *proc_path;
} CgroupRoot;

/* Finds the cgroup2 mount point: libcgroup's view of the mounts first (cgroup_init() +
 * cgroup_get_subsys_mount_point("memory") for a unified hierarchy), then /proc/self/mountinfo.
 * Returns 0 with a malloc'd path; -ENOMEDIUM when there is no cgroup2 mount with the memory controller
 * enabled (a v1/hybrid host, like our development machines). */
int cgroup_find_mount(char **ret_path);

/* Opens root_path (NULL = cgroup_find_mount()) and proc_path (NULL = "/proc"). */
int cgroup_root_open(const char *root_path, const char *proc_path, CgroupRoot **ret);
CgroupRoot *cgroup_root_free(CgroupRoot *r);

/* Opens the cgroup directory cgpath ("/" or "/a/b") relative to the root: O_DIRECTORY|O_CLOEXEC.
 * Returns the fd, or -errno (-ENOENT: gone; -EINVAL: a "." or ".." component). */
int cgroup_open(const CgroupRoot *r, const char *cgpath);

/* What we read about one cgroup's memory in one sample. memory.current is required; files that are absent
 * (the root cgroup has no memory.max/high/low/min, no swap accounting) read as "max" (CGROUP_LIMIT_MAX) for
 * the limits max and high, and 0 for the protections low and min and for swap_current. */
typedef struct CgroupMemory {
        uint64_t current;
        uint64_t max, high, low, min; /* CGROUP_LIMIT_MAX when "max" */
        uint64_t swap_current;        /* 0 when memory.swap.current is absent */
} CgroupMemory;

/* The readers below take an fd from cgroup_open(). Each returns 0, or -errno (-ENOENT/-ENODEV: the cgroup
 * went away or the file does not exist; -EINVAL: contents unparsable; -ERANGE: a number beyond 2^64-1). */
int cgroup_read_u64(int cgfd, const char *file, uint64_t *ret);
int cgroup_read_memory(int cgfd, CgroupMemory *ret);
/* Only memory.current, memory.max and memory.high (the rest 0): half the reads, for status listings. */
int cgroup_read_memory_limits(int cgfd, CgroupMemory *ret);
int cgroup_read_events(int cgfd, bool local, MemoryEvents *ret);
int cgroup_read_stat(int cgfd, MemoryStat *ret);
int cgroup_read_pressure(int cgfd, Psi *ret);
/* memory.oom.group: ret true when "1". */
int cgroup_read_oom_group(int cgfd, bool *ret);
/* True if the memory controller is enabled for this cgroup (memory.current exists). */
bool cgroup_has_memory(int cgfd);

/* Lists the PIDs in cgroup.procs (deduplicated, in file order). Returns the count (>= 0) and a malloc'd
 * array in *ret (NULL when 0), or -errno. */
int cgroup_read_procs(int cgfd, pid_t **ret);

/* Walks the subtree below cgpath depth-first (pre-order, the start included, siblings in strcmp() order),
 * calling cb for every cgroup directory with its normalised path ("/", "/a/b"). Directories that vanish
 * mid-walk are skipped, and so are children deeper than 256 levels; a missing start is -ENOENT. cb returns
 * < 0 to abort (the value is returned), 0 to continue, > 0 to skip that cgroup's children. Returns 0 or
 * -errno. */
typedef int (*cgroup_walk_cb_t)(const CgroupRoot *r, const char *cgpath, void *userdata);
int cgroup_walk(const CgroupRoot *r, const char *cgpath, cgroup_walk_cb_t cb, void *userdata);
/* The same, cb also given the cgroup's open directory (O_DIRECTORY|O_CLOEXEC|O_NOFOLLOW), borrowed for the
 * call: what it reads there costs no second open of the path (docs/scale.md). */
typedef int (*cgroup_walk_fd_cb_t)(const CgroupRoot *r, const char *cgpath, int dfd, void *userdata);
int cgroup_walk_fd(const CgroupRoot *r, const char *cgpath, cgroup_walk_fd_cb_t cb, void *userdata);

/* Reads /proc/PID/status through the root's proc_fd. Returns 0, -ENOENT/-ESRCH (gone), -EINVAL. */
int proc_read_status(const CgroupRoot *r, pid_t pid, ProcStatus *ret);

/* Reads the cgroup2 path of PID from /proc/PID/cgroup ("0::<path>") through the root's proc_fd. Returns 0
 * with a malloc'd path; -ENOENT (gone); -ENODATA (no "0::" line). */
int proc_read_cgroup(const CgroupRoot *r, pid_t pid, char **ret);
