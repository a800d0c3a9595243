/* Small VMM helpers: error messages go to stderr, one line each, prefixed "softkvm: ". */
#ifndef SKVM_VMM_UTIL_H
#define SKVM_VMM_UTIL_H

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define pr_err(fmt, ...) fprintf(stderr, "softkvm: " fmt "\n", ##__VA_ARGS__)
/* Appends strerror(errno); call right after the failing call. */
#define pr_err_errno(fmt, ...) pr_err(fmt ": %s", ##__VA_ARGS__, strerror(errno))

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#endif
