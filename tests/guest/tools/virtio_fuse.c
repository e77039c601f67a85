/*
 * virtio_fuse: malformed FUSE requests to smolvm's virtio-fs server, sent by a root guest that
 * drives the device itself, for tests/integration/test_virtio_rings.py. Static, no
 * dependencies; run as root on a virtio-fs device no driver is bound to, whose share holds
 * from-host.txt.
 *
 * Usage: virtio_fuse /sys/bus/pci/devices/0000:00:0N.0
 *
 * The rings are well-formed (vq_driver.h); the requests on the request queue are not: header
 * lengths larger and smaller than the buffer, unknown opcodes, names without a NUL, too long,
 * or climbing out of the share, a READ of 4 GiB - 1 bytes into a small buffer, a nested
 * FUSE_INIT, FORGET and BATCH_FORGET with absurd counts (the server acts on forgets on any
 * queue, and on the hiprio queue too), replies with no room, a request cut into
 * one-byte buffers, absurd extension lengths, and requests after DESTROY.
 * One line per request:
 *   FUSE name result=used|broken|none len=N error=E status=0xNN [detail]
 * (len: bytes the device wrote; error: the reply's, 0 when it wrote none), each followed by
 * vq_checkpoint() (vq_driver.h), then FUSE-DONE.
 * Exit status 0, or 1 with a message when it cannot do its work.
 */
#include <linux/fuse.h>

#include "vq_driver.h"

#define REQUEST_QUEUE 1
#define WAIT_MS	      2000

static uint64_t unique = 100;

struct call {
	uint32_t opcode;
	uint64_t nodeid;
	const void *arg; /* argument struct, then name (with its NUL if it has one) */
	size_t arg_len;
	const void *name;
	size_t name_len;
	int64_t len_delta; /* added to the header's len field */
	uint16_t extlen;   /* the header's total_extlen */
	uint32_t reply;	   /* writable bytes offered (0: none) */
	int split;	   /* the request in one-byte buffers */
};

/* Sends one request on the request queue and prints its line. Returns the reply's error
 * (0 without a reply); the reply stays in page 3. */
static int fuse_call(const char *name, const struct call *c)
{
	struct fuse_in_header hdr = {.opcode = c->opcode,
				     .unique = unique++,
				     .nodeid = c->nodeid,
				     .total_extlen = c->extlen};
	uint8_t *out = vqd.page[2];
	size_t total = sizeof(hdr) + c->arg_len + c->name_len;
	unsigned n = 0;
	uint32_t len = 0;
	int32_t err = 0;
	int r;

	hdr.len = (uint32_t)(total + c->len_delta);
	memcpy(out, &hdr, sizeof(hdr));
	memcpy(out + sizeof(hdr), c->arg, c->arg_len);
	memcpy(out + sizeof(hdr) + c->arg_len, c->name, c->name_len);
	memset(vqd.page[3], 0xee, 4096);
	if (c->split) {
		for (; n < total && n + 2 < vqd.q.size; n++)
			vq_desc_set(n, vqd.pa[2] + n, 1, VQ_F_NEXT, n + 1);
	} else {
		vq_desc_set(n++, vqd.pa[2], total, VQ_F_NEXT, 1);
	}
	if (c->reply)
		vq_desc_set(n++, vqd.pa[3], c->reply, VQ_F_WRITE, 0);
	else
		vqd.q.desc[n - 1].flags &= ~VQ_F_NEXT;
	vq_submit(0);
	r = vq_wait(WAIT_MS, &len);
	if (r > 0 && len >= sizeof(struct fuse_out_header))
		memcpy(&err, vqd.page[3] + 4, 4);
	printf("FUSE %s result=%s len=%u error=%d status=0x%02x\n", name,
	       r > 0 ? "used" : (r == 0 ? "broken" : "none"), len, err, vq_status());
	vq_checkpoint(name);
	return err;
}

/*
 * A request on the hiprio queue (queue 0, on its 16-entry rings at the start of page 0, see
 * vq_driver.h): one readable buffer, no reply buffer, as Linux sends forgets. Prints its
 * line like fuse_call().
 */
