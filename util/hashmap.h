/* SPDX-License-Identifier: MIT */
/* util/hashmap.h: a small chained hash map with string or integer keys. Keys are not copied: the value
 * usually owns them. Iteration order is unspecified. Not thread-safe. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct Hashmap Hashmap;

typedef enum HashmapKeyType {
        HASHMAP_KEY_STRING, /* key is a const char * */
        HASHMAP_KEY_INT,    /* key is an intptr_t cast to a pointer */
} HashmapKeyType;

Hashmap *hashmap_new(HashmapKeyType type);
/* Frees the map, not the keys or values. */
Hashmap *hashmap_free(Hashmap *h);
/* Returns 0, -EEXIST if the key is present, -ENOMEM. */
int hashmap_put(Hashmap *h, const void *key, void *value);
void *hashmap_get(const Hashmap *h, const void *key);
/* Removes the key and returns its value (NULL if absent). */
void *hashmap_remove(Hashmap *h, const void *key);
size_t hashmap_size(const Hashmap *h);

/* Iteration: `void *v; HashmapIter i = HASHMAP_ITER_INIT; while (hashmap_iterate(h, &i, &v, NULL)) ...`
 * Removing the current entry while iterating is allowed. */
typedef struct HashmapIter {
        size_t bucket;
        void *next;
} HashmapIter;
#define HASHMAP_ITER_INIT ((HashmapIter){ 0, NULL })
bool hashmap_iterate(Hashmap *h, HashmapIter *i, void **ret_value, const void **ret_key);

#define INT_TO_PTR(i) ((const void *) (intptr_t) (i))
