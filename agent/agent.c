/* agent.c -- placeholder until the agent lands (issue 5). */
#include "config.h"

#include <stdio.h>

#include "steroids.h"

int
main(void)
{
	fprintf(stderr, "steroids-agent %s: not built yet\n", st_version());
	return (1);
}
