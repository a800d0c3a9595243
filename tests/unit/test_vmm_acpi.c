/* ACPI tables from acpi__build, parsed back the way an OS does: the RSDP found by scanning
 * 0xe0000..0xfffff, checksums, RSDT/XSDT -> FADT (-> FACS, DSDT) and MADT, the MADT's entries,
 * and the DSDT's AML walked object by object (every PkgLength and package count must add up)
 * to find \_S5, \_SB.PCI0 and its _CRS windows and _PRT, and the processor devices. Also the
 * AML writer's PkgLength encodings at their size boundaries. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "testlib.h"
#include "vmm/boot/acpi.h"
#include "vmm/boot/aml.h"
#include "vmm/hw/acpi_pm.h"
#include "vmm/hw/pci.h"
#include "vmm/vm.h"

#define NCPUS 4

static struct vm vm;

static uint8_t *gpa(uint64_t a) { return vm.ram + a; }
static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t rd32(const uint8_t *p) { return rd16(p) | (uint32_t)rd16(p + 2) << 16; }
static uint64_t rd64(const uint8_t *p) { return rd32(p) | (uint64_t)rd32(p + 4) << 32; }

static uint8_t sum(const uint8_t *p, size_t n)
{
  uint8_t s = 0;
  while (n--) s += *p++;
  return s;
}

/* A table at a: its signature and checksum must be right; returns its length, 0 if not. */
static uint32_t check_table(uint64_t a, const char *sig)
{
  uint32_t len;
  if (a < ACPI_TABLES_BASE || a + 36 > ACPI_TABLES_END) {
    test_fail(__FILE__, __LINE__, "%s at %#llx outside the ACPI area", sig, (unsigned long long)a);
    return 0;
  }
  len = rd32(gpa(a) + 4);
  CHECK(memcmp(gpa(a), sig, 4) == 0);
  CHECK(len >= 36 && a + len <= ACPI_TABLES_END);
  if (len < 36 || a + len > ACPI_TABLES_END) return 0;
  CHECK_EQ(sum(gpa(a), len), 0);
  return len;
}

/* ---- a small AML reader ---- */

struct aml_name {
  char path[64];
  const uint8_t *obj;     /* the data object after the name */
  const uint8_t *end;     /* end of the enclosing term list */
};

static struct aml_name names[512];
static int nnames;
static int aml_errors;

static const uint8_t *aml_base;

static const uint8_t *aml_bad(const uint8_t *p, int line)
{
  aml_errors++;
  test_fail(__FILE__, line, "bad AML at offset %ld", (long)(p - aml_base));
  return NULL;
}
#define AML_BAD(p) aml_bad((p), __LINE__)

static const uint8_t *pkglen(const uint8_t *p, const uint8_t *end, const uint8_t **pkg_end)
{
  const uint8_t *start = p;
  unsigned n = p[0] >> 6;
  size_t len;
  if (p + 1 + n > end) return AML_BAD(p);
  if (!n) {
    len = p[0] & 0x3f;
  } else {
    if (p[0] & 0x30) return AML_BAD(p);
    len = p[0] & 0x0f;
    for (unsigned i = 1; i <= n; i++) len |= (size_t)p[i] << (4 + 8 * (i - 1));
  }
  if (start + len > end || len < n + 1u) return AML_BAD(p);
  *pkg_end = start + len;
  return p + 1 + n;
}

