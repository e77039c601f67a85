#include "vmm/bus.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/log.h"

/* Accesses nobody claims, counted per bus, address, size and direction while SMOLVM_DEBUG
 * is set: a firmware that hangs silently is mostly polling a register smolvm lacks. */
#define UNCLAIMED_SLOTS 256
#define UNCLAIMED_ALWAYS 4 /* accesses logged each time; then the 8th, 16th, 32nd, ... */

struct bus_unclaimed {
	const struct bus *bus;
	uint64_t addr;
	unsigned size;
	bool write;
	uint64_t count;
};

static struct bus_unclaimed unclaimed[UNCLAIMED_SLOTS];
static uint64_t unclaimed_others; /* accesses past a full table, counted together */
static pthread_mutex_t unclaimed_lock = PTHREAD_MUTEX_INITIALIZER;

void bus_init(struct bus *bus, const char *name)
{
	memset(bus, 0, sizeof(*bus));
	bus->name = name;
	pthread_rwlock_init(&bus->lock, NULL);
}

int bus_register(struct bus *bus, uint64_t base, uint64_t len, const struct bus_ops *ops,
		 void *opaque)
{
	uint64_t end;
	unsigned i;
	int ret = 0;

	if (len == 0 || __builtin_add_overflow(base, len - 1, &end))
		return -EINVAL;
	pthread_rwlock_wrlock(&bus->lock);
	for (i = 0; i < bus->nranges; i++) {
		const struct bus_range *r = &bus->ranges[i];
		if (base <= r->base + r->len - 1 && r->base <= end) {
			ret = -EEXIST;
			goto out;
		}
		if (r->base > base)
			break;
	}
	if (bus->nranges == bus->cap) {
		unsigned cap = bus->cap ? bus->cap * 2 : 16;
		struct bus_range *n = realloc(bus->ranges, cap * sizeof(*n));
		if (!n) {
			ret = -ENOMEM;
			goto out;
		}
		bus->ranges = n;
		bus->cap = cap;
	}
	memmove(&bus->ranges[i + 1], &bus->ranges[i], (bus->nranges - i) * sizeof(bus->ranges[0]));
	bus->ranges[i] = (struct bus_range){base, len, ops, opaque};
	bus->nranges++;
out:
	pthread_rwlock_unlock(&bus->lock);
	return ret;
}

int bus_unregister(struct bus *bus, uint64_t base, void *opaque)
{
	int ret = -ENOENT;

	pthread_rwlock_wrlock(&bus->lock);
	for (unsigned i = 0; i < bus->nranges; i++) {
		if (bus->ranges[i].base == base && bus->ranges[i].opaque == opaque) {
			memmove(&bus->ranges[i], &bus->ranges[i + 1],
				(bus->nranges - i - 1) * sizeof(bus->ranges[0]));
			bus->nranges--;
			ret = 0;
			break;
		}
	}
	pthread_rwlock_unlock(&bus->lock);
	return ret;
}

/* Binary search for the range containing addr and copy it out, so that handlers run
 * without the lock held: a config-space write may move a BAR, which re-registers ranges. */
static bool bus_find(struct bus *bus, uint64_t addr, struct bus_range *out)
{
	unsigned lo, hi;
	bool found = false;

	pthread_rwlock_rdlock(&bus->lock);
	lo = 0;
	hi = bus->nranges;
	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;
		const struct bus_range *r = &bus->ranges[mid];
		if (addr < r->base) {
			hi = mid;
		} else if (addr - r->base >= r->len) {
			lo = mid + 1;
		} else {
			*out = *r;
			found = true;
			break;
		}
	}
	pthread_rwlock_unlock(&bus->lock);
	return found;
}

/* How often this access went unclaimed, with the one before it: 1 the first time. */
static uint64_t bus_count_unclaimed(const struct bus *bus, uint64_t addr, unsigned size,
				    bool write)
{
	unsigned i = (unsigned)((addr * 0x9e3779b97f4a7c15ULL) >> 56) % UNCLAIMED_SLOTS;
	uint64_t n = 0;

	pthread_mutex_lock(&unclaimed_lock);
	for (unsigned probe = 0; probe < UNCLAIMED_SLOTS; probe++, i = (i + 1) % UNCLAIMED_SLOTS) {
		struct bus_unclaimed *u = &unclaimed[i];

		if (u->count == 0)
			*u = (struct bus_unclaimed){bus, addr, size, write, 0};
		if (u->bus == bus && u->addr == addr && u->size == size && u->write == write) {
			n = ++u->count;
			break;
		}
	}
	if (n == 0)
		n = ++unclaimed_others;
	pthread_mutex_unlock(&unclaimed_lock);
	return n;
}

/* Log the first few times an access goes unclaimed, then at each power of two: a polling
 * loop shows, and its count, without flooding. */
static void bus_log_unclaimed(const struct bus *bus, uint64_t addr, unsigned size, bool write,
			      uint64_t value)
{
	uint64_t n;

	if (!log_debug_enabled())
		return;
	n = bus_count_unclaimed(bus, addr, size, write);
	if (n > UNCLAIMED_ALWAYS && (n & (n - 1)) != 0)
		return;
	if (write)
		log_debug("unclaimed %s write 0x%llx size %u value 0x%llx (dropped), #%llu",
			  bus->name, (unsigned long long)addr, size, (unsigned long long)value,
			  (unsigned long long)n);
	else
		log_debug("unclaimed %s read 0x%llx size %u (all-ones), #%llu", bus->name,
			  (unsigned long long)addr, size, (unsigned long long)n);
}

bool bus_read(struct bus *bus, uint64_t addr, unsigned size, uint64_t *value)
{
	struct bus_range r;

	if (bus_find(bus, addr, &r) && r.ops->read) {
		*value = r.ops->read(r.opaque, addr - r.base, size);
		return true;
	}
	*value = size >= 8 ? ~0ULL : (1ULL << (size * 8)) - 1;
	bus_log_unclaimed(bus, addr, size, false, 0);
	return false;
}

bool bus_write(struct bus *bus, uint64_t addr, unsigned size, uint64_t value)
{
	struct bus_range r;

	if (!bus_find(bus, addr, &r)) {
		bus_log_unclaimed(bus, addr, size, true, value);
		return false;
	}
	if (r.ops->write)
		r.ops->write(r.opaque, addr - r.base, size, value);
	return true;
}

bool bus_describe(struct bus *bus, uint64_t addr, const char **name, uint64_t *base)
{
	struct bus_range r;

	if (!bus_find(bus, addr, &r)) {
		*name = NULL;
		*base = addr;
		return false;
	}
	*name = r.ops->label ? r.ops->label(r.opaque) : r.ops->name ? r.ops->name : "?";
	*base = r.base;
	return true;
}
