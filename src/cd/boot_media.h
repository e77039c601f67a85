/*
 * What the firmware machine boots: the ISO of -cd, or else the first -drive. Checked before
 * the VM exists, so that a wrong file costs the user one line, not a firmware's silent search.
 */
#ifndef SMOLVM_CD_BOOT_MEDIA_H
#define SMOLVM_CD_BOOT_MEDIA_H

#include <stdbool.h>
#include <stdint.h>

/* Byte 0x8001 of an ISO 9660 image: the primary volume descriptor's "CD001". */
#define ISO9660_MAGIC_OFFSET 0x8001

/* The verdict on the first bytes of a file: whether an ISO 9660 image (head holds at least
 * ISO9660_MAGIC_OFFSET + 5 bytes) or a disk with a boot signature (0x55AA at byte 510: an MBR,
 * GPT's protective MBR or a FAT boot sector). len is how many bytes of head the file had. */
bool boot_media_is_iso(const uint8_t *head, uint64_t len);
bool boot_media_is_disk(const uint8_t *head, uint64_t len);

/* -cd FILE: readable and an ISO 9660 image. 0, or -1 after one line naming FILE. */
int boot_media_check_iso(const char *opt, const char *path);
/* The disk the firmware boots without -cd: readable, with a boot signature or an ISO 9660
 * volume. 0, or -1 after one line naming the file. */
int boot_media_check_disk(const char *path);

#endif
