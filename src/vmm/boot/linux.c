/* Linux bzImage loader with the 64-bit boot protocol entry (boot.rst, "64-bit Boot Protocol"). */
#include "vmm/boot/linux.h"

#include <asm/bootparam.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/boot/vmlinux.h"
#include "vmm/flat.h"
#include "vmm/util.h"
#include "vmm/vm.h"

#define SETUP_HDR_OFFSET 0x1f1
#define HDRS_MAGIC 0x53726448		/* "HdrS" */
#define BOOT_FLAG_MAGIC 0xaa55
#define MIN_PROTOCOL 0x20c		/* xloadflags and 64-bit entry */
#define KERNEL_MAX_FILE (256ULL << 20)

#define E820_RAM 1
#define E820_RESERVED 2

/* GDT selectors the 64-bit entry expects: __BOOT_CS = 0x10, __BOOT_DS = 0x18 */
#define BOOT_CS 0x10
#define BOOT_DS 0x18

#define PTE_P 0x1ULL
#define PTE_RW 0x2ULL
#define PTE_PS 0x80ULL

static int linux__check_header(const char *path, const uint8_t *img, size_t len,
			       struct setup_header *hdr, size_t *setup_len)
{
	unsigned setup_sects;

	if (len < 0x1000) {
		pr_err("%s: not a bzImage (only %zu bytes)", path, len);
		return -1;
	}
	memcpy(hdr, img + SETUP_HDR_OFFSET, sizeof(*hdr));
	if (hdr->boot_flag != BOOT_FLAG_MAGIC || hdr->header != HDRS_MAGIC) {
		pr_err("%s: not a bzImage (no Linux boot header)", path);
		return -1;
	}
	if (hdr->version < MIN_PROTOCOL) {
		pr_err("%s: boot protocol %u.%02u is too old (2.12 or later needed for 64-bit entry)",
		       path, hdr->version >> 8, hdr->version & 0xff);
		return -1;
	}
	if (!(hdr->loadflags & LOADED_HIGH) || !(hdr->xloadflags & XLF_KERNEL_64)) {
		pr_err("%s: not a 64-bit bzImage (no 64-bit entry point)", path);
		return -1;
	}
	setup_sects = hdr->setup_sects ? hdr->setup_sects : 4;
	*setup_len = (setup_sects + 1) * 512ULL;
	if (*setup_len >= len) {
		pr_err("%s: truncated bzImage (setup is %zu of %zu bytes)", path, *setup_len, len);
		return -1;
	}
	return 0;
}

static void linux__e820_add(struct boot_params *bp, uint64_t addr, uint64_t size, uint32_t type)
{
	struct boot_e820_entry *e = &bp->e820_table[bp->e820_entries++];

	e->addr = addr;
	e->size = size;
	e->type = type;
}

/* Identity map of the first 4 GiB with 2 MiB pages: all the 64-bit entry needs. */
static void linux__page_tables(struct vm *vm)
{
	uint64_t *pml4 = vm__gpa_to_hva(vm, LINUX_BOOT_PML4, 0x6000);
	uint64_t *pdpt = pml4 + 512;
	uint64_t *pd = pml4 + 1024;
	int i;

	memset(pml4, 0, 0x6000);
	pml4[0] = (LINUX_BOOT_PML4 + 0x1000) | PTE_P | PTE_RW;
	for (i = 0; i < 4; i++)
		pdpt[i] = (LINUX_BOOT_PML4 + 0x2000 + i * 0x1000ULL) | PTE_P | PTE_RW;
	for (i = 0; i < 4 * 512; i++)
		pd[i] = ((uint64_t)i << 21) | PTE_P | PTE_RW | PTE_PS;
}

static void linux__gdt(struct vm *vm)
{
	uint64_t *gdt = vm__gpa_to_hva(vm, LINUX_BOOT_GDT, 4 * 8);

	gdt[0] = 0;
	gdt[1] = 0;
	gdt[BOOT_CS / 8] = 0x00af9b000000ffffULL;	/* 64-bit code, DPL 0 */
	gdt[BOOT_DS / 8] = 0x00cf93000000ffffULL;	/* flat data, DPL 0 */
}

static void linux__seg(struct kvm_segment *s, uint16_t sel, bool code)
{
	memset(s, 0, sizeof(*s));
	s->selector = sel;
	s->limit = 0xffffffff;
	s->present = 1;
	s->s = 1;
	s->g = 1;
	if (code) {
		s->type = 0xb;
		s->l = 1;
	} else {
		s->type = 0x3;
		s->db = 1;
	}
}

static int linux__start_vcpu(struct vcpu *cpu, uint64_t entry)
{
	struct kvm_sregs sregs;
	struct kvm_regs regs;

	if (vcpu__get_sregs(cpu, &sregs) < 0)
		return -1;
	linux__seg(&sregs.cs, BOOT_CS, true);
	linux__seg(&sregs.ds, BOOT_DS, false);
	sregs.es = sregs.fs = sregs.gs = sregs.ss = sregs.ds;
	sregs.gdt.base = LINUX_BOOT_GDT;
	sregs.gdt.limit = 4 * 8 - 1;
	sregs.cr3 = LINUX_BOOT_PML4;
	sregs.cr4 = 0x20;			/* PAE */
	sregs.cr0 = 0x80000011;			/* PG | ET | PE */
	sregs.efer = 0x500;			/* LMA | LME */
	memset(&regs, 0, sizeof(regs));
	regs.rflags = 0x2;
	regs.rip = entry;
	regs.rsi = LINUX_BOOT_PARAMS;
	return vcpu__set_state(cpu, &sregs, &regs);
}

