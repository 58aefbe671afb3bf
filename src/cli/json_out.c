/* The head every --json object starts with: what it is and which version of
 * its schema (schema/nnprune.KIND.vN.json; README "JSON output"). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cJSON.h>

#include "cli.h"

/* Each kind's schema version: bumped when a field is removed or renamed or
 * changes meaning or unit (adding a field is not a bump). */
static const struct {
	const char *kind;
	int version;
} json_kinds[] = {
	{ "info", 1 }, { "convert", 1 }, { "stats", 1 }, { "eval", 1 }, { "bench", 1 }, { "lottery", 1 },
	{ NULL, 0 }
};

struct cJSON *cli_json_begin(const char *kind)
{
	int version = 0;
	for (size_t i = 0; json_kinds[i].kind; i++)
		if (!strcmp(json_kinds[i].kind, kind))
			version = json_kinds[i].version;
	cJSON *o = cJSON_CreateObject();
	char name[64];
	snprintf(name, sizeof name, "nnprune.%s", kind);
	if (o && (!version || !cJSON_AddStringToObject(o, "format", name) ||
	          !cJSON_AddNumberToObject(o, "version", version))) {
		cJSON_Delete(o);
		o = NULL;
	}
	return o;
}

int cli_json_print(struct cJSON *o)
{
	char *txt = o ? cJSON_Print(o) : NULL;
	cJSON_Delete(o);
	if (!txt) {
		fprintf(stderr, "nnprune: out of memory for the JSON output\n");
		return NNP_EXIT_INPUT;
	}
	printf("%s\n", txt);
	free(txt);
	return NNP_EXIT_OK;
}
