/* Minimal test helpers for softkvm's unit tests: every check counts, failures print file:line,
 * and test_summary() prints "N passed, M failed" and returns the exit status. */
#ifndef SKVM_TESTLIB_H
#define SKVM_TESTLIB_H

#include <errno.h>
#include <stdio.h>
#include <string.h>

extern int test_passed, test_failed;

void test_fail(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int test_summary(void);

#define CHECK(cond)                                                                   \
  do {                                                                                \
    if (cond) test_passed++;                                                          \
    else test_fail(__FILE__, __LINE__, "CHECK(%s) failed", #cond);                    \
  } while (0)

#define CHECK_EQ(a, b)                                                                \
  do {                                                                                \
    unsigned long long _a = (unsigned long long)(a), _b = (unsigned long long)(b);    \
    if (_a == _b) test_passed++;                                                      \
    else test_fail(__FILE__, __LINE__, "%s == %s: 0x%llx != 0x%llx", #a, #b, _a, _b); \
  } while (0)

/* The call must fail with -1 and errno == e. */
#define CHECK_ERRNO(call, e)                                                          \
  do {                                                                                \
    errno = 0;                                                                        \
    long _r = (long)(call);                                                           \
    int _e = errno;                                                                   \
    if (_r == -1 && _e == (e)) test_passed++;                                         \
    else test_fail(__FILE__, __LINE__, "%s: got %ld errno %d (%s), want -1 errno %d (%s)", \
                   #call, _r, _e, strerror(_e), (e), strerror(e));                    \
  } while (0)

/* The call must succeed (not -1). */
#define CHECK_OK(call)                                                                \
  do {                                                                                \
    errno = 0;                                                                        \
    long _r = (long)(call);                                                           \
    if (_r != -1) test_passed++;                                                      \
    else test_fail(__FILE__, __LINE__, "%s failed: %s", #call, strerror(errno));      \
  } while (0)

#endif
