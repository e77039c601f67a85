/* An uncompressed ELF vmlinux entered through its PVH note (Xen's x86/HVM direct boot ABI). */
#include <elf.h>
#include <errno.h>
#include <string.h>

#include "arch/x86/layout.h"
#include "boot/kernel.h"

#define XEN_ELFNOTE_PHYS32_ENTRY 18
#define HVM_START_MAGIC          0x336ec578

struct hvm_start_info {
	uint32_t magic;
	uint32_t version;
	uint32_t flags;
	uint32_t nr_modules;
	uint64_t modlist_paddr;
	uint64_t cmdline_paddr;
	uint64_t rsdp_paddr;
	uint64_t memmap_paddr;
	uint32_t memmap_entries;
	uint32_t reserved;
};

struct hvm_modlist_entry {
	uint64_t paddr, size, cmdline_paddr, reserved;
};

struct hvm_memmap_entry {
	uint64_t addr, size;
	uint32_t type, reserved;
};

/* Layout of the PVH block at LAYOUT_PVH_INFO: start info, then modules, then the memory map. */
#define PVH_MODLIST (LAYOUT_PVH_INFO + 64)
#define PVH_MEMMAP  (PVH_MODLIST + 64)

/* Headers are copied out: neither the image nor e_phoff need be aligned. */
static Elf64_Ehdr elf_ehdr(const uint8_t *data)
{
	Elf64_Ehdr eh;
	memcpy(&eh, data, sizeof(eh));
	return eh;
}

static Elf64_Phdr elf_phdr(const uint8_t *data, const Elf64_Ehdr *eh, unsigned i)
{
	Elf64_Phdr ph;
	memcpy(&ph, data + eh->e_phoff + (uint64_t)i * sizeof(ph), sizeof(ph));
	return ph;
}

/* Walk the notes of one PT_NOTE segment for Xen's PHYS32_ENTRY. */
static bool elf_find_pvh_note(const uint8_t *p, uint64_t len, uint32_t *entry)
{
	while (len >= sizeof(Elf64_Nhdr)) {
		Elf64_Nhdr nh;
		uint64_t name_sz, desc_sz, total;

		memcpy(&nh, p, sizeof(nh));
		name_sz = (nh.n_namesz + 3ULL) & ~3ULL;
		desc_sz = (nh.n_descsz + 3ULL) & ~3ULL;
		total = sizeof(nh) + name_sz + desc_sz;
		if (total > len)
			return false;
		if (nh.n_type == XEN_ELFNOTE_PHYS32_ENTRY && nh.n_namesz == 4 &&
		    memcmp(p + sizeof(nh), "Xen", 4) == 0 && nh.n_descsz >= 4) {
			/* Linux emits the address as a pointer-sized value; the low 32 bits count. */
			memcpy(entry, p + sizeof(nh) + name_sz, 4);
			return true;
		}
		p += total;
		len -= total;
	}
	return false;
}

int elf_pvh_parse(const uint8_t *data, size_t size, struct kernel_image *k, const char **why)
{
	Elf64_Ehdr ehdr, *eh = &ehdr;
	bool found = false;
	unsigned nload = 0;

	if (size >= sizeof(ehdr))
		ehdr = elf_ehdr(data);
	if (size < sizeof(ehdr) || data[EI_CLASS] != ELFCLASS64 || data[EI_DATA] != ELFDATA2LSB ||
	    eh->e_machine != EM_X86_64) {
		*why = "ELF file that is not a 64-bit x86 image; expected an x86-64 vmlinux";
		return -EINVAL;
	}
	if (eh->e_type != ET_EXEC || eh->e_phentsize != sizeof(Elf64_Phdr) || eh->e_phnum == 0 ||
	    eh->e_phoff > size || (size - eh->e_phoff) / sizeof(Elf64_Phdr) < eh->e_phnum) {
		*why = "ELF file without valid program headers; expected an x86-64 vmlinux";
		return -EINVAL;
	}
	for (unsigned i = 0; i < eh->e_phnum; i++) {
		Elf64_Phdr phdr = elf_phdr(data, eh, i), *ph = &phdr;
		if (ph->p_offset > size || ph->p_filesz > size - ph->p_offset) {
			*why = "truncated ELF: a segment lies past the end of the file";
			return -EINVAL;
		}
		if (ph->p_type == PT_LOAD) {
			if (ph->p_filesz > ph->p_memsz || ph->p_paddr < LAYOUT_HIGH_MEM ||
			    ph->p_paddr + ph->p_memsz < ph->p_paddr) {
				*why = "ELF segment with an impossible load address or size";
				return -EINVAL;
			}
			nload++;
		} else if (ph->p_type == PT_NOTE && !found) {
			found = elf_find_pvh_note(data + ph->p_offset, ph->p_filesz, &k->pvh_entry);
		}
	}
	if (!found) {
		*why = "ELF file without a PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY); expected a "
		       "vmlinux built with CONFIG_PVH=y, or a bzImage";
		return -EINVAL;
	}
	if (nload == 0) {
		*why = "ELF file without loadable segments";
		return -EINVAL;
	}
	k->format = KERNEL_ELF_PVH;
	k->data = data;
	k->size = size;
	k->initrd_addr_max = 0xffffffff;
	k->cmdline_max = LAYOUT_CMDLINE_MAX - 1;
	return 0;
}

