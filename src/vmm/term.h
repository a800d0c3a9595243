/* The host console: a thread that feeds the VMM's stdin to the guest's serial port.
 *
 * When stdin is the terminal we run in the foreground of, it is put in raw mode (restored by
 * term__destroy, at exit, and on SIGTERM/SIGINT/SIGHUP/SIGQUIT) and Ctrl-A is an escape:
 * Ctrl-A x ends softkvm with status 0, Ctrl-A Ctrl-A sends one Ctrl-A, Ctrl-A h lists them.
 * Otherwise (a pipe, a file, /dev/null) bytes pass through unchanged. End of input ends the
 * thread, never the VM. A terminal we run in the background of is not read at all. */
#ifndef SKVM_VMM_TERM_H
#define SKVM_VMM_TERM_H

#include <stdbool.h>
#include <stdint.h>

struct serial;
struct term;

#define TERM_ESCAPE_CHAR 0x01	/* Ctrl-A */

/* in_fd < 0: no input at all (returns a term that does nothing). NULL on failure. */
struct term *term__create(int in_fd, struct serial *serial);
void term__destroy(struct term *t);

/* Puts the terminal back as it was, if raw mode is on; async-signal-safe. */
void term__restore(void);

/* The escape decoder, one input byte at a time. */
enum term_esc_action {
	TERM_ESC_NONE,		/* swallow the byte */
	TERM_ESC_SEND,		/* pass the byte to the guest */
	TERM_ESC_QUIT,		/* Ctrl-A x */
	TERM_ESC_HELP,		/* Ctrl-A h or ? */
};

struct term_esc {
	bool armed;		/* the previous byte was Ctrl-A */
};

enum term_esc_action term__escape(struct term_esc *esc, uint8_t c);

#endif
