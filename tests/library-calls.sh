# shellcheck shell=sh
# The system calls the library can add to a program's own: the ones the
# tests and the bench count with strace (-e trace=...). A listener thread's
# accept() in the same process is left out: its count varies with timing.
# shellcheck disable=SC2034 # read by the files that source this one
LIBRARY_CALLS=socket,bind,connect,getsockname,getpeername,getsockopt,setsockopt,sendto,sendmsg,sendmmsg
