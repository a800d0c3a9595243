/* POST diagnostic port: writes are ignored (they are I/O delays); reads return the last byte
 * written, as on PC chipsets that latch it. */
#include "vmm/hw/post.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/iobus.h"

struct post {
	uint16_t port;
	uint8_t last;
};

static void post__io(void *dev, uint64_t addr, uint8_t *data, uint32_t len, bool is_write)
{
	struct post *p = dev;

	if (is_write)
		p->last = data[0];
	else
		memset(data, p->last, len);
}

struct post *post__create(struct iobus *pio, uint16_t port)
{
	struct post *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->port = port;
	if (iobus__register(pio, port, 1, post__io, p) < 0) {
		free(p);
		return NULL;
	}
	return p;
}

void post__destroy(struct post *p, struct iobus *pio)
{
	if (!p)
		return;
	iobus__unregister(pio, p->port);
	free(p);
}
