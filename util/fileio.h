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
/* Reads at most size - 1 bytes of the file at dirfd/path (one that may be huge, like /proc/PID/cmdline) into
 * buf, NUL-terminated. Returns the length, or -errno. */
ssize_t read_prefix_at(int dirfd, const char *path, char *buf, size_t size);
/* Writes s to dirfd/path (O_WRONLY|O_CLOEXEC|O_NOFOLLOW, no O_CREAT/O_TRUNC) in one write(2).
 * Returns 0, or -errno (the kernel's answer, e.g. -EAGAIN from memory.reclaim). */
int write_string_file_at(int dirfd, const char *path, const char *s);
