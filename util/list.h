/* SPDX-License-Identifier: MIT */
/* util/list.h: intrusive doubly linked lists. An item has `next` and `prev` pointers; head points at the
 * first item (NULL when empty). Each argument is evaluated more than once: pass plain lvalues. */
#pragma once

/* Puts item first. */
#define LIST_PREPEND(head, item)                                                                            \
        do {                                                                                                \
                (item)->prev = NULL;                                                                        \
                (item)->next = (head);                                                                      \
                if ((item)->next)                                                                           \
                        (item)->next->prev = (item);                                                        \
                (head) = (item);                                                                            \
        } while (0)

/* Takes item out of the list whose first item is head (nothing when it is in none: no prev, not head). */
#define LIST_REMOVE(head, item)                                                                             \
        do {                                                                                                \
                if ((item)->next)                                                                           \
                        (item)->next->prev = (item)->prev;                                                  \
                if ((item)->prev)                                                                           \
                        (item)->prev->next = (item)->next;                                                  \
                else if ((head) == (item))                                                                  \
                        (head) = (item)->next;                                                              \
                (item)->next = (item)->prev = NULL;                                                         \
        } while (0)
