/*
 * The optional features built in (make features=...). Each feature is a folder of src/
 * compiled only when it is selected (src/ui/ for ui); shared code reaches a feature only
 * through this table, so no other file needs an #ifdef, and a binary built without a
 * feature holds none of its code.
 */
#ifndef SMOLVM_FEATURES_H
#define SMOLVM_FEATURES_H

#include <stdbool.h>

struct vm;

/* The file formats of a screendump (the monitor picks one by the file's extension). */
enum screendump_format { SCREENDUMP_PPM, SCREENDUMP_PNG };

struct feature {
	const char *name;
	/* The -display kinds it can show (space-separated), or NULL. */
	const char *displays;
	/* Create the devices the finished configuration asks of this feature. 0, or -1 after
	 * one line naming the problem (the user's to fix: exit status 2). */
	int (*add_devices)(struct vm *vm);
	/* Write the guest's display to path as fmt. 0 or -errno; NULL: the feature has none. */
	int (*screendump)(struct vm *vm, const char *path, enum screendump_format fmt);
};

/* Whether the feature called name is built in. */
bool features_has(const char *name);
/* The names of the features built in, space-separated ("" for none). */
const char *features_names(void);
/* Whether a built-in feature shows -display kind. */
bool features_have_display(const char *kind);
/* Every built-in feature's add_devices in turn; 0, or -1 at the first that failed. */
int features_add_devices(struct vm *vm);
/* The first built-in screendump; -ENOTSUP when no feature has a display. */
int features_screendump(struct vm *vm, const char *path, enum screendump_format fmt);

#endif
