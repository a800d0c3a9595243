/* i8042 PS/2 controller at ports 0x60 (data) and 0x64 (status/command), with no keyboard and
 * no mouse attached: enough for Linux's i8042 driver to probe it quickly, and the reset line
 * (command 0xfe) that reboots a PC. */
#ifndef SKVM_VMM_HW_I8042_H
#define SKVM_VMM_HW_I8042_H

#include <stdint.h>

#include "vmm/irq.h"

struct iobus;
struct vm_stop;
struct i8042;

#define I8042_DATA_PORT 0x60
#define I8042_CMD_PORT 0x64
#define I8042_KBD_IRQ 1
#define I8042_AUX_IRQ 12

/* Status register bits */
#define I8042_STR_OBF 0x01
#define I8042_STR_SYS 0x04
#define I8042_STR_CMDDAT 0x08
#define I8042_STR_KEYLOCK 0x10		/* 1 = keyboard not inhibited */
#define I8042_STR_AUXDATA 0x20
#define I8042_STR_TIMEOUT 0x40

/* Controller commands */
#define I8042_CMD_READ_CTR 0x20
#define I8042_CMD_WRITE_CTR 0x60
#define I8042_CMD_AUX_DISABLE 0xa7
#define I8042_CMD_AUX_ENABLE 0xa8
#define I8042_CMD_AUX_TEST 0xa9
#define I8042_CMD_SELF_TEST 0xaa
#define I8042_CMD_KBD_TEST 0xab
#define I8042_CMD_KBD_DISABLE 0xad
#define I8042_CMD_KBD_ENABLE 0xae
#define I8042_CMD_READ_OUTPUT 0xd0
#define I8042_CMD_WRITE_OUTPUT 0xd1
#define I8042_CMD_WRITE_KBD_OBUF 0xd2
#define I8042_CMD_WRITE_AUX_OBUF 0xd3
#define I8042_CMD_WRITE_AUX 0xd4
#define I8042_CMD_PULSE_RESET 0xfe

/* Controller command byte (CTR) bits */
#define I8042_CTR_KBDINT 0x01
#define I8042_CTR_AUXINT 0x02
#define I8042_CTR_SYS 0x04
#define I8042_CTR_KBDDIS 0x10
#define I8042_CTR_AUXDIS 0x20
#define I8042_CTR_XLATE 0x40

#define I8042_SELF_TEST_OK 0x55
#define I8042_NO_DEVICE 0xfe		/* what a byte sent to an absent device gets back */

/* kbd_irq and aux_irq: IRQ 1 and 12 (copied). A reset request goes to stop. */
struct i8042 *i8042__create(struct iobus *pio, struct vm_stop *stop,
			    const struct irq_line *kbd_irq, const struct irq_line *aux_irq);
void i8042__destroy(struct i8042 *k, struct iobus *pio);

#endif
