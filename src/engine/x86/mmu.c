/* Paging: guest page-table walks (32-bit, PAE, 4-level), A/D bits, #PF, and the soft TLB. */
#include <string.h>

#include "engine.h"

#define PTE_P (1ULL << 0)
#define PTE_W (1ULL << 1)
#define PTE_U (1ULL << 2)
#define PTE_A (1ULL << 5)
#define PTE_D (1ULL << 6)
#define PTE_PS (1ULL << 7)
#define PTE_NX (1ULL << 63)
#define PHYS_BITS 46
#define PTE_ADDR_MASK (((1ULL << PHYS_BITS) - 1) & ~0xfffULL)

#define PF_P 1u
#define PF_W 2u
#define PF_U 4u
#define PF_RSVD 8u
#define PF_I 16u

void x86_tlb_flush(struct x86_cpu *cpu)
{
  memset(cpu->tlb, 0, sizeof(cpu->tlb));
  cpu->fetch_tag = 0;
}

void tlb_invlpg(struct x86_cpu *cpu, uint64_t lin)
{
  cpu->fetch_tag = 0;
  struct tlb_entry *e = &cpu->tlb[(lin >> 12) % TLB_SIZE];
  if (e->tag == (lin >> 12) + 1) e->tag = 0;
}

/* A page-table entry's host location; page tables outside RAM are an emulation failure. */
static uint8_t *pte_ptr(struct x86_cpu *cpu, uint64_t gpa)
{
  const struct guest_region *r = memmap_find(cpu->memmap, gpa);
  if (!r) {
    static const uint8_t none[1];
    x86_internal_error(cpu, none, 0);
  }
  return r->hva + (gpa - r->gpa);
}

static _Noreturn void page_fault(struct x86_cpu *cpu, uint64_t lin, uint32_t err)
{
  cpu->cr2 = lin;
  RAISE_ERR(cpu, EXC_PF, err);
}

struct walk {
  uint64_t gpa;               /* page frame of the 4 KiB page holding lin */
  bool user, write, exec, dirty;
};

static bool is_user_access(const struct x86_cpu *cpu, int acc)
{
  return cpu->cpl == 3 && !(acc & ACC_SYS);
}

/* Checks one access against a walk result; returns the #PF error code or 0 if allowed. */
static uint32_t check_access(const struct x86_cpu *cpu, const struct walk *w, int acc)
{
  bool user = is_user_access(cpu, acc);
  uint32_t err = PF_P | ((acc & ACC_WRITE) ? PF_W : 0) | (user ? PF_U : 0) |
                 ((acc & ACC_FETCH) && ((cpu->efer & EFER_NXE) || (cpu->cr4 & CR4_SMEP)) ? PF_I : 0);
  if (user && !w->user) return err;
  if (acc & ACC_FETCH) {
    if (!w->exec) return err;
    if (!user && w->user && (cpu->cr4 & CR4_SMEP)) return err;
  } else if (!user && w->user && (cpu->cr4 & CR4_SMAP) &&
             (!(cpu->rflags & F_AC) || (acc & ACC_SYS))) {
    return err;
  }
  if ((acc & ACC_WRITE) && !w->write && (user || (cpu->cr0 & CR0_WP))) return err;
  return 0;
}

