/* SPDX-License-Identifier: MIT */
/* cgroup/cgroup-map-smaps.c: smaps_rollup (or smaps) on a buffer -> SmapsRollup (cgroup-map.h). Pure. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "cgroup-map.h"

int smaps_parse(const char *buf, bool sum, SmapsRollup *ret)
{
        static const struct {
                const char *key;
                size_t offset;
        } keys[] = {
                { "Rss", offsetof(SmapsRollup, rss) },
                { "Pss", offsetof(SmapsRollup, pss) },
                { "Pss_Anon", offsetof(SmapsRollup, pss_anon) },
                { "Pss_File", offsetof(SmapsRollup, pss_file) },
                { "Pss_Shmem", offsetof(SmapsRollup, pss_shmem) },
                { "Shared_Clean", offsetof(SmapsRollup, shared_clean) },
                { "Shared_Dirty", offsetof(SmapsRollup, shared_dirty) },
                { "Private_Clean", offsetof(SmapsRollup, private_clean) },
                { "Private_Dirty", offsetof(SmapsRollup, private_dirty) },
                { "Anonymous", offsetof(SmapsRollup, anonymous) },
                { "LazyFree", offsetof(SmapsRollup, lazyfree) },
                { "Swap", offsetof(SmapsRollup, swap) },
                { "SwapPss", offsetof(SmapsRollup, swap_pss) },
        };
        SmapsRollup s = {};
        uint32_t seen = 0;

        if (!buf)
                return -EINVAL;

        for (const char *p = buf; *p;) {
                const char *eol = strchrnul(p, '\n');
                const char *colon = memchr(p, ':', (size_t) (eol - p));
                size_t klen = colon ? (size_t) (colon - p) : 0;
                size_t i;

                for (i = 0; colon && i < ELEMENTSOF(keys); i++)
                        if (strlen(keys[i].key) == klen && memcmp(keys[i].key, p, klen) == 0)
                                break;
                if (!colon || i >= ELEMENTSOF(keys)) {
                        p = *eol ? eol + 1 : eol;
                        continue;
                }

                if (!sum && (seen & (1U << i)))
                        return -EINVAL;
                seen |= 1U << i;

                const char *q = colon + 1;
                while (q < eol && (*q == ' ' || *q == '\t'))
                        q++;
                if (q >= eol || *q < '0' || *q > '9')
                        return -EINVAL;
                uint64_t v = 0;
                for (; q < eol && *q >= '0' && *q <= '9'; q++) {
                        if (v > (UINT64_MAX - (uint64_t) (*q - '0')) / 10)
                                return -ERANGE;
                        v = v * 10 + (uint64_t) (*q - '0');
                }
                while (q < eol && (*q == ' ' || *q == '\t'))
                        q++;
                if (eol - q < 2 || q[0] != 'k' || q[1] != 'B')
                        return -EINVAL;
                q += 2;
                while (q < eol && (*q == ' ' || *q == '\t' || *q == '\r'))
                        q++;
                if (q != eol)
                        return -EINVAL;
                if (v > UINT64_MAX / 1024)
                        return -ERANGE;
                v *= 1024;

                uint64_t *field = (uint64_t *) ((char *) &s + keys[i].offset);
                if (*field > UINT64_MAX - v)
                        return -ERANGE;
                *field += v;

                p = *eol ? eol + 1 : eol;
        }

        if (!(seen & 1U)) /* no Rss: empty (kernel thread, zombie) or truncated */
                return -EINVAL;
        s.has_pss_anon = seen & (1U << 2);
        *ret = s;
        return 0;
}