int linux__boot(struct vm *vm, const struct linux_boot *b)
{
	const char *cmdline = b->cmdline ? b->cmdline : "";
	uint8_t *kimg = NULL, *initrd = NULL, *elf = NULL;
	size_t klen, initrd_len = 0, setup_len, cmdline_max, elf_len;
	uint64_t kernel_end, initrd_addr = 0, initrd_top, entry;
	struct setup_header hdr;
	struct boot_params *bp;
	int ret = -1;

	if (vm->ram_size > LINUX_RAM_MAX) {
		pr_err("run: -m %llu: a Linux guest takes at most %llu MiB here",
		       (unsigned long long)(vm->ram_size >> 20), LINUX_RAM_MAX >> 20);
		return -1;
	}
	if (flat__read(b->kernel, KERNEL_MAX_FILE, &kimg, &klen) < 0)
		return -1;
	if (linux__check_header(b->kernel, kimg, klen, &hdr, &setup_len) < 0)
		goto out;
	cmdline_max = hdr.cmdline_size ? hdr.cmdline_size : 255;
	if (cmdline_max > LINUX_BOOT_CMDLINE_MAX - 1)
		cmdline_max = LINUX_BOOT_CMDLINE_MAX - 1;
	if (strlen(cmdline) > cmdline_max) {
		pr_err("run: --append: the command line has %zu bytes, the kernel takes at most %zu",
		       strlen(cmdline), cmdline_max);
		goto out;
	}

	/* the kernel, and where it ends: the initrd goes above that */
	if (!b->guest_decompress && hdr.payload_offset && hdr.payload_length &&
	    setup_len + hdr.payload_offset + hdr.payload_length <= klen) {
		int r = vmlinux__unpack(kimg + setup_len + hdr.payload_offset, hdr.payload_length,
					&elf, &elf_len);

		if (r < 0) {
			pr_err("%s: corrupt compressed kernel payload", b->kernel);
			goto out;
		}
	}
	if (elf) {
		if (vmlinux__load(vm, b->kernel, elf, elf_len, &entry, &kernel_end) < 0)
			goto out;
	} else {
		/* the kernel decompresses in place: it needs init_size bytes from its load address */
		kernel_end = LINUX_KERNEL_ADDR + (hdr.init_size > klen ? hdr.init_size : klen);
		if (kernel_end > vm->ram_size) {
			pr_err("%s: the kernel needs %llu MiB of guest memory, only %llu MiB given (-m)",
			       b->kernel, (unsigned long long)((kernel_end + 0xfffff) >> 20),
			       (unsigned long long)(vm->ram_size >> 20));
			goto out;
		}
		memcpy(vm__gpa_to_hva(vm, LINUX_KERNEL_ADDR, klen - setup_len), kimg + setup_len,
		       klen - setup_len);
		/* the 64-bit entry point is 0x200 bytes into the protected-mode kernel */
		entry = LINUX_KERNEL_ADDR + 0x200;
	}

	if (b->initrd) {
		if (flat__read(b->initrd, vm->ram_size, &initrd, &initrd_len) < 0)
			goto out;
		initrd_top = vm->ram_size;
		if (initrd_top > (uint64_t)hdr.initrd_addr_max + 1)
			initrd_top = (uint64_t)hdr.initrd_addr_max + 1;
		initrd_addr = initrd_top >= initrd_len ? (initrd_top - initrd_len) & ~0xfffffULL : 0;
		if (initrd_len > initrd_top || initrd_addr < kernel_end) {
			pr_err("%s: the initrd (%zu bytes) does not fit in guest memory above the kernel; "
			       "give more memory (-m)", b->initrd, initrd_len);
			goto out;
		}
		memcpy(vm__gpa_to_hva(vm, initrd_addr, initrd_len), initrd, initrd_len);
	}
	memcpy(vm__gpa_to_hva(vm, LINUX_BOOT_CMDLINE, strlen(cmdline) + 1), cmdline,
	       strlen(cmdline) + 1);

	bp = vm__gpa_to_hva(vm, LINUX_BOOT_PARAMS, sizeof(*bp));
	memset(bp, 0, sizeof(*bp));
	bp->hdr = hdr;
	bp->hdr.type_of_loader = 0xff;		/* undefined loader */
	bp->hdr.loadflags |= CAN_USE_HEAP;
	bp->hdr.loadflags &= ~KEEP_SEGMENTS;
	bp->hdr.heap_end_ptr = 0xfe00;
	bp->hdr.cmd_line_ptr = (uint32_t)LINUX_BOOT_CMDLINE;
	bp->hdr.cmdline_size = (uint32_t)cmdline_max;
	bp->hdr.ramdisk_image = (uint32_t)initrd_addr;
	bp->hdr.ramdisk_size = (uint32_t)initrd_len;
	bp->hdr.code32_start = (uint32_t)LINUX_KERNEL_ADDR;
	bp->acpi_rsdp_addr = b->rsdp;
	linux__e820_add(bp, 0, LINUX_EBDA_START, E820_RAM);
	linux__e820_add(bp, LINUX_EBDA_START, 0x100000 - LINUX_EBDA_START, E820_RESERVED);
	linux__e820_add(bp, 0x100000, vm->ram_size - 0x100000, E820_RAM);

	linux__page_tables(vm);
	linux__gdt(vm);
	ret = linux__start_vcpu(&vm->cpus[0], entry);
out:
	free(elf);
	free(initrd);
	free(kimg);
	return ret;
}