/* Walks the guest page tables for lin, setting A (and D for writes); raises #PF. */
static void walk(struct x86_cpu *cpu, uint64_t lin, int acc, struct walk *w)
{
  bool user = is_user_access(cpu, acc);
  uint32_t errbase = ((acc & ACC_WRITE) ? PF_W : 0) | (user ? PF_U : 0) |
                     ((acc & ACC_FETCH) && ((cpu->efer & EFER_NXE) || (cpu->cr4 & CR4_SMEP)) ? PF_I : 0);
  bool nxe = cpu->efer & EFER_NXE;
  uint64_t rsvd_hi = ~((1ULL << PHYS_BITS) - 1) & ~PTE_NX & ~(0x7FFULL << 52);
  uint64_t table, shift;
  int levels, esize;
  uint8_t *ptes[5];
  uint64_t pte = 0;
  int n = 0;

  w->user = w->write = w->exec = true;
  if (cpu->efer & EFER_LMA) {
    levels = 4, esize = 8, shift = 39, table = cpu->cr3 & PTE_ADDR_MASK;
  } else if (cpu->cr4 & CR4_PAE) {
    uint8_t *p = pte_ptr(cpu, (cpu->cr3 & 0xffffffe0u) + ((lin >> 30) & 3) * 8);
    uint64_t pdpte;
    memcpy(&pdpte, p, 8);
    if (!(pdpte & PTE_P)) page_fault(cpu, lin, errbase);
    levels = 2, esize = 8, shift = 21, table = pdpte & PTE_ADDR_MASK;
  } else {
    levels = 2, esize = 4, shift = 22, table = cpu->cr3 & 0xfffff000u;
  }

  for (int level = levels; level >= 1; level--, shift -= (esize == 8 ? 9 : 10)) {
    uint64_t idx = (lin >> shift) & (esize == 8 ? 511 : 1023);
    uint8_t *p = pte_ptr(cpu, table + idx * esize);
    if (esize == 8) memcpy(&pte, p, 8);
    else { uint32_t v; memcpy(&v, p, 4); pte = v; }
    ptes[n++] = p;
    if (!(pte & PTE_P)) page_fault(cpu, lin, errbase);
    if (esize == 8) {
      uint64_t rsvd = rsvd_hi | (nxe ? 0 : PTE_NX);
      if (level == 4) rsvd |= PTE_PS;
      if (level == 3 && (pte & PTE_PS)) rsvd |= 0x3fffe000;     /* 1 GiB page: bits 29:13 */
      if (level == 2 && (pte & PTE_PS)) rsvd |= 0x1fe000;       /* 2 MiB page: bits 20:13 */
      if (pte & rsvd) page_fault(cpu, lin, errbase | PF_P | PF_RSVD);
    }
    w->user &= !!(pte & PTE_U);
    w->write &= !!(pte & PTE_W);
    if (esize == 8 && (pte & PTE_NX) && nxe) w->exec = false;
    /* 2 MiB and 1 GiB pages (level 3 exists only in 4-level paging), or PSE's 4 MiB pages */
    bool large = level > 1 && (pte & PTE_PS) && (esize == 8 ? level <= 3 : (cpu->cr4 & CR4_PSE));
    if (level == 1 || large) {
      uint64_t page_size = 1ULL << shift;
      uint64_t frame;
      if (esize == 4 && large)   /* PSE-36: bits 20:13 hold physical address bits 39:32 */
        frame = (pte & 0xffc00000u) | ((pte >> 13) & 0xff) << 32;
      else
        frame = pte & PTE_ADDR_MASK & ~(page_size - 1);
      w->gpa = frame + (lin & (page_size - 1) & ~0xfffULL);
      break;
    }
    table = pte & (esize == 8 ? PTE_ADDR_MASK : 0xfffff000u);
  }

  uint32_t err = check_access(cpu, w, acc);
  if (err) page_fault(cpu, lin, err);

  /* Set accessed bits on every level, dirty on the leaf for writes, atomically as hardware does. */
  for (int i = 0; i < n; i++)
    __atomic_fetch_or(ptes[i], (uint8_t)PTE_A, __ATOMIC_RELAXED);
  w->dirty = (pte & PTE_D) != 0;
  if (acc & ACC_WRITE) {
    __atomic_fetch_or(ptes[n - 1], (uint8_t)PTE_D, __ATOMIC_RELAXED);
    w->dirty = true;
  }
}

/* Returns the TLB entry for lin that permits acc, walking the page tables if needed. */
static struct tlb_entry *tlb_fill(struct x86_cpu *cpu, uint64_t lin, int acc);

