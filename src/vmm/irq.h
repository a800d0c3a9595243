/* An interrupt line a device drives. The VMM wires it to KVM_IRQ_LINE on the VM fd (see
 * vm__irq_line); tests wire it to a recorder. Devices call irq_line__set with the line's new
 * level whenever it may have changed; it is cheap to repeat a level. */
#ifndef SKVM_VMM_IRQ_H
#define SKVM_VMM_IRQ_H

#include <stdint.h>

struct irq_line {
	void (*set)(void *ctx, uint32_t irq, int level);
	void *ctx;
	uint32_t irq;		/* GSI / ISA IRQ number */
};

static inline void irq_line__set(const struct irq_line *line, int level)
{
	if (line->set)
		line->set(line->ctx, line->irq, level);
}

#endif
