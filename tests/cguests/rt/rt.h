/* rt.h - the runtime shared by the C guests and their native twins. Programs use only this:
 * the guest build links rt_write to the serial port (platform_guest.c), the native build to
 * stdout (platform_native.c); printf.c is the same code in both. */
#ifndef CGUEST_RT_H
#define CGUEST_RT_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* Writes n bytes of output. */
void rt_write(const char *s, size_t n);

/* printf subset: %d %i %u %x %X %o %c %s %p %f %%, flags - 0 + space, width and precision
 * (numbers or *), lengths l ll z. Returns the number of bytes written. */
int rt_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int rt_vprintf(const char *fmt, va_list ap);
/* The same into buf (at most size bytes, NUL included); returns the full length. */
int rt_snprintf(char *buf, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* A small deterministic generator (xorshift64*) for test data. */
static inline uint64_t rt_rand(uint64_t *state)
{
	uint64_t x = *state;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*state = x;
	return x * 0x2545f4914f6cdd1dULL;
}

#endif
