/*
 * randread: random reads with O_DIRECT on a block device (or file) inside a test guest,
 * for a time or a number of reads, from one or more threads (one read in flight each).
 * Busybox has no such tool. Built static (make guest-tools) into build/guest-tools/.
 *
 * Usage: randread [-t SECONDS] [-n READS] [-j THREADS] [-b BYTES] DEVICE
 *   default: -t 10 -j 1 -b 4096; with -n the run ends after that many reads in all.
 * Prints one line:
 *   randread: reads=N bytes=B threads=J seconds=S iops=I mibps=M
 * Exit status 0, or 1 with a message when a read fails.
 */
#define _GNU_SOURCE /* O_DIRECT */
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_THREADS 64

static int fd;
static uint64_t nblocks;
static size_t block = 4096;
static double deadline;	      /* CLOCK_MONOTONIC seconds; 0 with a read count */
static atomic_long remaining; /* reads left to issue when counted */
static atomic_long done;
static atomic_int failed;

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* xorshift64*: cheap, and different per thread. */
static uint64_t next_rand(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 2685821657736338717ULL;
}

static void *reader(void *arg)
{
	uint64_t seed = 0x9e3779b97f4a7c15ULL * ((uintptr_t)arg + 1) ^ (uint64_t)(now() * 1e9);
	void *buf;
	long n = 0;

	if (posix_memalign(&buf, 4096, block) != 0) {
		atomic_store(&failed, 1);
		return NULL;
	}
	for (;;) {
		if (deadline ? now() >= deadline : atomic_fetch_sub(&remaining, 1) <= 0)
			break;
		off_t off = (off_t)(next_rand(&seed) % nblocks) * block;
		ssize_t r = pread(fd, buf, block, off);
		if (r != (ssize_t)block) {
			fprintf(stderr, "randread: read at %lld: %s\n", (long long)off,
				r < 0 ? strerror(errno) : "short read");
			atomic_store(&failed, 1);
			break;
		}
		n++;
	}
	atomic_fetch_add(&done, n);
	free(buf);
	return NULL;
}

static void usage(void)
{
	fprintf(stderr, "usage: randread [-t SECONDS] [-n READS] [-j THREADS] [-b BYTES] DEVICE\n");
	exit(2);
}

int main(int argc, char **argv)
{
	pthread_t t[MAX_THREADS];
	double seconds = 10, start, elapsed;
	long reads = 0;
	int threads = 1, c;
	uint64_t size = 0;
	struct stat st;

	while ((c = getopt(argc, argv, "t:n:j:b:")) != -1) {
		switch (c) {
		case 't':
			seconds = atof(optarg);
			break;
		case 'n':
			reads = atol(optarg);
			break;
		case 'j':
			threads = atoi(optarg);
			break;
		case 'b':
			block = strtoul(optarg, NULL, 0);
			break;
		default:
			usage();
		}
	}
	if (optind + 1 != argc || threads < 1 || threads > MAX_THREADS || block < 512 ||
	    block % 512 || seconds <= 0 || reads < 0)
		usage();
	fd = open(argv[optind], O_RDONLY | O_DIRECT);
	if (fd < 0 || fstat(fd, &st) != 0) {
		fprintf(stderr, "randread: %s: %s\n", argv[optind], strerror(errno));
		return 1;
	}
	if (S_ISBLK(st.st_mode)) {
		if (ioctl(fd, BLKGETSIZE64, &size) != 0) {
			fprintf(stderr, "randread: %s: BLKGETSIZE64: %s\n", argv[optind],
				strerror(errno));
			return 1;
		}
	} else {
		size = st.st_size;
	}
	nblocks = size / block;
	if (nblocks == 0) {
		fprintf(stderr, "randread: %s: smaller than one block\n", argv[optind]);
		return 1;
	}
	atomic_store(&remaining, reads);
	start = now();
	deadline = reads ? 0 : start + seconds;
	for (int i = 0; i < threads; i++)
		if (pthread_create(&t[i], NULL, reader, (void *)(uintptr_t)i) != 0) {
			fprintf(stderr, "randread: cannot start a thread\n");
			return 1;
		}
	for (int i = 0; i < threads; i++)
		pthread_join(t[i], NULL);
	elapsed = now() - start;
	printf("randread: reads=%ld bytes=%zu threads=%d seconds=%.3f iops=%.0f mibps=%.2f\n",
	       atomic_load(&done), block, threads, elapsed, atomic_load(&done) / elapsed,
	       atomic_load(&done) * (double)block / elapsed / (1 << 20));
	return atomic_load(&failed) ? 1 : 0;
}
