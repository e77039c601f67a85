/* qemu's "key=value,key=value" option syntax; ",," stands for a literal comma. */
#ifndef SMOLVM_KEYVAL_H
#define SMOLVM_KEYVAL_H

#include <stdbool.h>

struct keyval {
	char *buf;  /* a private copy of the option string, cut into pieces */
	char *next;
};

/* Start parsing s; false if out of memory. The copy is never freed: options live as long
 * as the process, and the pieces point into it. */
bool keyval_init(struct keyval *kv, const char *s);
/* The next item: key and value (value NULL for a bare word). Returns false at the end. */
bool keyval_next(struct keyval *kv, char **key, char **value);
/* "on"/"off" and friends: 1, 0, or -1 when it is neither. */
int keyval_bool(const char *value);

#endif
