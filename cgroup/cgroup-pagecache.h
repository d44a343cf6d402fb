/* SPDX-License-Identifier: MIT */
/* cgroup/cgroup-pagecache.h: the page cache of files that a cgroup's processes read once (drop-cache rung).
 *
 * Pure parts: the /proc/PID/fdinfo and /proc/PID/maps parsers, path globs with "**", and the selection rules
 * (pagecache_plan()). I/O parts: the scan of a cgroup's open files, opening one of them through its
 * /proc/PID/fd/N magic link (never by path name: a path could be swapped under us), and measuring and
 * dropping its cached pages (mincore(2) on a read-only mapping, posix_fadvise(POSIX_FADV_DONTNEED)).
 * Nothing here writes to or truncates a file.
 *
 * Selection rules (pagecache_plan(), tested in tests/unit/test-cgroup-pagecache.c):
 * - only regular files, never O_PATH descriptors;
 * - never a file that any process of the cgroup maps (its inode appears in /proc/PID/maps): a mapped
 *   file is in use at random offsets, and the kernel would keep mapped pages anyway. Inodes are compared
 *   by number only (overlayfs reports different devices in maps and fstat): a collision only skips;
 * - drop-behind (automatic): a file open read-only (O_RDONLY) whose position has moved at least one page;
 *   the range [0, position rounded down to a page) is dropped, the part behind a sequential reader.
 *   Files open for writing (O_WRONLY/O_RDWR: databases, logs being written) are skipped, and so are files
 *   open in more than one process at different positions (shared: someone may read behind the other).
 *   Random readers almost always use pread(2) or mmap(2), which leave the position at 0 or map the file:
 *   both are skipped by the rules above. A program that seeks back and reads again (rare) loses only cache;
 * - Paths= globs (the operator says these files are always one-pass): the whole file, whatever its access
 *   mode or position, unless mapped;
 * - each inode is dropped at most once per scan. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "cgroup-fs.h"

typedef struct FdInfo {
        uint64_t pos;
        unsigned flags;    /* open(2) flags, octal in the file */
        int mnt_id;        /* -1 when absent */
        uint64_t ino;      /* 0 when absent (before 5.14) */
} FdInfo;

/* Parses /proc/PID/fdinfo/N: "pos:", "flags:" (octal) required; "mnt_id:", "ino:" optional; other lines
 * (eventfd, inotify, ...) ignored. Returns 0, -EINVAL, -ERANGE. */
int fdinfo_parse(const char *buf, FdInfo *ret);

/* Parses /proc/PID/maps and appends the inode of every file-backed mapping (inode field != 0) to *inodes
 * (malloc'd, *n_inodes entries; duplicates kept). Returns 0, -EINVAL for a malformed line, -ENOMEM. */
int proc_maps_parse(const char *buf, uint64_t **inodes, size_t *n_inodes);

/* fnmatch(3) on each "/"-separated component ("*", "?" and "[...]" never cross "/"; a leading "." is not
 * special); a component that is exactly "**" matches zero or more whole components, so "/var/backups/" +
 * "**" matches every file below /var/backups. Returns true on a match. */
bool path_glob_match(const char *glob, const char *path);

typedef struct OpenFile {
        pid_t pid;
        int fd;
        char *path;        /* the magic link's target; " (deleted)" appended by the kernel for deleted files */
        dev_t dev;
        uint64_t ino;
        uint64_t size;
        bool regular;
        FdInfo info;
} OpenFile;

typedef enum DropVerdict {
        DROP_SKIP,
        DROP_BEHIND,       /* [0, length): the part behind the reader */
        DROP_WHOLE,        /* Paths= match: [0, size) */
} DropVerdict;

typedef enum DropSkipReason {
        SKIP_NONE,
        SKIP_NOT_REGULAR,
        SKIP_MAPPED,
        SKIP_WRITER,
        SKIP_SHARED,
        SKIP_NOT_MOVED,
        SKIP_DUPLICATE,    /* the same inode is handled by another entry */
} DropSkipReason;

typedef struct DropChoice {
        DropVerdict verdict;
        DropSkipReason reason; /* with DROP_SKIP */
        uint64_t length;       /* bytes from offset 0 to drop; whole: the size */
} DropChoice;

/* Applies the selection rules above to n open files (ret: n entries). mapped: inodes mapped by the cgroup's
 * processes; globs: Paths= (NULL: none); page_size: a power of two. Pure. */
void pagecache_plan(const OpenFile *files, size_t n, const uint64_t *mapped, size_t n_mapped,
                    char *const *globs, uint64_t page_size, DropChoice *ret);

/* Scans every process in the subtree of cgpath: their open files (via /proc/PID/fd, fdinfo; regular files
 * only) and the inodes they map. Processes and descriptors that vanish mid-scan are skipped. At most
 * max_files entries are returned. *ret_maps_complete is false when some process's maps could not be read
 * (then nothing should be dropped automatically: a mapped file could go unnoticed). Returns 0, -errno
 * (-ENOENT: the cgroup is gone, -ENOMEM). */
int pagecache_scan(const CgroupRoot *r, const char *cgpath, size_t max_files, OpenFile **ret_files,
                   size_t *ret_n, uint64_t **ret_mapped, size_t *ret_n_mapped, bool *ret_maps_complete);
void open_files_free(OpenFile *files, size_t n);

/* Opens f through /proc/PID/fd/N (O_RDONLY|O_CLOEXEC|O_NONBLOCK; following the magic link is the point),
 * then checks that it is still the same regular file (dev, inode). Returns the fd; -ESTALE when the
 * descriptor now refers to something else; -ENOENT/-ESRCH when gone. */
int pagecache_open(const CgroupRoot *r, const OpenFile *f);

/* Bytes of [offset, offset + length) (length 0: to the end) resident in the page cache: mincore(2) on a
 * PROT_READ MAP_SHARED mapping, mapped in windows so that huge files need little memory. offset must be
 * page aligned. Returns 0, -errno (-EPERM: mincore filtered by seccomp). */
int file_resident_bytes(int fd, uint64_t offset, uint64_t length, uint64_t *ret);

/* posix_fadvise(POSIX_FADV_DONTNEED) on [offset, offset + length) (length 0: to the end). Only clean,
 * unmapped pages go; the file is never written. Returns 0, -errno. */
int file_drop_cache(int fd, uint64_t offset, uint64_t length);

const char *drop_skip_reason_to_string(DropSkipReason r);
