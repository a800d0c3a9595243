/* One registration API for address ranges: a bus maps [base, base+len) to a device callback.
 * The VMM keeps one bus for port I/O and one for MMIO; devices register on either. */
#ifndef SKVM_VMM_IOBUS_H
#define SKVM_VMM_IOBUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* addr is the absolute port/address accessed; data holds len bytes (little-endian), filled by
 * the callback on a read. */
typedef void (*iobus_fn)(void *dev, uint64_t addr, uint8_t *data, uint32_t len, bool is_write);

struct iobus_range {
	uint64_t base;
	uint64_t len;
	iobus_fn fn;
	void *dev;
};

struct iobus {
	const char *name;
	struct iobus_range *ranges;	/* sorted by base, non-overlapping */
	size_t nr;
	size_t cap;
};

void iobus__init(struct iobus *bus, const char *name);
void iobus__exit(struct iobus *bus);

/* 0, or -errno: -EINVAL for an empty or wrapping range, -EEXIST when it overlaps another. */
int iobus__register(struct iobus *bus, uint64_t base, uint64_t len, iobus_fn fn, void *dev);
int iobus__unregister(struct iobus *bus, uint64_t base);

/* Dispatch one access. An unclaimed read returns all-ones, an unclaimed write is dropped;
 * the return value says whether a device claimed the address. */
bool iobus__access(struct iobus *bus, uint64_t addr, uint8_t *data, uint32_t len, bool is_write);

#endif
