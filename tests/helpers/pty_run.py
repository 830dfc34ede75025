#!/usr/bin/env python3
"""pty_run.py STEP... -- CMD [ARG...]: runs CMD on a terminal of its own
(its controlling terminal, CMD's process group in the foreground), as an
interactive shell runs a job, and follows the STEPs in order:

  expect:TEXT  waits (up to 20 s) until TEXT appears in what CMD wrote
               after the previous expect
  send:TEXT    types TEXT (Python escapes: \\x03 is ^C, \\x1a ^Z, \\n Enter)
  kill:SIG     sends SIG (a name: INT, USR1...) to CMD's process alone

Then reads to the end and prints all CMD wrote, and a last line
"status=exited N" or "status=killed SIG". Exits 3 when an expect times
out (after printing what came), else 0.
"""
import os
import pty
import select
import signal
import sys
import time

def main():
    split = sys.argv.index("--")
    steps, command = sys.argv[1:split], sys.argv[split + 1:]
    pid, master = pty.fork()
    if pid == 0:
        os.execvp(command[0], command)
    output = b""
    seen = 0

    def read_some(timeout):
        nonlocal output
        ready, _, _ = select.select([master], [], [], timeout)
        if not ready:
            return True
        try:
            data = os.read(master, 4096)
        except OSError:  # EIO: the terminal's last user closed it
            return False
        output += data
        return bool(data)

    for step in steps:
        kind, _, arg = step.partition(":")
        if kind == "expect":
            deadline = time.monotonic() + 20
            while arg.encode() not in output[seen:]:
                if time.monotonic() > deadline or not read_some(0.2):
                    sys.stdout.write(output.decode(errors="replace"))
                    print("\nstatus=expect timed out: %r" % arg)
                    os.kill(pid, signal.SIGKILL)
                    return 3
            seen = output.index(arg.encode(), seen) + len(arg)
        elif kind == "send":
            os.write(master, arg.encode().decode("unicode_escape").encode("latin-1"))
        elif kind == "kill":
            os.kill(pid, getattr(signal, "SIG" + arg))
        else:
            raise SystemExit("pty_run.py: unknown step %r" % step)
    while read_some(20):
        pass
    _, status = os.waitpid(pid, 0)
    sys.stdout.write(output.decode(errors="replace"))
    if os.WIFSIGNALED(status):
        print("\nstatus=killed %s" % signal.Signals(os.WTERMSIG(status)).name)
    else:
        print("\nstatus=exited %d" % os.WEXITSTATUS(status))
    return 0

sys.exit(main())