static inline struct tlb_entry *tlb_get(struct x86_cpu *cpu, uint64_t lin, int acc)
{
  uint64_t vpn = lin >> 12;
  struct tlb_entry *e = &cpu->tlb[vpn % TLB_SIZE];
  if (e->tag == vpn + 1) {
    if (!cpu->paging) return e;
    struct walk w = { e->gpa, e->user, e->write, e->exec, e->dirty };
    if (!check_access(cpu, &w, acc) && (!(acc & ACC_WRITE) || e->dirty)) return e;
  }
  return tlb_fill(cpu, lin, acc);
}

/* A TLB miss (or an access the cached entry does not allow): walk and refill. */
static __attribute__((noinline)) struct tlb_entry *tlb_fill(struct x86_cpu *cpu, uint64_t lin, int acc)
{
  uint64_t vpn = lin >> 12;
  struct tlb_entry *e = &cpu->tlb[vpn % TLB_SIZE];
  struct walk w;
  if (cpu->paging) {
    walk(cpu, lin, acc, &w);
  } else {
    w = (struct walk){ lin & 0xfffffffff000ULL, true, true, true, true };
  }
  const struct guest_region *r = memmap_find(cpu->memmap, w.gpa);
  e->tag = vpn + 1;
  e->gpa = w.gpa;
  e->user = w.user;
  e->write = w.write;
  e->exec = w.exec;
  e->dirty = w.dirty;
  e->host_r = r ? r->hva + (w.gpa - r->gpa) : NULL;
  /* writes take the slow path for read-only (MMIO exit) and dirty-logged (bitmap) pages */
  e->host_w = (r && !r->readonly && !r->dirty && w.dirty) ? e->host_r : NULL;
  return e;
}

uint64_t mmu_translate(struct x86_cpu *cpu, uint64_t lin, int acc)
{
  return tlb_get(cpu, lin, acc)->gpa | (lin & 0xfff);
}

/* ---- physical access: RAM or MMIO exit ---- */

/* Fixed-size host loads/stores (a variable-size memcpy would be a library call). */
static inline uint64_t load_le(const uint8_t *p, int size)
{
  uint8_t b; uint16_t w; uint32_t d; uint64_t q = 0;
  switch (size) {
  case 1: memcpy(&b, p, 1); return b;
  case 2: memcpy(&w, p, 2); return w;
  case 4: memcpy(&d, p, 4); return d;
  case 8: memcpy(&q, p, 8); return q;
  default: memcpy(&q, p, size); return q;
  }
}

static inline void store_le(uint8_t *p, int size, uint64_t v)
{
  uint8_t b = v; uint16_t w = v; uint32_t d = v;
  switch (size) {
  case 1: memcpy(p, &b, 1); return;
  case 2: memcpy(p, &w, 2); return;
  case 4: memcpy(p, &d, 4); return;
  default: memcpy(p, &v, size); return;
  }
}

static uint64_t mmio_read(struct x86_cpu *cpu, uint64_t gpa, int size)
{
  for (int i = 0; i < cpu->n_mmio_done; i++) {
    if (cpu->mmio_done[i].gpa == gpa && cpu->mmio_done[i].len == (uint32_t)size) {
      uint64_t v = 0;
      memcpy(&v, cpu->mmio_done[i].data, size);
      return v;
    }
  }
  uint64_t v = 0;
  if (cpu->irq_ops && cpu->irq_ops->mmio(cpu->irq_opaque, gpa, &v, size, false)) return v;
  struct kvm_run *run = cpu->run;
  run->exit_reason = KVM_EXIT_MMIO;
  run->mmio.phys_addr = gpa;
  run->mmio.len = size;
  run->mmio.is_write = 0;
  memset(run->mmio.data, 0, sizeof(run->mmio.data));
  x86_exit_restart(cpu);
}

