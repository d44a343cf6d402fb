/* SPDX-License-Identifier: MIT */
/* Unit tests for cgroup/cgroup-pagecache.c: the fdinfo and maps parsers (hostile input included), path
 * globs, the selection rules on fixture data, and the mincore measure + POSIX_FADV_DONTNEED on a real file
 * (under the build directory; skipped where the filesystem keeps no page cache, e.g. tmpfs). */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "cgroup/cgroup-pagecache.h"

#define PAGE 4096ULL

Test(fdinfo, regular_file)
{
        FdInfo fi;
        cr_assert_eq(fdinfo_parse("pos:\t1048576\nflags:\t0100000\nmnt_id:\t29\nino:\t1234567\n", &fi), 0);
        cr_assert_eq(fi.pos, 1048576);
        cr_assert_eq(fi.flags, 0100000);
        cr_assert_eq(fi.flags & O_ACCMODE, O_RDONLY);
        cr_assert_eq(fi.mnt_id, 29);
        cr_assert_eq(fi.ino, 1234567);

        /* Before 5.14: no ino; O_RDWR|O_CLOEXEC|O_LARGEFILE. */
        cr_assert_eq(fdinfo_parse("pos:\t0\nflags:\t02100002\nmnt_id:\t7\n", &fi), 0);
        cr_assert_eq(fi.ino, 0);
        cr_assert_eq(fi.flags & O_ACCMODE, O_RDWR);

        /* Without mnt_id; extra lines (eventfd, inotify, locks) ignored; no final newline. */
        cr_assert_eq(fdinfo_parse("pos:\t12\nflags:\t01\neventfd-count:\t0\nlock:\t1: POSIX\nino:\t5", &fi), 0);
        cr_assert_eq(fi.pos, 12);
        cr_assert_eq(fi.mnt_id, -1);
        cr_assert_eq(fi.flags & O_ACCMODE, O_WRONLY);
        cr_assert_eq(fi.ino, 5);
}

Test(fdinfo, hostile)
{
        FdInfo fi;
        memset(&fi, 0x5a, sizeof fi);
        cr_assert_eq(fdinfo_parse("", &fi), -EINVAL);
        cr_assert_eq(fdinfo_parse("pos:\t1\n", &fi), -EINVAL, "no flags");
        cr_assert_eq(fdinfo_parse("flags:\t0\n", &fi), -EINVAL, "no pos");
        cr_assert_eq(fdinfo_parse("pos:\tabc\nflags:\t0\n", &fi), -EINVAL);
        cr_assert_eq(fdinfo_parse("pos:\t1\nflags:\t09\n", &fi), -EINVAL, "9 is not octal");
        cr_assert_eq(fdinfo_parse("pos:\t1 2\nflags:\t0\n", &fi), -EINVAL, "trailing junk");
        cr_assert_eq(fdinfo_parse("pos:\t99999999999999999999999\nflags:\t0\n", &fi), -ERANGE);
        cr_assert_eq(fdinfo_parse("pos:\t1\nflags:\t777777777777\n", &fi), -ERANGE);
        cr_assert_eq(fdinfo_parse("pos:\t\nflags:\t0\n", &fi), -EINVAL);
        cr_assert_eq(fdinfo_parse("pos:\t1\nflags:\t0\nmnt_id:\t-3\n", &fi), -EINVAL);
}

Test(maps, inodes)
{
        const char *maps =
                "55d0c0a00000-55d0c0a02000 r--p 00000000 fe:01 1310802                    /usr/bin/cat\n"
                "55d0c1e8b000-55d0c1eac000 rw-p 00000000 00:00 0                          [heap]\n"
                "7f2a5c000000-7f2a5c400000 r--s 00000000 08:11 77 /mnt/data/a file (deleted)\n"
                "7ffd5b5d2000-7ffd5b5f3000 rw-p 00000000 00:00 0                          [stack]\n"
                "ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]\n";
        uint64_t *inodes = NULL;
        size_t n = 0;
        cr_assert_eq(proc_maps_parse(maps, &inodes, &n), 0);
        cr_assert_eq(n, 2);
        cr_assert_eq(inodes[0], 1310802);
        cr_assert_eq(inodes[1], 77);
        free(inodes);

        inodes = NULL;
        n = 0;
        cr_assert_eq(proc_maps_parse("", &inodes, &n), 0);
        cr_assert_eq(n, 0);
        cr_assert_eq(proc_maps_parse("garbage\n", &inodes, &n), -EINVAL);
        cr_assert_eq(proc_maps_parse("1000-2000 r--p 0 fe:01\n", &inodes, &n), -EINVAL, "truncated");
        cr_assert_eq(proc_maps_parse("1000-2000 rwxpq 0 fe:01 5\n", &inodes, &n), -EINVAL);
        cr_assert_eq(proc_maps_parse("1000-2000 r--p 0 fe:01 5x\n", &inodes, &n), -EINVAL);
        free(inodes);
}

