/*
 * config.c -- the config file parser (lib/config.c) on any bytes: the
 * input is the global config file.  st_config_set on that file must
 * either refuse or leave a file that loads, with the key at its new
 * value, wherever the original loaded.
 */
#include "config.h"

#include "st-int.h"
#include "fuzz.h"

static const char *const keys[] = {
	"runner.command", "runner.task_timeout", "runner.max_failures",
	"runner.heartbeat_interval", "runner.stale_timeout",
	"agent.sweep_interval", "agent.backoff_initial", "agent.backoff_max",
	"agent.poll_interval",
};
#define NKEYS	(sizeof(keys) / sizeof(keys[0]))

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct st_error	 err;
	st_config	*cfg = NULL, *again = NULL;
	char		 file[PATH_MAX], *s;
	const char	*key, *v;
	size_t		 i;
	int		 loaded;

	fuzz_scratch();
	snprintf(file, sizeof(file), "%s/config", getenv("STEROIDS_HOME"));
	fuzz_write(file, data, size);

	loaded = st_config_load(NULL, &cfg, &err) == 0;
	if (loaded)
		for (i = 0; i < NKEYS; i++) {
			v = st_config_str(cfg, keys[i]);
			if (v != NULL && strlen(v) == 0)
				abort();	/* empty values are refused */
			(void)st_config_int(cfg, keys[i]);
		}
	st_config_free(cfg);

	/* The same bytes as one "key value" pair for the validator. */
	s = fuzz_str(data, size);
	if ((v = strchr(s, '=')) != NULL) {
		s[v - s] = '\0';
		(void)st_config_validate(s, v + 1, &err);
	}
	free(s);

	key = keys[size % NKEYS];
	v = strcmp(key, "runner.command") == 0 ? "true" : "7";
	if (st_config_set(file, key, v, &err) == 0 && loaded) {
		if (st_config_load(NULL, &again, &err) == -1)
			abort();	/* set broke a file that loaded */
		if (strcmp(st_config_str(again, key), v) != 0)
			abort();	/* set did not set */
		st_config_free(again);
	}
	return (0);
}
