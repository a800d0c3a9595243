/* Force-included into the Linux 6.1 KVM selftests build (tools/selftests/build.sh).
 * Debian's 6.1 stable tree backported tests that use helpers its own selftest headers lack;
 * define them only when missing, so the tests' sources stay untouched. */
#ifndef SOFTKVM_SELFTESTS_COMPAT_H
#define SOFTKVM_SELFTESTS_COMPAT_H

#ifndef TEST_ASSERT_EQ
#define TEST_ASSERT_EQ(a, b) \
	TEST_ASSERT((a) == (b), "%s == %s failed: 0x%lx != 0x%lx", #a, #b, \
		    (unsigned long)(a), (unsigned long)(b))
#endif

#ifndef __DECLARE_FLEX_ARRAY
#define __DECLARE_FLEX_ARRAY(TYPE, NAME) \
	struct { struct { } __empty_##NAME; TYPE NAME[]; }
#endif

#endif
