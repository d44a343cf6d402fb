/* SPDX-License-Identifier: MIT */
/* cgroup/cgroup-psi.c: PSI triggers (Documentation/accounting/psi.rst). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cgroup-psi.h"
#include "util/log.h"

int psi_trigger_format(PsiKind kind, usec_t stall_usec, usec_t window_usec, char *buf, size_t size)
{
        const char *k;
        int n;

        switch (kind) {
        case PSI_SOME:
                k = "some";
                break;
        case PSI_FULL:
                k = "full";
                break;
        default:
                return -EINVAL;
        }
        if (stall_usec == 0 || stall_usec > window_usec || window_usec < PSI_WINDOW_MIN_USEC ||
            window_usec > PSI_WINDOW_MAX_USEC)
                return -EINVAL;
        if (!buf)
                return -EINVAL;

        n = snprintf(buf, size, "%s %" PRIu64 " %" PRIu64, k, stall_usec, window_usec);
        if (n < 0 || (size_t) n >= size)
                return -ENOBUFS;
        return 0;
}

int psi_trigger_open(int cgfd, PsiKind kind, usec_t stall_usec, usec_t window_usec)
{
        _cleanup_close_ int fd = -EBADF;
        char buf[64];
        int r;

        r = psi_trigger_format(kind, stall_usec, window_usec, buf, sizeof buf);
        if (r < 0)
                return r;

        fd = openat(cgfd, "memory.pressure", O_RDWR | O_NONBLOCK | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
        if (fd < 0)
                return log_debug_errno(-errno, "Cannot open memory.pressure: %m");

        /* The kernel's own example writes the terminating NUL too. */
        size_t len = strlen(buf) + 1;
        ssize_t k = write(fd, buf, len);
        if (k < 0)
                return log_debug_errno(-errno, "Cannot write PSI trigger \"%s\": %m", buf);
        if ((size_t) k != len)
                return -EIO;
        return TAKE_FD(fd);
}
