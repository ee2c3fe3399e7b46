/*
 * hash.c -- see hash.h.  FNV-1a, chained buckets, doubled when the load
 * passes 1; nothing shrinks (the agent's sets do not shrink much).
 */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"

struct hnode {
	struct hnode	*next;
	const void	*key;
	size_t		 len;
	uint32_t	 h;
	void		*val;
};

struct hash {
	struct hnode	**b;
	size_t		  nb;	/* a power of 2 */
	size_t		  n;
};

static uint32_t
fnv1a(const void *key, size_t len)
{
	const unsigned char	*p = key;
	uint32_t		 h = 2166136261u;

	while (len-- > 0) {
		h ^= *p++;
		h *= 16777619u;
	}
	return (h);
}

struct hash *
hash_new(void)
{
	struct hash	*t;

	if ((t = calloc(1, sizeof(*t))) == NULL)
		return (NULL);
	t->nb = 64;
	if ((t->b = calloc(t->nb, sizeof(*t->b))) == NULL) {
		free(t);
		return (NULL);
	}
	return (t);
}

void
hash_free(struct hash *t)
{
	struct hnode	*e, *next;
	size_t		 i;

	if (t == NULL)
		return;
	for (i = 0; i < t->nb; i++)
		for (e = t->b[i]; e != NULL; e = next) {
			next = e->next;
			free(e);
		}
	free(t->b);
	free(t);
}

static struct hnode **
slot(const struct hash *t, const void *key, size_t len, uint32_t h)
{
	struct hnode	**ep;

	for (ep = &t->b[h & (t->nb - 1)]; *ep != NULL; ep = &(*ep)->next)
		if ((*ep)->h == h && (*ep)->len == len &&
		    memcmp((*ep)->key, key, len) == 0)
			break;
	return (ep);
}

static void
grow(struct hash *t)
{
	struct hnode	**nbv, *e, *next;
	size_t		  i, nb = t->nb * 2;

	if ((nbv = calloc(nb, sizeof(*nbv))) == NULL)
		return;		/* longer chains, still correct */
	for (i = 0; i < t->nb; i++)
		for (e = t->b[i]; e != NULL; e = next) {
			next = e->next;
			e->next = nbv[e->h & (nb - 1)];
			nbv[e->h & (nb - 1)] = e;
		}
	free(t->b);
	t->b = nbv;
	t->nb = nb;
}

int
hash_put(struct hash *t, const void *key, size_t len, void *val)
{
	struct hnode	**ep, *e;
	uint32_t	  h = fnv1a(key, len);

	if (*(ep = slot(t, key, len, h)) != NULL) {
		(*ep)->key = key;
		(*ep)->val = val;
		return (0);
	}
	if ((e = malloc(sizeof(*e))) == NULL) {
		errno = ENOMEM;
		return (-1);
	}
	e->key = key;
	e->len = len;
	e->h = h;
	e->val = val;
	e->next = NULL;
	*ep = e;
	if (++t->n > t->nb)
		grow(t);
	return (0);
}

void *
hash_get(const struct hash *t, const void *key, size_t len)
{
	struct hnode	*e;

	e = *slot(t, key, len, fnv1a(key, len));
	return (e != NULL ? e->val : NULL);
}

void *
hash_del(struct hash *t, const void *key, size_t len)
{
	struct hnode	**ep, *e;
	void		 *val;

	if ((e = *(ep = slot(t, key, len, fnv1a(key, len)))) == NULL)
		return (NULL);
	*ep = e->next;
	val = e->val;
	free(e);
	t->n--;
	return (val);
}

size_t
hash_count(const struct hash *t)
{
	return (t->n);
}
