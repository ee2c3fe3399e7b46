/* error.c -- error structs and code names. */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>

#include "st-int.h"

int
st_seterr(struct st_error *err, int code, const char *fmt, ...)
{
	va_list	ap;

	if (err == NULL)
		return (-1);
	err->code = code;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return (-1);
}

const char *
st_code_name(int code)
{
	switch (code) {
	case ST_OK:
		return ("SUCCESS");
	case ST_EARGS:
		return ("INVALID_ARGUMENTS");
	case ST_ECONFIG:
		return ("CONFIG_ERROR");
	case ST_ENOTFOUND:
		return ("NOT_FOUND");
	case ST_EPERM:
		return ("PERMISSION_DENIED");
	case ST_ELOCKED:
		return ("RESOURCE_LOCKED");
	case ST_EHEALTH:
		return ("HEALTH_FAILED");
	default:
		return ("GENERAL_ERROR");
	}
}

const char *
st_version(void)
{
	return (PACKAGE_VERSION);
}
