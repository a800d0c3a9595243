/* isa-debug-exit device: one port, 1/2/4-byte writes; the value written becomes the VMM's
 * exit status as (v << 1) | 1. Reads return all-ones, like an empty ISA port. */
#include "vmm/hw/debug_exit.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/iobus.h"
#include "vmm/vm.h"

struct debug_exit {
	uint16_t port;
	struct vm_stop *stop;
};

static void debug_exit__io(void *dev, uint64_t addr, uint8_t *data, uint32_t len, bool is_write)
{
	struct debug_exit *d = dev;
	uint32_t v = 0, i;

	if (!is_write) {
		memset(data, 0xff, len);
		return;
	}
	for (i = 0; i < len && i < 4; i++)
		v |= (uint32_t)data[i] << (8 * i);
	vm_stop__request(d->stop, (int)((v << 1) | 1));
}

struct debug_exit *debug_exit__create(struct iobus *pio, uint16_t port, struct vm_stop *stop)
{
	struct debug_exit *d = calloc(1, sizeof(*d));

	if (!d)
		return NULL;
	d->port = port;
	d->stop = stop;
	if (iobus__register(pio, port, 1, debug_exit__io, d) < 0) {
		free(d);
		return NULL;
	}
	return d;
}

void debug_exit__destroy(struct debug_exit *d, struct iobus *pio)
{
	if (!d)
		return;
	iobus__unregister(pio, d->port);
	free(d);
}
