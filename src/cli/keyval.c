#include "cli/keyval.h"

#include <stdlib.h>
#include <string.h>

bool keyval_init(struct keyval *kv, const char *s)
{
	kv->buf = strdup(s);
	kv->next = kv->buf;
	return kv->buf != NULL;
}

bool keyval_next(struct keyval *kv, char **key, char **value)
{
	char *in, *out, *eq;

	if (!kv->next)
		return false;
	*key = in = out = kv->next;
	kv->next = NULL;
	for (; *in; in++) {
		if (*in == ',') {
			if (in[1] != ',') {
				kv->next = in + 1;
				break;
			}
			in++;
		}
		*out++ = *in;
	}
	*out = '\0';
	eq = strchr(*key, '=');
	*value = NULL;
	if (eq) {
		*eq = '\0';
		*value = eq + 1;
	}
	return true;
}

int keyval_bool(const char *v)
{
	if (!v || !strcmp(v, "on") || !strcmp(v, "yes") || !strcmp(v, "true") || !strcmp(v, "1"))
		return 1;
	if (!strcmp(v, "off") || !strcmp(v, "no") || !strcmp(v, "false") || !strcmp(v, "0"))
		return 0;
	return -1;
}
