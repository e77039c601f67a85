/*
 * The virtio-fs device model driven by the fake driver: configuration space, a FUSE session
 * (INIT, LOOKUP, OPEN, READ) through the request queue, FORGET on the hiprio queue, requests
 * completed out of order by the worker pool, reset, and every malformed chain a hostile
 * driver can send, each with the reply or the NEEDS_RESET it must get.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/fuse.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/options.h"
#include "devices/virtio_devices.h"
#include "fake_virtio.h"
#include "unit.h"

#define HIPRIO	 0
#define REQUESTS 1
#define QSIZE	 1024
#define RAM_SIZE (64u << 20)
#define WAIT_MS	 5000

static char share_dir[64];
static struct fake_driver drv;
static struct virtio_device *dev;
static uint64_t next_unique = 1;

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void write_host_file(const char *rel, const char *text)
{
	char path[PATH_MAX];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", share_dir, rel);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		abort();
	close(fd);
}

/* A fresh device on the share, activated with `features` (EVENT_IDX, INDIRECT_DESC). */
static void dev_start(uint64_t features)
{
	struct share_config share = {.tag = "testshare", .path = share_dir};

	fake_driver_init(&drv, RAM_SIZE);
	dev = virtio_fs_new(&share);
	if (!dev)
		abort();
	CHECK_EQ(fake_start(&drv, dev, 2, QSIZE, features), 0); /* hiprio, one request queue */
}

static void dev_stop(void)
{
	virtio_fs_free(dev);
	fake_driver_destroy(&drv);
	dev = NULL;
}

/* A request in guest RAM: header + argument struct + optional name, one readable buffer. */
struct req {
	uint64_t in_gpa, out_gpa;
	uint32_t in_len, out_len;
	uint64_t unique;
	uint16_t head;
};

static struct req req_build(uint32_t opcode, uint64_t nodeid, const void *arg, size_t arglen,
			    const char *name, uint32_t outlen)
{
	size_t namelen = name ? strlen(name) + 1 : 0;
	struct fuse_in_header h = {
	    .len = (uint32_t)(sizeof(h) + arglen + namelen),
	    .opcode = opcode,
	    .unique = next_unique++,
	    .nodeid = nodeid,
	    .uid = getuid(),
	    .gid = getgid(),
	};
	struct req r = {.in_len = h.len, .out_len = outlen, .unique = h.unique};
	uint8_t *p;

	r.in_gpa = fake_alloc(&drv, h.len);
	r.out_gpa = outlen ? fake_alloc(&drv, outlen) : 0;
	p = fake_ptr(&drv, r.in_gpa);
	memcpy(p, &h, sizeof(h));
	if (arglen)
		memcpy(p + sizeof(h), arg, arglen);
	if (namelen)
		memcpy(p + sizeof(h) + arglen, name, namelen);
	return r;
}

/* Puts the request on queue qi (header and arguments in two buffers, reply in one). */
static void req_submit(struct req *r, unsigned qi, bool kick)
{
	struct fake_buf b[3];
	unsigned n = 0;
	uint32_t hl = sizeof(struct fuse_in_header);

	b[n++] = (struct fake_buf){r->in_gpa, hl, 0};
	if (r->in_len > hl)
		b[n++] = (struct fake_buf){r->in_gpa + hl, r->in_len - hl, 0};
	if (r->out_len)
		b[n++] = (struct fake_buf){r->out_gpa, r->out_len, 1};
	r->head = fake_queue_add(&drv, qi, b, n);
	if (kick)
		fake_kick(dev, qi);
}

/* Waits for the request's completion; returns the reply's error (0 or -errno), or 1 when the
 * device returned the chain without a reply. *len gets the used length. */
static int req_wait(const struct req *r, unsigned qi, uint32_t *len)
{
	struct fuse_out_header oh;
	uint32_t id, used;

	if (fake_wait_used(&drv, qi, &id, &used, WAIT_MS) != 0) {
		CHECK(!"no used entry in time");
		return -ETIMEDOUT;
	}
	CHECK_EQ(id, r->head);
	if (len)
		*len = used;
	if (used == 0)
		return 1;
	CHECK(used >= sizeof(oh) && used <= r->out_len);
	memcpy(&oh, fake_ptr(&drv, r->out_gpa), sizeof(oh));
	CHECK_EQ(oh.len, used);
	CHECK_EQ(oh.unique, r->unique);
	return oh.error;
}

