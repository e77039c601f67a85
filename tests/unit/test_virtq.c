/* Split virtqueue walker: a fake guest RAM, a tiny driver that lays out rings, and a device
 * that walks them, including every way a hostile driver can break the ring. */
#include <errno.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "unit.h"
#include "virtio/virtq.h"

#define RAM0_SIZE (1u << 20)
#define RAM1_GPA  (1ull << 32)
#define RAM1_SIZE (64u << 10)

/* Ring areas in region 0, roomy enough for VIRTQ_MAX_SIZE entries; data from BUF up. */
#define DESC  0x1000
#define AVAIL 0x6000
#define USED  0x7000
#define BUF   0x10000

static struct guest_mem ram;

static void *gp(uint64_t gpa)
{
	void *p = guest_mem_ptr(&ram, gpa, 1);
	if (!p) {
		fprintf(stderr, "test bug: gpa %#llx not in RAM\n", (unsigned long long)gpa);
		abort();
	}
	return p;
}

struct drv {
	struct virtq q;
	struct virtq_chain c;
	uint16_t avail_idx;
};

static struct drv d;

static struct virtq_avail *avail(void)
{
	return gp(AVAIL);
}

static struct virtq_used *used(void)
{
	return gp(USED);
}

static uint16_t *used_event(void)
{
	return &avail()->ring[d.q.size];
}

static uint16_t *avail_event(void)
{
	return (uint16_t *)&used()->ring[d.q.size];
}

/* Fresh rings of the given size; returns virtq_enable's result. */
static int drv_setup_at(uint16_t size, bool event_idx, bool indirect, uint64_t desc, uint64_t av,
			uint64_t us)
{
	memset(gp(0), 0, BUF);
	virtq_reset(&d.q);
	d.avail_idx = 0;
	d.q.size = size;
	d.q.desc_gpa = desc;
	d.q.avail_gpa = av;
	d.q.used_gpa = us;
	d.q.event_idx = event_idx;
	d.q.indirect = indirect;
	return virtq_enable(&d.q, &ram);
}

static void drv_setup(uint16_t size, bool event_idx, bool indirect)
{
	CHECK_EQ(drv_setup_at(size, event_idx, indirect, DESC, AVAIL, USED), 0);
}

/* Descriptor i of the table at gpa (the ring's table or an indirect one). */
static void drv_table(uint64_t table, unsigned i, uint64_t addr, uint32_t len, uint16_t flags,
		      uint16_t next)
{
	struct virtq_desc v = {.addr = addr, .len = len, .flags = flags, .next = next};
	memcpy(gp(table + 16 * i), &v, sizeof(v));
}

static void drv_desc(unsigned i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	drv_table(DESC, i, addr, len, flags, next);
}

static void drv_post(uint16_t head)
{
	avail()->ring[d.avail_idx % d.q.size] = head;
	avail()->idx = ++d.avail_idx;
}

/* The queue must keep refusing with err, even once the driver repairs the ring. */
static void check_broken(int err)
{
	uint16_t used_idx = used()->idx;

	CHECK_EQ(virtq_pop(&d.q, &d.c), err);
	CHECK(d.q.broken);
	drv_desc(0, BUF, 16, 0, 0);
	avail()->ring[d.q.last_avail % d.q.size] = 0;
	avail()->idx = d.q.last_avail + 1;
	CHECK_EQ(virtq_pop(&d.q, &d.c), err);
	CHECK(!virtq_has_work(&d.q));
	CHECK(!virtq_set_notify(&d.q, true));
	virtq_push(&d.q, 0, 1);
	CHECK_EQ(used()->idx, used_idx);
	/* A reset brings it back. */
	drv_setup(d.q.size, d.q.event_idx, d.q.indirect);
	drv_desc(0, BUF, 16, 0, 0);
	drv_post(0);
	CHECK_EQ(virtq_pop(&d.q, &d.c), 1);
}

