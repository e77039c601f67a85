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
struct vm_config;

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

	/* The firmware machine (cfg->firmware: no -kernel), for the feature that has one; NULL
	 * for the others. main.c calls them in this order:
	 * firmware_check: the user's files (firmware, CD, boot disk, variable store), before
	 *   KVM is touched. 0, or -1 after one line naming the problem (exit status 2).
	 * firmware_add_platform: the chipset the firmware expects, right after the PCI host
	 *   bridge, so that its functions take the slots the firmware looks at. 0 or -1.
	 * firmware_load: once every device exists: the firmware in guest memory and the
	 *   tables it reads (memory map, ACPI, CPUs). 0, or -1 after one line (exit status 2). */
	int (*firmware_check)(const struct vm_config *cfg);
	int (*firmware_add_platform)(struct vm *vm);
	int (*firmware_load)(struct vm *vm);
	/* The firmware code file cfg boots (-bios or the default); its VARS file lies beside
	 * it. For the sandbox, which lets a rebooted smolvm read them again. */
	const char *(*firmware_code)(const struct vm_config *cfg);
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
/* The firmware machine's steps (see struct feature), from the feature that has them;
 * -1 after one line when none is built in (options refuse that case first). */
int features_firmware_check(const struct vm_config *cfg);
int features_firmware_add_platform(struct vm *vm);
int features_firmware_load(struct vm *vm);
/* The firmware code file (see struct feature), or NULL without the firmware machine. */
const char *features_firmware_code(const struct vm_config *cfg);

#endif
