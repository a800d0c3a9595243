/* softkvm run: create a VM, load a guest, run it to completion. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vmm/boot/acpi.h"
#include "vmm/boot/linux.h"
#include "vmm/cli.h"
#include "vmm/flat.h"
#include "vmm/hw/serial.h"
#include "vmm/term.h"
#include "vmm/util.h"
#include "vmm/vm.h"

#define RUN_MEM_DEFAULT_MB 64
#define RUN_MEM_DEFAULT_LINUX_MB 512
#define RUN_MEM_MAX_MB 65536

/* What a guest's reset request (0xcf9, the i8042 reset line) does. */
enum run_reboot {
	RUN_REBOOT_EXIT,	/* end softkvm with status 0 */
	RUN_REBOOT_RESTART,	/* start softkvm again with the same arguments */
};

struct run_opts {
	const char *flat;
	struct linux_boot kern;
	uint64_t mem_mb;
	uint64_t entry;
	uint64_t smp;
	bool dev_kvm;
	enum run_reboot reboot;
};

void cmd_run__usage(FILE *f)
{
	fputs("usage: softkvm run --kernel BZIMAGE [--initrd FILE] [--append CMDLINE] [-m MB]\n"
	      "                   [--smp N] [--reboot=exit|restart] [--dev-kvm]\n"
	      "       softkvm run --flat FILE [-m MB] [--entry OFF] [--reboot=exit|restart]\n"
	      "                   [--dev-kvm]\n"
	      "\n"
	      "  --kernel FILE  Linux bzImage, started at its 64-bit entry point with boot_params,\n"
	      "                 an e820 map and identity-mapped page tables (no BIOS)\n"
	      "  --initrd FILE  initramfs, loaded at the top of guest RAM\n"
	      "  --append STR   kernel command line (e.g. \"console=ttyS0\")\n"
	      "  --guest-decompress  run the bzImage's own decompressor in the guest (default:\n"
	      "                 unpack an xz payload on the host and boot the vmlinux in it)\n"
	      "  --flat FILE    raw binary, loaded at guest physical 0x10000 and started in\n"
	      "                 16-bit real mode at CS:IP = 1000:OFF with DS = ES = SS = 1000\n"
	      "                 and SP = FFF0 (so the guest is ORG 0 code)\n"
	      "  -m, --mem MB   guest RAM in MiB, at guest physical 0 (1..65536; default 512 with\n"
	      "                 --kernel, at most 3072 there; 64 with --flat)\n"
	      "  --entry OFF    initial IP within the 64 KiB code segment (default 0)\n"
	      "  --smp N        number of vCPUs with --kernel (1..64, default 1), each on its\n"
	      "                 own host thread\n"
	      "  --reboot=exit|restart\n"
	      "                 what a guest reset (reboot) does: exit ends softkvm with\n"
	      "                 status 0 (the default); restart starts softkvm again with\n"
	      "                 the same arguments\n"
	      "  --dev-kvm      use the kernel's /dev/kvm instead of libsoftkvm\n"
	      "  -h, --help     print this text\n"
	      "\n"
	      "Devices: 16550A serial at 0x3f8 (IRQ 4; output to stdout, input from stdin),\n"
	      "isa-debug-exit at 0xf4 (writing v ends softkvm with status (v << 1) | 1),\n"
	      "port 0x80, CMOS RTC at 0x70 (host UTC), i8042 at 0x60/0x64 (no keyboard),\n"
	      "ACPI PM registers at 0x600 (SLP_TYP 5 + SLP_EN powers off: status 0), reset\n"
	      "register at 0xcf9, PCI config mechanism #1 at 0xcf8/0xcfc with an i440FX host\n"
	      "bridge at 00:00.0.\n"
	      "A guest HLT or poweroff ends softkvm with status 0; a triple fault or hypervisor\n"
	      "error with status 1.\n"
	      "\n"
	      "Console: when stdin is a terminal it is in raw mode; Ctrl-A x quits (status 0),\n"
	      "Ctrl-A Ctrl-A sends Ctrl-A.\n", f);
}

/* cmd_run__parse() result after printing --help: exit with CLI_EXIT_OK. */
#define RUN_PARSE_HELP (-1)

