/* SPDX-License-Identifier: MIT */
/* tests/helpers/libjemalloc.so.2: a library named like jemalloc that exports no mallctl (a stub allocator
 * build, or a jemalloc with a symbol prefix such as je_mallctl). Preloaded into a target, the injector
 * sees "jemalloc" in its maps and must refuse it by that reason: there is no purge entry to call. */
int jemalloc_stub_version(void);
int jemalloc_stub_version(void)
{
        return 2;
}
