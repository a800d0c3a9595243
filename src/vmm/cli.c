/* Option parsing helpers for the softkvm commands. */
#include "vmm/cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/util.h"

bool cli__flag(const char *arg, const char *lname, const char *sname)
{
	return (lname && strcmp(arg, lname) == 0) || (sname && strcmp(arg, sname) == 0);
}

int cli__opt(int argc, char **argv, int *i, const char *lname, const char *sname,
	     const char **val)
{
	const char *arg = argv[*i];
	size_t n = lname ? strlen(lname) : 0;

	if (lname && strncmp(arg, lname, n) == 0 && arg[n] == '=') {
		*val = arg + n + 1;
		return 1;
	}
	if (!cli__flag(arg, lname, sname))
		return 0;
	if (*i + 1 >= argc) {
		pr_err("option '%s' needs a value", arg);
		return -1;
	}
	*i += 1;
	*val = argv[*i];
	return 1;
}

bool cli__parse_u64(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (!s || !*s || *s == '-' || *s == '+')
		return false;
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || *end)
		return false;
	*out = v;
	return true;
}

int cli__bad_arg(const char *cmd, const char *arg)
{
	if (arg[0] == '-')
		pr_err("%s: unknown option '%s' (try 'softkvm %s --help')", cmd, arg, cmd);
	else
		pr_err("%s: unexpected argument '%s' (try 'softkvm %s --help')", cmd, arg, cmd);
	return CLI_EXIT_USAGE;
}