/* NameString -> dotted path relative to scope (absolute "\A.B" form). */
static const uint8_t *name_string(const uint8_t *p, const uint8_t *end, const char *scope,
                                  char *out, size_t outlen)
{
  char path[64];
  unsigned nseg;
  if (p >= end) return AML_BAD(p);
  if (*p == '\\') {
    strcpy(path, "\\");
    p++;
  } else {
    snprintf(path, sizeof(path), "%s", scope);
    while (p < end && *p == '^') {            /* parent prefixes */
      char *dot = strrchr(path, '.');
      if (dot) *dot = 0; else strcpy(path, "\\");
      p++;
    }
  }
  if (p >= end) return AML_BAD(p);
  if (*p == 0x00) { nseg = 0; p++; }
  else if (*p == 0x2e) { nseg = 2; p++; }
  else if (*p == 0x2f) { if (p + 1 >= end) return AML_BAD(p); nseg = p[1]; p += 2; }
  else nseg = 1;
  if (p + 4 * nseg > end) return AML_BAD(p);
  for (unsigned i = 0; i < nseg; i++, p += 4) {
    for (int j = 0; j < 4; j++) {
      uint8_t c = p[j];
      if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_')) return AML_BAD(p);
    }
    size_t l = strlen(path);
    if (l + 6 > sizeof(path)) return AML_BAD(p);
    snprintf(path + l, sizeof(path) - l, "%s%.4s", l > 1 ? "." : "", (const char *)p);
  }
  snprintf(out, outlen, "%s", path);
  return p;
}

static const uint8_t *data_object(const uint8_t *p, const uint8_t *end)
{
  const uint8_t *pend;
  if (p >= end) return AML_BAD(p);
  switch (*p) {
  case 0x00: case 0x01: case 0xff: return p + 1;
  case 0x0a: return p + 2 <= end ? p + 2 : AML_BAD(p);
  case 0x0b: return p + 3 <= end ? p + 3 : AML_BAD(p);
  case 0x0c: return p + 5 <= end ? p + 5 : AML_BAD(p);
  case 0x0e: return p + 9 <= end ? p + 9 : AML_BAD(p);
  case 0x0d: {
    const uint8_t *nul = memchr(p + 1, 0, (size_t)(end - p - 1));
    return nul ? nul + 1 : AML_BAD(p);
  }
  case 0x11: {                                   /* Buffer: size integer == bytes left */
    const uint8_t *q = pkglen(p + 1, end, &pend), *bytes;
    uint64_t size;
    if (!q) return NULL;
    bytes = data_object(q, pend);
    if (!bytes) return NULL;
    switch (*q) {
    case 0x0a: size = q[1]; break;
    case 0x0b: size = rd16(q + 1); break;
    case 0x0c: size = rd32(q + 1); break;
    default: return AML_BAD(q);
    }
    if (size != (uint64_t)(pend - bytes)) return AML_BAD(q);
    return pend;
  }
  case 0x12: {                                   /* Package: exactly count elements */
    const uint8_t *q = pkglen(p + 1, end, &pend);
    unsigned count;
    if (!q || q >= pend) return q ? AML_BAD(q) : NULL;
    count = *q++;
    for (unsigned i = 0; i < count; i++)
      if (!(q = data_object(q, pend))) return NULL;
    return q == pend ? pend : AML_BAD(q);
  }
  default:
    return AML_BAD(p);
  }
}

/* TermList of Name, Scope and Device objects (all our DSDT uses). */
static bool term_list(const uint8_t *p, const uint8_t *end, const char *scope)
{
  char path[64];
  const uint8_t *pend;
  while (p < end) {
    if (*p == 0x08) {                                      /* Name */
      p = name_string(p + 1, end, scope, path, sizeof(path));
      if (!p) return false;
      if (nnames < (int)(sizeof(names) / sizeof(names[0]))) {
        snprintf(names[nnames].path, sizeof(names[nnames].path), "%s", path);
        names[nnames].obj = p;
        names[nnames++].end = end;
      }
      if (!(p = data_object(p, end))) return false;
    } else if (*p == 0x10 || (*p == 0x5b && p + 1 < end && p[1] == 0x82)) {   /* Scope, Device */
      const uint8_t *q = pkglen(p + (*p == 0x10 ? 1 : 2), end, &pend);
      if (!q) return false;
      q = name_string(q, pend, scope, path, sizeof(path));
      if (!q || !term_list(q, pend, path)) return false;
      p = pend;
    } else {
      AML_BAD(p);
      return false;
    }
  }
  return p == end;
}

