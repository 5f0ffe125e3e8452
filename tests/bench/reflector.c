/* UDP reflector: the kernel's own limit for the benchmark. Echoes each
 * datagram back to its sender with the DNS QR bit set, in batches of up to
 * 64 with recvmmsg/sendmmsg, on one thread.
 * Usage: reflector PORT   (binds 127.0.0.1:PORT) */
#define _GNU_SOURCE
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define BATCH 64
#define BUFSZ 4096

int main(int argc, char **argv)
{
	static char buf[BATCH][BUFSZ];
	struct mmsghdr msgs[BATCH];
	struct iovec iov[BATCH];
	struct sockaddr_in peers[BATCH];
	struct sockaddr_in sa = {.sin_family = AF_INET};
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	if (argc != 2 || fd < 0)
		return 2;
	sa.sin_port = htons((unsigned short)atoi(argv[1]));
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		perror("bind");
		return 1;
	}
	for (;;) {
		for (int i = 0; i < BATCH; i++) {
			iov[i] = (struct iovec){buf[i], BUFSZ};
			msgs[i].msg_hdr = (struct msghdr){.msg_name = &peers[i],
							  .msg_namelen = sizeof(peers[i]),
							  .msg_iov = &iov[i],
							  .msg_iovlen = 1};
		}
		int n = recvmmsg(fd, msgs, BATCH, MSG_WAITFORONE, NULL);
		if (n <= 0)
			continue;
		for (int i = 0; i < n; i++) {
			iov[i].iov_len = msgs[i].msg_len;
			if (msgs[i].msg_len > 2)
				buf[i][2] |= (char)0x80; /* QR */
		}
		for (int off = 0; off < n;) {
			int s = sendmmsg(fd, msgs + off, (unsigned)(n - off), 0);
			if (s <= 0)
				break;
			off += s;
		}
	}
}