Test(glob, components_and_doublestar)
{
        cr_assert(path_glob_match("/var/backups/**", "/var/backups/a.tar"));
        cr_assert(path_glob_match("/var/backups/**", "/var/backups/2024/01/a.tar"));
        cr_assert_not(path_glob_match("/var/backups/**", "/var/backups"), "the directory itself");
        cr_assert_not(path_glob_match("/var/backups/**", "/var/backupsX/a"));
        cr_assert(path_glob_match("/var/log/*.gz", "/var/log/syslog.1.gz"));
        cr_assert_not(path_glob_match("/var/log/*.gz", "/var/log/nginx/access.gz"), "* stays in a component");
        cr_assert(path_glob_match("/var/log/**/*.gz", "/var/log/a.gz"), "** matches zero components");
        cr_assert(path_glob_match("/var/log/**/*.gz", "/var/log/nginx/old/access.gz"));
        cr_assert_not(path_glob_match("/var/log/**/*.gz", "/var/log/nginx/access.log"));
        cr_assert(path_glob_match("/srv/*/dump-[0-9]*", "/srv/db/dump-2024"));
        cr_assert(path_glob_match("/data/.hidden*", "/data/.hidden1"), "a leading dot is not special");
        cr_assert(path_glob_match("/**", "/anything/at/all"));
        cr_assert(path_glob_match("/a/b", "/a/b"));
        cr_assert_not(path_glob_match("/a/b", "/a/b/c"));
        cr_assert_not(path_glob_match("/a/b/c", "/a/b"));
        cr_assert_not(path_glob_match("/a/**/b", "/a/xb"));
        cr_assert(path_glob_match("/a/**/b", "/a/x/y/b"));
        cr_assert_not(path_glob_match(NULL, "/a"));
}

/* Fixture: what a scan of a cgroup could return. */
#define F(p, fdn, path_, ino_, size_, pos_, flags_)                                                        \
        { .pid = (p), .fd = (fdn), .path = (char *) (path_), .dev = 0x801, .ino = (ino_), .size = (size_),   \
          .regular = true, .info = { .pos = (pos_), .flags = (flags_), .mnt_id = 1, .ino = (ino_) } }