static int call(uint32_t opcode, uint64_t nodeid, const void *arg, size_t arglen, const char *name,
		uint32_t outlen, void *reply, size_t replylen)
{
	struct req r = req_build(opcode, nodeid, arg, arglen, name, outlen);
	int err;

	req_submit(&r, REQUESTS, true);
	err = req_wait(&r, REQUESTS, NULL);
	if (!err && reply)
		memcpy(reply, (uint8_t *)fake_ptr(&drv, r.out_gpa) + sizeof(struct fuse_out_header),
		       replylen);
	return err;
}

static void fuse_init(void)
{
	struct fuse_init_in in = {.major = 7,
				  .minor = 36,
				  .max_readahead = 131072,
				  .flags = FUSE_ASYNC_READ | FUSE_DO_READDIRPLUS};
	struct fuse_init_out out;

	CHECK_EQ(call(FUSE_INIT, 0, &in, sizeof(in), NULL, 4096, &out, sizeof(out)), 0);
	CHECK_EQ(out.major, 7);
	CHECK_EQ(out.max_write, 1 << 20);
}

static uint64_t lookup(uint64_t parent, const char *name)
{
	struct fuse_entry_out e;

	if (call(FUSE_LOOKUP, parent, NULL, 0, name, 4096, &e, sizeof(e)))
		return 0;
	return e.nodeid;
}

static uint64_t open_file(uint64_t node)
{
	struct fuse_open_in in = {.flags = O_RDWR};
	struct fuse_open_out out;

	CHECK_EQ(call(FUSE_OPEN, node, &in, sizeof(in), NULL, 4096, &out, sizeof(out)), 0);
	return out.fh;
}

static void test_config(void)
{
	uint8_t tag[36];
	uint32_t nq = 0;

	dev_start(0);
	CHECK_EQ(dev->device_id, VIRTIO_ID_FS);
	CHECK_EQ(dev->config_size, 40);
	CHECK_EQ(dev->nqueues, 2);
	CHECK_EQ(dev->queue[REQUESTS].max_size, 1024);
	dev->ops->config_read(dev, 0, tag, sizeof(tag));
	CHECK(!memcmp(tag, "testshare\0", 10));
	dev->ops->config_read(dev, 36, &nq, 4);
	CHECK_EQ(nq, 1);
	/* Read-only: no config_write, so the transport drops the driver's writes
	 * (test_virtio_pci.c writes through the BAR). */
	CHECK(dev->ops->config_write == NULL);
	dev_stop();
}

static void test_long_tag(void)
{
	struct share_config share = {.tag = "abcdefghijklmnopqrstuvwxyz0123456789",
				     .path = share_dir};
	struct virtio_device *v = virtio_fs_new(&share);
	uint8_t tag[37] = {0};

	CHECK(v != NULL);
	if (!v)
		return;
	v->ops->config_read(v, 0, tag, 36);
	CHECK_STR((char *)tag, share.tag); /* all 36 bytes, no room for a NUL */
	virtio_fs_free(v);
}

static void test_session(void)
{
	struct fuse_read_in rd = {.size = 4096};
	struct req r;
	uint32_t len;
	uint64_t node;

	write_host_file("hello", "hello from the host\n");
	dev_start(1ULL << VIRTIO_RING_F_EVENT_IDX);
	fuse_init();
	node = lookup(FUSE_ROOT_ID, "hello");
	CHECK(node > FUSE_ROOT_ID);
	rd.fh = open_file(node);
	r = req_build(FUSE_READ, node, &rd, sizeof(rd), NULL, 8192);
	req_submit(&r, REQUESTS, true);
	CHECK_EQ(req_wait(&r, REQUESTS, &len), 0);
	CHECK_EQ(len, sizeof(struct fuse_out_header) + 20);
	CHECK(!memcmp((uint8_t *)fake_ptr(&drv, r.out_gpa) + sizeof(struct fuse_out_header),
		      "hello from the host\n", 20));
	CHECK_EQ(lookup(FUSE_ROOT_ID, "missing"), 0);
	dev_stop();
}