/* 0 to run, RUN_PARSE_HELP, or an exit status. */
static int cmd_run__parse(int argc, char **argv, struct run_opts *o)
{
	const char *val;
	int i, r;

	for (i = 1; i < argc; i++) {
		if (cli__flag(argv[i], "--help", "-h")) {
			cmd_run__usage(stdout);
			return RUN_PARSE_HELP;
		}
		if (cli__flag(argv[i], "--guest-decompress", NULL)) {
			o->kern.guest_decompress = true;
			continue;
		}
		if (cli__flag(argv[i], "--dev-kvm", NULL)) {
			o->dev_kvm = true;
			continue;
		}
		if ((r = cli__opt(argc, argv, &i, "--flat", NULL, &val)) != 0) {
			if (r < 0)
				return CLI_EXIT_USAGE;
			o->flat = val;
		} else if ((r = cli__opt(argc, argv, &i, "--kernel", NULL, &val)) != 0) {
			if (r < 0)
				return CLI_EXIT_USAGE;
			o->kern.kernel = val;
		} else if ((r = cli__opt(argc, argv, &i, "--initrd", NULL, &val)) != 0) {
			if (r < 0)
				return CLI_EXIT_USAGE;
			o->kern.initrd = val;
		} else if ((r = cli__opt(argc, argv, &i, "--append", NULL, &val)) != 0) {
			if (r < 0)
				return CLI_EXIT_USAGE;
			o->kern.cmdline = val;
		} else if ((r = cli__opt(argc, argv, &i, "--mem", "-m", &val)) != 0) {
			if (r < 0)
				return CLI_EXIT_USAGE;
			if (!cli__parse_u64(val, &o->mem_mb) || o->mem_mb < 1 ||
			    o->mem_mb > RUN_MEM_MAX_MB) {
				pr_err("run: invalid memory size '%s' (MiB, 1..%d)", val, RUN_MEM_MAX_MB);
				return CLI_EXIT_FAIL;
			}
		} else if ((r = cli__opt(argc, argv, &i, "--smp", NULL, &val)) != 0) {
			if (r < 0)
				return CLI_EXIT_USAGE;
			if (!cli__parse_u64(val, &o->smp) || o->smp < 1 || o->smp > VM_MAX_CPUS) {
				pr_err("run: invalid --smp '%s' (number of vCPUs, 1..%d)", val, VM_MAX_CPUS);
				return CLI_EXIT_FAIL;
			}
		} else if ((r = cli__opt(argc, argv, &i, "--reboot", NULL, &val)) != 0) {
			if (r < 0)
				return CLI_EXIT_USAGE;
			if (strcmp(val, "exit") == 0) {
				o->reboot = RUN_REBOOT_EXIT;
			} else if (strcmp(val, "restart") == 0) {
				o->reboot = RUN_REBOOT_RESTART;
			} else {
				pr_err("run: invalid --reboot '%s' (exit or restart)", val);
				return CLI_EXIT_USAGE;
			}
		} else if ((r = cli__opt(argc, argv, &i, "--entry", NULL, &val)) != 0) {
			if (r < 0)
				return CLI_EXIT_USAGE;
			if (!cli__parse_u64(val, &o->entry) || o->entry > 0xffff) {
				pr_err("run: invalid entry offset '%s' (0..0xffff)", val);
				return CLI_EXIT_FAIL;
			}
		} else {
			return cli__bad_arg("run", argv[i]);
		}
	}
	if (o->flat && o->kern.kernel) {
		pr_err("run: --flat and --kernel exclude each other");
		return CLI_EXIT_USAGE;
	}
	if (!o->kern.kernel && (o->kern.initrd || o->kern.cmdline || o->smp > 1)) {
		pr_err("run: --initrd, --append and --smp need --kernel");
		return CLI_EXIT_USAGE;
	}
	if (!o->flat && !o->kern.kernel) {
		pr_err("run: no guest given (--kernel BZIMAGE or --flat FILE); try 'softkvm run --help'");
		return CLI_EXIT_USAGE;
	}
	return 0;
}

/* Starts this program again with the arguments it was started with (read back from
 * /proc/self/cmdline, since argv here is only the run command's part). Returns only on
 * failure, after a message. */
