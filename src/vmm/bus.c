#include "vmm/bus.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

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

bool bus_read(struct bus *bus, uint64_t addr, unsigned size, uint64_t *value)
{
	struct bus_range r;

	if (bus_find(bus, addr, &r) && r.ops->read) {
		*value = r.ops->read(r.opaque, addr - r.base, size);
		return true;
	}
	*value = size >= 8 ? ~0ULL : (1ULL << (size * 8)) - 1;
	return false;
}

bool bus_write(struct bus *bus, uint64_t addr, unsigned size, uint64_t value)
{
	struct bus_range r;

	if (!bus_find(bus, addr, &r))
		return false;
	if (r.ops->write)
		r.ops->write(r.opaque, addr - r.base, size, value);
	return true;
}
