/*
 * cron.c -- the crontab editor's line handling (lib/cron.c) on any
 * table: split it into our entry and the other lines, add our entry as
 * st_cron_install does, split again.  The second split must find exactly
 * our entry and give back the other lines as the first split left them;
 * the upstream tool's line is looked for in them both times.
 */
#include "config.h"

#include "st-int.h"
#include "fuzz.h"

#define ENTRY	"* * * * * '/usr/bin/steroids' runners wakeup --quiet"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	*tab, *rest, *line, *up, *rest2, *line2, *up2, *edited;
	size_t	 n;
	int	 found, found2;

	tab = fuzz_str(data, size);
	st_cron_split(tab, &rest, &found, &line, &up);
	if ((found == 0) != (line == NULL))
		abort();
	if (strstr(rest, ST_CRON_MARKER "\n" ENTRY) != NULL)
		abort();	/* our entry left among the others */

	n = strlen(rest);
	if (st_xasprintf(&edited, "%s%s" ST_CRON_MARKER "\n" ENTRY "\n", rest,
	    n > 0 && rest[n - 1] != '\n' ? "\n" : "") == -1)
		abort();
	st_cron_split(edited, &rest2, &found2, &line2, &up2);
	if (found2 != 1 || strcmp(line2, ENTRY) != 0)
		abort();
	/* Adding our entry never changes which line is upstream's. */
	if ((up == NULL) != (up2 == NULL) ||
	    (up != NULL && strcmp(up, up2) != 0))
		abort();
	if (strcmp(rest, rest2) != 0)
		abort();	/* another line changed */
	free(tab);
	free(rest);
	free(line);
	free(up);
	free(edited);
	free(rest2);
	free(line2);
	free(up2);
	return (0);
}
