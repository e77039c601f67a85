/* -drive/-hda, -net and -share: qemu's syntax, parsed into struct vm_config. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/keyval.h"
#include "cli/options.h"
#include "vmm/log.h"

static int drive_cache_mode(const char *v, enum drive_cache *mode)
{
	static const struct {
		const char *name;
		enum drive_cache mode;
	} modes[] = {
		{"writeback", DRIVE_CACHE_WRITEBACK}, {"none", DRIVE_CACHE_NONE},
		{"unsafe", DRIVE_CACHE_UNSAFE},       {"directsync", DRIVE_CACHE_DIRECTSYNC},
		{"writethrough", DRIVE_CACHE_WRITETHROUGH},
	};

	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		if (v && strcmp(v, modes[i].name) == 0) {
			*mode = modes[i].mode;
			return 0;
		}
	}
	return -1;
}

int options_parse_drive(struct vm_config *cfg, const char *opt, const char *arg)
{
	struct drive_config d = {0};
	struct keyval kv;
	char *key, *val;
	bool hda = strcmp(opt, "-hda") == 0 || strcmp(opt, "--hda") == 0;

	if (cfg->ndrives == VM_MAX_DRIVES) {
		log_error("%s: at most %d drives", opt, VM_MAX_DRIVES);
		return -1;
	}
	if (hda) {
		d.path = arg;
		goto done;
	}
	if (!keyval_init(&kv, arg))
		return -1;
	while (keyval_next(&kv, &key, &val)) {
		int b;
		if (!strcmp(key, "file") && val && *val) {
			d.path = val;
		} else if (!strcmp(key, "format")) {
			if (!val || strcmp(val, "raw") != 0) {
				log_error("%s: format '%s' is not supported (only raw images)", opt,
					  val ? val : "");
				return -1;
			}
		} else if (!strcmp(key, "readonly") && (b = keyval_bool(val)) >= 0) {
			d.readonly = b;
		} else if (!strcmp(key, "cache")) {
			if (drive_cache_mode(val, &d.cache) != 0) {
				log_error("%s: cache=%s: expected writeback, none, unsafe, directsync "
					  "or writethrough",
					  opt, val ? val : "");
				return -1;
			}
		} else if (!strcmp(key, "if") && val && !strcmp(val, "virtio")) {
			/* the only interface there is */
		} else if (!strcmp(key, "discard") || !strcmp(key, "aio") || !strcmp(key, "id")) {
			/* accepted for qemu compatibility: discard is always honoured */
		} else {
			log_error("%s: unknown or malformed parameter '%s%s%s'", opt, key, val ? "=" : "",
				  val ? val : "");
			return -1;
		}
	}
	if (!d.path) {
		log_error("%s: '%s' names no file (use file=PATH)", opt, arg);
		return -1;
	}
done:
	cfg->drive[cfg->ndrives++] = d;
	return 0;
}

static int parse_port(const char *s, uint16_t *port)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < 0 || v > 65535)
		return -1;
	*port = v;
	return 0;
}

/* [ADDR]:PORT, where an empty ADDR is 0 (any / the default guest address). */
static int parse_addr_port(char *s, uint32_t *addr, uint16_t *port)
{
	char *colon = strrchr(s, ':');
	struct in_addr in;

	if (!colon)
		return -1;
	*colon = '\0';
	*addr = 0;
	if (*s) {
		if (inet_pton(AF_INET, s, &in) != 1)
			return -1;
		*addr = in.s_addr;
	}
	return parse_port(colon + 1, port);
}

/* tcp|udp:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT, as qemu's hostfwd. */
static int parse_hostfwd(const char *spec, struct hostfwd *fwd)
{
	char buf[128], *p = buf, *dash;

	if (strlen(spec) >= sizeof(buf))
		return -1;
	strcpy(buf, spec);
	memset(fwd, 0, sizeof(*fwd));
	if (strncmp(p, "tcp:", 4) == 0) {
		p += 4;
	} else if (strncmp(p, "udp:", 4) == 0) {
		fwd->udp = true;
		p += 4;
	} else if (*p == ':') {
		p += 1; /* qemu: an empty protocol is tcp */
	} else {
		return -1;
	}
	dash = strchr(p, '-');
	if (!dash)
		return -1;
	*dash = '\0';
	if (parse_addr_port(p, &fwd->host_addr, &fwd->host_port) ||
	    parse_addr_port(dash + 1, &fwd->guest_addr, &fwd->guest_port) || fwd->guest_port == 0)
		return -1;
	return 0;
}

static int parse_mac(const char *s, uint8_t mac[6])
{
	unsigned v[6];
	char end;

	if (sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5],
		   &end) != 6)
		return -1;
	for (int i = 0; i < 6; i++)
		mac[i] = v[i];
	/* A multicast address cannot be a NIC's own. */
	return (mac[0] & 1) ? -1 : 0;
}

