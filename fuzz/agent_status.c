/*
 * agent_status.c -- the reader of $STEROIDS_HOME/agent.status in
 * 'steroids agent status' (cli/cmd-agent.c) on any bytes.  The reader
 * is static there, so this file includes cmd-agent.c whole rather than
 * widen the CLI's interface for a test.
 */
#include "../cli/cmd-agent.c"

#include "fuzz.h"

#define FUZZ_PID	4242	/* the pid of the seeds' "pid" lines */

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct agent_status	 s;
	struct cli		 c;
	char			 file[PATH_MAX];
	size_t			 i;

	fuzz_scratch();
	snprintf(file, sizeof(file), "%s/agent.status", getenv("STEROIDS_HOME"));
	fuzz_write(file, data, size);
	memset(&c, 0, sizeof(c));
	if (status_read(&c, file, FUZZ_PID, &s) == 0) {
		if (s.pid != FUZZ_PID || (size_t)s.backoff != s.nbackoff ||
		    s.backend[0] == '\0' || s.version[0] == '\0')
			abort();
		for (i = 0; i < s.nbackoff; i++)
			(void)strlen(s.backoff_v[i]);
		agent_status_free(&s);
	} else if (c.err.code != ST_EHEALTH || c.err.msg[0] == '\0')
		abort();
	return (0);
}