Test(plan, selection_rules)
{
        OpenFile files[] = {
                /* 0: a sequential reader 100 MiB into a 1 GiB backup source: drop behind it */
                F(100, 3, "/srv/data/big.img", 11, 1 << 30, (100 << 20) + 123, O_RDONLY),
                /* 1: read-write (a database): never */
                F(100, 4, "/srv/db/main.db", 12, 1 << 30, 500 << 20, O_RDWR),
                /* 2: write-only log */
                F(100, 5, "/var/log/app.log", 13, 1 << 20, 1 << 20, O_WRONLY | O_APPEND),
                /* 3: mapped by some process of the cgroup */
                F(101, 3, "/usr/lib/libfoo.so", 14, 1 << 20, 8192, O_RDONLY),
                /* 4, 5: the same file in two processes at different positions: shared, skip */
                F(100, 6, "/srv/data/shared.idx", 15, 1 << 24, 1 << 20, O_RDONLY),
                F(101, 4, "/srv/data/shared.idx", 15, 1 << 24, 3 << 20, O_RDONLY),
                /* 6: opened, nothing read yet (or less than a page) */
                F(100, 7, "/srv/data/fresh", 16, 1 << 20, 4095, O_RDONLY),
                /* 7: a backup being written, matched by Paths=: whole file whatever the mode */
                F(102, 3, "/var/backups/2024/full.tar", 17, 300 << 20, 300 << 20, O_WRONLY | O_CREAT),
                /* 8: not regular */
                { .pid = 102, .fd = 4, .path = (char *) "pipe:[1]", .regular = false },
                /* 9, 10: the same file shared over fork (same position): one drop, the other a duplicate */
                F(103, 3, "/srv/data/stream", 18, 1 << 26, 1 << 25, O_RDONLY),
                F(104, 3, "/srv/data/stream", 18, 1 << 26, 1 << 25, O_RDONLY),
                /* 11: position past the end (file truncated since): drop up to the size */
                F(105, 3, "/srv/data/shrunk", 19, 10000, 50000, O_RDONLY),
                /* 12: Paths= match but mapped: skip */
                F(106, 3, "/var/backups/mapped.bin", 14, 1 << 20, 0, O_RDONLY),
                /* 13: Paths= match but deleted: the glob is about names, skip as a one-pass read */
                F(106, 4, "/var/backups/old.tar (deleted)", 20, 1 << 20, 0, O_RDONLY),
                /* 14: an O_PATH descriptor */
                F(106, 5, "/srv/data/opath", 21, 1 << 20, 1 << 20, O_PATH),
                /* 15: read-only but another process writes the same file */
                F(107, 3, "/srv/data/rw", 22, 1 << 20, 1 << 20, O_RDONLY),
                F(108, 3, "/srv/data/rw", 22, 1 << 20, 1 << 20, O_RDWR),
        };
        uint64_t mapped[] = { 99, 14 };
        char *globs[] = { (char *) "/var/backups/**", NULL };
        DropChoice c[ELEMENTSOF(files)];

        memset(c, 0x5a, sizeof c);
        pagecache_plan(files, ELEMENTSOF(files), mapped, ELEMENTSOF(mapped), globs, PAGE, c);

        cr_assert_eq(c[0].verdict, DROP_BEHIND);
        cr_assert_eq(c[0].length, 100 << 20, "rounded down to a page");
        cr_assert_eq(c[1].verdict, DROP_SKIP);
        cr_assert_eq(c[1].reason, SKIP_WRITER);
        cr_assert_eq(c[2].reason, SKIP_WRITER);
        cr_assert_eq(c[3].reason, SKIP_MAPPED);
        cr_assert_eq(c[4].reason, SKIP_SHARED);
        cr_assert_eq(c[5].reason, SKIP_DUPLICATE);
        cr_assert_eq(c[6].reason, SKIP_NOT_MOVED);
        cr_assert_eq(c[7].verdict, DROP_WHOLE);
        cr_assert_eq(c[7].length, 300 << 20);
        cr_assert_eq(c[8].reason, SKIP_NOT_REGULAR);
        cr_assert_eq(c[9].verdict, DROP_BEHIND);
        cr_assert_eq(c[9].length, 1 << 25);
        cr_assert_eq(c[10].reason, SKIP_DUPLICATE);
        cr_assert_eq(c[11].verdict, DROP_BEHIND);
        cr_assert_eq(c[11].length, 8192, "up to the size, rounded down");
        cr_assert_eq(c[12].reason, SKIP_MAPPED);
        cr_assert_eq(c[13].reason, SKIP_NOT_MOVED);
        cr_assert_eq(c[14].reason, SKIP_NOT_REGULAR);
        cr_assert_eq(c[15].reason, SKIP_WRITER);
        cr_assert_eq(c[16].reason, SKIP_DUPLICATE);

        /* Without globs the backup being written is a writer. */
        pagecache_plan(files, ELEMENTSOF(files), mapped, ELEMENTSOF(mapped), NULL, PAGE, c);
        cr_assert_eq(c[7].reason, SKIP_WRITER);
        /* An empty Paths= match of a 0-byte file drops nothing. */
        OpenFile empty[] = { F(1, 3, "/var/backups/empty", 30, 0, 0, O_RDONLY) };
        pagecache_plan(empty, 1, NULL, 0, globs, PAGE, c);
        cr_assert_eq(c[0].verdict, DROP_SKIP);

        cr_assert_str_eq(drop_skip_reason_to_string(SKIP_MAPPED), "mapped");
        cr_assert_null(drop_skip_reason_to_string((DropSkipReason) 99));
}

