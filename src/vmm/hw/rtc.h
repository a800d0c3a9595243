/* MC146818-style CMOS RTC at ports 0x70 (index) and 0x71 (data), showing the host's UTC time. */
#ifndef SKVM_VMM_HW_RTC_H
#define SKVM_VMM_HW_RTC_H

#include <stdint.h>

struct iobus;
struct rtc;

#define RTC_INDEX_PORT 0x70
#define RTC_DATA_PORT 0x71

/* CMOS registers */
#define RTC_SECONDS 0x00
#define RTC_MINUTES 0x02
#define RTC_HOURS 0x04
#define RTC_DAY_OF_WEEK 0x06
#define RTC_DAY_OF_MONTH 0x07
#define RTC_MONTH 0x08
#define RTC_YEAR 0x09
#define RTC_REG_A 0x0a
#define RTC_REG_B 0x0b
#define RTC_REG_C 0x0c
#define RTC_REG_D 0x0d
#define RTC_CENTURY 0x32

#define RTC_REG_A_UIP 0x80
#define RTC_REG_B_SET 0x80
#define RTC_REG_B_DM_BINARY 0x04
#define RTC_REG_B_24H 0x02
#define RTC_REG_D_VRT 0x80

struct rtc *rtc__create(struct iobus *pio);
void rtc__destroy(struct rtc *rtc, struct iobus *pio);

#endif
