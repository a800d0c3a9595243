/* softkvm: a kvmtool-like VMM over the KVM ABI (libsoftkvm by default, or /dev/kvm). */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "vmm/cli.h"
#include "vmm/util.h"

static void main__usage(FILE *f)
{
	fputs("usage: softkvm [--dev-kvm] COMMAND [OPTIONS]\n"
	      "\n"
	      "Commands:\n"
	      "  run    run a guest (softkvm run --help for its options)\n"
	      "  caps   print the hypervisor's API version, capabilities, CPUID and MSR counts\n"
	      "  help   print this text (softkvm help COMMAND for a command's options)\n"
	      "\n"
	      "Global options:\n"
	      "  --dev-kvm    drive the kernel's /dev/kvm instead of libsoftkvm\n"
	      "               (also: SOFTKVM_DEV_KVM=1 in the environment)\n"
	      "  -h, --help   print this text\n", f);
}

static int main__help(int argc, char **argv)
{
	if (argc < 2) {
		main__usage(stdout);
		return CLI_EXIT_OK;
	}
	if (strcmp(argv[1], "run") == 0)
		cmd_run__usage(stdout);
	else if (strcmp(argv[1], "caps") == 0)
		cmd_caps__usage(stdout);
	else if (strcmp(argv[1], "help") == 0)
		main__usage(stdout);
	else {
		pr_err("help: unknown command '%s'", argv[1]);
		return CLI_EXIT_USAGE;
	}
	return CLI_EXIT_OK;
}

int main(int argc, char **argv)
{
	bool dev_kvm = false;
	const char *cmd;
	int i;

	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		if (cli__flag(argv[i], "--help", "-h")) {
			main__usage(stdout);
			return CLI_EXIT_OK;
		} else if (cli__flag(argv[i], "--dev-kvm", NULL)) {
			dev_kvm = true;
		} else {
			pr_err("unknown option '%s' (try 'softkvm --help')", argv[i]);
			return CLI_EXIT_USAGE;
		}
	}
	if (i == argc) {
		main__usage(stderr);
		return CLI_EXIT_USAGE;
	}

	cmd = argv[i];
	if (strcmp(cmd, "help") == 0)
		return main__help(argc - i, argv + i);
	if (strcmp(cmd, "caps") == 0)
		return cmd_caps__main(argc - i, argv + i, dev_kvm);
	if (strcmp(cmd, "run") == 0)
		return cmd_run__main(argc - i, argv + i, dev_kvm);

	pr_err("unknown command '%s' (try 'softkvm --help')", cmd);
	return CLI_EXIT_USAGE;
}