/* FORGET on hiprio: no reply, used length 0, and the node is gone afterwards. */
static void test_forget_on_hiprio(void)
{
	struct fuse_forget_in fg = {.nlookup = 1};
	struct fuse_getattr_in ga = {0};
	struct fuse_batch_forget_in bf = {.count = 1};
	struct {
		struct fuse_batch_forget_in h;
		struct fuse_forget_one one;
	} batch;
	struct req r;
	uint32_t len = 99;
	uint64_t node;

	write_host_file("hello", "x");
	dev_start(1ULL << VIRTIO_RING_F_EVENT_IDX);
	fuse_init();
	node = lookup(FUSE_ROOT_ID, "hello");
	CHECK(node);
	r = req_build(FUSE_FORGET, node, &fg, sizeof(fg), NULL, 0);
	req_submit(&r, HIPRIO, true);
	CHECK_EQ(req_wait(&r, HIPRIO, &len), 1);
	CHECK_EQ(len, 0);
	CHECK_EQ(call(FUSE_GETATTR, node, &ga, sizeof(ga), NULL, 4096, NULL, 0), -ENOENT);

	/* Twice looked up, one BATCH_FORGET of both. */
	node = lookup(FUSE_ROOT_ID, "hello");
	CHECK_EQ(lookup(FUSE_ROOT_ID, "hello"), node);
	batch.h = bf;
	batch.one = (struct fuse_forget_one){.nodeid = node, .nlookup = 2};
	r = req_build(FUSE_BATCH_FORGET, 0, &batch, sizeof(batch), NULL, 0);
	req_submit(&r, HIPRIO, true);
	CHECK_EQ(req_wait(&r, HIPRIO, &len), 1);
	CHECK_EQ(call(FUSE_GETATTR, node, &ga, sizeof(ga), NULL, 4096, NULL, 0), -ENOENT);

	/* A reply-taking request on hiprio is handed back untouched. */
	r = req_build(FUSE_GETATTR, FUSE_ROOT_ID, &ga, sizeof(ga), NULL, 4096);
	memset(fake_ptr(&drv, r.out_gpa), 0x5a, 16);
	req_submit(&r, HIPRIO, true);
	CHECK_EQ(req_wait(&r, HIPRIO, &len), 1);
	CHECK_EQ(*(uint8_t *)fake_ptr(&drv, r.out_gpa), 0x5a);
	CHECK_EQ(dev->status & VIRTIO_STATUS_NEEDS_RESET, 0);
	dev_stop();
}

/* A burst of requests behind one kick: every one answered, each chain with its own reply. */
static void test_burst(void)
{
	struct fuse_getattr_in ga = {0};
	struct req r[100];
	bool seen[100] = {0};

	dev_start(1ULL << VIRTIO_RING_F_EVENT_IDX);
	fuse_init();
	for (int i = 0; i < 100; i++) {
		r[i] = req_build(FUSE_GETATTR, FUSE_ROOT_ID, &ga, sizeof(ga), NULL, 256);
		req_submit(&r[i], REQUESTS, false);
	}
	fake_kick(dev, REQUESTS);
	for (int n = 0; n < 100; n++) {
		uint32_t id, len;
		struct fuse_out_header oh;

		if (fake_wait_used(&drv, REQUESTS, &id, &len, WAIT_MS)) {
			CHECK(!"burst: missing completions");
			break;
		}
		for (int i = 0; i < 100; i++) {
			if (r[i].head != id || seen[i])
				continue;
			seen[i] = true;
			memcpy(&oh, fake_ptr(&drv, r[i].out_gpa), sizeof(oh));
			CHECK_EQ(oh.unique, r[i].unique);
			CHECK_EQ(oh.error, 0);
			CHECK_EQ(len, sizeof(oh) + sizeof(struct fuse_attr_out));
			break;
		}
	}
	for (int i = 0; i < 100; i++)
		CHECK(seen[i]);
	dev_stop();
}

/*
 * A SETLKW that waits (a host process holds the lock) occupies one worker; a GETATTR sent
 * after it completes first, on another worker.
 */