static const uint8_t *find_name(const char *path)
{
  for (int i = 0; i < nnames; i++)
    if (strcmp(names[i].path, path) == 0) return names[i].obj;
  test_fail(__FILE__, __LINE__, "no %s in the DSDT", path);
  return NULL;
}

static uint64_t aml_int(const uint8_t *p)
{
  switch (p[0]) {
  case 0x00: return 0;
  case 0x01: return 1;
  case 0x0a: return p[1];
  case 0x0b: return rd16(p + 1);
  case 0x0c: return rd32(p + 1);
  case 0x0e: return rd64(p + 1);
  default: test_fail(__FILE__, __LINE__, "not an integer: %#x", p[0]); return ~0ULL;
  }
}

/* ---- the tables ---- */

static void check_dsdt(uint64_t dsdt)
{
  uint32_t len = check_table(dsdt, "DSDT");
  const uint8_t *p, *pend, *q;
  char path[32];
  if (!len) return;
  CHECK_EQ(gpa(dsdt)[8], 2);                      /* revision 2: 64-bit integers */
  aml_base = gpa(dsdt);
  CHECK(term_list(gpa(dsdt) + 36, gpa(dsdt) + len, "\\"));
  CHECK_EQ(aml_errors, 0);

  /* \_S5: Package (4) { SLP_TYPa, SLP_TYPb, ... } with the value acpi_pm powers off on */
  if ((p = find_name("\\_S5_"))) {
    CHECK_EQ(p[0], 0x12);
    q = pkglen(p + 1, gpa(dsdt) + len, &pend);
    CHECK(q && q[0] == 4);
    if (q) {
      CHECK_EQ(aml_int(q + 1), ACPI_SLP_TYP_S5);
    }
  }

  if ((p = find_name("\\_SB_.PCI0._HID"))) {
    static const uint8_t pnp0a03[] = { 0x0c, 0x41, 0xd0, 0x0a, 0x03 };   /* EISAID("PNP0A03") */
    CHECK(memcmp(p, pnp0a03, sizeof(pnp0a03)) == 0);
  }
  if ((p = find_name("\\_SB_.PCI0._BBN"))) CHECK_EQ(aml_int(p), 0);
  if ((p = find_name("\\_SB_.PCI0._UID"))) CHECK_EQ(aml_int(p), 0);

  /* _CRS: walk the resource descriptors up to the end tag */
  if ((p = find_name("\\_SB_.PCI0._CRS"))) {
    bool bus = false, cf8 = false, io_low = false, io_high = false, mmio = false, end_tag = false;
    CHECK_EQ(p[0], 0x11);
    q = pkglen(p + 1, gpa(dsdt) + len, &pend);
    if (q) {
      q = data_object(q, pend);                   /* skip the size */
      while (q && q < pend && !end_tag) {
        if (q[0] == 0x79) { end_tag = true; q += 2; break; }
        if (q[0] == 0x47) {                       /* IO */
          if (rd16(q + 2) == 0xcf8 && rd16(q + 4) == 0xcf8 && q[7] == 8) cf8 = true;
          q += 8;
        } else if (q[0] == 0x88) {                /* Word address space */
          uint16_t min = rd16(q + 8), max = rd16(q + 10), n = rd16(q + 14);
          CHECK_EQ(rd16(q + 1), 13);
          CHECK_EQ(n, (uint16_t)(max - min + 1));
          if (q[3] == 2 && min == 0 && max == 0xff) bus = true;
          if (q[3] == 1 && min == 0 && max == 0xcf7) io_low = true;
          if (q[3] == 1 && min == PCI_IO_BASE && max == 0xffff) io_high = true;
          q += 3 + rd16(q + 1);
        } else if (q[0] == 0x87) {                /* DWord address space */
          CHECK_EQ(rd16(q + 1), 23);
          if (q[3] == 0 && rd32(q + 10) == PCI_MMIO32_BASE && rd32(q + 14) == PCI_MMIO32_END - 1 &&
              rd32(q + 22) == PCI_MMIO32_END - PCI_MMIO32_BASE)
            mmio = true;
          q += 3 + rd16(q + 1);
        } else {
          test_fail(__FILE__, __LINE__, "unexpected resource descriptor %#x", q[0]);
          break;
        }
      }
      CHECK(q == pend);                           /* the end tag ends the buffer */
    }
    CHECK(bus && cf8 && io_low && io_high && mmio && end_tag);
  }

  /* _PRT: 31 slots x 4 pins, each Package { 0xSSSSFFFF, pin, 0, GSI } */
  if ((p = find_name("\\_SB_.PCI0._PRT"))) {
    CHECK_EQ(p[0], 0x12);
    q = pkglen(p + 1, gpa(dsdt) + len, &pend);
    if (q) {
      unsigned count = *q++, ok = 0;
      CHECK_EQ(count, 124);
      for (unsigned i = 0; i < count && q; i++) {
        const uint8_t *e, *eend;
        e = pkglen(q + 1, pend, &eend);
        if (!e) break;
        uint64_t addr, pin, src, gsi;
        const uint8_t *f = e + 1;
        addr = aml_int(f); f = data_object(f, eend);
        pin = aml_int(f); f = data_object(f, eend);
        src = aml_int(f); f = data_object(f, eend);
        gsi = aml_int(f);
        if ((addr & 0xffff) == 0xffff && pin < 4 && src == 0 &&
            gsi == pci__intx_gsi((unsigned)(addr >> 16), (unsigned)pin) && gsi >= 16 && gsi < 24)
          ok++;
        q = eend;
      }
      CHECK_EQ(ok, 124);
    }
  }

  /* processor devices, _UID = the MADT's processor UID */
  for (int i = 0; i < NCPUS; i++) {
    snprintf(path, sizeof(path), "\\_SB_.C%03X._UID", i);
    if ((p = find_name(path))) CHECK_EQ(aml_int(p), (uint64_t)i);
    snprintf(path, sizeof(path), "\\_SB_.C%03X._HID", i);
    if ((p = find_name(path))) CHECK(memcmp(p, "\x0d" "ACPI0007", 10) == 0);
  }
}