static void test_enable_sizes(void)
{
	CHECK_EQ(drv_setup_at(0, false, false, DESC, AVAIL, USED), -EINVAL);
	CHECK(!d.q.enabled);
	CHECK_EQ(drv_setup_at(3, false, false, DESC, AVAIL, USED), -EINVAL);
	CHECK_EQ(drv_setup_at(2048, false, false, DESC, AVAIL, USED), -EINVAL);
	CHECK_EQ(drv_setup_at(1, false, false, DESC, AVAIL, USED), 0);
	CHECK(d.q.enabled);
	CHECK_EQ(drv_setup_at(VIRTQ_MAX_SIZE, false, false, DESC, AVAIL, USED), 0);
	/* A queue that failed to enable stays inert. */
	drv_setup_at(3, false, false, DESC, AVAIL, USED);
	avail()->idx = 1;
	CHECK_EQ(virtq_pop(&d.q, &d.c), 0);
	CHECK(!virtq_has_work(&d.q));
	CHECK(!virtq_should_notify(&d.q));
}

static void test_enable_alignment(void)
{
	CHECK_EQ(drv_setup_at(8, false, false, DESC + 8, AVAIL, USED), -EINVAL);
	CHECK_EQ(drv_setup_at(8, false, false, DESC, AVAIL + 1, USED), -EINVAL);
	CHECK_EQ(drv_setup_at(8, false, false, DESC, AVAIL, USED + 2), -EINVAL);
	CHECK_EQ(drv_setup_at(8, false, false, DESC, AVAIL + 2, USED + 4), 0);

	/* A region whose host mapping is skewed against its gpa: aligned gpas are not enough. */
	struct guest_mem saved = ram;
	ram.region[1].gpa = RAM1_GPA + 2;
	CHECK_EQ(drv_setup_at(8, false, false, RAM1_GPA + 16, AVAIL, USED), -EINVAL);
	CHECK_EQ(drv_setup_at(8, false, false, DESC, RAM1_GPA + 4, USED), 0);
	CHECK_EQ(drv_setup_at(8, false, false, DESC, AVAIL, RAM1_GPA + 4), -EINVAL);
	/* ...and aligned host addresses do not excuse a misaligned gpa. */
	ram.region[1].gpa = RAM1_GPA + 8;
	CHECK_EQ(drv_setup_at(8, false, false, RAM1_GPA + 8, AVAIL, USED), -EINVAL);
	ram = saved;
}

static void test_enable_outside_ram(void)
{
	const uint64_t end = RAM0_SIZE;

	CHECK_EQ(drv_setup_at(8, false, false, end, AVAIL, USED), -EFAULT);
	CHECK_EQ(drv_setup_at(8, false, false, DESC, RAM1_GPA + RAM1_SIZE, USED), -EFAULT);
	CHECK_EQ(drv_setup_at(8, false, false, DESC, AVAIL, 0xfffffffffffffff0ull), -EFAULT);
	/* Exactly fitting areas, in both regions... */
	CHECK_EQ(drv_setup_at(8, false, false, end - 128, end - 22, RAM1_GPA + RAM1_SIZE - 72), 0);
	/* ...but not one byte more: the trailing event fields belong to the areas. */
	CHECK_EQ(drv_setup_at(8, false, false, end - 112, AVAIL, USED), -EFAULT);
	CHECK_EQ(drv_setup_at(8, false, false, DESC, end - 20, USED), -EFAULT);
	CHECK_EQ(drv_setup_at(8, false, false, DESC, AVAIL, RAM1_GPA + RAM1_SIZE - 68), -EFAULT);
}

/* Two regions back to back: each is RAM, but one area may not span both. */
static void test_enable_straddle(void)
{
	struct guest_mem saved = ram;
	ram.region[1].gpa = RAM0_SIZE;
	CHECK_EQ(drv_setup_at(8, false, false, RAM0_SIZE - 64, AVAIL, USED), -EFAULT);
	CHECK_EQ(drv_setup_at(8, false, false, DESC, RAM0_SIZE - 8, USED), -EFAULT);
	CHECK_EQ(drv_setup_at(8, false, false, DESC, AVAIL, RAM0_SIZE - 32), -EFAULT);
	CHECK_EQ(drv_setup_at(8, false, false, RAM0_SIZE, AVAIL, USED), 0);
	ram = saved;
}

