/* Unpacking a bzImage on the host: the payload (payload_offset/payload_length in the setup
 * header) is the compressed ELF vmlinux. Loading that ELF at its physical addresses and entering
 * at phys_startup_64 is what the in-guest decompressor would end up doing (without KASLR), as
 * Firecracker and cloud-hypervisor boot a vmlinux; it saves the guest a long decompression. */
#include "vmm/boot/vmlinux.h"

#include <elf.h>
#include <lzma.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/util.h"
#include "vmm/vm.h"

#define XZ_MAGIC "\xfd" "7zXZ"
#define VMLINUX_MAX (512ULL << 20)

int vmlinux__unpack(const uint8_t *payload, size_t len, uint8_t **elf, size_t *elf_len)
{
	lzma_stream s = LZMA_STREAM_INIT;
	size_t cap = 64 << 20;
	uint8_t *out;
	lzma_ret r;

	if (len < 6 || memcmp(payload, XZ_MAGIC, 5))
		return 1;		/* not xz: leave it to the guest */
	if (lzma_stream_decoder(&s, UINT64_MAX, 0) != LZMA_OK)
		return -1;
	out = malloc(cap);
	if (!out)
		goto fail;
	s.next_in = payload;
	s.avail_in = len;
	s.next_out = out;
	s.avail_out = cap;
	for (;;) {
		/* the payload may carry padding after the stream (size appended by the build) */
		r = lzma_code(&s, LZMA_FINISH);
		if (r == LZMA_STREAM_END)
			break;
		if (r == LZMA_OK && s.avail_out == 0 && cap < VMLINUX_MAX) {
			uint8_t *n = realloc(out, cap * 2);

			if (!n)
				goto fail;
			out = n;
			s.next_out = out + cap;
			s.avail_out = cap;
			cap *= 2;
			continue;
		}
		if (r == LZMA_OK && s.avail_in == 0)
			break;
		goto fail;
	}
	*elf = out;
	*elf_len = cap - s.avail_out;
	lzma_end(&s);
	return 0;
fail:
	free(out);
	lzma_end(&s);
	return -1;
}

int vmlinux__load(struct vm *vm, const char *path, const uint8_t *elf, size_t len,
		  uint64_t *entry, uint64_t *end)
{
	const Elf64_Ehdr *eh = (const Elf64_Ehdr *)elf;
	uint64_t top = 0;
	int i;

	if (len < sizeof(*eh) || memcmp(eh->e_ident, ELFMAG, SELFMAG) ||
	    eh->e_ident[EI_CLASS] != ELFCLASS64 || eh->e_machine != EM_X86_64 ||
	    eh->e_phentsize != sizeof(Elf64_Phdr) ||
	    eh->e_phoff + (uint64_t)eh->e_phnum * sizeof(Elf64_Phdr) > len) {
		pr_err("%s: the bzImage payload is not an x86-64 ELF vmlinux", path);
		return -1;
	}
	for (i = 0; i < eh->e_phnum; i++) {
		Elf64_Phdr ph;
		uint8_t *dst;

		memcpy(&ph, elf + eh->e_phoff + i * sizeof(ph), sizeof(ph));
		if (ph.p_type != PT_LOAD)
			continue;
		if (ph.p_filesz > ph.p_memsz || ph.p_offset + ph.p_filesz > len) {
			pr_err("%s: corrupt vmlinux program header %d", path, i);
			return -1;
		}
		dst = vm__gpa_to_hva(vm, ph.p_paddr, ph.p_memsz);
		if (!dst) {
			pr_err("%s: the kernel needs guest memory up to %#llx; give more memory (-m)",
			       path, (unsigned long long)(ph.p_paddr + ph.p_memsz));
			return -1;
		}
		memcpy(dst, elf + ph.p_offset, ph.p_filesz);
		memset(dst + ph.p_filesz, 0, ph.p_memsz - ph.p_filesz);
		if (ph.p_paddr + ph.p_memsz > top)
			top = ph.p_paddr + ph.p_memsz;
	}
	*entry = eh->e_entry;	/* vmlinux.lds: ENTRY(phys_startup_64), a physical address */
	*end = top;
	return 0;
}
