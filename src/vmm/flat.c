/* Flat binary loading. */
#include "vmm/flat.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vmm/util.h"

int flat__read(const char *path, uint64_t max, uint8_t **buf, size_t *len)
{
	struct stat st;
	uint8_t *p = NULL;
	size_t done = 0;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		pr_err_errno("cannot open '%s'", path);
		return -1;
	}
	if (fstat(fd, &st) < 0) {
		pr_err_errno("cannot stat '%s'", path);
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		pr_err("cannot load '%s': %s", path,
		       S_ISDIR(st.st_mode) ? "is a directory" : "not a regular file");
		goto fail;
	}
	if (st.st_size == 0) {
		pr_err("cannot load '%s': file is empty", path);
		goto fail;
	}
	if ((uint64_t)st.st_size > max) {
		pr_err("cannot load '%s': %lld bytes do not fit in guest memory (room for %llu bytes)",
		       path, (long long)st.st_size, (unsigned long long)max);
		goto fail;
	}
	p = malloc(st.st_size);
	if (!p) {
		pr_err("cannot load '%s': out of memory", path);
		goto fail;
	}
	while (done < (size_t)st.st_size) {
		ssize_t n = read(fd, p + done, st.st_size - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			pr_err_errno("cannot read '%s'", path);
			goto fail;
		}
		if (n == 0) {
			pr_err("cannot read '%s': file shrank while reading", path);
			goto fail;
		}
		done += n;
	}
	close(fd);
	*buf = p;
	*len = done;
	return 0;
fail:
	free(p);
	close(fd);
	return -1;
}
