/* Host-side bzImage unpacking and ELF vmlinux loading (see vmlinux.c). */
#ifndef SKVM_VMM_BOOT_VMLINUX_H
#define SKVM_VMM_BOOT_VMLINUX_H

#include <stddef.h>
#include <stdint.h>

struct vm;

/* Decompresses an xz payload into a new buffer (free() it). 0 on success, 1 when the payload
 * is in a format left to the guest's decompressor, -1 when it is corrupt. */
int vmlinux__unpack(const uint8_t *payload, size_t len, uint8_t **elf, size_t *elf_len);

/* Copies the PT_LOAD segments to their physical addresses (bss zeroed); *entry is the physical
 * 64-bit entry point, *end the end of the highest segment. 0, or -1 after a message. */
int vmlinux__load(struct vm *vm, const char *path, const uint8_t *elf, size_t len,
		  uint64_t *entry, uint64_t *end);

#endif