static void check_fadt(uint64_t fadt)
{
  uint32_t len = check_table(fadt, "FACP");
  const uint8_t *t = gpa(fadt);
  uint64_t facs, dsdt;
  if (!len) return;
  CHECK_EQ(len, 276);
  CHECK_EQ(t[8], 6);
  CHECK_EQ(rd16(t + 46), 9);                      /* SCI_INT */
  CHECK_EQ(rd32(t + 48), 0);                      /* SMI_CMD: no SMI, always ACPI mode */
  CHECK_EQ(rd32(t + 56), ACPI_PM1_EVT_PORT);
  CHECK_EQ(rd32(t + 64), ACPI_PM1_CNT_PORT);
  CHECK_EQ(rd32(t + 76), ACPI_PM_TMR_PORT);
  CHECK_EQ(t[88], 4);
  CHECK_EQ(t[89], 2);
  CHECK_EQ(t[91], 4);
  CHECK_EQ(t[108], 0x32);                         /* CENTURY */
  CHECK_EQ(rd16(t + 109) & 0x3, 0x3);             /* legacy devices, 8042 */
  CHECK(rd32(t + 112) & (1u << 8));               /* TMR_VAL_EXT */
  CHECK(rd32(t + 112) & (1u << 10));              /* RESET_REG_SUP */
  CHECK(!(rd32(t + 112) & (1u << 20)));           /* not HW_REDUCED */
  CHECK_EQ(t[116], 1);                            /* RESET_REG: system I/O */
  CHECK_EQ(t[117], 8);
  CHECK_EQ(rd64(t + 120), 0xcf9);
  CHECK_EQ(t[128], 0x06);                         /* RESET_VALUE */
  /* X_ blocks agree with the 32-bit ones */
  CHECK_EQ(t[148], 1); CHECK_EQ(t[149], 32); CHECK_EQ(rd64(t + 152), ACPI_PM1_EVT_PORT);
  CHECK_EQ(t[172], 1); CHECK_EQ(t[173], 16); CHECK_EQ(rd64(t + 176), ACPI_PM1_CNT_PORT);
  CHECK_EQ(t[208], 1); CHECK_EQ(t[209], 32); CHECK_EQ(rd64(t + 212), ACPI_PM_TMR_PORT);

  facs = rd32(t + 36);
  CHECK_EQ(rd64(t + 132), facs);
  CHECK_EQ(facs % 64, 0);
  CHECK(memcmp(gpa(facs), "FACS", 4) == 0);
  CHECK_EQ(rd32(gpa(facs) + 4), 64);
  dsdt = rd32(t + 40);
  CHECK_EQ(rd64(t + 140), dsdt);
  check_dsdt(dsdt);
}

