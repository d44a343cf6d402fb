/* SPDX-License-Identifier: MIT */
/* cgroup/cgroup-act.h and cgroup/cgroup-psi.h: writes into a temporary directory of regular files (never
 * /sys/fs/cgroup), pidfds on real child processes. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "cgroup/cgroup-act.h"
#include "cgroup/cgroup-procs.h"
#include "cgroup/cgroup-psi.h"
#include "util/fileio.h"

static char tmpdir[] = "/tmp/memwarden-act-XXXXXX";
static int tmpfd = -EBADF;
static const char *const files[] = { "memory.reclaim", "memory.high", "cgroup.kill", "memory.pressure",
                                     "cgroup.procs" };

static void setup(void)
{
        cr_assert_not_null(mkdtemp(tmpdir));
        tmpfd = open(tmpdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        cr_assert_geq(tmpfd, 0);
        for (size_t i = 0; i < ELEMENTSOF(files); i++) {
                int fd = openat(tmpfd, files[i], O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
                cr_assert_geq(fd, 0);
                close(fd);
        }
}

static void teardown(void)
{
        for (size_t i = 0; i < ELEMENTSOF(files); i++)
                unlinkat(tmpfd, files[i], 0);
        closep(&tmpfd);
        rmdir(tmpdir);
}

static char *contents(int dfd, const char *name)
{
        char *b = NULL;
        cr_assert_eq(read_full_file_at(dfd, name, 4096, &b, NULL), 0);
        return b;
}

static void truncate_file(const char *name)
{
        int fd = openat(tmpfd, name, O_WRONLY | O_TRUNC | O_CLOEXEC);
        cr_assert_geq(fd, 0);
        close(fd);
}

TestSuite(act, .init = setup, .fini = teardown);

Test(act, reclaim)
{
        cr_assert_eq(cgroup_reclaim(tmpfd, 268435456ULL), 0);
        _cleanup_free_ char *a = contents(tmpfd, "memory.reclaim");
        cr_assert_str_eq(a, "268435456");
        truncate_file("memory.reclaim");
        cr_assert_eq(cgroup_reclaim(tmpfd, UINT64_MAX), 0);
        _cleanup_free_ char *b = contents(tmpfd, "memory.reclaim");
        cr_assert_str_eq(b, "18446744073709551615");
        unlinkat(tmpfd, "memory.reclaim", 0);
        cr_assert_eq(cgroup_reclaim(tmpfd, 4096), -ENOENT, "old kernel: no memory.reclaim");
}

Test(act, write_high)
{
        cr_assert_eq(cgroup_write_high(tmpfd, 483183820ULL), 0);
        _cleanup_free_ char *a = contents(tmpfd, "memory.high");
        cr_assert_str_eq(a, "483183820");
        truncate_file("memory.high");
        cr_assert_eq(cgroup_write_high(tmpfd, CGROUP_LIMIT_MAX), 0);
        _cleanup_free_ char *b = contents(tmpfd, "memory.high");
        cr_assert_str_eq(b, "max");
        unlinkat(tmpfd, "memory.high", 0);
        cr_assert_eq(cgroup_write_high(tmpfd, 1), -ENOENT);
}

Test(act, kill_all)
{
        cr_assert_eq(cgroup_kill_all(tmpfd), 0);
        _cleanup_free_ char *a = contents(tmpfd, "cgroup.kill");
        cr_assert_str_eq(a, "1");
        unlinkat(tmpfd, "cgroup.kill", 0);
        cr_assert_eq(cgroup_kill_all(tmpfd), -ENOENT, "pre-5.14 kernel");
}

/* ---- PSI triggers ---- */

