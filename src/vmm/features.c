/* The seam between shared code and the optional features: the only file that knows, by
 * CONFIG_<NAME> from the Makefile, which feature folders were compiled in. */
#include "vmm/features.h"

#include <errno.h>
#include <string.h>

#include "vmm/log.h"

#ifndef SMOLVM_FEATURES
#error "SMOLVM_FEATURES is not defined: build with make"
#endif

#ifdef CONFIG_UI
extern const struct feature ui_feature; /* src/ui/ui_feature.c */
#endif
#ifdef CONFIG_CD
extern const struct feature cd_feature; /* src/cd/cd_feature.c */
#endif

static const struct feature *const features_built_in[] = {
#ifdef CONFIG_UI
	&ui_feature,
#endif
#ifdef CONFIG_CD
	&cd_feature,
#endif
	NULL,
};

bool features_has(const char *name)
{
	for (unsigned i = 0; features_built_in[i]; i++)
		if (strcmp(features_built_in[i]->name, name) == 0)
			return true;
	return false;
}

bool features_have_display(const char *kind)
{
	size_t len = strlen(kind);

	for (unsigned i = 0; features_built_in[i]; i++) {
		const char *d = features_built_in[i]->displays;
		for (; d && (d = strstr(d, kind)); d += len)
			if ((d == features_built_in[i]->displays || d[-1] == ' ') &&
			    (d[len] == ' ' || d[len] == '\0'))
				return true;
	}
	return false;
}

const char *features_names(void)
{
	/* The Makefile's list, which also chose the CONFIG_ defines above. */
	return SMOLVM_FEATURES;
}

int features_add_devices(struct vm *vm)
{
	for (unsigned i = 0; features_built_in[i]; i++)
		if (features_built_in[i]->add_devices && features_built_in[i]->add_devices(vm) != 0)
			return -1;
	return 0;
}

int features_screendump(struct vm *vm, const char *path, enum screendump_format fmt)
{
	for (unsigned i = 0; features_built_in[i]; i++)
		if (features_built_in[i]->screendump)
			return features_built_in[i]->screendump(vm, path, fmt);
	return -ENOTSUP;
}

/* The feature that boots through firmware, or NULL (after a line) if none is built in. */
static const struct feature *features_firmware(void)
{
	for (unsigned i = 0; features_built_in[i]; i++)
		if (features_built_in[i]->firmware_load)
			return features_built_in[i];
	log_error("this smolvm is built without the cd feature: boot with -kernel");
	return NULL;
}

int features_firmware_check(const struct vm_config *cfg)
{
	const struct feature *f = features_firmware();

	return f && f->firmware_check ? f->firmware_check(cfg) : f ? 0 : -1;
}

int features_firmware_add_platform(struct vm *vm)
{
	const struct feature *f = features_firmware();

	return f && f->firmware_add_platform ? f->firmware_add_platform(vm) : f ? 0 : -1;
}

int features_firmware_load(struct vm *vm)
{
	const struct feature *f = features_firmware();

	return f ? f->firmware_load(vm) : -1;
}

const char *features_firmware_code(const struct vm_config *cfg)
{
	for (unsigned i = 0; features_built_in[i]; i++)
		if (features_built_in[i]->firmware_code)
			return features_built_in[i]->firmware_code(cfg);
	return NULL;
}
