/* AML writer (see aml.h). Opcodes, from the ACPI specification section 20.2: */
#include "vmm/boot/aml.h"

#include <stdlib.h>
#include <string.h>

#define AML_ZERO_OP 0x00
#define AML_ONE_OP 0x01
#define AML_NAME_OP 0x08
#define AML_BYTE_PREFIX 0x0a
#define AML_WORD_PREFIX 0x0b
#define AML_DWORD_PREFIX 0x0c
#define AML_STRING_PREFIX 0x0d
#define AML_QWORD_PREFIX 0x0e
#define AML_SCOPE_OP 0x10
#define AML_BUFFER_OP 0x11
#define AML_PACKAGE_OP 0x12
#define AML_DUAL_NAME_PREFIX 0x2e
#define AML_MULTI_NAME_PREFIX 0x2f
#define AML_EXT_OP_PREFIX 0x5b
#define AML_DEVICE_OP 0x82	/* after AML_EXT_OP_PREFIX */
#define AML_ROOT_CHAR '\\'
#define AML_PARENT_CHAR '^'

/* Resource descriptor tags (ACPI 6.4.2, 6.4.3) */
#define AML_RES_IO 0x47		/* small item 0x08, length 7 */
#define AML_RES_END 0x79	/* small item 0x0f, length 1 */
#define AML_RES_DWORD_ADDR 0x87
#define AML_RES_WORD_ADDR 0x88
#define AML_RES_TYPE_MEM 0
#define AML_RES_TYPE_IO 1
#define AML_RES_TYPE_BUS 2
#define AML_RES_GEN_MIF_MAF 0x0c	/* min and max fixed, positive decode, producer */
#define AML_RES_IO_ENTIRE_RANGE 0x03
#define AML_RES_MEM_RW 0x01		/* read-write, non-cacheable */

void aml__init(struct aml *a)
{
	memset(a, 0, sizeof(*a));
}

void aml__free(struct aml *a)
{
	free(a->buf);
	aml__init(a);
}

static bool aml__reserve(struct aml *a, size_t n)
{
	size_t cap;
	uint8_t *p;

	if (a->failed)
		return false;
	if (a->len + n <= a->cap)
		return true;
	cap = a->cap ? a->cap : 256;
	while (cap < a->len + n)
		cap *= 2;
	p = realloc(a->buf, cap);
	if (!p) {
		a->failed = true;
		return false;
	}
	a->buf = p;
	a->cap = cap;
	return true;
}

void aml__bytes(struct aml *a, const void *p, size_t n)
{
	if (!aml__reserve(a, n))
		return;
	memcpy(a->buf + a->len, p, n);
	a->len += n;
}

void aml__byte(struct aml *a, uint8_t b)
{
	aml__bytes(a, &b, 1);
}

void aml__u16(struct aml *a, uint16_t v)
{
	uint8_t b[2] = { (uint8_t)v, (uint8_t)(v >> 8) };

	aml__bytes(a, b, sizeof(b));
}

void aml__u32(struct aml *a, uint32_t v)
{
	aml__u16(a, (uint16_t)v);
	aml__u16(a, (uint16_t)(v >> 16));
}

void aml__u64(struct aml *a, uint64_t v)
{
	aml__u32(a, (uint32_t)v);
	aml__u32(a, (uint32_t)(v >> 32));
}

/* One NameSeg: up to 4 characters of [A-Z0-9_] (the first not a digit), padded with '_'. */
static void aml__name_seg(struct aml *a, const char *s, size_t n)
{
	char seg[4] = { '_', '_', '_', '_' };
	size_t i;

	if (n == 0 || n > 4 || (s[0] >= '0' && s[0] <= '9')) {
		a->failed = true;
		return;
	}
	for (i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_')) {
			a->failed = true;
			return;
		}
		seg[i] = c;
	}
	aml__bytes(a, seg, 4);
}

