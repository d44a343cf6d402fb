/* SPDX-License-Identifier: MIT */
/* util/fileio.h: whole-file reads and short writes relative to a directory fd. Kernel files (cgroupfs,
 * procfs) report size 0, so reads loop until EOF. */
#pragma once

#include <stddef.h>
#include <sys/types.h>

/* Reads fd from its position to EOF into a NUL-terminated buffer, at most max_size bytes (-EFBIG beyond):
 * for a file the caller opened and checked itself. Returns 0 or -errno; *ret and *ret_size only on success. */
int read_full_fd(int fd, size_t max_size, char **ret, size_t *ret_size);
/* Reads the file at dirfd/path (O_RDONLY|O_CLOEXEC|O_NOFOLLOW) into a NUL-terminated buffer, at most
 * max_size bytes (-EFBIG beyond). Returns 0; -errno on failure (-ENOENT/-ENODEV: it went away). */
int read_full_file_at(int dirfd, const char *path, size_t max_size, char **ret, size_t *ret_size);
/* Reads a file whose whole content one read() returns: a regular file, or a cgroupfs file shown as one record
 * (kernfs seq_file without seq_start: memory.current, .max, .events, .pressure ...; not cgroup.procs), where a
 * read shorter than asked is the end. One open, one read, one close (read_full_file_at() reads once more to
 * see EOF): the per-cgroup sample of docs/scale.md. NUL-terminated in buf. Returns the length, -EFBIG when
 * size - 1 bytes did not leave the end in sight, or -errno (-ENOENT/-ENODEV: it went away). */
ssize_t read_record_at(int dirfd, const char *path, char *buf, size_t size);
/* Reads at most size - 1 bytes of the file at dirfd/path (one that may be huge, like /proc/PID/cmdline) into
 * buf, NUL-terminated. Returns the length, or -errno. */
ssize_t read_prefix_at(int dirfd, const char *path, char *buf, size_t size);
/* Writes s to dirfd/path (O_WRONLY|O_CLOEXEC|O_NOFOLLOW, no O_CREAT/O_TRUNC) in one write(2).
 * Returns 0, or -errno (the kernel's answer, e.g. -EAGAIN from memory.reclaim). */
int write_string_file_at(int dirfd, const char *path, const char *s);
