/* SPDX-License-Identifier: MIT */
/* tests/unit/hold-fds.h: run code with every fd number up to ENODEV + 1 as the next one open() returns. A
 * test process holds a few fds; the daemon holds many (sd-event, inotify, PSI triggers, a dirfd per guard),
 * so its cgroup fds get numbers like 19, which is also ENODEV's: an fd taken for an errno reads as "gone"
 * there and nowhere in a fixture test. The picker did exactly that in the VM
 * (ERRNO_IS_GONE() took the absolute value, util/macro.h). */
#pragma once

#include <criterion/criterion.h>
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <unistd.h>

#define HOLD_FDS_MAX 64

/* Opens /dev/null until target is the lowest free fd; the fds taken go into held[]. Returns how many. */
static inline size_t hold_fds_below(int target, int *held, size_t max)
{
        size_t n = 0;
        for (;;) {
                int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
                cr_assert_geq(fd, 0);
                if (fd == target) {
                        close(fd);
                        return n;
                }
                cr_assert_lt(fd, target, "fd %d is taken: it cannot be the next one", target);
                cr_assert_lt(n, max);
                held[n++] = fd;
        }
}

static inline void hold_fds_release(const int *held, size_t n)
{
        for (size_t i = 0; i < n; i++)
                close(held[i]);
}

/* The first free fd; fails the test when ENODEV's number is taken or already behind it (nothing to show). */
static inline int hold_fds_first(void)
{
        int first = open("/dev/null", O_RDONLY | O_CLOEXEC);
        cr_assert_geq(first, 0);
        close(first);
        cr_assert_leq(first, ENODEV, "the first free fd %d is already past ENODEV", first);
        cr_assert_lt(fcntl(ENODEV, F_GETFD), 0, "fd %d (ENODEV) is taken in this process", ENODEV);
        return first;
}

/* One round: *target becomes the next free fd number from the first free one (start with -1) to ENODEV + 1,
 * with the fds below it held in held[] (release them with hold_fds_release() at the end of the round).
 * Returns false after the last. */
static inline bool hold_fds_next(int *target, int *held, size_t *n_held)
{
        int t = *target < 0 ? hold_fds_first() : *target + 1;
        while (t <= ENODEV + 1 && fcntl(t, F_GETFD) >= 0)
                t++; /* taken: it cannot be the next one */
        if (t > ENODEV + 1)
                return false;
        *n_held = hold_fds_below(t, held, HOLD_FDS_MAX);
        *target = t;
        return true;
}
