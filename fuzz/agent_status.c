/*
 * agent_status.c -- the reader of $STEROIDS_HOME/agent.status
 * (st_agent_status_read, lib/agentstatus.c) on any bytes.
 */
#include "config.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "steroids.h"
#include "fuzz.h"

#define FUZZ_PID	4242	/* the pid of the seeds' "pid" lines */

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct st_agent_status	 s;
	struct st_error		 err;
	char			 file[PATH_MAX];
	size_t			 i;

	fuzz_scratch();
	snprintf(file, sizeof(file), "%s/agent.status", getenv("STEROIDS_HOME"));
	fuzz_write(file, data, size);
	memset(&err, 0, sizeof(err));
	if (st_agent_status_read(file, FUZZ_PID, &s, &err) == 0) {
		if (s.pid != FUZZ_PID || (size_t)s.backoff != s.nbackoff ||
		    s.backend[0] == '\0' || s.version[0] == '\0')
			abort();
		for (i = 0; i < s.nbackoff; i++)
			(void)strlen(s.backoff_v[i]);
		st_agent_status_free(&s);
	} else if (err.code != ST_EHEALTH || err.msg[0] == '\0')
		abort();
	return (0);
}