void aml__name_string(struct aml *a, const char *path)
{
	const char *p = path, *dot;
	size_t nseg = 0;

	if (*p == AML_ROOT_CHAR) {
		aml__byte(a, AML_ROOT_CHAR);
		p++;
	} else {
		while (*p == AML_PARENT_CHAR)
			aml__byte(a, (uint8_t)*p++);
	}
	for (dot = p; *dot; dot++)
		nseg += *dot == '.';
	nseg = *p ? nseg + 1 : 0;
	if (nseg == 0) {
		aml__byte(a, 0x00);	/* NullName */
		return;
	}
	if (nseg == 2) {
		aml__byte(a, AML_DUAL_NAME_PREFIX);
	} else if (nseg > 2) {
		if (nseg > 255) {
			a->failed = true;
			return;
		}
		aml__byte(a, AML_MULTI_NAME_PREFIX);
		aml__byte(a, (uint8_t)nseg);
	}
	while (*p) {
		dot = strchr(p, '.');
		if (!dot)
			dot = p + strlen(p);
		aml__name_seg(a, p, (size_t)(dot - p));
		p = *dot ? dot + 1 : dot;
	}
}

void aml__integer(struct aml *a, uint64_t v)
{
	if (v == 0) {
		aml__byte(a, AML_ZERO_OP);
	} else if (v == 1) {
		aml__byte(a, AML_ONE_OP);
	} else if (v <= 0xff) {
		aml__byte(a, AML_BYTE_PREFIX);
		aml__byte(a, (uint8_t)v);
	} else if (v <= 0xffff) {
		aml__byte(a, AML_WORD_PREFIX);
		aml__u16(a, (uint16_t)v);
	} else if (v <= 0xffffffff) {
		aml__byte(a, AML_DWORD_PREFIX);
		aml__u32(a, (uint32_t)v);
	} else {
		aml__byte(a, AML_QWORD_PREFIX);
		aml__u64(a, v);
	}
}

void aml__string(struct aml *a, const char *s)
{
	aml__byte(a, AML_STRING_PREFIX);
	aml__bytes(a, s, strlen(s) + 1);
}

static int aml__hex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Three letters of 5 bits (A = 1) and four hex digits, stored big-endian. */
void aml__eisaid(struct aml *a, const char *id)
{
	uint32_t v = 0;
	int i;

	if (strlen(id) != 7) {
		a->failed = true;
		return;
	}
	for (i = 0; i < 3; i++) {
		if (id[i] < 'A' || id[i] > 'Z') {
			a->failed = true;
			return;
		}
		v = v << 5 | (uint32_t)(id[i] - 'A' + 1);
	}
	for (i = 3; i < 7; i++) {
		int h = aml__hex(id[i]);

		if (h < 0) {
			a->failed = true;
			return;
		}
		v = v << 4 | (uint32_t)h;
	}
	aml__byte(a, AML_DWORD_PREFIX);
	aml__byte(a, (uint8_t)(v >> 24));
	aml__byte(a, (uint8_t)(v >> 16));
	aml__byte(a, (uint8_t)(v >> 8));
	aml__byte(a, (uint8_t)v);
}

void aml__name(struct aml *a, const char *name)
{
	aml__byte(a, AML_NAME_OP);
	aml__name_string(a, name);
}

void aml__name_integer(struct aml *a, const char *name, uint64_t v)
{
	aml__name(a, name);
	aml__integer(a, v);
}

/* The mark is where the PkgLength goes: right after the opcode. */
size_t aml__scope_open(struct aml *a, const char *path)
{
	size_t mark;

	aml__byte(a, AML_SCOPE_OP);
	mark = a->len;
	aml__name_string(a, path);
	return mark;
}

size_t aml__device_open(struct aml *a, const char *name)
{
	size_t mark;

	aml__byte(a, AML_EXT_OP_PREFIX);
	aml__byte(a, AML_DEVICE_OP);
	mark = a->len;
	aml__name_string(a, name);
	return mark;
}

size_t aml__package_open(struct aml *a, uint8_t count)
{
	size_t mark;

	aml__byte(a, AML_PACKAGE_OP);
	mark = a->len;
	aml__byte(a, count);
	return mark;
}

size_t aml__buffer_open(struct aml *a)
{
	aml__byte(a, AML_BUFFER_OP);
	return a->len;
}

