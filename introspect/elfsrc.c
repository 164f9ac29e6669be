// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * elfsrc.c - sections of a vmlinux on the host, for kernels that do not keep
 * what we need in memory.  Accepts a vmlinux ELF or a bzImage (vmlinuz)
 * holding one (vmlinuz.c unpacks it).
 */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kernel.h"

#define MAX_VMLINUX (1ull << 30)

static struct gp_error *find_section(const uint8_t *img, size_t len,
				     const char *path, const char *section,
				     void **data, size_t *dlen, uint64_t *addr)
{
	struct gp_error *err = NULL;
	Elf_Scn *scn = NULL;
	size_t shstrndx;
	Elf *elf;

	elf_version(EV_CURRENT);
	elf = elf_memory((char *)img, len);
	if (!elf || elf_kind(elf) != ELF_K_ELF ||
	    elf_getshdrstrndx(elf, &shstrndx)) {
		err = gp_error_create(GP_ERR_INVAL, "%s: not an ELF file: %s",
				      path, elf_errmsg(-1));
		goto out;
	}
	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		const char *name;

		if (!gelf_getshdr(scn, &sh))
			continue;
		name = elf_strptr(elf, shstrndx, sh.sh_name);
		if (!name || strcmp(name, section))
			continue;
		if (sh.sh_type == SHT_NOBITS || sh.sh_offset > len ||
		    sh.sh_size > len - sh.sh_offset) {
			err = gp_error_create(GP_ERR_CORRUPT,
					      "%s: section %s lies outside the file",
					      path, section);
			goto out;
		}
		*data = malloc(sh.sh_size ? sh.sh_size : 1);
		if (!*data) {
			err = &gp_error_nomem;
			goto out;
		}
		memcpy(*data, img + sh.sh_offset, sh.sh_size);
		*dlen = sh.sh_size;
		if (addr)
			*addr = sh.sh_addr;
		goto out;
	}
	err = gp_error_create(GP_ERR_NOTFOUND, "%s has no section %s", path,
			      section);
out:
	if (elf)
		elf_end(elf);
	return err;
}

struct gp_error *kern_elf_section(const char *path, const char *section,
				  void **data, size_t *len)
{
	return kern_elf_section_at(path, section, data, len, NULL);
}

struct gp_error *kern_elf_section_at(const char *path, const char *section,
				     void **data, size_t *len, uint64_t *addr)
{
	struct gp_error *err;
	uint8_t *map, *vmlinux = NULL;
	size_t vlen = 0;
	struct stat st;
	int fd;

	*data = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return gp_error_os(errno, "open %s", path);
	if (fstat(fd, &st) < 0 || st.st_size < 64 ||
	    (uint64_t)st.st_size > MAX_VMLINUX) {
		close(fd);
		return gp_error_create(GP_ERR_INVAL,
				       "%s: not a kernel image (size)", path);
	}
	map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (map == MAP_FAILED)
		return gp_error_os(errno, "mmap %s", path);
	if (!memcmp(map, ELFMAG, SELFMAG)) {
		err = find_section(map, (size_t)st.st_size, path, section, data,
				   len, addr);
	} else {
		err = kern_vmlinuz_unpack(path, map, (size_t)st.st_size, &vmlinux, &vlen);
		if (!err)
			err = find_section(vmlinux, vlen, path, section, data, len, addr);
		free(vmlinux);
	}
	munmap(map, (size_t)st.st_size);
	return err;
}

struct gp_error *kern_elf_build_id(const char *path, char out[41])
{
	struct gp_error *err;
	uint8_t *notes;
	size_t len, off = 0;

	err = kern_elf_section(path, ".notes", (void **)&notes, &len);
	if (err && err->code == GP_ERR_NOTFOUND) {
		gp_error_destroy(err);
		err = kern_elf_section(path, ".note.gnu.build-id", (void **)&notes, &len);
	}
	if (err)
		return err;
	/* Elf64_Nhdr: namesz, descsz, type; name and desc 4-byte aligned. */
	while (off + 12 <= len) {
		uint32_t namesz, descsz, type;
		size_t name_off, desc_off;

		memcpy(&namesz, notes + off, 4);
		memcpy(&descsz, notes + off + 4, 4);
		memcpy(&type, notes + off + 8, 4);
		name_off = off + 12;
		desc_off = name_off + (((size_t)namesz + 3) & ~(size_t)3);
		if (namesz > len || descsz > len || desc_off > len ||
		    descsz > len - desc_off)
			break;
		if (type == NT_GNU_BUILD_ID && namesz == 4 &&
		    !memcmp(notes + name_off, "GNU", 4) && descsz && descsz <= 20) {
			for (uint32_t i = 0; i < descsz; i++)
				sprintf(out + 2 * i, "%02x", notes[desc_off + i]);
			free(notes);
			return NULL;
		}
		off = desc_off + (((size_t)descsz + 3) & ~(size_t)3);
	}
	free(notes);
	return gp_error_create(GP_ERR_NOTFOUND, "%s has no GNU build id note", path);
}
