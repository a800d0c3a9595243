/* isa-debug-exit: a write of v ends the VMM with status (v << 1) | 1, as in QEMU. */
#ifndef SKVM_VMM_HW_DEBUG_EXIT_H
#define SKVM_VMM_HW_DEBUG_EXIT_H

#include <stdint.h>

struct iobus;
struct vm_stop;
struct debug_exit;

#define DEBUG_EXIT_PORT 0xf4

struct debug_exit *debug_exit__create(struct iobus *pio, uint16_t port, struct vm_stop *stop);
void debug_exit__destroy(struct debug_exit *d, struct iobus *pio);

#endif
