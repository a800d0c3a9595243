#!/usr/bin/env python3
"""check-tty.py SOFTKVM ECHO_BIN: the console on a terminal. Runs `softkvm run --flat echo.bin`
on a pseudo-terminal and checks that the terminal is in raw mode while it runs (no echo, no line
buffering: one byte typed reaches the guest at once), that Ctrl-A Ctrl-A sends one Ctrl-A, that
Ctrl-A x ends softkvm with status 0 and restores the terminal, and that SIGTERM restores it too."""
import os, pty, select, signal, sys, termios, time

vmm, echo_bin = sys.argv[1], sys.argv[2]
failures = 0


def fail(msg):
    global failures
    failures += 1
    print("FAIL:", msg)


def read_until(fd, want, timeout=20.0):
    buf = b""
    end = time.time() + timeout
    while want not in buf and time.time() < end:
        r, _, _ = select.select([fd], [], [], 0.1)
        if r:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                break
            if not chunk:
                break
            buf += chunk
    return buf


def wait_exit(pid, timeout=20.0):
    end = time.time() + timeout
    while time.time() < end:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return status
        time.sleep(0.05)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    return None


def spawn():
    pid, fd = pty.fork()
    if pid == 0:
        os.execv(vmm, [vmm, "run", "--flat", echo_bin])
    return pid, fd


def cooked(fd):
    lflag = termios.tcgetattr(fd)[3]
    return bool(lflag & termios.ECHO) and bool(lflag & termios.ICANON)


def wait_raw(fd, timeout=20.0):
    """softkvm is ready for input once it has put the terminal in raw mode."""
    end = time.time() + timeout
    while cooked(fd) and time.time() < end:
        time.sleep(0.02)
    return not cooked(fd)


# 1. raw mode, escapes, Ctrl-A x
pid, fd = spawn()
before = termios.tcgetattr(fd)
if not cooked(fd):
    fail("the new terminal is not in cooked mode")
if not wait_raw(fd):
    fail("softkvm did not put the terminal in raw mode")
os.write(fd, b"a")                      # one byte, no newline: reaches the guest only in raw mode
out = read_until(fd, b"a")
if out.count(b"a") != 1:                # once: from the guest, not the terminal's echo too
    fail("raw mode: typed 'a', got %r" % out)
os.write(fd, b"\x01\x01")               # Ctrl-A Ctrl-A: one Ctrl-A for the guest
out = read_until(fd, b"\x01")
if b"\x01" not in out:
    fail("Ctrl-A Ctrl-A: got %r" % out)
os.write(fd, b"\x01x")
out = read_until(fd, b"terminated")
status = wait_exit(pid)
if status is None or not os.WIFEXITED(status) or os.WEXITSTATUS(status) != 0:
    fail("Ctrl-A x: status %r, output %r" % (status, out))
try:
    after = termios.tcgetattr(fd)
    if after[3] != before[3] or after[0] != before[0]:
        fail("terminal not restored after Ctrl-A x")
except termios.error as e:
    fail("tcgetattr after exit: %s" % e)
os.close(fd)

# 2. SIGTERM restores the terminal
pid, fd = spawn()
before = termios.tcgetattr(fd)
if not wait_raw(fd):
    fail("softkvm did not put the terminal in raw mode (second run)")
os.write(fd, b"b")
read_until(fd, b"b")                    # the guest runs: raw mode is on
os.kill(pid, signal.SIGTERM)
status = wait_exit(pid)
if status is None or not os.WIFSIGNALED(status) or os.WTERMSIG(status) != signal.SIGTERM:
    fail("SIGTERM: status %r" % status)
try:
    if not cooked(fd) or termios.tcgetattr(fd)[3] != before[3]:
        fail("terminal not restored after SIGTERM")
except termios.error as e:
    fail("tcgetattr after SIGTERM: %s" % e)
os.close(fd)

print("%d passed, %d failed" % (2 if not failures else 0, failures))
sys.exit(1 if failures else 0)
