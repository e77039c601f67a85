/*
 * nettool: the network ends busybox lacks in the test guest (its nc has no UDP), for
 * tests/integration/test_net.py and bench/bench_net.py. Static, no dependencies.
 *
 *   nettool udp-send HOST PORT MSG     send MSG, print the reply as UDP-REPLY=... (5 s)
 *   nettool udp-echo PORT COUNT        answer COUNT datagrams with "echo:" + the datagram,
 *                                      printing each as UDP-GOT=...; COUNT 0: bind,
 *                                      never read (a receiver that falls behind)
 *   nettool tcp-sink PORT              per connection: read to EOF, answer "OK <bytes>\n"
 *   nettool tcp-source PORT            per connection: read "<bytes>\n", send that many
 *   nettool tcp-echo PORT              per connection: echo until EOF
 *   nettool tcp-send HOST PORT BYTES   send BYTES, half-close, print the peer's answer
 *   nettool udp-flood HOST PORT SECS   send 1400-byte datagrams as fast as possible for
 *                                      SECS, print FLOOD-SENT=<datagrams>
 * Servers print "<NAME>-LISTENING <port>" once they listen, then serve connections one
 * after another, forever.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define CHUNK (256 * 1024)

static char buf[CHUNK];

static void die(const char *what)
{
	fprintf(stderr, "nettool: %s: %s\n", what, strerror(errno));
	exit(1);
}

static struct sockaddr_in addr_of(const char *host, const char *port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(atoi(port))};

	if (!host)
		sa.sin_addr.s_addr = htonl(INADDR_ANY);
	else if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
		fprintf(stderr, "nettool: bad address %s\n", host);
		exit(2);
	}
	return sa;
}

static int listener(const char *name, int type, const char *port)
{
	struct sockaddr_in sa = addr_of(NULL, port);
	int one = 1, fd = socket(AF_INET, type, 0);

	if (fd < 0)
		die("socket");
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		die("bind");
	if (type == SOCK_STREAM && listen(fd, 16) < 0)
		die("listen");
	printf("%s-LISTENING %s\n", name, port);
	fflush(stdout);
	return fd;
}

static int write_all(int fd, const char *p, size_t len)
{
	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= n;
	}
	return 0;
}

static int udp_send(char **argv)
{
	struct sockaddr_in sa = addr_of(argv[0], argv[1]);
	struct pollfd pfd;
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	ssize_t n;

	if (fd < 0 ||
	    sendto(fd, argv[2], strlen(argv[2]), 0, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		die("sendto");
	pfd = (struct pollfd){fd, POLLIN, 0};
	if (poll(&pfd, 1, 5000) != 1) {
		printf("UDP-REPLY=timeout\n");
		return 1;
	}
	n = recv(fd, buf, sizeof(buf) - 1, 0);
	if (n < 0)
		die("recv");
	buf[n] = '\0';
	printf("UDP-REPLY=%s\n", buf);
	return 0;
}

static int udp_echo(char **argv)
{
	int fd = listener("UDP", SOCK_DGRAM, argv[0]), count = atoi(argv[1]);
	char reply[CHUNK + 8];

	while (count == 0)
		pause();
	for (int i = 0; i < count; i++) {
		struct sockaddr_in from;
		socklen_t fl = sizeof(from);
		ssize_t n = recvfrom(fd, buf, sizeof(buf) - 1, 0, (struct sockaddr *)&from, &fl);
		if (n < 0)
			die("recvfrom");
		buf[n] = '\0';
		printf("UDP-GOT=%s\n", buf);
		fflush(stdout);
		n = snprintf(reply, sizeof(reply), "echo:%s", buf);
		sendto(fd, reply, n, 0, (struct sockaddr *)&from, fl);
	}
	return 0;
}

static void tcp_sink(int c)
{
	unsigned long long total = 0;
	ssize_t n;
	int len;

	while ((n = read(c, buf, sizeof(buf))) > 0)
		total += n;
	len = snprintf(buf, 64, "OK %llu\n", total);
	write_all(c, buf, len);
}

static void tcp_source(int c)
{
	char req[32];
	size_t got = 0;
	unsigned long long left;
	ssize_t n;

	while (got < sizeof(req) - 1 && (n = read(c, req + got, 1)) == 1 && req[got] != '\n')
		got++;
	req[got] = '\0';
	left = strtoull(req, NULL, 10);
	memset(buf, 'x', sizeof(buf));
	while (left) {
		size_t k = left < sizeof(buf) ? left : sizeof(buf);
		if (write_all(c, buf, k) < 0)
			return;
		left -= k;
	}
}

static void tcp_echo(int c)
{
	int one = 1;
	ssize_t n;

	setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	while ((n = read(c, buf, sizeof(buf))) > 0)
		if (write_all(c, buf, n) < 0)
			return;
}

static _Noreturn void tcp_serve(const char *name, const char *port, void (*serve)(int))
{
	int fd = listener(name, SOCK_STREAM, port);

	for (;;) {
		int c = accept(fd, NULL, NULL);
		if (c < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			die("accept");
		}
		serve(c);
		close(c);
	}
}

static int tcp_send(char **argv)
{
	struct sockaddr_in sa = addr_of(argv[0], argv[1]);
	unsigned long long left = strtoull(argv[2], NULL, 10);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	ssize_t n;

	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		die("connect");
	memset(buf, 'y', sizeof(buf));
	while (left) {
		size_t k = left < sizeof(buf) ? left : sizeof(buf);
		if (write_all(fd, buf, k) < 0)
			die("write");
		left -= k;
	}
	shutdown(fd, SHUT_WR);
	n = read(fd, buf, 255);
	buf[n > 0 ? n : 0] = '\0';
	printf("TCP-ANSWER=%s\n", buf);
	return n > 0 ? 0 : 1;
}

static int udp_flood(char **argv)
{
	struct sockaddr_in sa = addr_of(argv[0], argv[1]);
	struct timespec start, now;
	unsigned long long sent = 0;
	int fd = socket(AF_INET, SOCK_DGRAM, 0), secs = atoi(argv[2]);

	if (fd < 0)
		die("socket");
	memset(buf, 'f', 1400);
	clock_gettime(CLOCK_MONOTONIC, &start);
	do {
		for (int i = 0; i < 256; i++)
			if (sendto(fd, buf, 1400, 0, (struct sockaddr *)&sa, sizeof(sa)) == 1400)
				sent++;
		clock_gettime(CLOCK_MONOTONIC, &now);
	} while (now.tv_sec - start.tv_sec < secs);
	printf("FLOOD-SENT=%llu\n", sent);
	return 0;
}

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : "";

	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN); /* a peer that vanished is an error return, not our end */
	if (!strcmp(cmd, "udp-send") && argc == 5)
		return udp_send(argv + 2);
	if (!strcmp(cmd, "udp-echo") && argc == 4)
		return udp_echo(argv + 2);
	if (!strcmp(cmd, "tcp-sink") && argc == 3)
		tcp_serve("SINK", argv[2], tcp_sink);
	if (!strcmp(cmd, "tcp-source") && argc == 3)
		tcp_serve("SOURCE", argv[2], tcp_source);
	if (!strcmp(cmd, "tcp-echo") && argc == 3)
		tcp_serve("ECHO", argv[2], tcp_echo);
	if (!strcmp(cmd, "tcp-send") && argc == 5)
		return tcp_send(argv + 2);
	if (!strcmp(cmd, "udp-flood") && argc == 5)
		return udp_flood(argv + 2);
	fprintf(stderr,
		"usage: nettool udp-send HOST PORT MSG | udp-echo PORT COUNT | "
		"tcp-sink PORT | tcp-source PORT | tcp-echo PORT | tcp-send HOST PORT BYTES | "
		"udp-flood HOST PORT SECS\n");
	return 2;
}