static void hiprio_call(const char *name, uint32_t opcode, uint64_t nodeid, const void *arg,
			size_t arg_len)
{
	struct fuse_in_header hdr = {
	    .len = sizeof(hdr) + arg_len, .opcode = opcode, .unique = unique++, .nodeid = nodeid};
	volatile struct vq_desc *desc = (volatile struct vq_desc *)vqd.page[0];
	volatile uint16_t *avail = (volatile uint16_t *)(vqd.page[0] + 256);
	volatile uint32_t *used = (volatile uint32_t *)(vqd.page[0] + 296);
	static uint16_t idx;
	const char *result = "none";

	memcpy(vqd.page[6], &hdr, sizeof(hdr));
	memcpy(vqd.page[6] + sizeof(hdr), arg, arg_len);
	desc[0].addr = vqd.pa[6];
	desc[0].len = sizeof(hdr) + arg_len;
	desc[0].flags = 0;
	avail[2 + idx % VQ_SIZE_OTHER] = 0;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	avail[1] = ++idx;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	vq_notify(0);
	for (int i = 0; i < WAIT_MS; i++, vq_sleep_ms(1)) {
		if ((uint16_t)(used[0] >> 16) == idx) {
			result = "used";
			break;
		}
		if (vq_status() & VQ_NEEDS_RESET) {
			result = "broken";
			break;
		}
	}
	printf("FUSE %s result=%s len=%u error=0 status=0x%02x\n", name, result,
	       strcmp(result, "used") ? 0 : used[1 + 2 * ((idx - 1) % VQ_SIZE_OTHER) + 1],
	       vq_status());
	vq_checkpoint(name);
}

static int fuse_init(const char *name)
{
	struct fuse_init_in in = {.major = 7, .minor = 31, .max_readahead = 65536};
	struct call c = {FUSE_INIT, 0, &in, 16, .reply = 256};

	return fuse_call(name, &c);
}

static int getattr(const char *name, uint64_t node, uint32_t reply, int split)
{
	struct fuse_getattr_in in = {0};
	struct call c = {FUSE_GETATTR, node, &in, sizeof(in), .reply = reply, .split = split};

	return fuse_call(name, &c);
}

static int lookup(const char *name, const char *s, size_t len, uint64_t *node)
{
	struct call c = {FUSE_LOOKUP, FUSE_ROOT_ID, NULL, 0, s, len, .reply = 256};
	struct fuse_entry_out e;
	int err = fuse_call(name, &c);

	memcpy(&e, vqd.page[3] + sizeof(struct fuse_out_header), sizeof(e));
	if (node)
		*node = err ? 0 : e.nodeid;
	return err;
}

/* The malformed headers, names and opcodes. */
static void bad_requests(void)
{
	struct fuse_getattr_in ga = {0};
	char longname[300];
	struct call c = {FUSE_GETATTR, FUSE_ROOT_ID, &ga, sizeof(ga), .reply = 256};

	c.len_delta = 100;
	fuse_call("len-long", &c);
	c.len_delta = -8;
	fuse_call("len-short", &c);
	c.len_delta = 0xffffffffLL - (int64_t)(sizeof(struct fuse_in_header) + sizeof(ga));
	fuse_call("len-4g", &c);
	c.len_delta = 0;
	c.extlen = 0xffff;
	fuse_call("extlen", &c);
	c.extlen = 0;
	c.opcode = 9999;
	fuse_call("opcode-9999", &c);
	c.opcode = 0;
	fuse_call("opcode-0", &c);
	c.opcode = FUSE_GETATTR;
	c.nodeid = 0xdeadbeef;
	fuse_call("node-unknown", &c);

	lookup("name-no-nul", "from-host.txt", 13, NULL);
	memset(longname, 'a', sizeof(longname));
	lookup("name-long", longname, sizeof(longname), NULL);
	lookup("name-dotdot", "..", 3, NULL);
	lookup("name-slash", "../canary.txt", 14, NULL);
	lookup("name-empty", "", 1, NULL);
	getattr("reply-8", FUSE_ROOT_ID, 8, 0);
	getattr("reply-none", FUSE_ROOT_ID, 0, 0);
	getattr("split", FUSE_ROOT_ID, 256, 1);
}

