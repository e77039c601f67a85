/*
 * MC146818 CMOS real-time clock: the guest reads the host's UTC time. Writes of the time
 * move an offset, so the host clock is never touched. No alarm or periodic interrupts:
 * Linux keeps time with kvm-clock and reads the RTC only at boot and for hwclock.
 * The rest of CMOS is plain bytes; a firmware finds the RAM size there (0x15-0x18,
 * 0x30-0x31, 0x34-0x35, 0x5b-0x5d, as QEMU's PC fills them) and the shutdown status at 0x0f.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include "arch/x86/layout.h"
#include "devices/legacy.h"
#include "vmm/vm.h"

enum {
	RTC_SECONDS = 0x00,
	RTC_MINUTES = 0x02,
	RTC_HOURS = 0x04,
	RTC_WEEKDAY = 0x06,
	RTC_DAY = 0x07,
	RTC_MONTH = 0x08,
	RTC_YEAR = 0x09,
	RTC_REG_A = 0x0a,
	RTC_REG_B = 0x0b,
	RTC_REG_C = 0x0c,
	RTC_REG_D = 0x0d,
	RTC_CENTURY = 0x32,
	CMOS_BASE_MEM_KB = 0x15,    /* 16 bits: RAM below 640 KiB, in KiB */
	CMOS_EXT_MEM_KB = 0x17,     /* 16 bits: RAM from 1 MiB, in KiB (up to 64 MiB) */
	CMOS_EXT_MEM_KB_2 = 0x30,   /* the same again */
	CMOS_MEM_16M_64K = 0x34,    /* 16 bits: RAM from 16 MiB below 4 GiB, in 64 KiB */
	CMOS_MEM_4G_64K = 0x5b,     /* 24 bits: RAM from 4 GiB, in 64 KiB */
};

#define REG_B_SET    0x80 /* clock updates stopped while the guest writes the time */
#define REG_B_BINARY 0x04
#define REG_B_24H    0x02
#define REG_D_VRT    0x80 /* RAM and time valid */

struct rtc {
	pthread_mutex_t lock;
	uint8_t index;
	uint8_t cmos[128];
	time_t offset; /* guest time - host time, in seconds */
};

static uint8_t rtc_encode(const struct rtc *r, unsigned v)
{
	return (r->cmos[RTC_REG_B] & REG_B_BINARY) ? v : ((v / 10) << 4) | (v % 10);
}

static unsigned rtc_decode(const struct rtc *r, uint8_t v)
{
	return (r->cmos[RTC_REG_B] & REG_B_BINARY) ? v : (v >> 4) * 10 + (v & 0x0f);
}

/* Refresh the time registers from the host clock (unless the guest is setting them). */
static void rtc_latch_time(struct rtc *r)
{
	time_t now = time(NULL) + r->offset;
	struct tm tm;
	unsigned hour;

	if (r->cmos[RTC_REG_B] & REG_B_SET)
		return;
	gmtime_r(&now, &tm);
	hour = tm.tm_hour;
	r->cmos[RTC_SECONDS] = rtc_encode(r, tm.tm_sec);
	r->cmos[RTC_MINUTES] = rtc_encode(r, tm.tm_min);
	if (r->cmos[RTC_REG_B] & REG_B_24H)
		r->cmos[RTC_HOURS] = rtc_encode(r, hour);
	else
		r->cmos[RTC_HOURS] =
			rtc_encode(r, hour % 12 == 0 ? 12 : hour % 12) | (hour >= 12 ? 0x80 : 0);
	r->cmos[RTC_WEEKDAY] = rtc_encode(r, tm.tm_wday + 1);
	r->cmos[RTC_DAY] = rtc_encode(r, tm.tm_mday);
	r->cmos[RTC_MONTH] = rtc_encode(r, tm.tm_mon + 1);
	r->cmos[RTC_YEAR] = rtc_encode(r, tm.tm_year % 100);
	r->cmos[RTC_CENTURY] = rtc_encode(r, (tm.tm_year + 1900) / 100);
}