Test(psi_trigger, format)
{
        char buf[64];
        cr_assert_eq(psi_trigger_format(PSI_SOME, 150 * USEC_PER_MSEC, USEC_PER_SEC, buf, sizeof buf), 0);
        cr_assert_str_eq(buf, "some 150000 1000000");
        cr_assert_eq(psi_trigger_format(PSI_FULL, 50 * USEC_PER_MSEC, 500 * USEC_PER_MSEC, buf, sizeof buf), 0);
        cr_assert_str_eq(buf, "full 50000 500000");
        /* The edges are allowed: window 500ms and 10s; stall == window. */
        cr_assert_eq(psi_trigger_format(PSI_SOME, 10 * USEC_PER_SEC, 10 * USEC_PER_SEC, buf, sizeof buf), 0);
        cr_assert_str_eq(buf, "some 10000000 10000000");
        cr_assert_eq(psi_trigger_format(PSI_SOME, 1, PSI_WINDOW_MIN_USEC, buf, sizeof buf), 0);
        cr_assert_str_eq(buf, "some 1 500000");
}

Test(psi_trigger, format_refuses)
{
        char buf[64] = "untouched";
        cr_assert_eq(psi_trigger_format(PSI_SOME, 0, USEC_PER_SEC, buf, sizeof buf), -EINVAL, "stall 0");
        cr_assert_eq(psi_trigger_format(PSI_SOME, 2 * USEC_PER_SEC, USEC_PER_SEC, buf, sizeof buf), -EINVAL,
                     "stall > window");
        cr_assert_eq(psi_trigger_format(PSI_SOME, 1000, 499999, buf, sizeof buf), -EINVAL, "window < 500ms");
        cr_assert_eq(psi_trigger_format(PSI_SOME, 1000, 10 * USEC_PER_SEC + 1, buf, sizeof buf), -EINVAL,
                     "window > 10s");
        cr_assert_eq(psi_trigger_format(PSI_SOME, 1000, USEC_INFINITY, buf, sizeof buf), -EINVAL);
        cr_assert_eq(psi_trigger_format((PsiKind) 7, 1000, USEC_PER_SEC, buf, sizeof buf), -EINVAL, "kind");
        cr_assert_str_eq(buf, "untouched");
        char small[8];
        cr_assert_eq(psi_trigger_format(PSI_SOME, 150000, USEC_PER_SEC, small, sizeof small), -ENOBUFS);
}

Test(act, psi_trigger_open_writes_nul_terminated)
{
        int fd = psi_trigger_open(tmpfd, PSI_FULL, 100 * USEC_PER_MSEC, 2 * USEC_PER_SEC);
        cr_assert_geq(fd, 0);
        int fl = fcntl(fd, F_GETFL);
        cr_assert_eq(fl & O_ACCMODE, O_RDWR);
        cr_assert(fl & O_NONBLOCK);
        cr_assert(fcntl(fd, F_GETFD) & FD_CLOEXEC);
        close(fd);
        char buf[64] = {};
        int r = openat(tmpfd, "memory.pressure", O_RDONLY | O_CLOEXEC);
        cr_assert_geq(r, 0);
        ssize_t n = read(r, buf, sizeof buf);
        close(r);
        cr_assert_eq(n, (ssize_t) sizeof "full 100000 2000000", "written with its NUL");
        cr_assert_eq(memcmp(buf, "full 100000 2000000", sizeof "full 100000 2000000"), 0);

        cr_assert_eq(psi_trigger_open(tmpfd, PSI_SOME, 0, USEC_PER_SEC), -EINVAL);
        unlinkat(tmpfd, "memory.pressure", 0);
        cr_assert_eq(psi_trigger_open(tmpfd, PSI_SOME, 1000, USEC_PER_SEC), -ENOENT);
}

/* ---- pidfds on real children ---- */

static int sig_pipe[2];

static void on_usr1(int sig, siginfo_t *si, void *uc)
{
        int v[2] = { si->si_code, si->si_value.sival_int };
        (void) !write(sig_pipe[1], v, sizeof v);
}

/* A child that reports each SIGUSR1's si_code and sival_int, then waits. */
static pid_t fork_listener(int ready[2])
{
        pid_t pid = fork();
        cr_assert_geq(pid, 0);
        if (pid == 0) {
                struct sigaction sa = { .sa_sigaction = on_usr1, .sa_flags = SA_SIGINFO };
                sigaction(SIGUSR1, &sa, NULL);
                (void) !write(ready[1], "r", 1);
                for (;;)
                        pause();
        }
        char c;
        cr_assert_eq(read(ready[0], &c, 1), 1);
        return pid;
}