static void check_madt(uint64_t madt)
{
  uint32_t len = check_table(madt, "APIC");
  const uint8_t *t = gpa(madt), *e;
  int lapics = 0, ioapics = 0, overrides = 0, nmis = 0;
  if (!len) return;
  CHECK_EQ(rd32(t + 36), 0xfee00000);
  CHECK_EQ(rd32(t + 40), 1);                      /* PCAT_COMPAT */
  for (e = t + 44; e < t + len; e += e[1]) {
    if (e[1] < 2 || e + e[1] > t + len) {
      test_fail(__FILE__, __LINE__, "MADT entry of length %u", e[1]);
      break;
    }
    switch (e[0]) {
    case 0:
      CHECK_EQ(e[1], 8);
      CHECK_EQ(e[2], lapics);                     /* processor UID */
      CHECK_EQ(e[3], lapics);                     /* APIC ID = CPU index */
      CHECK_EQ(rd32(e + 4) & 1, 1);
      lapics++;
      break;
    case 1:
      CHECK_EQ(e[1], 12);
      CHECK_EQ(e[2], NCPUS);
      CHECK_EQ(rd32(e + 4), 0xfec00000);
      CHECK_EQ(rd32(e + 8), 0);
      ioapics++;
      break;
    case 2:
      CHECK_EQ(e[1], 10);
      CHECK_EQ(e[2], 0);
      CHECK_EQ(e[3], 9);                          /* only the SCI, never IRQ 0 */
      CHECK_EQ(rd32(e + 4), 9);
      CHECK_EQ(rd16(e + 8), 0x000d);              /* level, active-high */
      overrides++;
      break;
    case 4:
      CHECK_EQ(e[1], 6);
      CHECK_EQ(e[2], 0xff);
      CHECK_EQ(e[5], 1);                          /* LINT1 */
      nmis++;
      break;
    default:
      test_fail(__FILE__, __LINE__, "unexpected MADT entry type %u", e[0]);
    }
  }
  CHECK(e == t + len);
  CHECK_EQ(lapics, NCPUS);
  CHECK_EQ(ioapics, 1);
  CHECK_EQ(overrides, 1);
  CHECK_EQ(nmis, 1);
}

