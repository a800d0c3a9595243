/* SSSE3/SSE4 host support (exec_sse4.c) and the XSAVE-managed state (exec_xsave.c, with the FXSAVE
 * image shared with exec_sse_mem.c). */
#ifndef SKVM_XSTATE_H
#define SKVM_XSTATE_H

#include "sse.h"

enum { FEAT_SSSE3 = 1, FEAT_SSE41, FEAT_SSE42 };
/* The host CPU executes this extension (the engine host-executes it; CPUID offers it only then). */
bool x86_host_has_sse4(int feat);

#define XCR0_X87 1ULL
#define XCR0_SSE 2ULL
#define XCR0_SUPPORTED (XCR0_X87 | XCR0_SSE)
#define XSAVE_SIZE 576        /* legacy region + header: the standard format for XCR0 <= 3 */

/* The first 416 bytes of the FXSAVE legacy area (x87 part, MXCSR, MXCSR_MASK, XMM0-15). */
void fx_image(struct x86_cpu *cpu, uint8_t a[416]);
/* The x87 part of an FXSAVE image (bytes 0-23 and 32-159) into the x87 state. */
void fx_load_x87(struct x86_cpu *cpu, const uint8_t *a);

#endif
