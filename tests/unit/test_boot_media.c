/* What the firmware machine takes for an ISO 9660 image or a bootable disk. */
#include <stdint.h>
#include <string.h>

#include "cd/boot_media.h"
#include "unit.h"

static uint8_t head[ISO9660_MAGIC_OFFSET + 5];

static void test_iso(void)
{
	memset(head, 0, sizeof(head));
	CHECK(!boot_media_is_iso(head, sizeof(head)));
	memcpy(head + ISO9660_MAGIC_OFFSET, "CD001", 5);
	CHECK(boot_media_is_iso(head, sizeof(head)));
	CHECK(!boot_media_is_iso(head, sizeof(head) - 1)); /* the file ends inside the magic */
	CHECK(!boot_media_is_disk(head, sizeof(head)));
}

static void test_disk(void)
{
	memset(head, 0, sizeof(head));
	CHECK(!boot_media_is_disk(head, sizeof(head)));
	head[510] = 0x55;
	head[511] = 0xaa;
	CHECK(boot_media_is_disk(head, 512));
	CHECK(!boot_media_is_disk(head, 511));
	head[511] = 0xab;
	CHECK(!boot_media_is_disk(head, 512));
}

int main(void)
{
	RUN(test_iso);
	RUN(test_disk);
	return UNIT_RESULT();
}