/* PkgLength (20.2.4): the length of itself plus what follows; one byte up to 63, else a lead
 * byte (bits 7:6 = how many bytes follow, bits 3:0 = the low nibble) and 1..3 more bytes. */
static size_t aml__pkglen_encode(size_t content, uint8_t out[4])
{
	size_t n, total;

	if (content + 1 <= 0x3f) {
		out[0] = (uint8_t)(content + 1);
		return 1;
	}
	for (n = 2; n <= 4; n++) {
		total = content + n;
		if (total < (1ULL << (4 + 8 * (n - 1))))
			break;
	}
	out[0] = (uint8_t)((n - 1) << 6 | (total & 0x0f));
	out[1] = (uint8_t)(total >> 4);
	out[2] = (uint8_t)(total >> 12);
	out[3] = (uint8_t)(total >> 20);
	return n;
}

static void aml__insert(struct aml *a, size_t at, const uint8_t *p, size_t n)
{
	if (!aml__reserve(a, n))
		return;
	memmove(a->buf + at + n, a->buf + at, a->len - at);
	memcpy(a->buf + at, p, n);
	a->len += n;
}

void aml__close(struct aml *a, size_t mark)
{
	uint8_t pk[4];
	size_t n;

	if (a->failed)
		return;
	if (a->len - mark >= (1u << 28) - 4) {
		a->failed = true;
		return;
	}
	n = aml__pkglen_encode(a->len - mark, pk);
	aml__insert(a, mark, pk, n);
}

/* Buffer (BufferSize) {bytes}: the size is an integer before the bytes. */
void aml__buffer_close(struct aml *a, size_t mark)
{
	struct aml size;

	if (a->failed)
		return;
	aml__init(&size);
	aml__integer(&size, a->len - mark);
	if (size.failed) {
		a->failed = true;
		return;
	}
	aml__insert(a, mark, size.buf, size.len);
	aml__free(&size);
	aml__close(a, mark);
}

void aml__res_io(struct aml *a, uint16_t min, uint16_t max, uint8_t align, uint8_t len)
{
	aml__byte(a, AML_RES_IO);
	aml__byte(a, 0x01);		/* decodes 16 address bits */
	aml__u16(a, min);
	aml__u16(a, max);
	aml__byte(a, align);
	aml__byte(a, len);
}

static void aml__res_word(struct aml *a, uint8_t type, uint8_t type_flags, uint16_t min,
			  uint16_t max)
{
	aml__byte(a, AML_RES_WORD_ADDR);
	aml__u16(a, 13);		/* length of what follows */
	aml__byte(a, type);
	aml__byte(a, AML_RES_GEN_MIF_MAF);
	aml__byte(a, type_flags);
	aml__u16(a, 0);			/* granularity */
	aml__u16(a, min);
	aml__u16(a, max);
	aml__u16(a, 0);			/* translation offset */
	aml__u16(a, (uint16_t)(max - min + 1));
}

void aml__res_word_bus(struct aml *a, uint16_t min, uint16_t max)
{
	aml__res_word(a, AML_RES_TYPE_BUS, 0, min, max);
}

void aml__res_word_io(struct aml *a, uint16_t min, uint16_t max)
{
	aml__res_word(a, AML_RES_TYPE_IO, AML_RES_IO_ENTIRE_RANGE, min, max);
}

void aml__res_dword_mem(struct aml *a, uint32_t min, uint32_t max)
{
	aml__byte(a, AML_RES_DWORD_ADDR);
	aml__u16(a, 23);
	aml__byte(a, AML_RES_TYPE_MEM);
	aml__byte(a, AML_RES_GEN_MIF_MAF);
	aml__byte(a, AML_RES_MEM_RW);
	aml__u32(a, 0);
	aml__u32(a, min);
	aml__u32(a, max);
	aml__u32(a, 0);
	aml__u32(a, max - min + 1);
}

void aml__res_end(struct aml *a)
{
	aml__byte(a, AML_RES_END);
	aml__byte(a, 0x00);		/* checksum 0: "treat as correct" */
}