static CgroupRoot *real_proc_root(void)
{
        /* The cgroup side is a dummy; /proc is the real one, so pidfds and /proc/PID/cgroup agree. */
        CgroupRoot *r = NULL;
        cr_assert_eq(cgroup_root_open(tmpdir, "/proc", &r), 0);
        return r;
}

static char *my_cgroup(void)
{
        char *p = NULL;
        _cleanup_free_ char *b = NULL;
        cr_assert_eq(read_full_file_at(AT_FDCWD, "/proc/self/cgroup", 65536, &b, NULL), 0);
        cr_assert_eq(proc_cgroup_parse_unified(b, &p), 0);
        return p;
}

Test(act, pidfd_signal_with_value)
{
        int ready[2];
        cr_assert_eq(pipe2(sig_pipe, O_CLOEXEC), 0);
        cr_assert_eq(pipe2(ready, O_CLOEXEC), 0);
        pid_t pid = fork_listener(ready);
        CgroupRoot *r = real_proc_root();
        /* Children inherit our cgroup: on this hybrid host "0::/", in a VM whatever we are in. */
        _cleanup_free_ char *cg = my_cgroup();

        int pidfd = pidfd_open_in_cgroup(r, pid, cg);
        cr_assert_geq(pidfd, 0, "pidfd_open_in_cgroup(%s): %d", cg, pidfd);
        cr_assert_eq(pidfd_open_in_cgroup(r, pid, "/system.slice/elsewhere.service"), -ESRCH, "another cgroup");

        cr_assert_eq(pidfd_signal(pidfd, SIGUSR1, 0x300), 0);
        int v[2];
        cr_assert_eq(read(sig_pipe[0], v, sizeof v), (ssize_t) sizeof v);
        cr_assert_eq(v[0], SI_QUEUE);
        cr_assert_eq(v[1], 0x300);

        cr_assert_eq(pidfd_signal(pidfd, SIGUSR1, -1), 0, "plain signal, no siginfo");
        cr_assert_eq(read(sig_pipe[0], v, sizeof v), (ssize_t) sizeof v);
        cr_assert_eq(v[0], SI_USER);

        cr_assert_eq(pidfd_signal(pidfd, 999, 0), -EINVAL);

        /* Kill it; a zombie still takes signals, a reaped process gives -ESRCH. */
        cr_assert_eq(pidfd_signal(pidfd, SIGKILL, -1), 0);
        int status;
        cr_assert_eq(waitpid(pid, &status, 0), pid);
        cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
        cr_assert_eq(pidfd_signal(pidfd, SIGUSR1, 0x300), -ESRCH);
        cr_assert_eq(pidfd_open_in_cgroup(r, pid, cg), -ESRCH);

        close(pidfd);
        cgroup_root_free(r);
}

Test(act, pidfd_open_root_on_hybrid_host)
{
        /* This host is hybrid: every process's "0::" line is "0::/". Elsewhere (a VM) skip the "/" case. */
        _cleanup_free_ char *cg = my_cgroup();
        CgroupRoot *r = real_proc_root();
        int fd = pidfd_open_in_cgroup(r, getpid(), "/");
        if (streq(cg, "/"))
                cr_assert_geq(fd, 0);
        else
                cr_assert_eq(fd, -ESRCH);
        if (fd >= 0)
                close(fd);
        cr_assert_eq(pidfd_open_in_cgroup(r, 0, "/"), -EINVAL);
        cr_assert_eq(pidfd_open_in_cgroup(r, INT32_MAX, "/"), -ESRCH, "no such PID");
        cgroup_root_free(r);
}

static pid_t fork_eater(size_t bytes, int ready[2])
{
        pid_t pid = fork();
        cr_assert_geq(pid, 0);
        if (pid == 0) {
                if (bytes > 0) {
                        char *m = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
                        if (m == MAP_FAILED)
                                _exit(1);
                        memset(m, 0x5a, bytes);
                }
                (void) !write(ready[1], "r", 1);
                for (;;)
                        pause();
        }
        char c;
        cr_assert_eq(read(ready[0], &c, 1), 1);
        return pid;
}