static int elf_load_segments(const struct kernel_image *k, const struct guest_mem *mem,
			     uint64_t *end, const char **why)
{
	Elf64_Ehdr ehdr = elf_ehdr(k->data), *eh = &ehdr;

	*end = 0;
	for (unsigned i = 0; i < eh->e_phnum; i++) {
		Elf64_Phdr phdr = elf_phdr(k->data, eh, i), *ph = &phdr;
		uint8_t *dst;

		if (ph->p_type != PT_LOAD)
			continue;
		dst = guest_mem_ptr(mem, ph->p_paddr, ph->p_memsz);
		if (!dst) {
			*why = "-m: guest RAM is too small for this kernel";
			return -ENOMEM;
		}
		memcpy(dst, k->data + ph->p_offset, ph->p_filesz);
		memset(dst + ph->p_filesz, 0, ph->p_memsz - ph->p_filesz);
		if (ph->p_paddr + ph->p_memsz > *end)
			*end = ph->p_paddr + ph->p_memsz;
	}
	return 0;
}

int elf_pvh_load(const struct kernel_image *k, const struct guest_mem *mem,
		 const struct boot_args *args, struct boot_entry *entry, const char **why)
{
	struct hvm_start_info info = {
		.magic = HVM_START_MAGIC,
		.version = 1,
		.cmdline_paddr = LAYOUT_CMDLINE,
		.rsdp_paddr = args->rsdp,
		.memmap_paddr = PVH_MEMMAP,
		.memmap_entries = args->e820_count,
	};
	uint64_t kernel_end, initrd_gpa;
	int ret;

	ret = elf_load_segments(k, mem, &kernel_end, why);
	if (ret)
		return ret;
	ret = boot_put_cmdline(mem, args->cmdline, k->cmdline_max, why);
	if (ret)
		return ret;
	ret = boot_put_initrd(mem, args, kernel_end, k->initrd_addr_max + 1ULL, &initrd_gpa, why);
	if (ret)
		return ret;
	if (initrd_gpa) {
		struct hvm_modlist_entry mod = {.paddr = initrd_gpa, .size = args->initrd_size};
		info.nr_modules = 1;
		info.modlist_paddr = PVH_MODLIST;
		if (guest_mem_write(mem, PVH_MODLIST, &mod, sizeof(mod)))
			goto nomem;
	}
	for (unsigned i = 0; i < args->e820_count; i++) {
		struct hvm_memmap_entry e = {args->e820[i].addr, args->e820[i].size,
					     args->e820[i].type, 0};
		if (guest_mem_write(mem, PVH_MEMMAP + i * sizeof(e), &e, sizeof(e)))
			goto nomem;
	}
	if (guest_mem_write(mem, LAYOUT_PVH_INFO, &info, sizeof(info)))
		goto nomem;
	entry->pvh = true;
	entry->rip = k->pvh_entry;
	entry->boot_info = LAYOUT_PVH_INFO;
	return 0;
nomem:
	*why = "no guest RAM for the PVH start info";
	return -EFAULT;
}