static void cmd_run__restart(void)
{
	static char buf[65536];
	char *args[1024];
	size_t len = 0, n = 0, i;
	ssize_t r;
	int fd;

	fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		pr_err_errno("restart: /proc/self/cmdline");
		return;
	}
	while (len < sizeof(buf) - 1 && (r = read(fd, buf + len, sizeof(buf) - 1 - len)) > 0)
		len += (size_t)r;
	close(fd);
	buf[len] = '\0';
	for (i = 0; i < len && n < ARRAY_SIZE(args) - 1; i += strlen(buf + i) + 1)
		args[n++] = buf + i;
	args[n] = NULL;
	if (n == 0 || i < len) {
		pr_err("restart: cannot read back the command line");
		return;
	}
	fflush(NULL);
	execv("/proc/self/exe", args);
	pr_err_errno("restart: exec /proc/self/exe");
}

static int cmd_run__linux(struct run_opts *o, uint64_t ram_size, bool *reset)
{
	int ncpus = (int)o->smp, ret = CLI_EXIT_FAIL;
	struct vm vm;

	if (vm__create(&vm, hv__select(o->dev_kvm), ram_size, true, ncpus) < 0)
		return CLI_EXIT_FAIL;
	/* input waits until the guest's 8250 driver enables its receive interrupt */
	serial__set_rx_gate(vm.serial, true);
	if (acpi__build(&vm, ncpus, &o->kern.rsdp) == 0 && linux__boot(&vm, &o->kern) == 0 &&
	    vm__start_aps(&vm) == 0)
		ret = vcpu__run(&vm.cpus[0]);
	*reset = vm.stop.requested && vm.stop.reset;
	if (ncpus > 1) {
		/* the other vCPUs may be mid-instruction in their threads: end the process here,
		 * with the terminal restored, rather than free the VM under them */
		term__restore();
		fflush(NULL);
		if (!(*reset && o->reboot == RUN_REBOOT_RESTART))
			_exit(ret);
		cmd_run__restart();
		_exit(CLI_EXIT_FAIL);
	}
	vm__destroy(&vm);
	return ret;
}

int cmd_run__main(int argc, char **argv, bool dev_kvm)
{
	struct run_opts o = { .dev_kvm = dev_kvm, .smp = 1 };
	uint64_t ram_size;
	uint8_t *image = NULL;
	size_t image_len;
	bool reset = false;
	struct vm vm;
	int ret;

	ret = cmd_run__parse(argc, argv, &o);
	if (ret == RUN_PARSE_HELP)
		return CLI_EXIT_OK;
	if (ret)
		return ret;

	if (!o.mem_mb)
		o.mem_mb = o.kern.kernel ? RUN_MEM_DEFAULT_LINUX_MB : RUN_MEM_DEFAULT_MB;
	ram_size = o.mem_mb << 20;
	if (o.kern.kernel) {
		ret = cmd_run__linux(&o, ram_size, &reset);
		goto out_image;
	}
	if (ram_size <= FLAT_LOAD_ADDR) {
		pr_err("run: %llu MiB of memory leaves no room for a guest at %#llx",
		       (unsigned long long)o.mem_mb, FLAT_LOAD_ADDR);
		return CLI_EXIT_FAIL;
	}
	if (flat__read(o.flat, ram_size - FLAT_LOAD_ADDR, &image, &image_len) < 0)
		return CLI_EXIT_FAIL;

	ret = CLI_EXIT_FAIL;
	if (vm__create(&vm, hv__select(o.dev_kvm), ram_size, false, 1) < 0)
		goto out_image;
	memcpy(vm__gpa_to_hva(&vm, FLAT_LOAD_ADDR, image_len), image, image_len);
	if (vcpu__reset_real_mode(&vm.cpus[0], FLAT_SEG, (uint16_t)o.entry, FLAT_SP) < 0)
		goto out_vm;

	ret = vcpu__run(&vm.cpus[0]);
	reset = vm.stop.requested && vm.stop.reset;
out_vm:
	vm__destroy(&vm);
out_image:
	free(image);
	if (reset && o.reboot == RUN_REBOOT_RESTART) {
		cmd_run__restart();	/* the terminal is restored: the VM is gone */
		return CLI_EXIT_FAIL;
	}
	return ret;
}