static void test_slow_request_does_not_block_others(void)
{
	struct fuse_lk_in lk = {.lk = {.start = 0, .end = 0, .type = F_WRLCK}, .owner = 1};
	struct fuse_getattr_in ga = {0};
	struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
	struct req slow, fast;
	char path[PATH_MAX];
	uint32_t id;
	uint64_t node, t0;
	int hostfd;

	write_host_file("locked", "data");
	snprintf(path, sizeof(path), "%s/locked", share_dir);
	hostfd = open(path, O_RDWR);
	CHECK(hostfd >= 0 && fcntl(hostfd, F_OFD_SETLK, &fl) == 0);
	dev_start(1ULL << VIRTIO_RING_F_EVENT_IDX);
	fuse_init();
	node = lookup(FUSE_ROOT_ID, "locked");
	lk.fh = open_file(node);
	t0 = now_ms();
	slow = req_build(FUSE_SETLKW, node, &lk, sizeof(lk), NULL, 256);
	req_submit(&slow, REQUESTS, true);
	usleep(20000);
	fast = req_build(FUSE_GETATTR, FUSE_ROOT_ID, &ga, sizeof(ga), NULL, 256);
	req_submit(&fast, REQUESTS, true);
	CHECK_EQ(fake_wait_used(&drv, REQUESTS, &id, NULL, WAIT_MS), 0);
	CHECK_EQ(id, fast.head);
	CHECK(now_ms() - t0 < 400);
	/* The waiter gives up after its bounded wait. */
	CHECK_EQ(fake_wait_used(&drv, REQUESTS, &id, NULL, WAIT_MS), 0);
	CHECK_EQ(id, slow.head);
	CHECK(now_ms() - t0 < 2000);
	/* Reset while a waiter is in flight returns once it is done (its wait is bounded at
	 * 500 ms): a reset that hung on it would never return. 3 s leaves room for a loaded
	 * host under ASan. */
	slow = req_build(FUSE_SETLKW, node, &lk, sizeof(lk), NULL, 256);
	req_submit(&slow, REQUESTS, true);
	usleep(20000);
	t0 = now_ms();
	dev->ops->reset(dev);
	CHECK(now_ms() - t0 < 3000);
	close(hostfd);
	dev_stop();
}

/* After a reset the driver starts a new session; the old node ids mean nothing. */
static void test_reset_and_reactivate(void)
{
	struct fuse_getattr_in ga = {0};
	uint64_t node;

	write_host_file("hello", "x");
	dev_start(1ULL << VIRTIO_RING_F_EVENT_IDX);
	fuse_init();
	node = lookup(FUSE_ROOT_ID, "hello");
	CHECK(node);
	fake_reset(&drv, dev);
	CHECK_EQ(fake_start(&drv, dev, 2, QSIZE, 0), 0);
	/* Not initialised yet: EIO. */
	CHECK_EQ(call(FUSE_GETATTR, FUSE_ROOT_ID, &ga, sizeof(ga), NULL, 256, NULL, 0), -EIO);
	fuse_init();
	CHECK_EQ(call(FUSE_GETATTR, node, &ga, sizeof(ga), NULL, 256, NULL, 0), -ENOENT);
	CHECK(lookup(FUSE_ROOT_ID, "hello") > node);
	dev_stop();
}

/* Chains that are well-formed virtio but wrong FUSE: error replies, the device carries on. */
static void test_bad_requests(void)
{
	struct fuse_getattr_in ga = {0};
	struct fake_buf b[2];
	struct req r;
	uint32_t len, id;
	uint16_t head;
	uint64_t gpa;

	dev_start(0);
	fuse_init();
	/* Header length larger than the buffers: EINVAL. */
	r = req_build(FUSE_GETATTR, FUSE_ROOT_ID, &ga, sizeof(ga), NULL, 256);
	((struct fuse_in_header *)fake_ptr(&drv, r.in_gpa))->len += 1;
	req_submit(&r, REQUESTS, true);
	CHECK_EQ(req_wait(&r, REQUESTS, &len), -EINVAL);
	CHECK_EQ(len, sizeof(struct fuse_out_header));
	/* Unknown opcode: ENOSYS. */
	r = req_build(9999, FUSE_ROOT_ID, &ga, sizeof(ga), NULL, 256);
	req_submit(&r, REQUESTS, true);
	CHECK_EQ(req_wait(&r, REQUESTS, NULL), -ENOSYS);
	/* No reply buffer at all: handed back with nothing written. */
	r = req_build(FUSE_GETATTR, FUSE_ROOT_ID, &ga, sizeof(ga), NULL, 0);
	req_submit(&r, REQUESTS, true);
	CHECK_EQ(req_wait(&r, REQUESTS, &len), 1);
	/* A reply buffer too small for a header: the same. */
	r = req_build(FUSE_GETATTR, FUSE_ROOT_ID, &ga, sizeof(ga), NULL, 8);
	req_submit(&r, REQUESTS, true);
	CHECK_EQ(req_wait(&r, REQUESTS, &len), 1);
	/* Only a writable buffer, no request: nothing to answer. */
	gpa = fake_alloc(&drv, 256);
	b[0] = (struct fake_buf){gpa, 256, 1};
	head = fake_queue_add(&drv, REQUESTS, b, 1);
	fake_kick(dev, REQUESTS);
	CHECK_EQ(fake_wait_used(&drv, REQUESTS, &id, &len, WAIT_MS), 0);
	CHECK_EQ(id, head);
	CHECK_EQ(len, sizeof(struct fuse_out_header)); /* EINVAL: no header */
	/* Reply buffer too small for the fixed reply: EINVAL, nothing past the buffer. */
	r = req_build(FUSE_GETATTR, FUSE_ROOT_ID, &ga, sizeof(ga), NULL, 20);
	req_submit(&r, REQUESTS, true);
	CHECK_EQ(req_wait(&r, REQUESTS, &len), -EINVAL);
	CHECK_EQ(dev->status & VIRTIO_STATUS_NEEDS_RESET, 0);
	/* The device still works. */
	CHECK_EQ(call(FUSE_GETATTR, FUSE_ROOT_ID, &ga, sizeof(ga), NULL, 256, NULL, 0), 0);
	dev_stop();
}

