/* The handle table: which fds are softkvm objects. Every handle is a real kernel fd (an eventfd
 * for system and VM handles, a memfd holding kvm_run for vCPUs), so it can be polled, dup'd and
 * closed like a /dev/kvm fd. A dup of a handle (skvm_dup) names the same object: each object has
 * one reference shared by all its fds, counting them, and is destroyed when the last one closes,
 * as a struct file is released after its last fd. */
#include <errno.h>
#include <stdlib.h>
#include <sys/eventfd.h>

#include "internal.h"

struct handle {
  enum skvm_kind kind;
  void *obj;
  int fds;                    /* table entries pointing here */
};

static pthread_mutex_t handles_lock = PTHREAD_MUTEX_INITIALIZER;
static struct handle **handles;   /* by fd, NULL = not ours */
static int handles_len;

/* An fd for a system or VM handle. KVM's files have no poll method, so poll() reports them
 * readable and writable (DEFAULT_POLLMASK): an eventfd with a nonzero count does the same. */
int handle_eventfd(void)
{
  return eventfd(1, EFD_CLOEXEC);
}

/* Makes room for fd. Caller holds handles_lock. */
static int reserve_locked(int fd)
{
  if (fd < handles_len) return 0;
  int n = handles_len ? handles_len : 256;
  while (n <= fd) n *= 2;
  struct handle **h = realloc(handles, n * sizeof(*h));
  if (!h) return -1;
  for (int i = handles_len; i < n; i++) h[i] = NULL;
  handles = h;
  handles_len = n;
  return 0;
}

/* Drops fd's entry; the object when that was its last fd, else NULL. Caller holds the lock. */
static void *drop_locked(int fd, enum skvm_kind *kind)
{
  if (fd < 0 || fd >= handles_len || !handles[fd]) return NULL;
  struct handle *h = handles[fd];
  handles[fd] = NULL;
  if (--h->fds) return NULL;
  void *obj = h->obj;
  *kind = h->kind;
  free(h);
  return obj;
}

int handle_register(int fd, enum skvm_kind kind, void *obj)
{
  struct handle *h = malloc(sizeof(*h));
  pthread_mutex_lock(&handles_lock);
  int ret = h && fd >= 0 && !reserve_locked(fd) ? 0 : -1;
  if (!ret) {
    *h = (struct handle){ kind, obj, 1 };
    handles[fd] = h;
  }
  pthread_mutex_unlock(&handles_lock);
  if (ret) {
    free(h);
    errno = ENOMEM;
  }
  return ret;
}

void *handle_get(int fd, enum skvm_kind *kind)
{
  void *obj = NULL;
  pthread_mutex_lock(&handles_lock);
  if (fd >= 0 && fd < handles_len && handles[fd]) {
    obj = handles[fd]->obj;
    *kind = handles[fd]->kind;
  }
  pthread_mutex_unlock(&handles_lock);
  if (!obj) errno = EBADF;
  return obj;
}

void *handle_remove(int fd, enum skvm_kind *kind)
{
  pthread_mutex_lock(&handles_lock);
  void *obj = drop_locked(fd, kind);
  pthread_mutex_unlock(&handles_lock);
  return obj;
}

/* newfd now refers to oldfd's file: it names oldfd's object too. Whatever newfd named before
 * (dup2 over a handle) loses that fd; returns that object if it was its last fd, else NULL. */
void *handle_dup(int oldfd, int newfd, enum skvm_kind *kind)
{
  void *dropped = NULL;
  pthread_mutex_lock(&handles_lock);
  if (oldfd != newfd) {
    dropped = drop_locked(newfd, kind);
    if (oldfd >= 0 && oldfd < handles_len && handles[oldfd] && !reserve_locked(newfd)) {
      handles[newfd] = handles[oldfd];
      handles[newfd]->fds++;
    }
  }
  pthread_mutex_unlock(&handles_lock);
  return dropped;
}
