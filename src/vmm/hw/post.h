/* Port 0x80, the POST diagnostic port: firmware and kernels write to it as an I/O delay. */
#ifndef SKVM_VMM_HW_POST_H
#define SKVM_VMM_HW_POST_H

#include <stdint.h>

struct iobus;
struct post;

#define POST_PORT 0x80

struct post *post__create(struct iobus *pio, uint16_t port);
void post__destroy(struct post *p, struct iobus *pio);

#endif