static void test_chain(void)
{
	drv_setup(8, false, false);
	drv_desc(5, BUF, 16, VIRTQ_DESC_F_NEXT, 2);
	drv_desc(2, 0xdead0000, 0, VIRTQ_DESC_F_NEXT, 7); /* empty, address never used */
	drv_desc(7, BUF + 0x100, 100, VIRTQ_DESC_F_NEXT, 0);
	drv_desc(0, BUF + 0x1000, 64, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 1);
	drv_desc(1, RAM1_GPA + 8, 32, VIRTQ_DESC_F_WRITE, 0);
	CHECK(!virtq_has_work(&d.q));
	CHECK_EQ(virtq_pop(&d.q, &d.c), 0);
	drv_post(5);
	CHECK(virtq_has_work(&d.q));
	CHECK_EQ(virtq_pop(&d.q, &d.c), 1);
	CHECK_EQ(d.c.head, 5);
	CHECK_EQ(d.c.nout, 2);
	CHECK_EQ(d.c.nin, 2);
	CHECK_EQ(d.c.out_len, 116);
	CHECK_EQ(d.c.in_len, 96);
	CHECK(d.c.iov[0].iov_base == gp(BUF) && d.c.iov[0].iov_len == 16);
	CHECK(d.c.iov[1].iov_base == gp(BUF + 0x100) && d.c.iov[1].iov_len == 100);
	CHECK(d.c.iov[2].iov_base == gp(BUF + 0x1000) && d.c.iov[2].iov_len == 64);
	CHECK(d.c.iov[3].iov_base == gp(RAM1_GPA + 8) && d.c.iov[3].iov_len == 32);
	CHECK(!virtq_has_work(&d.q));
	CHECK_EQ(virtq_pop(&d.q, &d.c), 0);
	virtq_push(&d.q, 5, 50);
	CHECK_EQ(used()->idx, 1);
	CHECK_EQ(used()->ring[0].id, 5);
	CHECK_EQ(used()->ring[0].len, 50);

	/* A single-descriptor chain, and the ring wrapping around many times. */
	drv_desc(3, BUF, 8, VIRTQ_DESC_F_WRITE, 0);
	bool ok = true;
	for (int i = 0; i < 70000 && ok; i++) {
		drv_post(3);
		ok = virtq_pop(&d.q, &d.c) == 1 && d.c.head == 3 && !d.c.nout && d.c.nin == 1;
		virtq_push(&d.q, 3, 8);
	}
	CHECK(ok);
	CHECK_EQ(used()->idx, (uint16_t)70001);
	CHECK(!d.q.broken);
}

static void test_chain_full_size(void)
{
	/* A chain of exactly the queue size is fine, avail.idx exactly a queue ahead too. */
	drv_setup(4, false, false);
	for (int i = 0; i < 4; i++)
		drv_desc(i, BUF + 16 * i, 16, i < 3 ? VIRTQ_DESC_F_NEXT : 0, i + 1);
	for (int i = 0; i < 4; i++)
		drv_post(0);
	for (int i = 0; i < 4; i++)
		CHECK_EQ(virtq_pop(&d.q, &d.c), 1);
	CHECK_EQ(d.c.nout, 4);
	CHECK_EQ(virtq_pop(&d.q, &d.c), 0);
}

static void test_chain_copy(void)
{
	uint8_t out[64], in[64];

	drv_setup(8, false, false);
	memcpy(gp(BUF), "hello ", 6);
	memcpy(gp(BUF + 0x100), "wide ", 5);
	memcpy(gp(RAM1_GPA), "world", 5);
	drv_desc(0, BUF, 6, VIRTQ_DESC_F_NEXT, 1);
	drv_desc(1, BUF + 0x100, 5, VIRTQ_DESC_F_NEXT, 2);
	drv_desc(2, RAM1_GPA, 5, VIRTQ_DESC_F_NEXT, 3);
	drv_desc(3, BUF + 0x200, 3, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 4);
	drv_desc(4, BUF + 0x300, 4, VIRTQ_DESC_F_WRITE, 0);
	drv_post(0);
	CHECK_EQ(virtq_pop(&d.q, &d.c), 1);

	memset(out, 0, sizeof(out));
	CHECK_EQ(virtq_chain_read(&d.c, 0, out, sizeof(out)), 16);
	CHECK(memcmp(out, "hello wide world", 16) == 0);
	memset(out, 0, sizeof(out));
	CHECK_EQ(virtq_chain_read(&d.c, 4, out, 5), 5);
	CHECK(memcmp(out, "o wid", 5) == 0);
	CHECK_EQ(virtq_chain_read(&d.c, 11, out, 5), 5);
	CHECK(memcmp(out, "world", 5) == 0);
	CHECK_EQ(virtq_chain_read(&d.c, 14, out, 10), 2);
	CHECK_EQ(virtq_chain_read(&d.c, 16, out, 10), 0);
	CHECK_EQ(virtq_chain_read(&d.c, 1000, out, 10), 0);

	memset(gp(BUF + 0x200), '.', 8);
	memset(gp(BUF + 0x300), '.', 8);
	CHECK_EQ(virtq_chain_write(&d.c, 1, "abcd", 4), 4);
	CHECK(memcmp(gp(BUF + 0x200), ".ab.", 4) == 0);
	CHECK(memcmp(gp(BUF + 0x300), "cd..", 4) == 0);
	memcpy(in, "0123456789", 10);
	CHECK_EQ(virtq_chain_write(&d.c, 0, in, 10), 7);
	CHECK(memcmp(gp(BUF + 0x200), "012.", 4) == 0);
	CHECK(memcmp(gp(BUF + 0x300), "3456.", 5) == 0);
	CHECK_EQ(virtq_chain_write(&d.c, 7, in, 1), 0);
}