Test(act, open_largest)
{
        int ready[2];
        cr_assert_eq(pipe2(ready, O_CLOEXEC), 0);
        pid_t small = fork_eater(0, ready), big = fork_eater(32 << 20, ready);

        /* A cgroup.procs that lists our two children, a PID that does not exist, kthreadd (kernel thread)
         * and a duplicate. The cgroup path "/" is also what their /proc/PID/cgroup says on this host. */
        _cleanup_free_ char *cg = my_cgroup();
        char procs[128];
        snprintf(procs, sizeof procs, "%d\n%d\n%d\n2\n%d\n", (int) small, INT32_MAX, (int) big, (int) small);
        truncate_file("cgroup.procs");
        cr_assert_eq(write_string_file_at(tmpfd, "cgroup.procs", procs), 0);

        CgroupRoot *r = NULL;
        /* Lay the temp dir out at the same cgroup path as ours, so cgroup_open(cg) finds cgroup.procs. */
        if (streq(cg, "/"))
                cr_assert_eq(cgroup_root_open(tmpdir, "/proc", &r), 0);
        else
                cr_skip_test("not on the hybrid host: our cgroup is %s", cg);

        ProcPick pk = {};
        int fd = proc_open_largest(r, cg, &pk, NULL);
        cr_assert_geq(fd, 0, "%d", fd);
        cr_assert_eq(pk.pid, big);
        cr_assert_geq(pk.anon_bytes, 32ULL << 20, "ranked by anonymous memory");
        close(fd);

        /* The big one gone: the small one. */
        kill(big, SIGKILL);
        waitpid(big, NULL, 0);
        fd = proc_open_largest(r, cg, &pk, NULL);
        cr_assert_geq(fd, 0);
        cr_assert_eq(pk.pid, small);
        close(fd);

        kill(small, SIGKILL);
        waitpid(small, NULL, 0);
        cr_assert_eq(proc_open_largest(r, cg, &pk, NULL), -ESRCH);

        truncate_file("cgroup.procs");
        cr_assert_eq(proc_open_largest(r, cg, NULL, NULL), -ESRCH, "empty cgroup");
        cgroup_root_free(r);
}

/* util/fileio: a file of exactly max_size bytes is read whole, one byte more is -EFBIG; the size limit
 * holds across the buffer's growth steps (4096, 8192 ...) and for sizes below the first one. */
Test(fileio, read_full_fd_limits)
{
        static const size_t sizes[] = { 0, 1, 4094, 4095, 4096, 4097, 8191, 8192, 8193, 20000 };
        char path[] = "/tmp/mw-fileio-XXXXXX";
        int fd = mkstemp(path);
        cr_assert_geq(fd, 0);
        unlink(path);
        char *data = malloc(20001);
        cr_assert_not_null(data);
        for (size_t i = 0; i < 20001; i++)
                data[i] = (char) ('a' + i % 26);

        for (size_t k = 0; k < ELEMENTSOF(sizes); k++) {
                size_t n = sizes[k];
                cr_assert_eq(ftruncate(fd, 0), 0);
                cr_assert_eq(pwrite(fd, data, n, 0), (ssize_t) n);
                for (int d = -1; d <= 1; d++) {
                        if (d < 0 && n == 0)
                                continue;
                        size_t max = n + (size_t) d; /* n - 1, n, n + 1 */
                        char *b = NULL;
                        size_t got = SIZE_MAX;
                        cr_assert_eq(lseek(fd, 0, SEEK_SET), 0);
                        int r = read_full_fd(fd, max, &b, &got);
                        if (d < 0) {
                                cr_assert_eq(r, -EFBIG, "%zu bytes with max %zu: %d", n, max, r);
                                cr_assert_null(b);
                                continue;
                        }
                        cr_assert_eq(r, 0, "%zu bytes with max %zu: %d", n, max, r);
                        cr_assert_eq(got, n);
                        cr_assert_eq(memcmp(b, data, n), 0);
                        cr_assert_eq(b[n], 0);
                        free(b);
                }
        }
        free(data);
        close(fd);
}
