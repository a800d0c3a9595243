/* Flat binaries: raw bytes loaded at a fixed guest-physical address. */
#ifndef SKVM_VMM_FLAT_H
#define SKVM_VMM_FLAT_H

#include <stddef.h>
#include <stdint.h>

/* The flat-binary contract: loaded at gpa 0x10000, entered in real mode at 1000:0000 with
 * DS = ES = SS = 0x1000 and SP = 0xfff0, so guest code is ORG 0. */
#define FLAT_LOAD_ADDR 0x10000ULL
#define FLAT_SEG 0x1000
#define FLAT_SP 0xfff0

/* Reads path whole into a new buffer (free() it), refusing empty files and files over max
 * bytes. 0, or -1 after a one-line message naming the file and the reason. */
int flat__read(const char *path, uint64_t max, uint8_t **buf, size_t *len);

#endif
