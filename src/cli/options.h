/* The command line: parsed into struct vm_config, with no other side effects. */
#ifndef SMOLVM_OPTIONS_H
#define SMOLVM_OPTIONS_H

#include <stdbool.h>
#include <stdint.h>

#define VM_MAX_CPUS 254 /* xAPIC ids 0..253; the IOAPIC takes the next */
#define VM_MIN_MEM  (32ULL << 20)
#define VM_MAX_MEM  (1ULL << 40)

struct vm_config {
	const char *kernel;
	const char *initramfs;
	const char *append;
	uint64_t mem_size;
	unsigned ncpus;
	bool no_reboot;
	bool nographic;
};

enum options_result {
	OPTIONS_RUN,   /* the config is complete: boot it */
	OPTIONS_EXIT,  /* -h or --version was answered: exit 0 */
	OPTIONS_ERROR, /* a message was printed: exit EXIT_USAGE */
};

enum options_result options_parse(int argc, char **argv, struct vm_config *cfg);

/* Parse a memory size: a number with an optional K, M, G or T suffix (no suffix: MiB).
 * 0 on success, -EINVAL if malformed, -ERANGE on overflow. */
int options_parse_size(const char *s, uint64_t *bytes);

#endif