static void test_indirect(void)
{
	const uint64_t table = BUF + 0x8000;

	drv_setup(8, false, true);
	drv_desc(6, table, 3 * 16, VIRTQ_DESC_F_INDIRECT, 0);
	drv_table(table, 0, BUF, 10, VIRTQ_DESC_F_NEXT, 2);
	drv_table(table, 2, BUF + 0x100, 20, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 1);
	drv_table(table, 1, RAM1_GPA, 30, VIRTQ_DESC_F_WRITE, 0);
	drv_post(6);
	CHECK_EQ(virtq_pop(&d.q, &d.c), 1);
	CHECK_EQ(d.c.head, 6);
	CHECK_EQ(d.c.nout, 1);
	CHECK_EQ(d.c.nin, 2);
	CHECK_EQ(d.c.out_len, 10);
	CHECK_EQ(d.c.in_len, 50);
	CHECK(d.c.iov[0].iov_base == gp(BUF));
	CHECK(d.c.iov[1].iov_base == gp(BUF + 0x100));
	CHECK(d.c.iov[2].iov_base == gp(RAM1_GPA));

	/* An indirect descriptor ending a chain, its table unaligned in the other region, and
	 * holding as many entries as the queue. */
	drv_desc(0, BUF + 0x400, 4, VIRTQ_DESC_F_NEXT, 1);
	drv_desc(1, RAM1_GPA + 0x108, 7 * 16, VIRTQ_DESC_F_INDIRECT, 0);
	for (int i = 0; i < 7; i++)
		drv_table(RAM1_GPA + 0x108, i, BUF + i, 1,
			  VIRTQ_DESC_F_WRITE | (i < 6 ? VIRTQ_DESC_F_NEXT : 0), i + 1);
	drv_post(0);
	CHECK_EQ(virtq_pop(&d.q, &d.c), 1);
	CHECK_EQ(d.c.nout, 1);
	CHECK_EQ(d.c.nin, 7);
	CHECK_EQ(d.c.in_len, 7);
	CHECK(d.c.iov[7].iov_base == gp(BUF + 6));

	drv_desc(2, RAM1_GPA + 0x108, 8 * 16, VIRTQ_DESC_F_INDIRECT, 0);
	drv_table(RAM1_GPA + 0x108, 6, BUF, 1, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 7);
	drv_table(RAM1_GPA + 0x108, 7, BUF, 1, VIRTQ_DESC_F_WRITE, 0);
	drv_post(2);
	CHECK_EQ(virtq_pop(&d.q, &d.c), 1);
	CHECK_EQ(d.c.nin, 8);
}