static void mmio_write(struct x86_cpu *cpu, uint64_t gpa, int size, uint64_t v)
{
  if (cpu->irq_ops && cpu->irq_ops->mmio(cpu->irq_opaque, gpa, &v, size, true)) return;
  struct kvm_run *run = cpu->run;
  if (cpu->exit_now) {        /* a second exit in one instruction: not supported yet */
    x86_internal_error(cpu, NULL, 0);
  }
  run->exit_reason = KVM_EXIT_MMIO;
  run->mmio.phys_addr = gpa;
  run->mmio.len = size;
  run->mmio.is_write = 1;
  memset(run->mmio.data, 0, sizeof(run->mmio.data));
  memcpy(run->mmio.data, &v, size);
  cpu->exit_now = true;
}

static uint64_t page_read(struct x86_cpu *cpu, uint64_t lin, int size, int acc)
{
  struct tlb_entry *e = tlb_get(cpu, lin, acc);
  if (e->host_r) return load_le(e->host_r + (lin & 0xfff), size);
  return mmio_read(cpu, e->gpa | (lin & 0xfff), size);
}

/* Logs a guest write to a dirty-logged page; libsoftkvm hears of the page's first write (its
 * dirty ring). */
static void mark_dirty(struct x86_cpu *cpu, const struct guest_region *r, uint64_t gpa)
{
  if (region_mark_dirty(r, gpa) && cpu->vcpu_ops && cpu->vcpu_ops->page_dirtied)
    cpu->vcpu_ops->page_dirtied(cpu->vcpu_opaque, r->slot, (gpa - r->gpa) >> 12);
}

static void page_write(struct x86_cpu *cpu, struct tlb_entry *e, uint64_t lin, int size, uint64_t v)
{
  if (e->host_w) {
    store_le(e->host_w + (lin & 0xfff), size, v);
    return;
  }
  uint64_t gpa = e->gpa | (lin & 0xfff);
  const struct guest_region *r = memmap_find(cpu->memmap, gpa);
  if (r && !r->readonly) {
    memcpy(r->hva + (gpa - r->gpa), &v, size);
    if (r->dirty) mark_dirty(cpu, r, gpa);
    return;
  }
  mmio_write(cpu, gpa, size, v);
}

uint64_t lin_read(struct x86_cpu *cpu, uint64_t lin, int size, int acc)
{
  unsigned off = lin & 0xfff;
  if (off + size <= 4096) return page_read(cpu, lin, size, acc);
  int n1 = 4096 - off;
  uint64_t lo = page_read(cpu, lin, n1, acc);
  uint64_t hi = page_read(cpu, lin + n1, size - n1, acc);
  return lo | hi << (n1 * 8);
}

void lin_write(struct x86_cpu *cpu, uint64_t lin, int size, uint64_t val, int acc)
{
  unsigned off = lin & 0xfff;
  acc |= ACC_WRITE;
  if (off + size <= 4096) {
    page_write(cpu, tlb_get(cpu, lin, acc), lin, size, val);
    return;
  }
  int n1 = 4096 - off;
  /* translate both pages before writing either, so a fault leaves memory untouched */
  struct tlb_entry e1 = *tlb_get(cpu, lin, acc);
  struct tlb_entry *e2 = tlb_get(cpu, lin + n1, acc);
  page_write(cpu, &e1, lin, n1, val);
  page_write(cpu, e2, lin + n1, size - n1, val >> (n1 * 8));
}

uint8_t *lin_host_ptr(struct x86_cpu *cpu, uint64_t lin, int size, int acc)
{
  if ((lin & 0xfff) + size > 4096) return NULL;
  struct tlb_entry *e = tlb_get(cpu, lin, acc);
  if (!(acc & ACC_WRITE)) return e->host_r ? e->host_r + (lin & 0xfff) : NULL;
  if (e->host_w) return e->host_w + (lin & 0xfff);
  /* read-only slot: NULL (MMIO exit); dirty-logged RAM: log now, then write in place */
  uint64_t gpa = e->gpa | (lin & 0xfff);
  const struct guest_region *r = memmap_find(cpu->memmap, gpa);
  if (!r || r->readonly) return NULL;
  if (r->dirty) mark_dirty(cpu, r, gpa);
  return r->hva + (gpa - r->gpa);
}
