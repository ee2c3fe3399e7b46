/*
 * hash_test.c -- agent/hash.c: every key put is found with its value
 * through growth, deletes find and drop exactly their key, keys of
 * different lengths or equal prefixes never collide into one entry.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../agent/hash.h"

#define N	20000

static void
test_put_get_del(void **state)
{
	struct hash	*t;
	static char	 keys[N][16];
	static int	 vals[N];
	int		 i;

	(void)state;
	assert_non_null(t = hash_new());
	for (i = 0; i < N; i++) {
		snprintf(keys[i], sizeof(keys[i]), "/p/%d", i);
		vals[i] = i;
		assert_int_equal(hash_put(t, keys[i], strlen(keys[i]),
		    &vals[i]), 0);
	}
	assert_int_equal(hash_count(t), N);
	for (i = 0; i < N; i++)
		assert_ptr_equal(hash_get(t, keys[i], strlen(keys[i])),
		    &vals[i]);
	assert_null(hash_get(t, "/p/", 3));
	assert_null(hash_get(t, "/p/1", 3));	/* a prefix is not a key */
	assert_null(hash_get(t, "/p/20000", 8));
	/* Drop the even ones: the odd ones stay. */
	for (i = 0; i < N; i += 2)
		assert_ptr_equal(hash_del(t, keys[i], strlen(keys[i])),
		    &vals[i]);
	assert_null(hash_del(t, keys[0], strlen(keys[0])));
	assert_int_equal(hash_count(t), N / 2);
	for (i = 0; i < N; i++)
		if (i % 2)
			assert_ptr_equal(hash_get(t, keys[i],
			    strlen(keys[i])), &vals[i]);
		else
			assert_null(hash_get(t, keys[i], strlen(keys[i])));
	/* A key put again gets the new value, not a second entry. */
	assert_int_equal(hash_put(t, keys[1], strlen(keys[1]), &vals[0]), 0);
	assert_ptr_equal(hash_get(t, keys[1], strlen(keys[1])), &vals[0]);
	assert_int_equal(hash_count(t), N / 2);
	hash_free(t);
}

static void
test_int_keys(void **state)
{
	struct hash	*t;
	int		 wd[1000];
	int		 i, k;

	(void)state;
	assert_non_null(t = hash_new());
	for (i = 0; i < 1000; i++) {
		wd[i] = i + 1;
		assert_int_equal(hash_put(t, &wd[i], sizeof(wd[i]), &wd[i]),
		    0);
	}
	for (k = 1; k <= 1000; k++)
		assert_ptr_equal(hash_get(t, &k, sizeof(k)), &wd[k - 1]);
	k = 0;
	assert_null(hash_get(t, &k, sizeof(k)));
	k = 1001;
	assert_null(hash_get(t, &k, sizeof(k)));
	hash_free(t);
	hash_free(NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_put_get_del),
		cmocka_unit_test(test_int_keys),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
