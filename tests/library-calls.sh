# shellcheck shell=sh
# The system calls the library can add to a program's own: the ones the
# tests and the bench count with strace (-e trace=...). A listener thread's
# accept() in the same process is left out: its count varies with timing.
# (fstat and fcntl: a claim on a socket, prebind and the rare paths;
# getpid and process_vm_readv: the address of a large Fast Open send.)
# shellcheck disable=SC2034 # read by the files that source this one
LIBRARY_CALLS=socket,bind,connect,getsockname,getpeername,getsockopt,setsockopt,sendto,sendmsg,sendmmsg,fstat,newfstatat,fcntl,getpid,process_vm_readv

# count_library_calls TRACE: the library's calls in an strace -o file of
# LIBRARY_CALLS: not exits, signals or resumptions, and fstat only of a
# socket (ld.so and env stat files of their own).
count_library_calls() {
	awk '!/\+\+\+ exited|--- SIG|resumed>/ && (!/fstat/ || /S_IFSOCK/)' "$1" | wc -l
}
