/* The handle table: which fds are softkvm objects. Every handle is a real kernel fd (an eventfd
 * for system and VM handles, a memfd holding kvm_run for vCPUs), so it can be polled, dup'd and
 * closed like a /dev/kvm fd. */
#include <errno.h>
#include <stdlib.h>

#include "internal.h"

struct handle {
  enum skvm_kind kind;
  void *obj;
};

static pthread_mutex_t handles_lock = PTHREAD_MUTEX_INITIALIZER;
static struct handle *handles;
static int handles_len;

int handle_register(int fd, enum skvm_kind kind, void *obj)
{
  int ret = 0;
  pthread_mutex_lock(&handles_lock);
  if (fd >= handles_len) {
    int n = handles_len ? handles_len : 256;
    while (n <= fd) n *= 2;
    struct handle *h = realloc(handles, n * sizeof(*h));
    if (!h) {
      ret = -1;
      errno = ENOMEM;
      goto out;
    }
    for (int i = handles_len; i < n; i++) h[i] = (struct handle){ 0, NULL };
    handles = h;
    handles_len = n;
  }
  handles[fd] = (struct handle){ kind, obj };
out:
  pthread_mutex_unlock(&handles_lock);
  return ret;
}

void *handle_get(int fd, enum skvm_kind *kind)
{
  void *obj = NULL;
  pthread_mutex_lock(&handles_lock);
  if (fd >= 0 && fd < handles_len && handles[fd].obj) {
    obj = handles[fd].obj;
    *kind = handles[fd].kind;
  }
  pthread_mutex_unlock(&handles_lock);
  if (!obj) errno = EBADF;
  return obj;
}

void *handle_remove(int fd, enum skvm_kind *kind)
{
  void *obj = NULL;
  pthread_mutex_lock(&handles_lock);
  if (fd >= 0 && fd < handles_len && handles[fd].obj) {
    obj = handles[fd].obj;
    *kind = handles[fd].kind;
    handles[fd] = (struct handle){ 0, NULL };
  }
  pthread_mutex_unlock(&handles_lock);
  return obj;
}