/* Chains that break virtio itself: NEEDS_RESET, no crash, no hang, and reset recovers. */
static void test_broken_chains(void)
{
	struct fuse_getattr_in ga = {0};
	struct fake_buf b[2];
	struct req r;
	uint32_t id;
	uint64_t t0;

	/* A writable buffer before a readable one. */
	dev_start(0);
	fuse_init();
	r = req_build(FUSE_GETATTR, FUSE_ROOT_ID, &ga, sizeof(ga), NULL, 256);
	b[0] = (struct fake_buf){r.out_gpa, 256, 1};
	b[1] = (struct fake_buf){r.in_gpa, r.in_len, 0};
	fake_queue_add(&drv, REQUESTS, b, 2);
	fake_kick(dev, REQUESTS);
	t0 = now_ms();
	while (!(dev->status & VIRTIO_STATUS_NEEDS_RESET) && now_ms() - t0 < WAIT_MS)
		usleep(1000);
	CHECK(dev->status & VIRTIO_STATUS_NEEDS_RESET);
	CHECK_EQ(fake_wait_used(&drv, REQUESTS, &id, NULL, 50), -1);
	/* More kicks on the broken queue change nothing and hang nothing. */
	for (int i = 0; i < 10; i++)
		fake_kick(dev, REQUESTS);
	usleep(20000);
	t0 = now_ms();
	dev_stop();
	CHECK(now_ms() - t0 < 1000);

	/* A buffer outside guest RAM, on the hiprio queue. */
	dev_start(0);
	b[0] = (struct fake_buf){RAM_SIZE - 16, 4096, 0};
	fake_queue_add(&drv, HIPRIO, b, 1);
	fake_kick(dev, HIPRIO);
	t0 = now_ms();
	while (!(dev->status & VIRTIO_STATUS_NEEDS_RESET) && now_ms() - t0 < WAIT_MS)
		usleep(1000);
	CHECK(dev->status & VIRTIO_STATUS_NEEDS_RESET);
	dev_stop();

	/* A descriptor loop. */
	dev_start(0);
	{
		struct virtq_desc *desc = fake_ptr(&drv, drv.q[REQUESTS].desc);
		uint16_t *avail = fake_ptr(&drv, drv.q[REQUESTS].avail);

		desc[0] = (struct virtq_desc){fake_alloc(&drv, 64), 64, VIRTQ_DESC_F_NEXT, 1};
		desc[1] = (struct virtq_desc){fake_alloc(&drv, 64), 64, VIRTQ_DESC_F_NEXT, 0};
		avail[2] = 0;
		__atomic_store_n(&avail[1], 1, __ATOMIC_RELEASE);
		fake_kick(dev, REQUESTS);
	}
	t0 = now_ms();
	while (!(dev->status & VIRTIO_STATUS_NEEDS_RESET) && now_ms() - t0 < WAIT_MS)
		usleep(1000);
	CHECK(dev->status & VIRTIO_STATUS_NEEDS_RESET);
	dev_stop();
}