static void test_unpop(void)
{
	drv_setup(8, true, false);
	drv_desc(4, BUF, 16, 0, 0);
	drv_desc(5, BUF, 16, 0, 0);
	drv_post(4);
	drv_post(5);
	CHECK_EQ(virtq_pop(&d.q, &d.c), 1);
	CHECK_EQ(d.c.head, 4);
	CHECK_EQ(*avail_event(), 1);
	virtq_unpop(&d.q);
	CHECK_EQ(*avail_event(), 0);
	CHECK_EQ(virtq_pop(&d.q, &d.c), 1);
	CHECK_EQ(d.c.head, 4);
	CHECK_EQ(virtq_pop(&d.q, &d.c), 1);
	CHECK_EQ(d.c.head, 5);
	virtq_unpop(&d.q);
	CHECK(virtq_has_work(&d.q));
	CHECK_EQ(virtq_pop(&d.q, &d.c), 1);
	CHECK_EQ(d.c.head, 5);
	CHECK(!virtq_has_work(&d.q));
}

static void test_notify_flags(void)
{
	drv_setup(8, false, false);
	drv_desc(0, BUF, 16, 0, 0);
	drv_post(0);
	CHECK_EQ(virtq_pop(&d.q, &d.c), 1);
	virtq_push(&d.q, 0, 0);
	CHECK(virtq_should_notify(&d.q));
	avail()->flags = VIRTQ_AVAIL_F_NO_INTERRUPT;
	CHECK(!virtq_should_notify(&d.q));

	CHECK(!virtq_set_notify(&d.q, false));
	CHECK_EQ(used()->flags, VIRTQ_USED_F_NO_NOTIFY);
	CHECK(!virtq_set_notify(&d.q, true));
	CHECK_EQ(used()->flags, 0);
	/* Buffers that arrived while kicks were off are reported on re-enable. */
	virtq_set_notify(&d.q, false);
	drv_post(0);
	CHECK(virtq_set_notify(&d.q, true));
	CHECK_EQ(used()->flags, 0);
	CHECK_EQ(*avail_event(), 0); /* never written without EVENT_IDX */
}

static void test_notify_event_idx(void)
{
	drv_setup(8, true, false);
	drv_desc(0, BUF, 16, 0, 0);
	for (int i = 0; i < 8; i++)
		drv_post(0);
	for (int i = 0; i < 8; i++)
		CHECK_EQ(virtq_pop(&d.q, &d.c), 1);

	/* The first check after enabling always interrupts; used.flags is ignored. */
	avail()->flags = VIRTQ_AVAIL_F_NO_INTERRUPT;
	*used_event() = 5;
	virtq_push(&d.q, 0, 0); /* used idx 1 */
	CHECK(virtq_should_notify(&d.q));
	/* Nothing pushed since: no interrupt. */
	CHECK(!virtq_should_notify(&d.q));
	/* The driver wants one once entry 1 is used, i.e. at idx 2. */
	*used_event() = 1;
	virtq_push(&d.q, 0, 0);
	CHECK(virtq_should_notify(&d.q));
	*used_event() = 5;
	virtq_push(&d.q, 0, 0); /* 3 */
	CHECK(!virtq_should_notify(&d.q));
	virtq_push(&d.q, 0, 0); /* 4 */
	CHECK(!virtq_should_notify(&d.q));
	/* Several pushes between checks: 4 -> 7 crosses used_event 5. */
	virtq_push(&d.q, 0, 0);
	virtq_push(&d.q, 0, 0);
	virtq_push(&d.q, 0, 0);
	CHECK(virtq_should_notify(&d.q));
	/* used_event far behind (already signalled): no interrupt. */
	*used_event() = 2;
	virtq_push(&d.q, 0, 0); /* 8 */
	CHECK(!virtq_should_notify(&d.q));
	/* Exactly at the boundary: event 8 is crossed by going 8 -> 9. */
	*used_event() = 8;
	virtq_push(&d.q, 0, 0);
	CHECK(virtq_should_notify(&d.q));
}

static void test_notify_event_idx_wrap(void)
{
	drv_setup(8, true, false);
	*used_event() = 0xfffe;
	virtq_push(&d.q, 0, 0);
	CHECK(virtq_should_notify(&d.q)); /* first one */
	for (int i = 1; i < 0xfffe; i++)
		virtq_push(&d.q, 0, 0);
	CHECK(!virtq_should_notify(&d.q)); /* 1 -> 0xfffe: event not yet crossed */
	virtq_push(&d.q, 0, 0);
	virtq_push(&d.q, 0, 0); /* 0xfffe -> 0 */
	CHECK(virtq_should_notify(&d.q));
	/* 2^16 pushes without a check: the history is lost, so interrupt to be safe. */
	*used_event() = 0x8000;
	for (int i = 0; i < 0x10000; i++)
		virtq_push(&d.q, 0, 0);
	CHECK(virtq_should_notify(&d.q));
}