/* The guest finished setting the clock: remember how far it is from the host's. */
static void rtc_commit_time(struct rtc *r)
{
	struct tm tm = {0};
	uint8_t h = r->cmos[RTC_HOURS];
	unsigned hour;

	if (r->cmos[RTC_REG_B] & REG_B_24H) {
		hour = rtc_decode(r, h);
	} else {
		hour = rtc_decode(r, h & 0x7f) % 12;
		if (h & 0x80)
			hour += 12;
	}
	tm.tm_sec = rtc_decode(r, r->cmos[RTC_SECONDS]);
	tm.tm_min = rtc_decode(r, r->cmos[RTC_MINUTES]);
	tm.tm_hour = hour;
	tm.tm_mday = rtc_decode(r, r->cmos[RTC_DAY]);
	tm.tm_mon = rtc_decode(r, r->cmos[RTC_MONTH]) - 1;
	tm.tm_year = rtc_decode(r, r->cmos[RTC_CENTURY]) * 100 + rtc_decode(r, r->cmos[RTC_YEAR]) -
		     1900;
	r->offset = timegm(&tm) - time(NULL);
}

static uint64_t rtc_read(void *opaque, uint64_t offset, unsigned size)
{
	struct rtc *r = opaque;
	uint8_t v;

	if (offset == 0)
		return 0xff;
	pthread_mutex_lock(&r->lock);
	if (r->index <= RTC_YEAR || r->index == RTC_CENTURY)
		rtc_latch_time(r);
	v = r->cmos[r->index];
	if (r->index == RTC_REG_C)
		r->cmos[RTC_REG_C] = 0; /* reading C acknowledges interrupt flags */
	pthread_mutex_unlock(&r->lock);
	return v;
}

static void rtc_write(void *opaque, uint64_t offset, unsigned size, uint64_t value)
{
	struct rtc *r = opaque;
	uint8_t v = value;

	pthread_mutex_lock(&r->lock);
	if (offset == 0) {
		r->index = v & 0x7f; /* bit 7 masks NMIs on real hardware */
	} else if (r->index == RTC_REG_B) {
		bool was_set = r->cmos[RTC_REG_B] & REG_B_SET;
		if (!was_set && (v & REG_B_SET))
			rtc_latch_time(r); /* the guest edits the current time */
		r->cmos[RTC_REG_B] = v;
		if (was_set && !(v & REG_B_SET))
			rtc_commit_time(r);
	} else if (r->index == RTC_REG_A) {
		r->cmos[RTC_REG_A] = v & 0x7f; /* UIP is read-only, and never set */
	} else if (r->index != RTC_REG_C && r->index != RTC_REG_D) {
		r->cmos[r->index] = v;
		if (!(r->cmos[RTC_REG_B] & REG_B_SET) &&
		    (r->index <= RTC_YEAR || r->index == RTC_CENTURY) && (r->index & 1) == 0)
			rtc_commit_time(r);
	}
	pthread_mutex_unlock(&r->lock);
}

static const struct bus_ops rtc_ops = {.read = rtc_read, .write = rtc_write, .name = "rtc"};

static void cmos_put(struct rtc *r, unsigned index, uint64_t value, unsigned bytes)
{
	for (unsigned i = 0; i < bytes; i++)
		r->cmos[index + i] = value >> (8 * i);
}

static uint64_t min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

void rtc_set_memory_size(struct vm *vm, uint64_t below_4g, uint64_t above_4g)
{
	struct rtc *r = vm->rtc;
	uint64_t ext = below_4g > MiB ? (below_4g - MiB) / KiB : 0;
	uint64_t mid = below_4g > 16 * MiB ? (below_4g - 16 * MiB) / (64 * KiB) : 0;

	pthread_mutex_lock(&r->lock);
	cmos_put(r, CMOS_BASE_MEM_KB, min_u64(below_4g / KiB, 640), 2);
	cmos_put(r, CMOS_EXT_MEM_KB, min_u64(ext, 0xffff), 2);
	cmos_put(r, CMOS_EXT_MEM_KB_2, min_u64(ext, 0xffff), 2);
	cmos_put(r, CMOS_MEM_16M_64K, min_u64(mid, 0xffff), 2);
	cmos_put(r, CMOS_MEM_4G_64K, min_u64(above_4g / (64 * KiB), 0xffffff), 3);
	pthread_mutex_unlock(&r->lock);
}

int rtc_create(struct vm *vm)
{
	struct rtc *r = calloc(1, sizeof(*r));

	if (!r)
		return -1;
	pthread_mutex_init(&r->lock, NULL);
	r->cmos[RTC_REG_A] = 0x26; /* 32.768 kHz time base, 1024 Hz rate */
	r->cmos[RTC_REG_B] = REG_B_24H;
	r->cmos[RTC_REG_D] = REG_D_VRT;
	vm->rtc = r;
	return bus_register(&vm->pio, PORT_RTC, 2, &rtc_ops, r);
}
