/* Host console: reader thread, raw mode, Ctrl-A escapes (see term.h).
 *
 * The thread waits in poll() on the input and on a pipe that term__destroy writes to, so it
 * stops at once. When the serial FIFO is full it keeps the bytes it has and retries every
 * few milliseconds, leaving the rest in the kernel's tty buffer: nothing is dropped.
 *
 * The saved terminal state is file-scope because the terminal is the process's, and the
 * signal handlers and atexit() must reach it. */
#define _GNU_SOURCE	/* pipe2 */
#include "vmm/term.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "vmm/hw/serial.h"
#include "vmm/util.h"

#define TERM_RETRY_MS 5

struct term {
	int in_fd;
	struct serial *serial;
	bool escapes;
	int stop_pipe[2];
	pthread_t thread;
	bool running;
};

static const int term__signals[] = { SIGTERM, SIGINT, SIGHUP, SIGQUIT };

static struct termios term__saved;
static int term__raw_fd = -1;		/* the fd in raw mode, or -1 */
static struct sigaction term__old_actions[ARRAY_SIZE(term__signals)];

void term__restore(void)
{
	int fd = term__raw_fd;

	if (fd >= 0) {
		tcsetattr(fd, TCSAFLUSH, &term__saved);
		term__raw_fd = -1;
	}
}

static void term__signal(int sig)
{
	term__restore();
	raise(sig);		/* SA_RESETHAND: the default action now */
}

static void term__atexit(void)
{
	term__restore();
}

static void term__raw_on(int fd)
{
	static bool atexit_done;
	struct sigaction sa;
	struct termios raw;
	size_t i;

	if (tcgetattr(fd, &term__saved) < 0)
		return;
	raw = term__saved;
	/* no line editing, echo, signals or flow control; keep output processing so that our
	 * own messages still start at the left margin */
	raw.c_iflag &= ~(IGNBRK | BRKINT | PARMRK | ISTRIP | INLCR | IGNCR | ICRNL | IXON);
	raw.c_lflag &= ~(ECHO | ECHONL | ICANON | ISIG | IEXTEN);
	raw.c_cflag &= ~(CSIZE | PARENB);
	raw.c_cflag |= CS8;
	raw.c_cc[VMIN] = 1;
	raw.c_cc[VTIME] = 0;

	if (!atexit_done) {
		atexit(term__atexit);
		atexit_done = true;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = term__signal;
	sa.sa_flags = SA_RESETHAND;
	sigemptyset(&sa.sa_mask);
	for (i = 0; i < ARRAY_SIZE(term__signals); i++)
		sigaction(term__signals[i], &sa, &term__old_actions[i]);

	term__raw_fd = fd;
	if (tcsetattr(fd, TCSAFLUSH, &raw) < 0)
		term__raw_fd = -1;
}

static void term__raw_off(void)
{
	size_t i;

	term__restore();
	for (i = 0; i < ARRAY_SIZE(term__signals); i++)
		sigaction(term__signals[i], &term__old_actions[i], NULL);
}

enum term_esc_action term__escape(struct term_esc *esc, uint8_t c)
{
	if (!esc->armed) {
		if (c == TERM_ESCAPE_CHAR) {
			esc->armed = true;
			return TERM_ESC_NONE;
		}
		return TERM_ESC_SEND;
	}
	esc->armed = false;
	switch (c) {
	case TERM_ESCAPE_CHAR:
		return TERM_ESC_SEND;
	case 'x':
	case 'X':
		return TERM_ESC_QUIT;
	case 'h':
	case 'H':
	case '?':
		return TERM_ESC_HELP;
	default:
		return TERM_ESC_NONE;
	}
}

static void term__say(const char *msg)
{
	ssize_t n;

	do
		n = write(STDERR_FILENO, msg, strlen(msg));
	while (n < 0 && errno == EINTR);
}

/* Waits up to ms for a stop request; true when stopping. */
static bool term__stopping(struct term *t, int ms)
{
	struct pollfd p = { .fd = t->stop_pipe[0], .events = POLLIN };

	return poll(&p, 1, ms) != 0;
}

/* Hands buf to the serial port, waiting while its FIFO is full; false when stopping. */
static bool term__feed(struct term *t, const uint8_t *buf, size_t len)
{
	while (len) {
		size_t n = serial__receive(t->serial, buf, len);

		buf += n;
		len -= n;
		if (len && term__stopping(t, TERM_RETRY_MS))
			return false;
	}
	return true;
}

/* Decodes escapes in place; returns the bytes left to send. */
static size_t term__filter(struct term *t, struct term_esc *esc, uint8_t *buf, size_t len)
{
	size_t i, out = 0;

	for (i = 0; i < len; i++) {
		switch (term__escape(esc, buf[i])) {
		case TERM_ESC_SEND:
			buf[out++] = buf[i];
			break;
		case TERM_ESC_QUIT:
			term__restore();
			term__say("\r\nsoftkvm: terminated (Ctrl-A x)\r\n");
			_exit(0);
		case TERM_ESC_HELP:
			term__say("\r\nCtrl-A x  quit softkvm\r\n"
				  "Ctrl-A Ctrl-A  send Ctrl-A to the guest\r\n");
			break;
		case TERM_ESC_NONE:
			break;
		}
	}
	return out;
}

static void *term__thread(void *arg)
{
	struct term *t = arg;
	struct term_esc esc = { false };
	uint8_t buf[256];

	for (;;) {
		struct pollfd p[2] = {
			{ .fd = t->in_fd, .events = POLLIN },
			{ .fd = t->stop_pipe[0], .events = POLLIN },
		};
		ssize_t n;
		size_t len;

		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[1].revents)
			break;
		if (p[0].revents & POLLNVAL)
			break;
		n = read(t->in_fd, buf, sizeof(buf));
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0)
			break;		/* end of input: the guest just gets no more */
		len = (size_t)n;
		if (t->escapes)
			len = term__filter(t, &esc, buf, len);
		if (!term__feed(t, buf, len))
			break;
	}
	return NULL;
}

struct term *term__create(int in_fd, struct serial *serial)
{
	struct term *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->in_fd = in_fd;
	t->serial = serial;
	t->stop_pipe[0] = t->stop_pipe[1] = -1;
	if (in_fd < 0)
		return t;
	/* a terminal we are in the background of: reading it would stop us (SIGTTIN) */
	if (isatty(in_fd) && tcgetpgrp(in_fd) != getpgrp())
		return t;
	if (pipe2(t->stop_pipe, O_CLOEXEC) < 0) {
		pr_err_errno("console: pipe");
		goto fail;
	}
	if (isatty(in_fd)) {
		t->escapes = true;
		term__raw_on(in_fd);
	}
	if (pthread_create(&t->thread, NULL, term__thread, t)) {
		pr_err("console: cannot start the input thread");
		goto fail;
	}
	t->running = true;
	return t;
fail:
	term__destroy(t);
	return NULL;
}

void term__destroy(struct term *t)
{
	ssize_t n;

	if (!t)
		return;
	if (t->running) {
		do
			n = write(t->stop_pipe[1], "", 1);
		while (n < 0 && errno == EINTR);
		pthread_join(t->thread, NULL);
	}
	if (t->escapes)
		term__raw_off();
	if (t->stop_pipe[0] >= 0)
		close(t->stop_pipe[0]);
	if (t->stop_pipe[1] >= 0)
		close(t->stop_pipe[1]);
	free(t);
}
