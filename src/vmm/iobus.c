/* Address-range bus shared by port I/O and MMIO devices. */
#include "vmm/iobus.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void iobus__init(struct iobus *bus, const char *name)
{
	memset(bus, 0, sizeof(*bus));
	bus->name = name;
}

void iobus__exit(struct iobus *bus)
{
	free(bus->ranges);
	bus->ranges = NULL;
	bus->nr = bus->cap = 0;
}

/* Index of the first range whose end lies above addr (binary search). */
static size_t iobus__lower(const struct iobus *bus, uint64_t addr)
{
	size_t lo = 0, hi = bus->nr;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct iobus_range *r = &bus->ranges[mid];

		if (r->base + r->len <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static struct iobus_range *iobus__find(struct iobus *bus, uint64_t addr)
{
	size_t i = iobus__lower(bus, addr);

	if (i < bus->nr && bus->ranges[i].base <= addr)
		return &bus->ranges[i];
	return NULL;
}

int iobus__register(struct iobus *bus, uint64_t base, uint64_t len, iobus_fn fn, void *dev)
{
	struct iobus_range *r;
	size_t i;

	if (len == 0 || base + len < base || !fn)
		return -EINVAL;
	i = iobus__lower(bus, base);
	if (i < bus->nr && bus->ranges[i].base < base + len)
		return -EEXIST;
	if (bus->nr == bus->cap) {
		size_t cap = bus->cap ? bus->cap * 2 : 8;

		r = realloc(bus->ranges, cap * sizeof(*r));
		if (!r)
			return -ENOMEM;
		bus->ranges = r;
		bus->cap = cap;
	}
	memmove(&bus->ranges[i + 1], &bus->ranges[i], (bus->nr - i) * sizeof(*r));
	bus->ranges[i] = (struct iobus_range){ .base = base, .len = len, .fn = fn, .dev = dev };
	bus->nr++;
	return 0;
}

int iobus__unregister(struct iobus *bus, uint64_t base)
{
	struct iobus_range *r = iobus__find(bus, base);
	size_t i;

	if (!r || r->base != base)
		return -ENOENT;
	i = (size_t)(r - bus->ranges);
	memmove(r, r + 1, (bus->nr - i - 1) * sizeof(*r));
	bus->nr--;
	return 0;
}

bool iobus__access(struct iobus *bus, uint64_t addr, uint8_t *data, uint32_t len, bool is_write)
{
	struct iobus_range *r = iobus__find(bus, addr);

	if (!r) {
		if (!is_write)
			memset(data, 0xff, len);
		return false;
	}
	r->fn(r->dev, addr, data, len, is_write);
	return true;
}
