/* libsoftkvm-preload.so: with LD_PRELOAD, an unmodified dynamically linked KVM program's
 * open("/dev/kvm") gets a softkvm system handle, and ioctl/mmap/close on softkvm fds go to
 * libsoftkvm; dup/dup2/dup3/fcntl(F_DUPFD*) of a softkvm fd give another fd for the same object.
 * Every other call passes through to libc untouched. The handles are real fds, so poll, select,
 * read (of KVM_GET_STATS_FD files) and the rest need nothing here. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "softkvm.h"

/* libsoftkvm itself calls mmap/close: those inner calls must reach libc, not us again. */
static __thread int in_softkvm;

#define REAL(name) ((__typeof__(&name))real_symbol(#name))

static void *real_symbol(const char *name)
{
  return dlsym(RTLD_NEXT, name);
}

static int is_dev_kvm(const char *path)
{
  return path && strcmp(path, "/dev/kvm") == 0;
}

static int open_softkvm(void)
{
  in_softkvm++;
  int fd = skvm_open();
  in_softkvm--;
  return fd;
}

static mode_t mode_arg(int flags, va_list ap)
{
  return (flags & (O_CREAT | O_TMPFILE)) ? va_arg(ap, mode_t) : 0;
}

/* open/open64/openat/openat64: "/dev/kvm" becomes a softkvm system handle */
#define DEFINE_OPEN(name, params, real_args)                         \
  int name params                                                    \
  {                                                                  \
    va_list ap;                                                      \
    va_start(ap, flags);                                             \
    mode_t mode = mode_arg(flags, ap);                               \
    va_end(ap);                                                      \
    if (!in_softkvm && is_dev_kvm(path)) return open_softkvm();      \
    return REAL(name) real_args;                                     \
  }

DEFINE_OPEN(open, (const char *path, int flags, ...), (path, flags, mode))
DEFINE_OPEN(open64, (const char *path, int flags, ...), (path, flags, mode))
DEFINE_OPEN(openat, (int dirfd, const char *path, int flags, ...), (dirfd, path, flags, mode))
DEFINE_OPEN(openat64, (int dirfd, const char *path, int flags, ...), (dirfd, path, flags, mode))

int ioctl(int fd, unsigned long req, ...)
{
  va_list ap;
  va_start(ap, req);
  void *arg = va_arg(ap, void *);
  va_end(ap);
  if (in_softkvm || !skvm_is_handle(fd)) return REAL(ioctl)(fd, req, arg);
  in_softkvm++;
  int r = skvm_ioctl(fd, req, arg);
  in_softkvm--;
  return r;
}

void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
  if (in_softkvm || fd < 0 || !skvm_is_handle(fd)) return REAL(mmap)(addr, len, prot, flags, fd, off);
  in_softkvm++;
  void *p = skvm_mmap(addr, len, prot, flags, fd, off);
  in_softkvm--;
  return p;
}

void *mmap64(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
  return mmap(addr, len, prot, flags, fd, off);
}

int close(int fd)
{
  if (in_softkvm || !skvm_is_handle(fd)) return REAL(close)(fd);
  in_softkvm++;
  int r = skvm_close(fd);
  in_softkvm--;
  return r;
}

/* dup and friends: the kernel makes the copy; libsoftkvm learns that newfd names the object too
 * (and, for dup2/dup3 over a handle, that the old handle lost that fd). */
static int dup_done(int oldfd, int newfd)
{
  if (newfd < 0) return newfd;
  in_softkvm++;
  skvm_dup(oldfd, newfd);
  in_softkvm--;
  return newfd;
}

int dup(int fd)
{
  int r = REAL(dup)(fd);
  return in_softkvm || !skvm_is_handle(fd) ? r : dup_done(fd, r);
}

int dup2(int fd, int newfd)
{
  bool ours = !in_softkvm && (skvm_is_handle(fd) || skvm_is_handle(newfd));
  int r = REAL(dup2)(fd, newfd);
  return ours ? dup_done(fd, r) : r;
}

int dup3(int fd, int newfd, int flags)
{
  bool ours = !in_softkvm && (skvm_is_handle(fd) || skvm_is_handle(newfd));
  int r = REAL(dup3)(fd, newfd, flags);
  return ours ? dup_done(fd, r) : r;
}

/* fcntl's third argument is an int or a pointer; both travel as one register-sized word. */
#define DEFINE_FCNTL(name)                                                          \
  int name(int fd, int cmd, ...)                                                    \
  {                                                                                 \
    va_list ap;                                                                     \
    va_start(ap, cmd);                                                              \
    void *arg = va_arg(ap, void *);                                                 \
    va_end(ap);                                                                     \
    int r = REAL(name)(fd, cmd, arg);                                               \
    if ((cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC) && !in_softkvm && skvm_is_handle(fd)) \
      return dup_done(fd, r);                                                       \
    return r;                                                                       \
  }

DEFINE_FCNTL(fcntl)
DEFINE_FCNTL(fcntl64)
