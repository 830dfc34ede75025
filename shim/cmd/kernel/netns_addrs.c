/*
 * noselfconn --kernel, a network namespace's own addresses from rtnetlink,
 * for the namespace this thread is in: the list (RTM_GETADDR), and a socket
 * that the kernel tells of every change to it (RTMGRP_IPV4_IFADDR,
 * RTMGRP_IPV6_IFADDR), so the daemon reads the list again when it changes
 * rather than a second later.
 */
#include "kernel.h"

#include <errno.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void add_addr(struct nsc_addr_list *list, uint64_t cookie, int family, const void *addr)
{
	if (list->count == NSC_NETNS_MAX_ADDRS) {
		list->truncated = true;
		return;
	}
	struct nsc_addr_key *k = &list->keys[list->count++];
	memset(k, 0, sizeof(*k));
	k->cookie = cookie;
	k->family = (uint32_t)family;
	memcpy(k->addr, addr, family == AF_INET ? 4 : 16);
}

/* The addresses of one RTM_NEWADDR message. IPv4: IFA_LOCAL is the
 * address (IFA_ADDRESS a peer's on point-to-point links); IPv6 has
 * IFA_ADDRESS alone. */
static void add_message_addrs(struct nsc_addr_list *list, uint64_t cookie, struct nlmsghdr *h)
{
	struct ifaddrmsg *m = NLMSG_DATA(h);
	int rlen = (int)IFA_PAYLOAD(h);
	for (struct rtattr *rta = IFA_RTA(m); RTA_OK(rta, rlen); rta = RTA_NEXT(rta, rlen)) {
		if (m->ifa_family == AF_INET && rta->rta_type == IFA_LOCAL && RTA_PAYLOAD(rta) == 4)
			add_addr(list, cookie, AF_INET, RTA_DATA(rta));
		else if (m->ifa_family == AF_INET6 && rta->rta_type == IFA_ADDRESS &&
			 RTA_PAYLOAD(rta) == 16)
			add_addr(list, cookie, AF_INET6, RTA_DATA(rta));
	}
}

bool nsc_read_addrs(uint64_t cookie, struct nsc_addr_list *list)
{
	list->count = 0;
	list->truncated = false;
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd < 0)
		return false;
	struct {
		struct nlmsghdr h;
		struct ifaddrmsg m;
	} req = { .h = { .nlmsg_len = sizeof(req), .nlmsg_type = RTM_GETADDR,
			 .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP, .nlmsg_seq = 1 },
		  .m = { .ifa_family = AF_UNSPEC } };
	bool done = false, ok = send(fd, &req, sizeof(req), 0) == (ssize_t)sizeof(req);
	static char buf[32768];
	while (ok && !done) {
		ssize_t len = recv(fd, buf, sizeof(buf), 0);
		if (len <= 0) {
			ok = false;
			break;
		}
		for (struct nlmsghdr *h = (struct nlmsghdr *)buf; ok && !done && NLMSG_OK(h, (size_t)len);
		     h = NLMSG_NEXT(h, len)) {
			done = h->nlmsg_type == NLMSG_DONE;
			ok = h->nlmsg_type != NLMSG_ERROR;
			if (h->nlmsg_type == RTM_NEWADDR)
				add_message_addrs(list, cookie, h);
		}
	}
	close(fd);
	return ok;
}

int nsc_addr_events_open(void)
{
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_ROUTE);
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK,
				  .nl_groups = RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR };
	if (fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		close(fd);
		fd = -1;
	}
	return fd;
}

bool nsc_addr_events_drain(int fd)
{
	static char buf[8192];
	bool changed = false;
	for (;;) {
		ssize_t len = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (len > 0 || (len < 0 && errno == ENOBUFS)) /* ENOBUFS: some were lost */
			changed = true;
		else if (len < 0 && errno == EINTR)
			continue;
		else
			return changed;
	}
}
