/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fileio.h"
#include "macro.h"

/* Reads until n bytes or EOF. Returns the count, or -errno. */
static ssize_t read_until(int fd, char *buf, size_t n)
{
        size_t got = 0;

        while (got < n) {
                ssize_t k = read(fd, buf + got, n - got);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (k == 0)
                        break;
                got += (size_t) k;
        }
        return (ssize_t) got;
}

int read_full_fd(int fd, size_t max_size, char **ret, size_t *ret_size)
{
        /* Room for max_size + 1 bytes and the NUL: one byte more than allowed tells a file that is too large
         * from one of exactly max_size bytes. */
        size_t cap = max_size + 2, size = 0, alloc = MIN((size_t) 4096, cap);
        _cleanup_free_ char *buf = malloc(alloc);
        if (!buf)
                return -ENOMEM;

        for (;;) {
                if (alloc - size < 2) {
                        if (alloc >= cap)
                                return -EFBIG;
                        size_t nalloc = MIN(alloc * 2, cap);
                        char *n = realloc(buf, nalloc);
                        if (!n)
                                return -ENOMEM;
                        buf = n;
                        alloc = nalloc;
                }
                size_t room = alloc - size - 1;
                ssize_t k = read_until(fd, buf + size, room);
                if (k < 0)
                        return (int) k;
                size += (size_t) k;
                if (size > max_size)
                        return -EFBIG;
                if ((size_t) k < room)
                        break; /* EOF */
        }
        buf[size] = 0;
        if (ret_size)
                *ret_size = size;
        *ret = TAKE_PTR(buf);
        return 0;
}

ssize_t read_record_at(int dirfd, const char *path, char *buf, size_t size)
{
        if (size < 2)
                return -EINVAL;
        _cleanup_close_ int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
        if (fd < 0)
                return -errno;
        ssize_t n;
        do
                n = read(fd, buf, size - 1);
        while (n < 0 && errno == EINTR);
        if (n < 0)
                return -errno;
        if ((size_t) n == size - 1)
                return -EFBIG; /* filled: maybe more than fits */
        buf[n] = 0;
        return n;
}

ssize_t read_prefix_at(int dirfd, const char *path, char *buf, size_t size)
{
        _cleanup_close_ int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
        if (fd < 0)
                return -errno;
        if (size == 0)
                return -EINVAL;
        ssize_t n = read_until(fd, buf, size - 1);
        if (n < 0)
                return n;
        buf[n] = 0;
        return n;
}

int read_full_file_at(int dirfd, const char *path, size_t max_size, char **ret, size_t *ret_size)
{
        _cleanup_close_ int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
        if (fd < 0)
                return -errno;
        return read_full_fd(fd, max_size, ret, ret_size);
}

int write_string_file_at(int dirfd, const char *path, const char *s)
{
        _cleanup_close_ int fd = openat(dirfd, path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
        if (fd < 0)
                return -errno;
        size_t n = strlen(s);
        ssize_t k = write(fd, s, n);
        if (k < 0)
                return -errno;
        if ((size_t) k != n)
                return -EIO;
        return 0;
}