/* A file on a filesystem with a page cache: under the build directory (the host's /tmp may be tmpfs). */
Test(measure, mincore_and_dontneed)
{
        char path[4096];
        struct statfs sfs;

        snprintf(path, sizeof path, "%s/test-pagecache.XXXXXX", BUILD_ROOT);
        int fd = mkstemp(path);
        cr_assert_geq(fd, 0);
        unlink(path);
        cr_assert_eq(fstatfs(fd, &sfs), 0);

        size_t size = 8 << 20;
        char *buf = malloc(size);
        cr_assert_not_null(buf);
        memset(buf, 'x', size);
        cr_assert_eq(write(fd, buf, size), (ssize_t) size);
        cr_assert_eq(fdatasync(fd), 0);
        cr_assert_eq(pread(fd, buf, size, 0), (ssize_t) size);
        free(buf);

        uint64_t before = 0, after = 0, half = 0;
        int r = file_resident_bytes(fd, 0, 0, &before);
        cr_assert_eq(r, 0, "mincore: %s", strerror(-r));
        cr_assert_leq(before, size);
        cr_assert_eq(file_resident_bytes(fd, 0, 4 << 20, &half), 0);
        cr_assert_leq(half, 4 << 20);
        cr_assert_eq(file_resident_bytes(fd, 4097, 0, &half), -EINVAL, "offset not page aligned");

        if (before < size / 2 || sfs.f_type == 0x01021994 /* TMPFS_MAGIC */) {
                close(fd);
                cr_skip_test("the build directory's filesystem (f_type 0x%lx) does not keep the file in the page "
                             "cache (%lu of %zu bytes resident): DONTNEED cannot be checked here",
                             (unsigned long) sfs.f_type, (unsigned long) before, size);
        }

        /* Drop the first half only, as drop-behind does. */
        cr_assert_eq(file_drop_cache(fd, 0, 4 << 20), 0);
        cr_assert_eq(file_resident_bytes(fd, 0, 4 << 20, &after), 0);
        cr_assert_lt(after, 1 << 20, "the first half was dropped (%lu bytes still resident)", (unsigned long) after);
        cr_assert_eq(file_resident_bytes(fd, 4 << 20, 0, &after), 0);
        cr_assert_gt(after, 3 << 20, "the second half stays (%lu bytes resident)", (unsigned long) after);

        cr_assert_eq(file_drop_cache(fd, 0, 0), 0);
        cr_assert_eq(file_resident_bytes(fd, 0, 0, &after), 0);
        cr_assert_lt(after, 1 << 20);
        close(fd);
}

Test(measure, empty_file)
{
        char path[4096];
        uint64_t v = 123;

        snprintf(path, sizeof path, "%s/test-pagecache-empty.XXXXXX", BUILD_ROOT);
        int fd = mkstemp(path);
        cr_assert_geq(fd, 0);
        unlink(path);
        cr_assert_eq(file_resident_bytes(fd, 0, 0, &v), 0);
        cr_assert_eq(v, 0);
        close(fd);
}

/* The scan against our own process, through the host's /proc (reading only): a file we have open and read
 * is found with its position, and pagecache_open() reaches it through the magic link. */
Test(scan, own_process_open_file)
{
        char path[4096];
        snprintf(path, sizeof path, "%s/test-pagecache-scan.XXXXXX", BUILD_ROOT);
        int wfd = mkstemp(path);
        cr_assert_geq(wfd, 0);
        char buf[3 * 4096] = { 0 };
        cr_assert_eq(write(wfd, buf, sizeof buf), (ssize_t) sizeof buf);
        close(wfd);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        cr_assert_geq(fd, 0);
        cr_assert_eq(read(fd, buf, 2 * 4096), 2 * 4096);

        CgroupRoot root = { .root_fd = -EBADF, .proc_fd = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC) };
        cr_assert_geq(root.proc_fd, 0);
        struct stat st;
        cr_assert_eq(fstat(fd, &st), 0);
        OpenFile f = { .pid = getpid(), .fd = fd, .dev = st.st_dev, .ino = st.st_ino };

        int dfd = pagecache_open(&root, &f);
        cr_assert_geq(dfd, 0, "pagecache_open: %s", strerror(-dfd));
        close(dfd);
        f.ino++;
        cr_assert_eq(pagecache_open(&root, &f), -ESTALE, "another file behind the same descriptor");
        f.fd = 9999;
        cr_assert_lt(pagecache_open(&root, &f), 0);

        close(root.proc_fd);
        close(fd);
        unlink(path);
}
