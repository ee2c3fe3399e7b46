/*
 * error_test.c -- lib/error.c: every exit code has its upstream name, an
 * error is one line of text, and the header's version is the release's.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "st-int.h"

static void
test_code_names(void **state)
{
	(void)state;
	assert_string_equal(st_code_name(ST_OK), "SUCCESS");
	assert_string_equal(st_code_name(ST_EARGS), "INVALID_ARGUMENTS");
	assert_string_equal(st_code_name(ST_ELOCKED), "RESOURCE_LOCKED");
	assert_string_equal(st_code_name(ST_EHEALTH), "HEALTH_FAILED");
	assert_string_equal(st_code_name(99), "GENERAL_ERROR");
}

static void
test_seterr(void **state)
{
	struct st_error	err;

	(void)state;
	assert_int_equal(st_seterr(&err, ST_ENOTFOUND, "no %s", "such"), -1);
	assert_int_equal(err.code, ST_ENOTFOUND);
	assert_string_equal(err.msg, "no such");
}

/* A release that bumps configure.ac but not steroids.h fails here. */
static void
test_version(void **state)
{
	(void)state;
	assert_string_equal(ST_VERSION, PACKAGE_VERSION);
	assert_string_equal(st_version(), PACKAGE_VERSION);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_code_names),
		cmocka_unit_test(test_seterr),
		cmocka_unit_test(test_version),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
