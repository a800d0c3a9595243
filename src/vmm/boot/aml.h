/* A small AML (ACPI Machine Language) writer, enough for our DSDT: names, integers, strings,
 * EISA IDs, packages, buffers, scopes and devices, and the resource descriptors of a _CRS.
 * Encodings follow the ACPI specification, chapter 20 (AML) and 6.4 (resource descriptors).
 *
 * Objects with a PkgLength (scopes, devices, packages, buffers) are open/close pairs:
 * aml__*_open returns a mark that aml__close takes once the contents are written; the
 * PkgLength is then inserted in its shortest encoding. */
#ifndef SKVM_VMM_BOOT_AML_H
#define SKVM_VMM_BOOT_AML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct aml {
	uint8_t *buf;
	size_t len, cap;
	bool failed;		/* out of memory or a bad argument: the result is unusable */
};

void aml__init(struct aml *a);
void aml__free(struct aml *a);

void aml__byte(struct aml *a, uint8_t b);
void aml__bytes(struct aml *a, const void *p, size_t n);
void aml__u16(struct aml *a, uint16_t v);
void aml__u32(struct aml *a, uint32_t v);
void aml__u64(struct aml *a, uint64_t v);

/* "\_SB.PCI0", "_S5", "^FOO": segments of up to 4 characters, padded with '_'. */
void aml__name_string(struct aml *a, const char *path);
/* The shortest of ZeroOp, OneOp, BytePrefix, WordPrefix, DWordPrefix, QWordPrefix. */
void aml__integer(struct aml *a, uint64_t v);
void aml__string(struct aml *a, const char *s);
/* EISAID("PNP0A03") as a DWord integer. */
void aml__eisaid(struct aml *a, const char *id);

/* Name (name, <object>): write the object next. */
void aml__name(struct aml *a, const char *name);
void aml__name_integer(struct aml *a, const char *name, uint64_t v);

size_t aml__scope_open(struct aml *a, const char *path);
size_t aml__device_open(struct aml *a, const char *name);
size_t aml__package_open(struct aml *a, uint8_t count);
/* A Buffer whose size is that of its contents, known at close: use aml__buffer_close. */
size_t aml__buffer_open(struct aml *a);
void aml__close(struct aml *a, size_t mark);
void aml__buffer_close(struct aml *a, size_t mark);

/* Resource descriptors, for a ResourceTemplate (a buffer ended by aml__res_end). Producer
 * (bridge window) address descriptors with fixed min and max, positive decode. */
void aml__res_io(struct aml *a, uint16_t min, uint16_t max, uint8_t align, uint8_t len);
void aml__res_word_bus(struct aml *a, uint16_t min, uint16_t max);
void aml__res_word_io(struct aml *a, uint16_t min, uint16_t max);
void aml__res_dword_mem(struct aml *a, uint32_t min, uint32_t max);
void aml__res_end(struct aml *a);

#endif
