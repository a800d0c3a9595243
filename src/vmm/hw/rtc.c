/* CMOS RTC: 128 bytes of CMOS, the time registers computed from the host's CLOCK_REALTIME (UTC)
 * plus an offset the guest sets by writing them.
 *
 * Index port 0x70: bits 6:0 select the register, bit 7 (NMI mask) is ignored. Time registers are
 * BCD or binary as status B bit 2 says (BCD by default, like a PC), 24-hour unless status B
 * bit 1 is clear (then hours are 1..12 with bit 7 = PM). Reading the seconds latches the whole
 * date and time, and later registers come from that latch (re-latched after a second), so a
 * guest reading seconds first never sees a torn value. Status A's UIP bit is set during the
 * last 244 us of each second, as on the MC146818; status B's SET bit freezes the registers so
 * the guest can write a new time, taken when SET is cleared. Status C (interrupt flags) reads 0:
 * no RTC interrupts. Status D reads VRT (valid RAM and time). Register 0x32 is the century. */
#include "vmm/hw/rtc.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vmm/iobus.h"
#include "vmm/util.h"

#define RTC_CMOS_SIZE 128
#define RTC_UIP_NS 244000		/* UIP leads the update by 244 us */
#define RTC_LATCH_NS 1000000000ULL	/* a latched time is re-read after this */
#define RTC_REG_A_DEFAULT 0x26		/* 32.768 kHz time base, 1024 Hz periodic rate */

struct rtc {
	uint8_t index;
	uint8_t cmos[RTC_CMOS_SIZE];
	int64_t offset;			/* guest time minus host time, seconds */
	struct tm latch;		/* guest time latched at latch_ns */
	uint64_t latch_ns;		/* CLOCK_MONOTONIC ns; 0 when nothing is latched */
};

static const uint8_t rtc__time_regs[] = {
	RTC_SECONDS, RTC_MINUTES, RTC_HOURS, RTC_DAY_OF_WEEK, RTC_DAY_OF_MONTH, RTC_MONTH,
	RTC_YEAR, RTC_CENTURY,
};

static bool rtc__is_time_reg(uint8_t reg)
{
	size_t i;

	for (i = 0; i < sizeof(rtc__time_regs); i++)
		if (rtc__time_regs[i] == reg)
			return true;
	return false;
}

static void rtc__latch(struct rtc *rtc)
{
	struct timespec ts;
	time_t t;

	clock_gettime(CLOCK_REALTIME, &ts);
	t = (time_t)(ts.tv_sec + rtc->offset);
	gmtime_r(&t, &rtc->latch);
	rtc->latch_ns = util__mono_ns();
}

static bool rtc__binary(const struct rtc *rtc)
{
	return rtc->cmos[RTC_REG_B] & RTC_REG_B_DM_BINARY;
}

static uint8_t rtc__encode(const struct rtc *rtc, unsigned v)
{
	return rtc__binary(rtc) ? (uint8_t)v : (uint8_t)((v / 10) << 4 | (v % 10));
}

static unsigned rtc__decode(const struct rtc *rtc, uint8_t v)
{
	return rtc__binary(rtc) ? v : (v >> 4) * 10 + (v & 0x0f);
}

/* The register as the clock shows it for the broken-down time tm. */
static uint8_t rtc__time_reg(const struct rtc *rtc, const struct tm *tm, uint8_t reg)
{
	unsigned h;

	switch (reg) {
	case RTC_SECONDS:
		return rtc__encode(rtc, tm->tm_sec > 59 ? 59 : tm->tm_sec);
	case RTC_MINUTES:
		return rtc__encode(rtc, tm->tm_min);
	case RTC_HOURS:
		if (rtc->cmos[RTC_REG_B] & RTC_REG_B_24H)
			return rtc__encode(rtc, tm->tm_hour);
		h = tm->tm_hour % 12 ? tm->tm_hour % 12 : 12;
		return rtc__encode(rtc, h) | (tm->tm_hour >= 12 ? 0x80 : 0);
	case RTC_DAY_OF_WEEK:
		return rtc__encode(rtc, tm->tm_wday + 1);
	case RTC_DAY_OF_MONTH:
		return rtc__encode(rtc, tm->tm_mday);
	case RTC_MONTH:
		return rtc__encode(rtc, tm->tm_mon + 1);
	case RTC_YEAR:
		return rtc__encode(rtc, (tm->tm_year + 1900) % 100);
	case RTC_CENTURY:
		return rtc__encode(rtc, (tm->tm_year + 1900) / 100);
	default:
		return 0;
	}
}

/* Freezes the current time into the CMOS bytes (status B SET, or before a partial write). */
static void rtc__freeze(struct rtc *rtc)
{
	size_t i;

	rtc__latch(rtc);
	for (i = 0; i < sizeof(rtc__time_regs); i++)
		rtc->cmos[rtc__time_regs[i]] = rtc__time_reg(rtc, &rtc->latch, rtc__time_regs[i]);
}