static void test_set_notify_event_idx(void)
{
	drv_setup(8, true, false);
	drv_desc(0, BUF, 16, 0, 0);
	*avail_event() = 0x1234;
	CHECK(!virtq_set_notify(&d.q, true));
	CHECK_EQ(*avail_event(), 0);
	CHECK_EQ(used()->flags, 0);
	drv_post(0);
	CHECK_EQ(virtq_pop(&d.q, &d.c), 1);
	CHECK_EQ(*avail_event(), 1); /* a pop moves it along while kicks are on */

	/* Off: avail_event stays put while we drain, and used.flags is left alone. */
	CHECK(!virtq_set_notify(&d.q, false));
	CHECK_EQ(used()->flags, 0);
	drv_post(0);
	drv_post(0);
	CHECK_EQ(virtq_pop(&d.q, &d.c), 1);
	CHECK_EQ(*avail_event(), 1);
	/* Re-enabling publishes last_avail and sees the buffer still waiting. */
	CHECK(virtq_set_notify(&d.q, true));
	CHECK_EQ(*avail_event(), 2);
	CHECK_EQ(virtq_pop(&d.q, &d.c), 1);
	CHECK_EQ(*avail_event(), 3);
	CHECK(!virtq_set_notify(&d.q, true));
}

static void test_bad_avail_idx(void)
{
	drv_setup(8, false, false);
	drv_desc(0, BUF, 16, 0, 0);
	avail()->idx = 9;
	CHECK_EQ(virtq_pop(&d.q, &d.c), -EINVAL);
	check_broken(-EINVAL);
	/* Behind last_avail looks like 65535 ahead. */
	drv_setup(8, false, false);
	drv_desc(0, BUF, 16, 0, 0);
	drv_post(0);
	CHECK_EQ(virtq_pop(&d.q, &d.c), 1);
	avail()->idx = 0;
	CHECK_EQ(virtq_pop(&d.q, &d.c), -EINVAL);
	check_broken(-EINVAL);
}

static void test_bad_index(void)
{
	drv_setup(8, false, false);
	drv_post(8);
	CHECK_EQ(virtq_pop(&d.q, &d.c), -EINVAL);
	check_broken(-EINVAL);

	drv_setup(8, false, false);
	drv_post(0xffff);
	CHECK_EQ(virtq_pop(&d.q, &d.c), -EINVAL);
	check_broken(-EINVAL);

	drv_setup(8, false, false);
	drv_desc(0, BUF, 16, VIRTQ_DESC_F_NEXT, 8);
	drv_post(0);
	CHECK_EQ(virtq_pop(&d.q, &d.c), -EINVAL);
	check_broken(-EINVAL);
}

static void test_loops(void)
{
	drv_setup(8, false, false);
	drv_desc(3, BUF, 16, VIRTQ_DESC_F_NEXT, 3);
	drv_post(3);
	CHECK_EQ(virtq_pop(&d.q, &d.c), -ELOOP);
	check_broken(-ELOOP);

	drv_setup(8, false, false);
	drv_desc(0, BUF, 16, VIRTQ_DESC_F_NEXT, 1);
	drv_desc(1, BUF, 0, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 2); /* empty ones count too */
	drv_desc(2, BUF, 16, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 1);
	drv_post(0);
	CHECK_EQ(virtq_pop(&d.q, &d.c), -ELOOP);
	check_broken(-ELOOP);

	/* A loop inside an indirect table. */
	drv_setup(8, false, true);
	drv_desc(0, BUF + 0x8000, 2 * 16, VIRTQ_DESC_F_INDIRECT, 0);
	drv_table(BUF + 0x8000, 0, BUF, 16, VIRTQ_DESC_F_NEXT, 1);
	drv_table(BUF + 0x8000, 1, BUF, 16, VIRTQ_DESC_F_NEXT, 0);
	drv_post(0);
	CHECK_EQ(virtq_pop(&d.q, &d.c), -ELOOP);
	check_broken(-ELOOP);

	/* No loop, but one descriptor plus a full indirect table is longer than the queue. */
	drv_setup(8, false, true);
	drv_desc(0, BUF, 16, VIRTQ_DESC_F_NEXT, 1);
	drv_desc(1, BUF + 0x8000, 8 * 16, VIRTQ_DESC_F_INDIRECT, 0);
	for (int i = 0; i < 8; i++)
		drv_table(BUF + 0x8000, i, BUF, 1, i < 7 ? VIRTQ_DESC_F_NEXT : 0, i + 1);
	drv_post(0);
	CHECK_EQ(virtq_pop(&d.q, &d.c), -ELOOP);
	check_broken(-ELOOP);
}