static void test_tables(void)
{
  uint64_t rsdp = 0, found = 0, rsdt, xsdt;
  uint32_t len;
  const uint8_t *r;
  bool fadt = false, madt = false;

  CHECK_EQ(acpi__build(&vm, NCPUS, &rsdp), 0);
  /* Linux's scan: "RSD PTR " on a 16-byte boundary in 0xe0000..0xfffff, checksum right */
  for (uint64_t a = ACPI_TABLES_BASE; a < ACPI_TABLES_END && !found; a += 16)
    if (memcmp(gpa(a), "RSD PTR ", 8) == 0 && sum(gpa(a), 20) == 0) found = a;
  CHECK_EQ(found, rsdp);
  CHECK_EQ(rsdp % 16, 0);
  r = gpa(rsdp);
  CHECK_EQ(r[15], 2);
  CHECK_EQ(rd32(r + 20), 36);
  CHECK_EQ(sum(r, 20), 0);
  CHECK_EQ(sum(r, 36), 0);

  rsdt = rd32(r + 16);
  xsdt = rd64(r + 24);
  len = check_table(rsdt, "RSDT");
  CHECK_EQ(len, 36 + 2 * 4);
  len = check_table(xsdt, "XSDT");
  CHECK_EQ(len, 36 + 2 * 8);
  for (uint32_t i = 0; len && i < (len - 36) / 8; i++) {
    uint64_t t = rd64(gpa(xsdt) + 36 + 8 * i);
    CHECK_EQ(t, rd32(gpa(rsdt) + 36 + 4 * i));    /* the RSDT lists the same tables */
    if (memcmp(gpa(t), "FACP", 4) == 0) { fadt = true; check_fadt(t); }
    else if (memcmp(gpa(t), "APIC", 4) == 0) { madt = true; check_madt(t); }
    else test_fail(__FILE__, __LINE__, "unexpected table %.4s", (const char *)gpa(t));
  }
  CHECK(fadt && madt);

  /* bad arguments */
  CHECK_EQ(acpi__build(&vm, 0, &rsdp), -1);
  CHECK_EQ(acpi__build(&vm, ACPI_MAX_CPUS + 1, &rsdp), -1);
  CHECK_EQ(acpi__build(&vm, ACPI_MAX_CPUS, &rsdp), 0);     /* the most CPUs still fit */
  vm.ram_size = 0xf0000;
  CHECK_EQ(acpi__build(&vm, 1, &rsdp), -1);                /* RAM ends inside the area */
  vm.ram_size = 2 << 20;
}

/* PkgLength: 1 byte up to 63, then 2 bytes up to 0xfff, 3 up to 0xfffff (counting itself). */
static void test_pkglen(void)
{
  static const size_t contents[] = { 2, 62, 63, 0xffd, 0xffe, 0xffffc, 0xffffd };
  static const size_t bytes[] = { 1, 1, 2, 2, 3, 3, 4 };
  for (size_t i = 0; i < sizeof(contents) / sizeof(contents[0]); i++) {
    struct aml a;
    const uint8_t *pend, *q;
    size_t mark;
    aml__init(&a);
    mark = aml__scope_open(&a, "\\");
    for (size_t j = 2; j < contents[i]; j++) aml__byte(&a, 0);   /* "\" is 2 bytes: \ NullName */
    aml__close(&a, mark);
    CHECK(!a.failed);
    CHECK_EQ(a.len, 1 + bytes[i] + contents[i]);
    aml_base = a.buf;
    q = pkglen(a.buf + 1, a.buf + a.len, &pend);
    CHECK(q == a.buf + 1 + bytes[i]);
    CHECK(pend == a.buf + a.len);
    aml__free(&a);
  }
  {
    struct aml a;
    aml__init(&a);
    aml__name_string(&a, "\\_SB.PCI0.ABCDE");          /* a segment longer than 4 */
    CHECK(a.failed);
    aml__free(&a);
    aml__init(&a);
    aml__eisaid(&a, "pnp0a03");
    CHECK(a.failed);
    aml__free(&a);
  }
}

int main(void)
{
  vm.ram_size = 2 << 20;
  vm.ram = calloc(1, vm.ram_size);
  test_tables();
  test_pkglen();
  free(vm.ram);
  return test_summary();
}