int options_parse_net(struct vm_config *cfg, const char *opt, const char *arg)
{
	struct net_config *n = &cfg->net;
	struct keyval kv;
	char *key, *val;

	if (!keyval_init(&kv, arg) || !keyval_next(&kv, &key, &val))
		return -1;
	if (val) {
		log_error("%s: '%s': expected user, tap or none first", opt, arg);
		return -1;
	}
	if (!strcmp(key, "user")) {
		n->mode = NET_USER;
	} else if (!strcmp(key, "tap")) {
		n->mode = NET_TAP;
	} else if (!strcmp(key, "none")) {
		n->mode = NET_NONE;
	} else {
		log_error("%s: unknown network type '%s' (expected user, tap or none)", opt, key);
		return -1;
	}
	while (keyval_next(&kv, &key, &val)) {
		if (!strcmp(key, "mac") && val && n->mode != NET_NONE) {
			if (parse_mac(val, n->mac) != 0) {
				log_error("%s: mac=%s is not a unicast MAC address like "
					  "52:54:00:12:34:56",
					  opt, val);
				return -1;
			}
			n->mac_set = true;
		} else if (!strcmp(key, "hostfwd") && val && n->mode == NET_USER) {
			if (n->nhostfwd == VM_MAX_HOSTFWDS) {
				log_error("%s: at most %d hostfwd rules", opt, VM_MAX_HOSTFWDS);
				return -1;
			}
			if (parse_hostfwd(val, &n->hostfwd[n->nhostfwd]) != 0) {
				log_error("%s: hostfwd=%s: expected "
					  "tcp|udp:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT",
					  opt, val);
				return -1;
			}
			n->nhostfwd++;
		} else if (!strcmp(key, "ifname") && val && *val && n->mode == NET_TAP) {
			if (strlen(val) >= 16) {
				log_error("%s: ifname=%s is longer than 15 characters", opt, val);
				return -1;
			}
			n->ifname = val;
		} else {
			log_error("%s: unknown or malformed parameter '%s%s%s'", opt, key, val ? "=" : "",
				  val ? val : "");
			return -1;
		}
	}
	return 0;
}

static int share_cache_mode(const char *v, enum share_cache *mode)
{
	static const struct {
		const char *name;
		enum share_cache mode;
	} modes[] = {
	    {"auto", SHARE_CACHE_AUTO},
	    {"always", SHARE_CACHE_ALWAYS},
	    {"never", SHARE_CACHE_NEVER},
	};

	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		if (v && strcmp(v, modes[i].name) == 0) {
			*mode = modes[i].mode;
			return 0;
		}
	}
	return -1;
}

static int share_check(struct vm_config *cfg, const char *opt, const struct share_config *s)
{
	struct stat st;

	if (!s->tag || !*s->tag) {
		log_error("%s: the share needs a tag (the name the guest mounts)", opt);
		return -1;
	}
	if (strlen(s->tag) > SHARE_TAG_MAX) {
		log_error("%s: tag '%s' is longer than %d bytes", opt, s->tag, SHARE_TAG_MAX);
		return -1;
	}
	for (unsigned i = 0; i < cfg->nshares; i++) {
		if (!strcmp(cfg->share[i].tag, s->tag)) {
			log_error("%s: tag '%s' is used twice", opt, s->tag);
			return -1;
		}
	}
	if (!s->path || !*s->path) {
		log_error("%s: share '%s' needs a path", opt, s->tag);
		return -1;
	}
	if (stat(s->path, &st) != 0) {
		log_error("%s: %s: %s", opt, s->path, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		log_error("%s: %s: not a directory", opt, s->path);
		return -1;
	}
	if (cfg->nshares == VM_MAX_SHARES) {
		log_error("%s: at most %d shares", opt, VM_MAX_SHARES);
		return -1;
	}
	return 0;
}

int options_parse_share(struct vm_config *cfg, const char *opt, char **args, int nargs, int *used)
{
	struct share_config s = {0};
	struct keyval kv;
	char *key, *val;
	bool named = nargs > 0 && strncmp(args[0], "tag=", 4) == 0;
	int b;

	if (nargs < (named ? 1 : 2)) {
		log_error("%s needs a tag and a path (-share TAG PATH)", opt);
		return -1;
	}
	*used = named ? 1 : 2;
	if (!keyval_init(&kv, args[named ? 0 : 1]))
		return -1;
	if (!named) {
		s.tag = args[0];
		keyval_next(&kv, &key, &val);
		if (val)
			val[-1] = '='; /* the first item is the path itself, '=' and all */
		s.path = key;
	}
	while (keyval_next(&kv, &key, &val)) {
		if (named && !strcmp(key, "tag") && val) {
			s.tag = val;
		} else if (named && !strcmp(key, "path") && val) {
			s.path = val;
		} else if (!strcmp(key, "readonly") && (b = keyval_bool(val)) >= 0) {
			s.readonly = b;
		} else if (!strcmp(key, "cache")) {
			if (share_cache_mode(val, &s.cache) != 0) {
				log_error("%s: cache=%s: expected auto, always or never", opt,
					  val ? val : "");
				return -1;
			}
		} else {
			log_error("%s: unknown or malformed parameter '%s%s%s'", opt, key, val ? "=" : "",
				  val ? val : "");
			return -1;
		}
	}
	if (share_check(cfg, opt, &s) != 0)
		return -1;
	cfg->share[cfg->nshares++] = s;
	return 0;
}
