#include "pci/msix.h"

#include <errno.h>
#include <string.h>
#include <sys/eventfd.h>

#include "pci/pci.h"
#include "vmm/irq.h"
#include "vmm/log.h"

#define PCI_CAP_ID_MSIX   0x11
#define MSIX_CTRL_ENABLE  0x8000
#define MSIX_CTRL_FMASK   0x4000
#define MSIX_VEC_MASKED   0x1

/* Messages for the LAPIC: anything else is not a valid MSI target on x86. */
static bool msix_entry_valid(const struct msix_vector *v)
{
	return v->addr_hi == 0 && (v->addr_lo & 0xfff00000u) == 0xfee00000u;
}

int msix_init(struct msix *m, struct pci_device *dev, unsigned nvec, unsigned bar,
	      uint32_t table_off, uint32_t pba_off)
{
	uint8_t cap[12] = {PCI_CAP_ID_MSIX, 0, (nvec - 1) & 0xff, ((nvec - 1) >> 8) & 0x7};
	uint8_t wmask[12] = {0, 0, 0, (MSIX_CTRL_ENABLE | MSIX_CTRL_FMASK) >> 8};
	uint32_t t = table_off | bar, p = pba_off | bar;

	if (nvec == 0 || nvec > MSIX_MAX_VECTORS)
		return -EINVAL;
	memset(m, 0, sizeof(*m));
	pthread_mutex_init(&m->lock, NULL);
	m->dev = dev;
	m->nvec = nvec;
	memcpy(cap + 4, &t, 4);
	memcpy(cap + 8, &p, 4);
	m->cap = pci_device_add_cap(dev, cap, sizeof(cap), wmask);
	if (!m->cap)
		return -ENOSPC;
	for (unsigned i = 0; i < nvec; i++) {
		m->vec[i].ctrl = MSIX_VEC_MASKED;
		m->vec[i].gsi = irq_msi_alloc(dev->vm, &m->vec[i].fd);
		if (m->vec[i].gsi < 0)
			return m->vec[i].gsi;
	}
	return 0;
}

static bool msix_masked(const struct msix *m, const struct msix_vector *v)
{
	return !m->enabled || m->func_masked || (v->ctrl & MSIX_VEC_MASKED);
}

/*
 * KVM's route of a vector matters only while the vector can fire, and each change of it
 * rebuilds KVM's whole routing table. So a route follows the vector's message only while
 * the vector is unmasked: drivers program entries masked and then unmask (one update per
 * vector), and a guest rewriting masked entries in a loop costs nothing. A masked vector
 * keeps its last route, unused: it records a pending bit instead of firing. Lock held.
 */
static void msix_route(struct msix *m, struct msix_vector *v)
{
	if (!msix_masked(m, v))
		irq_msi_route(m->dev->vm, v->gsi, (uint64_t)v->addr_hi << 32 | v->addr_lo, v->data,
			      msix_entry_valid(v));
}

/* After a mask, enable or message change: route the unmasked vectors, then deliver what
 * waited. Lock held. */
static void msix_update(struct msix *m)
{
	for (unsigned i = 0; i < m->nvec; i++) {
		struct msix_vector *v = &m->vec[i];

		msix_route(m, v);
		if (v->pending && !msix_masked(m, v)) {
			v->pending = false;
			eventfd_write(v->fd, 1);
		}
	}
}

void msix_config_written(struct msix *m, unsigned offset, unsigned size)
{
	uint16_t ctrl;

	if (offset + size <= m->cap + 2 || offset >= m->cap + 4)
		return;
	ctrl = m->dev->cfg[m->cap + 2] | m->dev->cfg[m->cap + 3] << 8;
	pthread_mutex_lock(&m->lock);
	m->enabled = ctrl & MSIX_CTRL_ENABLE;
	m->func_masked = ctrl & MSIX_CTRL_FMASK;
	msix_update(m);
	pthread_mutex_unlock(&m->lock);
}

uint64_t msix_table_read(struct msix *m, uint64_t offset, unsigned size)
{
	unsigned idx = offset / MSIX_ENTRY_SIZE, field = offset % MSIX_ENTRY_SIZE;
	uint32_t words[4];
	uint64_t v = 0;

	if (idx >= m->nvec || (size != 4 && size != 8) || field % 4 || field + size > 16)
		return 0;
	pthread_mutex_lock(&m->lock);
	words[0] = m->vec[idx].addr_lo;
	words[1] = m->vec[idx].addr_hi;
	words[2] = m->vec[idx].data;
	words[3] = m->vec[idx].ctrl;
	pthread_mutex_unlock(&m->lock);
	memcpy(&v, (uint8_t *)words + field, size);
	return v;
}

void msix_table_write(struct msix *m, uint64_t offset, unsigned size, uint64_t value)
{
	unsigned idx = offset / MSIX_ENTRY_SIZE, field = offset % MSIX_ENTRY_SIZE;
	struct msix_vector *v;
	uint32_t words[4];

	if (idx >= m->nvec || (size != 4 && size != 8) || field % 4 || field + size > 16)
		return;
	pthread_mutex_lock(&m->lock);
	v = &m->vec[idx];
	words[0] = v->addr_lo;
	words[1] = v->addr_hi;
	words[2] = v->data;
	words[3] = v->ctrl;
	memcpy((uint8_t *)words + field, &value, size);
	v->addr_lo = words[0] & ~0x3u;
	v->addr_hi = words[1];
	v->data = words[2];
	v->ctrl = words[3] & MSIX_VEC_MASKED;
	msix_update(m);
	pthread_mutex_unlock(&m->lock);
}

uint64_t msix_pba_read(struct msix *m, uint64_t offset, unsigned size)
{
	uint64_t bits = 0;

	pthread_mutex_lock(&m->lock);
	for (unsigned i = 0; i < m->nvec; i++)
		if (m->vec[i].pending)
			bits |= 1ULL << i;
	pthread_mutex_unlock(&m->lock);
	if (offset >= 8)
		return 0;
	bits >>= offset * 8;
	return size >= 8 ? bits : bits & ((1ULL << (size * 8)) - 1);
}

void msix_notify(struct msix *m, unsigned vector)
{
	struct msix_vector *v;

	if (vector >= m->nvec)
		return;
	v = &m->vec[vector];
	pthread_mutex_lock(&m->lock);
	if (msix_masked(m, v))
		v->pending = true;
	else
		eventfd_write(v->fd, 1);
	pthread_mutex_unlock(&m->lock);
}