/* Takes the time in the CMOS bytes as the new guest time. */
static void rtc__commit(struct rtc *rtc)
{
	struct timespec ts;
	struct tm tm;
	uint8_t hr = rtc->cmos[RTC_HOURS];
	unsigned hour;
	time_t t;

	memset(&tm, 0, sizeof(tm));
	tm.tm_sec = (int)rtc__decode(rtc, rtc->cmos[RTC_SECONDS]);
	tm.tm_min = (int)rtc__decode(rtc, rtc->cmos[RTC_MINUTES]);
	if (rtc->cmos[RTC_REG_B] & RTC_REG_B_24H) {
		hour = rtc__decode(rtc, hr);
	} else {
		hour = rtc__decode(rtc, hr & 0x7f) % 12;
		if (hr & 0x80)
			hour += 12;
	}
	tm.tm_hour = (int)hour;
	tm.tm_mday = (int)rtc__decode(rtc, rtc->cmos[RTC_DAY_OF_MONTH]);
	tm.tm_mon = (int)rtc__decode(rtc, rtc->cmos[RTC_MONTH]) - 1;
	tm.tm_year = (int)(rtc__decode(rtc, rtc->cmos[RTC_CENTURY]) * 100 +
			   rtc__decode(rtc, rtc->cmos[RTC_YEAR])) - 1900;
	t = timegm(&tm);
	clock_gettime(CLOCK_REALTIME, &ts);
	rtc->offset = (int64_t)t - (int64_t)ts.tv_sec;
	rtc->latch_ns = 0;
}

static uint8_t rtc__read(struct rtc *rtc, uint8_t reg)
{
	struct timespec ts;
	uint8_t v;

	if (rtc__is_time_reg(reg)) {
		if (rtc->cmos[RTC_REG_B] & RTC_REG_B_SET)
			return rtc->cmos[reg];
		if (reg == RTC_SECONDS || !rtc->latch_ns ||
		    util__mono_ns() - rtc->latch_ns >= RTC_LATCH_NS)
			rtc__latch(rtc);
		return rtc__time_reg(rtc, &rtc->latch, reg);
	}
	switch (reg) {
	case RTC_REG_A:
		v = rtc->cmos[RTC_REG_A] & ~RTC_REG_A_UIP;
		clock_gettime(CLOCK_REALTIME, &ts);
		if (!(rtc->cmos[RTC_REG_B] & RTC_REG_B_SET) &&
		    ts.tv_nsec >= 1000000000L - RTC_UIP_NS)
			v |= RTC_REG_A_UIP;
		return v;
	case RTC_REG_C:
		return 0;
	case RTC_REG_D:
		return RTC_REG_D_VRT;
	default:
		return rtc->cmos[reg];
	}
}

static void rtc__write(struct rtc *rtc, uint8_t reg, uint8_t v)
{
	bool set = rtc->cmos[RTC_REG_B] & RTC_REG_B_SET;

	if (rtc__is_time_reg(reg)) {
		if (!set)
			rtc__freeze(rtc);
		rtc->cmos[reg] = v;
		if (!set)
			rtc__commit(rtc);
		return;
	}
	switch (reg) {
	case RTC_REG_A:
		rtc->cmos[RTC_REG_A] = v & ~RTC_REG_A_UIP;
		break;
	case RTC_REG_B:
		/* freeze and commit in the format the time bytes were written in */
		if (!set && (v & RTC_REG_B_SET))
			rtc__freeze(rtc);
		else if (set && !(v & RTC_REG_B_SET))
			rtc__commit(rtc);
		rtc->cmos[RTC_REG_B] = v;
		break;
	case RTC_REG_C:
	case RTC_REG_D:
		break;		/* read-only */
	default:
		rtc->cmos[reg] = v;
		break;
	}
}

static void rtc__io(void *dev, uint64_t addr, uint8_t *data, uint32_t len, bool is_write)
{
	struct rtc *rtc = dev;

	if (addr == RTC_INDEX_PORT) {
		if (is_write)
			rtc->index = data[0] & 0x7f;
		else
			memset(data, 0xff, len);	/* the index register is write-only */
		return;
	}
	if (is_write)
		rtc__write(rtc, rtc->index, data[0]);
	else
		memset(data, rtc__read(rtc, rtc->index), len);
}

struct rtc *rtc__create(struct iobus *pio)
{
	struct rtc *rtc = calloc(1, sizeof(*rtc));

	if (!rtc)
		return NULL;
	rtc->cmos[RTC_REG_A] = RTC_REG_A_DEFAULT;
	rtc->cmos[RTC_REG_B] = RTC_REG_B_24H;
	rtc->cmos[RTC_REG_D] = RTC_REG_D_VRT;
	if (iobus__register(pio, RTC_INDEX_PORT, 2, rtc__io, rtc) < 0) {
		free(rtc);
		return NULL;
	}
	return rtc;
}

void rtc__destroy(struct rtc *rtc, struct iobus *pio)
{
	if (!rtc)
		return;
	iobus__unregister(pio, RTC_INDEX_PORT);
	free(rtc);
}
