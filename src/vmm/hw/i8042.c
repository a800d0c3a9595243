/* i8042 PS/2 controller with both ports empty.
 *
 * The controller answers its own commands (self-test 0x55, interface tests 0x00, command byte
 * read/write, port enable/disable, output port, loopback writes into its output buffer).
 * A byte sent to the keyboard (a data write with no command pending) or to the mouse (0xd4)
 * gets 0xfe back with the status TIMEOUT bit, which is how a controller reports an absent
 * device; Linux's atkbd/psmouse give up at once instead of waiting for timeouts.
 *
 * The output buffer is a short queue; while its head byte waits, IRQ 1 (keyboard byte) or
 * IRQ 12 (mouse byte) is raised when the command byte enables that interrupt, and lowered when
 * the guest reads port 0x60 (so each byte makes a new edge).
 *
 * Pulsing the reset line (command 0xf0..0xff with bit 0 clear, 0xfe in practice) or writing
 * the output port with bit 0 clear requests a reset. */
#include "vmm/hw/i8042.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/iobus.h"
#include "vmm/vm.h"

#define I8042_QUEUE 8
#define I8042_CTR_DEFAULT (I8042_CTR_KBDINT | I8042_CTR_AUXINT | I8042_CTR_SYS | I8042_CTR_XLATE)
#define I8042_OUTPORT_RESET 0x01	/* 0 = CPU reset asserted */
#define I8042_OUTPORT_A20 0x02
#define I8042_OUTPORT_DEFAULT (I8042_OUTPORT_RESET | I8042_OUTPORT_A20)

/* Flags of a queued byte: which port it came from, and the status bits it shows. */
#define I8042_BYTE_AUX I8042_STR_AUXDATA
#define I8042_BYTE_TIMEOUT I8042_STR_TIMEOUT

struct i8042 {
	struct vm_stop *stop;
	struct irq_line kbd_irq, aux_irq;
	uint8_t ctr;
	uint8_t outport;
	uint8_t pending;		/* command waiting for its data byte, or 0 */
	bool last_was_cmd;		/* status CMDDAT: last write went to port 0x64 */
	uint8_t last_data;		/* port 0x60 reads this when the queue is empty */
	struct {
		uint8_t data;
		uint8_t flags;
	} queue[I8042_QUEUE];
	unsigned head, count;
};

static void i8042__update_irq(struct i8042 *k)
{
	int kbd = 0, aux = 0;

	if (k->count) {
		if (k->queue[k->head].flags & I8042_BYTE_AUX)
			aux = !!(k->ctr & I8042_CTR_AUXINT);
		else
			kbd = !!(k->ctr & I8042_CTR_KBDINT);
	}
	irq_line__set(&k->kbd_irq, kbd);
	irq_line__set(&k->aux_irq, aux);
}

static void i8042__push(struct i8042 *k, uint8_t data, uint8_t flags)
{
	if (k->count == I8042_QUEUE)
		return;		/* a real controller would have held it in the device */
	k->queue[(k->head + k->count) % I8042_QUEUE].data = data;
	k->queue[(k->head + k->count) % I8042_QUEUE].flags = flags;
	k->count++;
	i8042__update_irq(k);
}

static uint8_t i8042__read_data(struct i8042 *k)
{
	if (k->count) {
		k->last_data = k->queue[k->head].data;
		k->head = (k->head + 1) % I8042_QUEUE;
		k->count--;
		/* drop the line so that a following byte makes a new edge */
		irq_line__set(&k->kbd_irq, 0);
		irq_line__set(&k->aux_irq, 0);
		i8042__update_irq(k);
	}
	return k->last_data;
}

static uint8_t i8042__status(struct i8042 *k)
{
	uint8_t st = I8042_STR_KEYLOCK;

	if (k->count)
		st |= I8042_STR_OBF | k->queue[k->head].flags;
	if (k->ctr & I8042_CTR_SYS)
		st |= I8042_STR_SYS;
	if (k->last_was_cmd)
		st |= I8042_STR_CMDDAT;
	return st;
}

