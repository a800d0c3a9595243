/* Command-line plumbing shared by the softkvm commands. */
#ifndef SKVM_VMM_CLI_H
#define SKVM_VMM_CLI_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/* Exit statuses: 0 ok, 1 failure (bad value, guest error), 2 usage error. */
#define CLI_EXIT_OK 0
#define CLI_EXIT_FAIL 1
#define CLI_EXIT_USAGE 2

/* Does arg name this flag (long "--name" or short "-n"; either may be NULL)? */
bool cli__flag(const char *arg, const char *lname, const char *sname);

/* Option with a value, as "--name VAL", "--name=VAL" or "-n VAL". Returns 1 and sets *val
 * (advancing *i past a separate value) when argv[*i] is this option, 0 when it is not, -1
 * (after a message) when the value is missing. */
int cli__opt(int argc, char **argv, int *i, const char *lname, const char *sname,
	     const char **val);

/* Whole-string unsigned number, decimal or 0x-hex. */
bool cli__parse_u64(const char *s, uint64_t *out);

/* Reports an unknown option or stray argument of cmd; returns CLI_EXIT_USAGE. */
int cli__bad_arg(const char *cmd, const char *arg);

/* The commands. argv[0] is the command name. */
int cmd_caps__main(int argc, char **argv, bool dev_kvm);
int cmd_run__main(int argc, char **argv, bool dev_kvm);
void cmd_caps__usage(FILE *f);
void cmd_run__usage(FILE *f);

#endif