/* A 1 MiB WRITE in 256 page buffers plus headers, then read back in pages. */
static void test_big_write(void)
{
	struct fuse_write_in wr = {.size = 1 << 20};
	struct fuse_read_in rd = {.size = 1 << 20};
	struct fuse_create_in cr = {.flags = O_RDWR | O_CREAT, .mode = S_IFREG | 0644};
	struct fake_buf b[260];
	uint8_t reply[sizeof(struct fuse_entry_out) + sizeof(struct fuse_open_out)];
	struct fuse_in_header h = {.opcode = FUSE_WRITE, .uid = getuid(), .gid = getgid()};
	struct fuse_write_out wo;
	uint64_t node, fh, hgpa, pages, ogpa;
	uint32_t id, len;
	unsigned n = 0;
	uint16_t head;
	bool same = true;

	dev_start(1ULL << VIRTIO_RING_F_EVENT_IDX);
	fuse_init();
	CHECK_EQ(
	    call(FUSE_CREATE, FUSE_ROOT_ID, &cr, sizeof(cr), "big", 4096, reply, sizeof(reply)), 0);
	node = ((struct fuse_entry_out *)reply)->nodeid;
	fh = ((struct fuse_open_out *)(reply + sizeof(struct fuse_entry_out)))->fh;
	wr.fh = fh;
	h.nodeid = node;
	h.unique = next_unique++;
	h.len = sizeof(h) + sizeof(wr) + (1 << 20);
	hgpa = fake_alloc(&drv, sizeof(h) + sizeof(wr));
	memcpy(fake_ptr(&drv, hgpa), &h, sizeof(h));
	memcpy((uint8_t *)fake_ptr(&drv, hgpa) + sizeof(h), &wr, sizeof(wr));
	pages = fake_alloc(&drv, 1 << 20);
	for (unsigned i = 0; i < (1 << 20); i++)
		((uint8_t *)fake_ptr(&drv, pages))[i] = (uint8_t)(i * 7 + i / 4096);
	ogpa = fake_alloc(&drv, 4096);
	b[n++] = (struct fake_buf){hgpa, sizeof(h), 0};
	b[n++] = (struct fake_buf){hgpa + sizeof(h), sizeof(wr), 0};
	for (unsigned i = 0; i < 256; i++)
		b[n++] = (struct fake_buf){pages + i * 4096, 4096, 0};
	b[n++] = (struct fake_buf){ogpa, sizeof(struct fuse_out_header) + sizeof(wo), 1};
	head = fake_queue_add(&drv, REQUESTS, b, n);
	fake_kick(dev, REQUESTS);
	CHECK_EQ(fake_wait_used(&drv, REQUESTS, &id, &len, WAIT_MS), 0);
	CHECK_EQ(id, head);
	memcpy(&wo, (uint8_t *)fake_ptr(&drv, ogpa) + sizeof(struct fuse_out_header), sizeof(wo));
	CHECK_EQ(wo.size, 1 << 20);

	rd.fh = fh;
	{
		struct req r = req_build(FUSE_READ, node, &rd, sizeof(rd), NULL, 0);
		uint64_t back = fake_alloc(&drv, (1 << 20) + 4096);

		n = 0;
		b[n++] = (struct fake_buf){r.in_gpa, r.in_len, 0};
		b[n++] = (struct fake_buf){back, sizeof(struct fuse_out_header), 1};
		for (unsigned i = 0; i < 256; i++)
			b[n++] = (struct fake_buf){back + 4096 + i * 4096, 4096, 1};
		head = fake_queue_add(&drv, REQUESTS, b, n);
		fake_kick(dev, REQUESTS);
		CHECK_EQ(fake_wait_used(&drv, REQUESTS, &id, &len, WAIT_MS), 0);
		CHECK_EQ(id, head);
		CHECK_EQ(len, sizeof(struct fuse_out_header) + (1 << 20));
		for (unsigned i = 0; i < (1 << 20); i++)
			if (((uint8_t *)fake_ptr(&drv, back + 4096))[i] !=
			    (uint8_t)(i * 7 + i / 4096))
				same = false;
		CHECK(same);
	}
	dev_stop();
}

static void rm_rf(const char *path)
{
	char cmd[PATH_MAX + 16];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", path);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", path);
}

int main(void)
{
	snprintf(share_dir, sizeof(share_dir), "/tmp/test_virtio_fs.XXXXXX");
	if (!mkdtemp(share_dir))
		return 1;
	RUN(test_config);
	RUN(test_long_tag);
	RUN(test_session);
	RUN(test_forget_on_hiprio);
	RUN(test_burst);
	RUN(test_slow_request_does_not_block_others);
	RUN(test_reset_and_reactivate);
	RUN(test_bad_requests);
	RUN(test_broken_chains);
	RUN(test_big_write);
	rm_rf(share_dir);
	return UNIT_RESULT();
}
