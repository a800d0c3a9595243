#include "testlib.h"

#include <stdarg.h>

int test_passed, test_failed;

void test_fail(const char *file, int line, const char *fmt, ...)
{
  va_list ap;
  test_failed++;
  fprintf(stderr, "FAIL %s:%d: ", file, line);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
}

int test_summary(void)
{
  printf("%d passed, %d failed\n", test_passed, test_failed);
  return test_failed ? 1 : 0;
}
