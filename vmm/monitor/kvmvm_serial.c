// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * kvmvm_serial.c - the guest's console: a 16550A-compatible UART at 0x3f8
 * on IRQ 4, enough for Linux's 8250 driver (probe, console, tty with
 * interrupts): divisor latch, FIFO control, loopback (the driver's probe
 * checks MSR in loopback), and the receive-data and transmitter-empty
 * interrupts. Output goes to v->serial at once (transmission is instant);
 * input comes from a file descriptor through kvmvm_serial_input().
 *
 * The interrupt line is level-driven through KVM_IRQ_LINE: raised while
 * an enabled condition is pending, lowered when none is, as the 8250's
 * INTR pin behaves (see Linux drivers/tty/serial/8250/8250_port.c,
 * serial8250_handle_irq(), which reads IIR until "no interrupt").
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <poll.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "kvmvm.h"

/* Register offsets and bits (include/uapi/linux/serial_reg.h). */
#define UART_RX 0
#define UART_IER 1
#define UART_IIR 2
#define UART_LCR 3
#define UART_MCR 4
#define UART_LSR 5
#define UART_MSR 6
#define UART_SCR 7
#define IER_RDI 0x01
#define IER_THRI 0x02
#define IER_RLSI 0x04
#define IER_MSI 0x08
#define IIR_NO_INT 0x01
#define IIR_MSI 0x00
#define IIR_THRI 0x02
#define IIR_RDI 0x04
#define IIR_FIFO 0xc0
#define FCR_ENABLE 0x01
#define FCR_CLEAR_RX 0x02
#define LCR_DLAB 0x80
#define MCR_DTR 0x01
#define MCR_RTS 0x02
#define MCR_OUT1 0x04
#define MCR_OUT2 0x08
#define MCR_LOOP 0x10
#define LSR_DR 0x01
#define LSR_THRE 0x20
#define LSR_TEMT 0x40
#define MSR_CTS 0x10
#define MSR_DSR 0x20
#define MSR_RI 0x40
#define MSR_DCD 0x80

void kvmvm_serial_init(struct kvmvm *v)
{
	struct kvmvm_serial *u = &v->uart;

	pthread_mutex_init(&u->mu, NULL);
	u->iir = IIR_NO_INT;
	u->lsr = LSR_THRE | LSR_TEMT;
	u->msr = MSR_DCD | MSR_DSR | MSR_CTS;
	u->mcr = MCR_OUT2;
}

/* Recompute IIR and drive the IRQ line. Called with u->mu held. */
static void update(struct kvmvm *v)
{
	struct kvmvm_serial *u = &v->uart;
	uint8_t iir = IIR_NO_INT;
	bool level;

	if ((u->ier & IER_RDI) && (u->lsr & LSR_DR))
		iir = IIR_RDI;
	else if ((u->ier & IER_THRI) && u->thr_ipending)
		iir = IIR_THRI;
	else if ((u->ier & IER_MSI) && (u->msr & 0x0f))
		iir = IIR_MSI;
	if (u->fcr & FCR_ENABLE)
		iir |= IIR_FIFO;
	u->iir = iir;
	level = !(iir & IIR_NO_INT);
	if (v->linux_pc && level != u->irq_level) {
		struct kvm_irq_level l = { .irq = KVMVM_SERIAL_IRQ, .level = level };

		/* Cannot fail on a VM with an irqchip; nothing to do if so. */
		ioctl(v->vm, KVM_IRQ_LINE, &l);
		u->irq_level = level;
	}
}

static void rx_push(struct kvmvm_serial *u, uint8_t b)
{
	if (u->rx_len == KVMVM_SERIAL_FIFO)
		return;	/* overrun: the byte is lost, as on hardware */
	u->rx[(u->rx_head + u->rx_len) % KVMVM_SERIAL_FIFO] = b;
	u->rx_len++;
	u->lsr |= LSR_DR;
}

/* In loopback mode the modem outputs appear on the modem inputs. */
static uint8_t msr_value(const struct kvmvm_serial *u)
{
	uint8_t m = 0;

	if (!(u->mcr & MCR_LOOP))
		return u->msr;
	if (u->mcr & MCR_RTS)
		m |= MSR_CTS;
	if (u->mcr & MCR_DTR)
		m |= MSR_DSR;
	if (u->mcr & MCR_OUT1)
		m |= MSR_RI;
	if (u->mcr & MCR_OUT2)
		m |= MSR_DCD;
	return m;
}

