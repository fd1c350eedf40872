/*
 * fuzz_cfg.c - fuzz target: a configuration file, loaded with the
 * collector's and the agent's key tables (pgf_cfg_load from a file).
 */
#include "tests/fuzz/fuzz.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/agent_config.h"
#include "collector/collector_config.h"
#include "common/cfg.h"

static char path[64];

static void
remove_file(void)
{
	if (path[0] != '\0')
		unlink(path);
}

static void
load(const struct pgf_cfg_key *keys, void *config)
{
	char *argv[] = {"fuzz", "--config", path, NULL};
	char errbuf[512];
	int first = 0;

	/* an error is a fine answer; a crash or a leak is not */
	if (pgf_cfg_load(keys, config, 3, argv, &first, errbuf, sizeof(errbuf)) != PGF_OK)
		errbuf[sizeof(errbuf) - 1] = '\0';
	pgf_cfg_free(keys, config);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct collector_config collector;
	struct agent_config agent;
	FILE *f;

	if (path[0] == '\0') {
		int fd;
		snprintf(path, sizeof(path), "/tmp/pgfleet-fuzz-cfg-XXXXXX");
		if ((fd = mkstemp(path)) < 0)
			abort();
		close(fd);
		atexit(remove_file);
		/* only the file under test: no settings from the environment */
		unsetenv("PGFLEET_CONFIG");
	}
	if ((f = fopen(path, "wb")) == NULL)
		abort();
	fwrite(data, 1, size, f);
	fclose(f);
	memset(&collector, 0, sizeof(collector));
	load(collector_config_keys, &collector);
	memset(&agent, 0, sizeof(agent));
	load(agent_config_keys, &agent);
	return 0;
}