/* A file opened and read with absurd sizes and handles, then forgotten absurdly. */
static void file_requests(void)
{
	struct fuse_open_in oi = {.flags = 0 /* O_RDONLY */};
	struct fuse_read_in ri = {.offset = 0, .size = 0xffffffff};
	struct fuse_write_in wi = {.offset = 0, .size = 4096};
	struct fuse_forget_in fi = {.nlookup = ~0ULL};
	struct {
		struct fuse_batch_forget_in in;
		struct fuse_forget_one one[2];
	} bf = {{.count = 0xffffffff}, {{0, 1}, {0xdeadbeef, ~0ULL}}};
	struct fuse_open_out oo;
	uint64_t node = 0;
	struct call c;

	lookup("lookup", "from-host.txt", 14, &node);
	c = (struct call){FUSE_OPEN, node, &oi, sizeof(oi), .reply = 256};
	fuse_call("open", &c);
	memcpy(&oo, vqd.page[3] + sizeof(struct fuse_out_header), sizeof(oo));
	ri.fh = oo.fh;
	c = (struct call){FUSE_READ, node, &ri, sizeof(ri), .reply = 16 + 4096};
	fuse_call("read-4g", &c);
	printf("FUSE read-data %.9s\n", (char *)vqd.page[3] + sizeof(struct fuse_out_header));
	c.reply = 20;
	fuse_call("read-4g-small", &c);
	ri.fh = 0xdeadbeef;
	c.reply = 256;
	fuse_call("read-bad-fh", &c);
	/* A WRITE claiming 4096 bytes with 5 behind it, on a file opened read-only. */
	wi.fh = oo.fh;
	c = (struct call){FUSE_WRITE, node, &wi, sizeof(wi), "EVIL!", 5, .reply = 256};
	fuse_call("write-short", &c);

	bf.one[0].nodeid = node;
	c = (struct call){FUSE_BATCH_FORGET, 0, &bf, sizeof(bf), .reply = 256};
	fuse_call("batch-forget", &c);
	c = (struct call){FUSE_BATCH_FORGET, 0, &bf, sizeof(bf.in) + 7, .reply = 256};
	fuse_call("batch-forget-cut", &c);
	c = (struct call){FUSE_FORGET, FUSE_ROOT_ID, &fi, sizeof(fi), .reply = 256};
	fuse_call("forget-root", &c);
	c.nodeid = node;
	fuse_call("forget-file", &c);
	c.nodeid = 0xdeadbeef;
	fuse_call("forget-unknown", &c);
	lookup("lookup-3", "from-host.txt", 14, &node);
	bf.one[0].nodeid = node;
	hiprio_call("hiprio-batch-forget", FUSE_BATCH_FORGET, 0, &bf, sizeof(bf));
	hiprio_call("hiprio-forget-root", FUSE_FORGET, FUSE_ROOT_ID, &fi, sizeof(fi));
	hiprio_call("hiprio-getattr", FUSE_GETATTR, FUSE_ROOT_ID, &(struct fuse_getattr_in){0},
		    sizeof(struct fuse_getattr_in));
	getattr("getattr-root", FUSE_ROOT_ID, 256, 0);
	lookup("lookup-again", "from-host.txt", 14, NULL);
}

int main(int argc, char **argv)
{
	struct call destroy = {FUSE_DESTROY, 0, NULL, 0, .reply = 256};

	if (argc != 2) {
		fprintf(stderr, "usage: virtio_fuse /sys/bus/pci/devices/DDDD:BB:DD.F\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	vq_open(argv[1]);
	vq_start(REQUEST_QUEUE);
	getattr("before-init", FUSE_ROOT_ID, 256, 0);
	fuse_init("init");
	fuse_init("init-again");
	bad_requests();
	file_requests();
	fuse_call("destroy", &destroy);
	getattr("after-destroy", FUSE_ROOT_ID, 256, 0);
	fuse_init("init-after-destroy");
	getattr("getattr-end", FUSE_ROOT_ID, 256, 0);
	printf("FUSE reset=0x%02x\n", vq_reset());
	printf("FUSE-DONE\n");
	return 0;
}
