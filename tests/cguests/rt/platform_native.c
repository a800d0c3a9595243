/* platform_native.c - the native twin's output: stdout. */
#include <stdio.h>

#include "rt.h"

void rt_write(const char *s, size_t n)
{
	fwrite(s, 1, n, stdout);
}
