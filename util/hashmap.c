/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hashmap.h"

/* 24 bytes, a 32-byte malloc chunk: the hash is not kept (it was 32 bytes, a 48-byte chunk; a guarded cgroup
 * has four entries: docs/scale.md). Chains are short; a string key is compared, an int key is its own. */
typedef struct Entry {
        struct Entry *next;
        const void *key;
        void *value;
} Entry;

struct Hashmap {
        HashmapKeyType type;
        Entry **buckets;
        size_t n_buckets;
        size_t size;
};

static uint64_t hash_key(const Hashmap *h, const void *key)
{
        uint64_t x = 1469598103934665603ULL; /* FNV-1a */
        if (h->type == HASHMAP_KEY_STRING) {
                for (const unsigned char *p = key; *p; p++) {
                        x ^= *p;
                        x *= 1099511628211ULL;
                }
        } else {
                uint64_t v = (uint64_t) (intptr_t) key;
                for (int i = 0; i < 8; i++) {
                        x ^= (v >> (i * 8)) & 0xff;
                        x *= 1099511628211ULL;
                }
        }
        return x;
}

static bool key_eq(const Hashmap *h, const void *a, const void *b)
{
        if (h->type == HASHMAP_KEY_STRING)
                return strcmp(a, b) == 0;
        return a == b;
}

Hashmap *hashmap_new(HashmapKeyType type)
{
        Hashmap *h = calloc(1, sizeof *h);
        if (!h)
                return NULL;
        h->type = type;
        h->n_buckets = 16;
        h->buckets = calloc(h->n_buckets, sizeof(Entry *));
        if (!h->buckets) {
                free(h);
                return NULL;
        }
        return h;
}

Hashmap *hashmap_free(Hashmap *h)
{
        if (!h)
                return NULL;
        for (size_t b = 0; b < h->n_buckets; b++)
                for (Entry *e = h->buckets[b], *n; e; e = n) {
                        n = e->next;
                        free(e);
                }
        free(h->buckets);
        free(h);
        return NULL;
}

static Entry **find(const Hashmap *h, const void *key, uint64_t hash)
{
        Entry **p = &h->buckets[hash % h->n_buckets];
        for (; *p; p = &(*p)->next)
                if (key_eq(h, (*p)->key, key))
                        return p;
        return p;
}

static int grow(Hashmap *h)
{
        size_t nb = h->n_buckets * 2;
        Entry **buckets = calloc(nb, sizeof(Entry *));
        if (!buckets)
                return -ENOMEM;
        for (size_t b = 0; b < h->n_buckets; b++)
                for (Entry *e = h->buckets[b], *n; e; e = n) {
                        n = e->next;
                        uint64_t b2 = hash_key(h, e->key) % nb;
                        e->next = buckets[b2];
                        buckets[b2] = e;
                }
        free(h->buckets);
        h->buckets = buckets;
        h->n_buckets = nb;
        return 0;
}

int hashmap_put(Hashmap *h, const void *key, void *value)
{
        uint64_t hash = hash_key(h, key);
        Entry **p = find(h, key, hash);
        if (*p)
                return -EEXIST;
        Entry *e = malloc(sizeof *e);
        if (!e)
                return -ENOMEM;
        *e = (Entry){ .key = key, .value = value };
        *p = e;
        h->size++;
        if (h->size > h->n_buckets * 3 / 4)
                (void) grow(h); /* a failed grow only makes chains longer */
        return 0;
}

void *hashmap_get(const Hashmap *h, const void *key)
{
        if (!h)
                return NULL;
        Entry *e = *find(h, key, hash_key(h, key));
        return e ? e->value : NULL;
}

void *hashmap_remove(Hashmap *h, const void *key)
{
        if (!h)
                return NULL;
        Entry **p = find(h, key, hash_key(h, key));
        Entry *e = *p;
        if (!e)
                return NULL;
        void *v = e->value;
        *p = e->next;
        free(e);
        h->size--;
        return v;
}

size_t hashmap_size(const Hashmap *h)
{
        return h ? h->size : 0;
}

bool hashmap_iterate(Hashmap *h, HashmapIter *i, void **ret_value, const void **ret_key)
{
        if (!h)
                return false;
        Entry *e = i->next;
        while (!e) {
                if (i->bucket >= h->n_buckets)
                        return false;
                e = h->buckets[i->bucket++];
        }
        i->next = e->next; /* saved before the caller may remove e */
        if (ret_value)
                *ret_value = e->value;
        if (ret_key)
                *ret_key = e->key;
        return true;
}
