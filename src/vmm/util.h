/* Small VMM helpers: error messages go to stderr, one line each, prefixed "softkvm: ". */
#ifndef SKVM_VMM_UTIL_H
#define SKVM_VMM_UTIL_H

#include <errno.h>
#include <stdio.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#define pr_err(fmt, ...) fprintf(stderr, "softkvm: " fmt "\n", ##__VA_ARGS__)
/* Appends strerror(errno); call right after the failing call. */
#define pr_err_errno(fmt, ...) pr_err(fmt ": %s", ##__VA_ARGS__, strerror(errno))

/* CLOCK_MONOTONIC in nanoseconds */
static inline uint64_t util__mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#endif