void kvmvm_serial_io(struct kvmvm *v, uint16_t port, bool out, uint8_t *data)
{
	struct kvmvm_serial *u = &v->uart;
	unsigned reg = port - KVMVM_SERIAL_PORT;
	bool dlab;

	pthread_mutex_lock(&u->mu);
	dlab = u->lcr & LCR_DLAB;
	if (out) {
		uint8_t b = *data;

		switch (reg) {
		case UART_RX:
			if (dlab) {
				u->dll = b;
			} else if (u->mcr & MCR_LOOP) {
				rx_push(u, b);
				u->thr_ipending = true;
			} else {
				fputc(b, v->serial);
				fflush(v->serial);
				u->thr_ipending = true;	/* sent at once */
			}
			break;
		case UART_IER:
			if (dlab) {
				u->dlm = b;
			} else {
				/* Enabling THRI with the holding register empty
				 * raises it at once (the driver's probe for the
				 * THRE bug relies on this). */
				if (!(u->ier & IER_THRI) && (b & IER_THRI))
					u->thr_ipending = true;
				u->ier = b & 0x0f;
			}
			break;
		case UART_IIR:	/* FCR */
			u->fcr = b & 0xc9;
			if (b & FCR_CLEAR_RX) {
				u->rx_len = 0;
				u->lsr &= (uint8_t)~LSR_DR;
			}
			break;
		case UART_LCR:
			u->lcr = b;
			break;
		case UART_MCR:
			u->mcr = b & 0x1f;
			break;
		case UART_SCR:
			u->scr = b;
			break;
		default:	/* LSR, MSR: read only */
			break;
		}
	} else {
		uint8_t b = 0;

		switch (reg) {
		case UART_RX:
			if (dlab) {
				b = u->dll;
			} else if (u->rx_len) {
				b = u->rx[u->rx_head];
				u->rx_head = (u->rx_head + 1) % KVMVM_SERIAL_FIFO;
				if (!--u->rx_len)
					u->lsr &= (uint8_t)~LSR_DR;
			}
			break;
		case UART_IER:
			b = dlab ? u->dlm : u->ier;
			break;
		case UART_IIR:
			if (u->lcr == 0xbf) {
				b = 0;	/* EFR of a 16650: not one */
				break;
			}
			b = u->iir;
			/* Reading IIR acknowledges a THRE interrupt. */
			if ((b & 0x0f) == IIR_THRI)
				u->thr_ipending = false;
			break;
		case UART_LCR:
			b = u->lcr;
			break;
		case UART_MCR:
			b = u->mcr;
			break;
		case UART_LSR:
			b = u->lsr;
			break;
		case UART_MSR:
			b = msr_value(u);
			break;
		case UART_SCR:
			b = u->scr;
			break;
		}
		*data = b;
	}
	update(v);
	pthread_mutex_unlock(&u->mu);
}

size_t kvmvm_serial_rx(struct kvmvm *v, const uint8_t *buf, size_t len)
{
	struct kvmvm_serial *u = &v->uart;
	size_t n = 0;

	pthread_mutex_lock(&u->mu);
	while (n < len && u->rx_len < KVMVM_SERIAL_FIFO)
		rx_push(u, buf[n++]);
	if (n)
		update(v);
	pthread_mutex_unlock(&u->mu);
	return n;
}

static void *input_thread(void *arg)
{
	struct kvmvm *v = arg;
	uint8_t buf[256];

	for (;;) {
		struct pollfd p[2] = {
			{ .fd = v->input_fd, .events = POLLIN },
			{ .fd = v->input_pipe[0], .events = POLLIN },
		};
		ssize_t n;
		size_t done = 0;

		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return NULL;
		}
		if (p[1].revents)
			return NULL;	/* the VM is going away */
		n = read(v->input_fd, buf, sizeof(buf));
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0)
			return NULL;	/* EOF: the guest just gets no more input */
		/* The guest drains the FIFO at its own pace: wait for room
		 * rather than drop what the user typed. */
		while (done < (size_t)n) {
			done += kvmvm_serial_rx(v, buf + done, (size_t)n - done);
			if (done < (size_t)n) {
				if (poll(&p[1], 1, 1) > 0)
					return NULL;
			}
		}
	}
}

struct gp_error *kvmvm_serial_input(struct kvmvm *v, int fd)
{
	int rc;

	if (v->input_started)
		return gp_error_create(GP_ERR_INVAL, "serial input already connected");
	if (pipe2(v->input_pipe, O_CLOEXEC) < 0)
		return gp_error_os(errno, "pipe");
	v->input_fd = fd;
	rc = pthread_create(&v->input_thread, NULL, input_thread, v);
	if (rc) {
		close(v->input_pipe[0]);
		close(v->input_pipe[1]);
		return gp_error_os(rc, "serial input thread");
	}
	v->input_started = true;
	return NULL;
}
