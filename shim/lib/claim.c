/*
 * Claims on a socket (claim.h). In the process: a table of slots, each one
 * word, the socket's inode and a ticket; a claimant takes a free slot, draws
 * a ticket and waits for every slot of the same inode with an earlier one
 * (Lamport's bakery, lock-free: a slot "choosing" its ticket is waited for
 * first). Between processes: a POSIX record lock on the socket, which the
 * kernel drops when the process closes the socket or dies.
 */
#define _GNU_SOURCE
#include "claim.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define SLOTS 64
#define CHOOSING 1ULL
#define TICKET_BITS 31
#define TICKET_MASK ((1U << TICKET_BITS) - 1)
#define YIELDS 16		    /* then sleeps of */
#define PAUSE_NS 50000		    /* 50 us: the bound is overshot by about one */

/* Aligned as an atomic word must be, on i386 too (where uint64_t is 4). */
typedef uint64_t claim_word __attribute__((aligned(8)));

static struct {
	claim_word word;   /* inode << 32 | ticket << 1 | CHOOSING; 0: free */
	uintptr_t owner;   /* the holding thread, once its ticket is drawn */
	long long since __attribute__((aligned(8))); /* when claimed: abandoned slots are reused */
} slots[SLOTS];
static uint32_t next_ticket;
static unsigned taken_count, held_count; /* nsc_claims_taken(), nsc_claims_held() */

static long long now_ns(void)
{
	struct timespec now = { 0, 0 };
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (long long)now.tv_sec * 1000000000LL + now.tv_nsec;
}

static void pause_briefly(unsigned *round)
{
	if ((*round)++ < YIELDS) {
		sched_yield();
		return;
	}
	struct timespec pause = { 0, PAUSE_NS };
	nanosleep(&pause, NULL);
}

static uint32_t inode_of(uint64_t word)
{
	return (uint32_t)(word >> 32);
}

static uint32_t ticket_of(uint64_t word)
{
	return (uint32_t)(word >> 1) & TICKET_MASK;
}

/* Tickets wrap: a is earlier than b when b is less than half a turn ahead. */
static bool earlier(uint32_t a, uint32_t b)
{
	uint32_t ahead = (b - a) & TICKET_MASK;
	return ahead != 0 && ahead < (1U << (TICKET_BITS - 1));
}

static uintptr_t this_thread(void)
{
	return (uintptr_t)__builtin_thread_pointer();
}

/* A free slot, taken while choosing; or, with none free, one whose holder
 * has had it longer than any wait lasts. -1 if neither. */