/* Pops a ring whose head 0 is an indirect descriptor as given; table entry 0 is sane. */
static void check_bad_indirect(bool negotiated, uint32_t len, uint16_t flags, int err)
{
	drv_setup(8, false, negotiated);
	drv_desc(0, BUF + 0x8000, len, VIRTQ_DESC_F_INDIRECT | flags, 1);
	drv_desc(1, BUF, 16, 0, 0);
	drv_table(BUF + 0x8000, 0, BUF, 16, 0, 0);
	drv_post(0);
	CHECK_EQ(virtq_pop(&d.q, &d.c), err);
	check_broken(err);
}

static void test_bad_indirect(void)
{
	check_bad_indirect(false, 16, 0, -EINVAL);
	check_bad_indirect(true, 16, VIRTQ_DESC_F_NEXT, -EINVAL);
	check_bad_indirect(true, 0, 0, -EINVAL);
	check_bad_indirect(true, 24, 0, -EINVAL);
	check_bad_indirect(true, 9 * 16, 0, -EINVAL);
	check_bad_indirect(true, 0xfffffff0u, 0, -EINVAL);

	/* Nested. */
	drv_setup(8, false, true);
	drv_desc(0, BUF + 0x8000, 2 * 16, VIRTQ_DESC_F_INDIRECT, 0);
	drv_table(BUF + 0x8000, 0, BUF, 16, VIRTQ_DESC_F_NEXT, 1);
	drv_table(BUF + 0x8000, 1, BUF + 0x9000, 16, VIRTQ_DESC_F_INDIRECT, 0);
	drv_table(BUF + 0x9000, 0, BUF, 16, 0, 0);
	drv_post(0);
	CHECK_EQ(virtq_pop(&d.q, &d.c), -EINVAL);
	check_broken(-EINVAL);

	/* next beyond the indirect table (but inside the queue size). */
	drv_setup(8, false, true);
	drv_desc(0, BUF + 0x8000, 2 * 16, VIRTQ_DESC_F_INDIRECT, 0);
	drv_table(BUF + 0x8000, 0, BUF, 16, VIRTQ_DESC_F_NEXT, 2);
	drv_post(0);
	CHECK_EQ(virtq_pop(&d.q, &d.c), -EINVAL);
	check_broken(-EINVAL);

	/* Table outside RAM, or running off its end. */
	drv_setup(8, false, true);
	drv_desc(0, RAM1_GPA + RAM1_SIZE, 16, VIRTQ_DESC_F_INDIRECT, 0);
	drv_post(0);
	CHECK_EQ(virtq_pop(&d.q, &d.c), -EFAULT);
	check_broken(-EFAULT);

	drv_setup(8, false, true);
	drv_desc(0, RAM1_GPA + RAM1_SIZE - 16, 32, VIRTQ_DESC_F_INDIRECT, 0);
	drv_post(0);
	CHECK_EQ(virtq_pop(&d.q, &d.c), -EFAULT);
	check_broken(-EFAULT);
}

static void test_read_after_write(void)
{
	drv_setup(8, false, false);
	drv_desc(0, BUF, 16, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 1);
	drv_desc(1, BUF, 16, 0, 0);
	drv_post(0);
	CHECK_EQ(virtq_pop(&d.q, &d.c), -EINVAL);
	check_broken(-EINVAL);

	/* Even an empty readable one is out of order. */
	drv_setup(8, false, true);
	drv_desc(0, BUF + 0x8000, 2 * 16, VIRTQ_DESC_F_INDIRECT, 0);
	drv_table(BUF + 0x8000, 0, BUF, 16, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 1);
	drv_table(BUF + 0x8000, 1, BUF, 0, 0, 0);
	drv_post(0);
	CHECK_EQ(virtq_pop(&d.q, &d.c), -EINVAL);
	check_broken(-EINVAL);
}

