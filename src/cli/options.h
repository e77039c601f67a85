/* The command line: parsed into struct vm_config, with no other side effects. */
#ifndef SMOLVM_OPTIONS_H
#define SMOLVM_OPTIONS_H

#include <stdbool.h>
#include <stdint.h>

#define VM_MAX_CPUS 254 /* xAPIC ids 0..253; the IOAPIC takes the next */
#define VM_MIN_MEM  (32ULL << 20)
#define VM_MAX_MEM  (1ULL << 40)

#define VM_MAX_DRIVES   16
#define VM_MAX_SHARES   8
#define VM_MAX_HOSTFWDS 16
#define SHARE_TAG_MAX   36 /* virtio-fs config: tag[36] */

#define VM_DEFAULT_SHUTDOWN_TIMEOUT 30    /* seconds */
#define VM_MAX_SHUTDOWN_TIMEOUT     86400 /* a day: past that, a typo more likely than a wish */
#define MONITOR_PATH_MAX            107   /* sun_path holds 108 bytes with the NUL */

/* -drive file=PATH[,format=raw][,readonly=on][,cache=MODE], -hda PATH */
enum drive_cache {
	DRIVE_CACHE_WRITEBACK, /* host page cache; flush = fdatasync (qemu's default) */
	DRIVE_CACHE_NONE,      /* O_DIRECT; flush = fdatasync */
	DRIVE_CACHE_UNSAFE,    /* host page cache; flushes ignored */
	DRIVE_CACHE_DIRECTSYNC,/* O_DIRECT | O_DSYNC */
	DRIVE_CACHE_WRITETHROUGH, /* O_DSYNC */
};

struct drive_config {
	const char *path;
	bool readonly;
	enum drive_cache cache;
};

/* -net user[,hostfwd=...][,mac=...] | -net tap[,ifname=NAME][,mac=...] | -net none */
enum net_mode {
	NET_USER, /* the default */
	NET_TAP,
	NET_NONE,
};

struct hostfwd {
	bool udp;
	uint32_t host_addr;  /* network byte order; 0 = any (qemu binds 0.0.0.0 by default) */
	uint16_t host_port;
	uint32_t guest_addr; /* network byte order; 0 = the guest's DHCP address */
	uint16_t guest_port;
};

struct net_config {
	enum net_mode mode;
	uint8_t mac[6];
	bool mac_set;
	const char *ifname; /* tap */
	struct hostfwd hostfwd[VM_MAX_HOSTFWDS];
	unsigned nhostfwd;
};

/* -share TAG PATH[,readonly][,cache=MODE] or -share tag=TAG,path=PATH[,readonly=on][,cache=MODE]
 * MODE: what the guest may cache, with virtiofsd's meanings (fs/fuse_server.h). */
enum share_cache {
	SHARE_CACHE_AUTO,   /* names and attributes for 1 s, data until the next open (default) */
	SHARE_CACHE_ALWAYS, /* everything, across opens: for trees only the guest changes */
	SHARE_CACHE_NEVER,  /* nothing: host-side changes show at once */
};

struct share_config {
	const char *tag;
	const char *path;
	bool readonly;
	enum share_cache cache;
};

/* -display: where the guest's screen goes. */
enum display_mode {
	DISPLAY_DEFAULT, /* no graphics device, the consoles on this terminal (-nographic, or no
			  * -display where no display is reachable or the ui feature is out) */
	DISPLAY_NONE,	 /* a graphics device without a window (with the ui feature) */
	DISPLAY_SDL,	 /* a window */
};

struct vm_config {
	const char *kernel;
	const char *initramfs;
	const char *append;
	/* Without -kernel the machine boots through EFI firmware (the cd feature): the ISO of
	 * -cd (drive[0], read-only) or else the first -drive. */
	bool firmware;
	const char *cd;      /* -cd FILE, or NULL */
	const char *bios;    /* -bios FILE: the firmware's code, or NULL for Debian's OVMF */
	const char *efivars; /* -efivars FILE: the variable store kept there, or NULL (in memory) */
	uint64_t mem_size;
	unsigned ncpus;
	bool no_reboot;
	bool nographic;
	enum display_mode display;
	uint32_t display_width, display_height; /* -display ...,width=,height=; 0: 800 x 600 */
	bool display_implicit; /* sdl chosen for a reachable $DISPLAY, not asked for */
	struct drive_config drive[VM_MAX_DRIVES];
	unsigned ndrives;
	struct net_config net;
	struct share_config share[VM_MAX_SHARES];
	unsigned nshares;
	unsigned shutdown_timeout; /* seconds from SIGTERM's button press to a forced stop */
	const char *monitor_path;  /* -monitor unix:PATH, or NULL */
	bool sandbox;		   /* -sandbox on (default): seccomp per thread, Landlock after setup */
};

enum options_result {
	OPTIONS_RUN,   /* the config is complete: boot it */
	OPTIONS_EXIT,  /* -h or --version was answered: exit 0 */
	OPTIONS_ERROR, /* a message was printed: exit EXIT_USAGE */
};

enum options_result options_parse(int argc, char **argv, struct vm_config *cfg);

/* Parsers of the device options (cli/device_options.c). Each prints one line naming the
 * option and the bad value and returns -1, or fills its part of cfg and returns 0. */
int options_parse_drive(struct vm_config *cfg, const char *opt, const char *arg);
int options_parse_net(struct vm_config *cfg, const char *opt, const char *arg);
/* -share takes "TAG PATH[,opts]" (two words) or "tag=..,path=..[,..]" (one); *used tells how
 * many of args[0..nargs) it took. */
int options_parse_share(struct vm_config *cfg, const char *opt, char **args, int nargs, int *used);

/* Parse a memory size: a number with an optional K, M, G or T suffix (no suffix: MiB).
 * 0 on success, -EINVAL if malformed, -ERANGE on overflow. */
int options_parse_size(const char *s, uint64_t *bytes);

#endif