static int take_slot(uint64_t choosing, long long now)
{
	for (int pass = 0; pass < 2; pass++) {
		for (int s = 0; s < SLOTS; s++) {
			uint64_t held = __atomic_load_n(&slots[s].word, __ATOMIC_SEQ_CST);
			if (pass == 1 && (held == 0 ||
					  now - __atomic_load_n(&slots[s].since, __ATOMIC_RELAXED) <
						  NSC_CLAIM_WAIT_NS))
				continue;
			if (pass == 0 && held != 0)
				continue;
			if (__atomic_compare_exchange_n(&slots[s].word, &held, choosing, false,
							__ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
				return s;
		}
	}
	return -1;
}

/*
 * Waits for every other slot of this inode with an earlier ticket (or still
 * choosing one) to go, until the deadline, then takes it over. True if one
 * of them is this very thread's (a dial from inside a dial, in a signal
 * handler): that one holds the record lock already.
 */
static bool wait_for_earlier(int mine, uint32_t inode, uint32_t ticket, long long deadline,
			     unsigned *round)
{
	bool nested = false;
	for (int s = 0; s < SLOTS; s++) {
		while (s != mine) {
			uint64_t held = __atomic_load_n(&slots[s].word, __ATOMIC_SEQ_CST);
			if (held == 0 || inode_of(held) != inode)
				break;
			if ((held & CHOOSING) == 0) {
				if (__atomic_load_n(&slots[s].owner, __ATOMIC_SEQ_CST) == this_thread()) {
					nested = true;
					break;
				}
				if (!earlier(ticket_of(held), ticket))
					break;
			}
			if (now_ns() >= deadline) {
				/* Abandoned, or a long dial: take it over. */
				__atomic_compare_exchange_n(&slots[s].word, &held, 0, false,
							    __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
				break;
			}
			pause_briefly(round);
		}
	}
	return nested;
}

/* The other processes' claims: a write lock on the socket's first byte. */
static bool lock_record(int fd, long long deadline, unsigned *round)
{
	for (;;) {
		struct flock lock = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0,
				      .l_len = 1 };
		if (fcntl(fd, F_SETLK, &lock) == 0)
			return true;
		if ((errno != EAGAIN && errno != EACCES) || now_ns() >= deadline)
			return false;
		pause_briefly(round);
	}
}

void nsc_claim_socket(int fd, struct nsc_claim *claim)
{
	int saved_errno = errno;
	struct stat st;
	claim->slot = -1;
	claim->locked = false;
	claim->counted = false;
	claim->word = 0;
	if (fstat(fd, &st) != 0 || !S_ISSOCK(st.st_mode) || (uint32_t)st.st_ino == 0) {
		errno = saved_errno;
		return;
	}
	uint32_t inode = (uint32_t)st.st_ino;
	__atomic_add_fetch(&held_count, 1, __ATOMIC_SEQ_CST);
	__atomic_add_fetch(&taken_count, 1, __ATOMIC_SEQ_CST);
	claim->counted = true;
	long long start = now_ns(), deadline = start + NSC_CLAIM_WAIT_NS;
	unsigned round = 0;
	bool nested = false;
	uint64_t choosing = (uint64_t)inode << 32 | CHOOSING;
	int slot = take_slot(choosing, start);
	if (slot >= 0) {
		__atomic_store_n(&slots[slot].owner, this_thread(), __ATOMIC_SEQ_CST);
		__atomic_store_n(&slots[slot].since, start, __ATOMIC_RELAXED);
		uint32_t ticket = __atomic_fetch_add(&next_ticket, 1, __ATOMIC_SEQ_CST) & TICKET_MASK;
		uint64_t drawn = (uint64_t)inode << 32 | (uint64_t)ticket << 1;
		/* A CAS, not a store: a waiter may have taken the slot over. */
		if (__atomic_compare_exchange_n(&slots[slot].word, &choosing, drawn, false,
						__ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) {
			claim->slot = slot;
			claim->word = drawn;
			nested = wait_for_earlier(slot, inode, ticket, deadline, &round);
		}
	}
	if (!nested)
		claim->locked = lock_record(fd, deadline, &round);
	errno = saved_errno;
}

unsigned nsc_claims_taken(void)
{
	return __atomic_load_n(&taken_count, __ATOMIC_SEQ_CST);
}

unsigned nsc_claims_held(void)
{
	return __atomic_load_n(&held_count, __ATOMIC_SEQ_CST);
}

void nsc_release_socket(int fd, const struct nsc_claim *claim)
{
	int saved_errno = errno;
	if (claim->locked) {
		struct flock unlock = { .l_type = F_UNLCK, .l_whence = SEEK_SET, .l_start = 0,
					.l_len = 1 };
		fcntl(fd, F_SETLK, &unlock);
	}
	if (claim->slot >= 0) {
		uint64_t mine = claim->word;
		/* Only if still ours: a waiter may have taken it over. (The owner
		 * field is read only once the word is drawn, after it is written.) */
		__atomic_compare_exchange_n(&slots[claim->slot].word, &mine, 0, false,
					    __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
	}
	/* Never below 0: a fork() child forgot the count it was part of. */
	unsigned count = __atomic_load_n(&held_count, __ATOMIC_SEQ_CST);
	while (claim->counted && count > 0 &&
	       !__atomic_compare_exchange_n(&held_count, &count, count - 1, false, __ATOMIC_SEQ_CST,
					    __ATOMIC_SEQ_CST))
		;
	errno = saved_errno;
}

void nsc_forget_claims(void)
{
	memset(slots, 0, sizeof(slots));
	held_count = 0;
}
