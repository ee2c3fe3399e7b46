/*
 * hash.h -- a small chained hash table keyed by bytes, for the agent's
 * lookups that run once per event (a watch by its descriptor, a project
 * by its path): a list walk there costs O(N) per event at N projects.
 * The table does not copy keys: a key must live as long as its entry.
 */
#ifndef HASH_H
#define HASH_H

#include <stddef.h>

struct hash;

struct hash	*hash_new(void);
void		 hash_free(struct hash *);
/* 0, or -1 (ENOMEM); a key already present gets the new value. */
int		 hash_put(struct hash *, const void *, size_t, void *);
void		*hash_get(const struct hash *, const void *, size_t);
/* The value removed, or NULL. */
void		*hash_del(struct hash *, const void *, size_t);
size_t		 hash_count(const struct hash *);

#endif /* HASH_H */