static void check_bad_buffer(uint64_t addr, uint32_t len, int err)
{
	drv_setup(8, false, false);
	drv_desc(0, BUF, 16, VIRTQ_DESC_F_NEXT, 1);
	drv_desc(1, addr, len, VIRTQ_DESC_F_WRITE, 0);
	drv_post(0);
	CHECK_EQ(virtq_pop(&d.q, &d.c), err);
	check_broken(err);
}

static void test_bad_buffer(void)
{
	check_bad_buffer(RAM0_SIZE, 1, -EFAULT);
	check_bad_buffer(RAM0_SIZE - 8, 9, -EFAULT);
	check_bad_buffer(RAM1_GPA - 1, 2, -EFAULT);
	check_bad_buffer(RAM1_GPA + RAM1_SIZE - 1, 2, -EFAULT);
	check_bad_buffer(0xffffffffffffff00ull, 0x200, -EFAULT);
	check_bad_buffer(0, 0xffffffffu, -EFAULT);
}

/* Overlapping 2 GiB buffers add up to more than used.len can say. */
static void test_total_overflow(void)
{
	const uint64_t big_gpa = 1ull << 40, big = 1ull << 31;
	struct guest_mem saved = ram;
	void *p = mmap(NULL, big, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	CHECK(p != MAP_FAILED);
	if (p == MAP_FAILED)
		return;
	ram.region[1] = (struct guest_mem_region){.gpa = big_gpa, .size = big, .host = p};
	drv_setup(8, false, false);
	drv_desc(0, big_gpa, big, VIRTQ_DESC_F_NEXT, 1);
	drv_desc(1, big_gpa, big - 1, VIRTQ_DESC_F_NEXT, 2);
	drv_desc(2, big_gpa, 0, VIRTQ_DESC_F_NEXT, 3);
	drv_desc(3, big_gpa, 1, VIRTQ_DESC_F_WRITE, 0);
	drv_post(0);
	CHECK_EQ(virtq_pop(&d.q, &d.c), 1); /* exactly UINT32_MAX readable bytes */
	CHECK_EQ(d.c.out_len, 0xffffffffu);
	drv_desc(1, big_gpa, big, VIRTQ_DESC_F_NEXT, 2);
	drv_post(0);
	CHECK_EQ(virtq_pop(&d.q, &d.c), -EINVAL);
	check_broken(-EINVAL);

	drv_setup(8, false, false);
	drv_desc(0, big_gpa, big, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 1);
	drv_desc(1, big_gpa, big, VIRTQ_DESC_F_WRITE, 0);
	drv_post(0);
	CHECK_EQ(virtq_pop(&d.q, &d.c), -EINVAL);
	check_broken(-EINVAL);
	ram = saved;
	munmap(p, big);
}

int main(void)
{
	ram.nregions = 2;
	ram.region[0] = (struct guest_mem_region){.gpa = 0, .size = RAM0_SIZE};
	ram.region[1] = (struct guest_mem_region){.gpa = RAM1_GPA, .size = RAM1_SIZE};
	ram.region[0].host = calloc(1, RAM0_SIZE);
	ram.region[1].host = calloc(1, RAM1_SIZE);
	if (!ram.region[0].host || !ram.region[1].host)
		return 1;

	RUN(test_enable_sizes);
	RUN(test_enable_alignment);
	RUN(test_enable_outside_ram);
	RUN(test_enable_straddle);
	RUN(test_chain);
	RUN(test_chain_full_size);
	RUN(test_chain_copy);
	RUN(test_indirect);
	RUN(test_unpop);
	RUN(test_notify_flags);
	RUN(test_notify_event_idx);
	RUN(test_notify_event_idx_wrap);
	RUN(test_set_notify_event_idx);
	RUN(test_bad_avail_idx);
	RUN(test_bad_index);
	RUN(test_loops);
	RUN(test_bad_indirect);
	RUN(test_read_after_write);
	RUN(test_bad_buffer);
	RUN(test_total_overflow);

	free(ram.region[0].host);
	free(ram.region[1].host);
	return UNIT_RESULT();
}