static void i8042__command(struct i8042 *k, uint8_t cmd)
{
	k->pending = 0;
	switch (cmd) {
	case I8042_CMD_READ_CTR:
		i8042__push(k, k->ctr, 0);
		break;
	case I8042_CMD_WRITE_CTR:
	case I8042_CMD_WRITE_OUTPUT:
	case I8042_CMD_WRITE_KBD_OBUF:
	case I8042_CMD_WRITE_AUX_OBUF:
	case I8042_CMD_WRITE_AUX:
		k->pending = cmd;
		break;
	case I8042_CMD_AUX_DISABLE:
		k->ctr |= I8042_CTR_AUXDIS;
		break;
	case I8042_CMD_AUX_ENABLE:
		k->ctr &= ~I8042_CTR_AUXDIS;
		break;
	case I8042_CMD_AUX_TEST:
	case I8042_CMD_KBD_TEST:
		i8042__push(k, 0x00, 0);	/* interface OK */
		break;
	case I8042_CMD_SELF_TEST:
		k->ctr |= I8042_CTR_SYS;
		i8042__push(k, I8042_SELF_TEST_OK, 0);
		break;
	case I8042_CMD_KBD_DISABLE:
		k->ctr |= I8042_CTR_KBDDIS;
		break;
	case I8042_CMD_KBD_ENABLE:
		k->ctr &= ~I8042_CTR_KBDDIS;
		break;
	case I8042_CMD_READ_OUTPUT:
		i8042__push(k, k->outport, 0);
		break;
	case 0xdd:		/* A20 off */
		k->outport &= ~I8042_OUTPORT_A20;
		break;
	case 0xdf:		/* A20 on */
		k->outport |= I8042_OUTPORT_A20;
		break;
	default:
		/* 0xf0..0xff pulse the output lines whose bit (3:0) is clear; line 0 is reset */
		if (cmd >= 0xf0 && !(cmd & 0x01))
			vm_stop__request_reset(k->stop);
		break;		/* other commands are ignored */
	}
}

static void i8042__data(struct i8042 *k, uint8_t v)
{
	uint8_t cmd = k->pending;

	k->pending = 0;
	switch (cmd) {
	case I8042_CMD_WRITE_CTR:
		k->ctr = v;
		i8042__update_irq(k);
		break;
	case I8042_CMD_WRITE_OUTPUT:
		k->outport = v;
		if (!(v & I8042_OUTPORT_RESET))
			vm_stop__request_reset(k->stop);
		break;
	case I8042_CMD_WRITE_KBD_OBUF:
		i8042__push(k, v, 0);
		break;
	case I8042_CMD_WRITE_AUX_OBUF:
		i8042__push(k, v, I8042_BYTE_AUX);
		break;
	case I8042_CMD_WRITE_AUX:
		i8042__push(k, I8042_NO_DEVICE, I8042_BYTE_AUX | I8042_BYTE_TIMEOUT);
		break;
	default:		/* to the keyboard, which is not there */
		i8042__push(k, I8042_NO_DEVICE, I8042_BYTE_TIMEOUT);
		break;
	}
}

static void i8042__io(void *dev, uint64_t addr, uint8_t *data, uint32_t len, bool is_write)
{
	struct i8042 *k = dev;

	if (is_write) {
		k->last_was_cmd = addr == I8042_CMD_PORT;
		if (addr == I8042_CMD_PORT)
			i8042__command(k, data[0]);
		else
			i8042__data(k, data[0]);
		return;
	}
	memset(data, 0xff, len);
	data[0] = addr == I8042_CMD_PORT ? i8042__status(k) : i8042__read_data(k);
}

struct i8042 *i8042__create(struct iobus *pio, struct vm_stop *stop,
			    const struct irq_line *kbd_irq, const struct irq_line *aux_irq)
{
	struct i8042 *k = calloc(1, sizeof(*k));

	if (!k)
		return NULL;
	k->stop = stop;
	k->kbd_irq = *kbd_irq;
	k->aux_irq = *aux_irq;
	k->ctr = I8042_CTR_DEFAULT;
	k->outport = I8042_OUTPORT_DEFAULT;
	if (iobus__register(pio, I8042_DATA_PORT, 1, i8042__io, k) < 0)
		goto fail;
	if (iobus__register(pio, I8042_CMD_PORT, 1, i8042__io, k) < 0) {
		iobus__unregister(pio, I8042_DATA_PORT);
		goto fail;
	}
	return k;
fail:
	free(k);
	return NULL;
}

void i8042__destroy(struct i8042 *k, struct iobus *pio)
{
	if (!k)
		return;
	iobus__unregister(pio, I8042_CMD_PORT);
	iobus__unregister(pio, I8042_DATA_PORT);
	free(k);
}
