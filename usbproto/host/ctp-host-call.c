/*
 * One request/response exchange on a device (PROTOCOL.md 2.2, 2.3, 3): the OUT
 * transfer with the encoded request, then IN transfers until the frame with
 * the request's id arrives. PROGRESS restarts the timer, stale and invalid
 * transfers are dropped, a resynchronising PING goes first when the device's
 * state is unknown, and the outcome is delivered outside libusb.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "usbproto/host/ctp-host-match.h"
#include "usbproto/host/ctp-host-private.h"

static const char *
type_name(uint8_t type)
{
	return ctp_message_type_to_string(type);
}

static void
format_seconds(unsigned ms, char *buf, size_t size)
{
	if (ms % 1000u == 0)
		snprintf(buf, size, "%u s", ms / 1000u);
	else
		snprintf(buf, size, "%.1f s", ms / 1000.0);
}

static unsigned
remaining_ms(const ctp_host_call *call)
{
	uint64_t now = ctp_host_now_ms();

	if (now >= call->deadline_ms)
		return 1; /* libusb: 0 would mean "no timeout" */
	return (unsigned)(call->deadline_ms - now);
}

/* the timer of the current phase (PING or request) */
static unsigned
phase_timeout_ms(const ctp_host_call *call)
{
	return call->phase == CTP_HOST_PHASE_RESYNC ? call->resync_timeout_ms : call->timeout_ms;
}

/* the call is over: record the outcome, deliver it from the next dispatch */
static void __attribute__((format(printf, 3, 4)))
call_finish(ctp_host_device *dev, ctp_host_status status, const char *fmt, ...)
{
	ctp_host_call *call = &dev->call;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(call->message, sizeof(call->message), fmt, ap);
	va_end(ap);
	call->reply.status = status;
	call->reply.request_type = call->type;
	call->reply.request_id = call->id;
	call->reply.stale_frames = call->stale_frames;
	call->reply.dropped_frames = call->dropped_frames;
	call->reply.elapsed_ms = (unsigned)(ctp_host_now_ms() - call->start_ms);
	call->reply.message = call->message;
	if (call->phase == CTP_HOST_PHASE_RESYNC && status != CTP_HOST_OK)
		call->reply.resync_failed = true;
	call->phase = CTP_HOST_PHASE_DONE;
	/* the device may still send the answer we gave up on: the next call resyncs */
	if (status != CTP_HOST_OK && status != CTP_HOST_DEVICE_ERROR)
		dev->needs_resync = true;
	dev->ctx->work_pending = 1;
	if (call->stale_frames > 0 || call->dropped_frames > 0) {
		ctp_host_log(dev->ctx, CTP_HOST_LOG_INFO,
		             "%s: dropped %u stale and %u invalid frame(s) while waiting for %s",
		             dev->port_path, call->stale_frames, call->dropped_frames,
		             type_name(call->type));
	}
	ctp_host_log(dev->ctx, status == CTP_HOST_OK ? CTP_HOST_LOG_DEBUG : CTP_HOST_LOG_INFO,
	             "%s: %s (id %u) -> %s in %u ms: %s", dev->port_path, type_name(call->type),
	             call->id, ctp_host_status_to_name(status), call->reply.elapsed_ms,
	             call->message);
}

static ctp_host_status submit_out(ctp_host_device *dev, uint8_t *buf, size_t len);
static void start_in(ctp_host_device *dev);

/* "resynchronising before HELLO: " while the PING is in flight, else "" */
static const char *
phase_prefix(const ctp_host_device *dev, char *buf, size_t size)
{
	if (dev->call.phase != CTP_HOST_PHASE_RESYNC)
		return "";
	snprintf(buf, size, "resynchronising before %s: ", type_name(dev->call.type));
	return buf;
}

/*
 * The timer expired. Dropped transfers (2.2) do not stop the timer, but if the
 * device sent only those, its answer was broken rather than missing.
 */
static void
finish_timeout(ctp_host_device *dev, bool sending)
{
	ctp_host_call *call = &dev->call;
	uint8_t what = call->phase == CTP_HOST_PHASE_RESYNC ? CTP_MSG_PING : call->type;
	char prefix[64];
	char secs[32];

	format_seconds(phase_timeout_ms(call), secs, sizeof(secs));
	if (!sending && call->phase == CTP_HOST_PHASE_REQUEST && call->dropped_frames > 0) {
		call->reply.codec_result = call->first_drop;
		call_finish(dev, CTP_HOST_PROTOCOL,
		            "the device's answer to %s was not a valid frame (%s) and no valid "
		            "answer followed within %s",
		            type_name(what), ctp_result_to_string(call->first_drop), secs);
		return;
	}
	call_finish(dev, CTP_HOST_TIMEOUT, "%sthe device did not %s %s within %s",
	            phase_prefix(dev, prefix, sizeof(prefix)), sending ? "accept" : "answer",
	            type_name(what), secs);
}

/* a transfer that is no valid frame, or a frame for someone else: drop it, wait on */
static void
drop_frame(ctp_host_device *dev, bool stale, ctp_result why)
{
	ctp_host_call *call = &dev->call;
	char prefix[64];

	if (call->phase == CTP_HOST_PHASE_RESYNC) {
		call->resync_discarded++;
	} else if (stale) {
		call->stale_frames++;
	} else {
		/* the first is the cause: what follows a broken transfer is often its tail */
		if (call->dropped_frames == 0)
			call->first_drop = why;
		call->dropped_frames++;
	}
	/* the same deadline: a flood cannot keep the call alive, and is bounded anyway */
	if (call->resync_discarded + call->stale_frames + call->dropped_frames >
	    CTP_HOST_MAX_JUNK_FRAMES) {
		call->reply.codec_result = stale ? CTP_OK : why;
		call_finish(
		    dev, CTP_HOST_PROTOCOL,
		    "%sthe device sent more than %u frames that do not answer %s",
		    phase_prefix(dev, prefix, sizeof(prefix)), CTP_HOST_MAX_JUNK_FRAMES,
		    type_name(call->phase == CTP_HOST_PHASE_RESYNC ? CTP_MSG_PING : call->type));
		return;
	}
	start_in(dev);
}

static void
finish_transfer_failure(ctp_host_device *dev, struct libusb_transfer *xfer, bool sending)
{
	ctp_host_call *call = &dev->call;
	uint8_t what = call->phase == CTP_HOST_PHASE_RESYNC ? CTP_MSG_PING : call->type;
	char prefix[64];

	call->reply.usb_error = (int)xfer->status;
	switch (xfer->status) {
	case LIBUSB_TRANSFER_TIMED_OUT:
		finish_timeout(dev, sending);
		break;
	case LIBUSB_TRANSFER_STALL:
		call->clear_halt_ep = xfer->endpoint;
		call_finish(dev, CTP_HOST_STALL, "%sendpoint 0x%02x stalled during %s",
		            phase_prefix(dev, prefix, sizeof(prefix)), xfer->endpoint,
		            type_name(what));
		break;
	case LIBUSB_TRANSFER_NO_DEVICE:
		dev->gone = true;
		call_finish(dev, CTP_HOST_NO_DEVICE, "%sthe device was unplugged during %s",
		            phase_prefix(dev, prefix, sizeof(prefix)), type_name(what));
		break;
	case LIBUSB_TRANSFER_CANCELLED:
		call_finish(dev, CTP_HOST_CANCELLED, "%s was cancelled", type_name(call->type));
		break;
	case LIBUSB_TRANSFER_OVERFLOW:
		/* more than CTP_MAX_FRAME bytes: not one valid frame (2.2) */
		call->reply.usb_error = 0;
		drop_frame(dev, false, CTP_E_TOO_LARGE);
		break;
	case LIBUSB_TRANSFER_COMPLETED:
	case LIBUSB_TRANSFER_ERROR:
	default:
		call_finish(dev, CTP_HOST_IO, "%sUSB transfer error while %s %s",
		            phase_prefix(dev, prefix, sizeof(prefix)),
		            sending ? "sending" : "receiving the answer to", type_name(what));
		break;
	}
}

static void LIBUSB_CALL
on_out_done(struct libusb_transfer *xfer)
{
	ctp_host_device *dev = xfer->user_data;
	ctp_host_call *call = &dev->call;

	dev->out_busy = false;
	dev->ctx->work_pending = 1;
	if (dev->closing)
		return; /* freed by the next dispatch */
	if (call->cancel_requested) {
		call_finish(dev, CTP_HOST_CANCELLED, "%s was cancelled", type_name(call->type));
		return;
	}
	if (xfer->status != LIBUSB_TRANSFER_COMPLETED) {
		finish_transfer_failure(dev, xfer, true);
		return;
	}
	if (xfer->actual_length != xfer->length) {
		call_finish(dev, CTP_HOST_IO, "the device accepted only %d of the %d bytes of %s",
		            xfer->actual_length, xfer->length, type_name(call->type));
		return;
	}
	start_in(dev);
}

static void
finish_device_error(ctp_host_device *dev, const char *what_failed)
{
	ctp_host_call *call = &dev->call;
	const ctp_error *e = &call->response.u.error;
	char text[CTP_MAX_ERROR_TEXT + 1];

	ctp_host_sanitize_text(e->text.data, e->text.len, text, sizeof(text));
	call->reply.device_error = e->code;
	call->reply.response = &call->response;
	call_finish(dev, CTP_HOST_DEVICE_ERROR, "%s: error %u (%s)%s%s", what_failed, e->code,
	            ctp_device_error_to_string(e->code), text[0] != '\0' ? ": " : "", text);
}

static void
handle_resync_frame(ctp_host_device *dev, size_t len)
{
	ctp_host_call *call = &dev->call;
	ctp_host_frame_kind kind;
	ctp_result why;
	ctp_host_status status;
	char what[64];

	kind = ctp_host_match_frame(dev->in_buf, len, CTP_MSG_PING, call->ping_id, &call->response,
	                            &why);
	if (kind == CTP_HOST_FRAME_RESPONSE) {
		ctp_bytes echo = call->response.u.ping.cookie;

		if (echo.len != sizeof(dev->cookie) ||
		    memcmp(echo.data, dev->cookie, sizeof(dev->cookie)) != 0) {
			call_finish(dev, CTP_HOST_PROTOCOL,
			            "resynchronising before %s: the device's PING_RSP does not "
			            "echo the cookie",
			            type_name(call->type));
			return;
		}
		ctp_host_log(dev->ctx, CTP_HOST_LOG_DEBUG,
		             "%s: resynchronised (PING id %u, %u frame(s) discarded)",
		             dev->port_path, call->ping_id, call->resync_discarded);
		dev->needs_resync = false;
		call->reply.resynchronised = true;
		memset(&call->response, 0, sizeof(call->response));
		call->phase = CTP_HOST_PHASE_REQUEST;
		call->deadline_ms = ctp_host_now_ms() + call->timeout_ms;
		call->hard_deadline_ms = call->deadline_ms + (uint64_t)call->timeout_ms *
		                                                 (CTP_HOST_MAX_TIMEOUT_FACTOR - 1);
		status = submit_out(dev, dev->out_buf, dev->out_len);
		if (status != CTP_HOST_OK) {
			call_finish(dev, status, "cannot send %s: %s", type_name(call->type),
			            ctp_host_status_to_string(status));
		}
		return;
	}
	if (kind == CTP_HOST_FRAME_ERROR) {
		snprintf(what, sizeof(what), "resynchronising before %s: the device refused PING",
		         type_name(call->type));
		finish_device_error(dev, what);
		return;
	}
	/* late answers, broken transfers, anything before the PING_RSP: what resync is for */
	memset(&call->response, 0, sizeof(call->response));
	drop_frame(dev, kind == CTP_HOST_FRAME_STALE, why);
}

static void
handle_frame(ctp_host_device *dev, size_t len)
{
	ctp_host_call *call = &dev->call;
	ctp_host_frame_kind kind;
	ctp_result why;
	char detail[160];
	uint64_t now;

	kind = ctp_host_match_frame(dev->in_buf, len, call->type, call->id, &call->response, &why);
	switch (kind) {
	case CTP_HOST_FRAME_RESPONSE:
		call->reply.response = &call->response;
		/* PROTOCOL.md 5.1: frames after HELLO_RSP may be as large as it allows */
		if (call->type == CTP_MSG_HELLO)
			dev->peer_max_frame = call->response.u.hello_rsp.max_frame;
		call_finish(dev, CTP_HOST_OK, "%s answered", type_name(call->type));
		return;
	case CTP_HOST_FRAME_ERROR:
		snprintf(detail, sizeof(detail), "the device refused %s", type_name(call->type));
		finish_device_error(dev, detail);
		return;
	case CTP_HOST_FRAME_PROGRESS: {
		const ctp_progress *p = &call->response.u.progress;

		call->progress_percent = p->percent;
		ctp_host_sanitize_text(p->text.data, p->text.len, call->progress_text,
		                       sizeof(call->progress_text));
		call->progress_pending = true;
		/* the device is alive and working: a fresh timer, within the overall bound */
		now = ctp_host_now_ms();
		call->deadline_ms = now + call->timeout_ms;
		if (call->deadline_ms > call->hard_deadline_ms)
			call->deadline_ms = call->hard_deadline_ms;
		memset(&call->response, 0, sizeof(call->response));
		start_in(dev);
		return;
	}
	case CTP_HOST_FRAME_STALE:
	case CTP_HOST_FRAME_DROPPED:
		memset(&call->response, 0, sizeof(call->response));
		drop_frame(dev, kind == CTP_HOST_FRAME_STALE, why);
		return;
	case CTP_HOST_FRAME_INVALID:
		memset(&call->response, 0, sizeof(call->response));
		call->reply.codec_result = why;
		call_finish(dev, CTP_HOST_PROTOCOL, "the device's answer to %s is invalid: %s",
		            type_name(call->type), ctp_result_to_string(why));
		return;
	case CTP_HOST_FRAME_UNEXPECTED:
		ctp_host_describe_unexpected(call->type, call->response.type, detail,
		                             sizeof(detail));
		memset(&call->response, 0, sizeof(call->response));
		call_finish(dev, CTP_HOST_PROTOCOL, "%s", detail);
		return;
	}
}

static void LIBUSB_CALL
on_in_done(struct libusb_transfer *xfer)
{
	ctp_host_device *dev = xfer->user_data;
	ctp_host_call *call = &dev->call;

	dev->in_busy = false;
	dev->ctx->work_pending = 1;
	if (dev->closing)
		return;
	if (call->cancel_requested) {
		call_finish(dev, CTP_HOST_CANCELLED, "%s was cancelled", type_name(call->type));
		return;
	}
	if (xfer->status != LIBUSB_TRANSFER_COMPLETED) {
		finish_transfer_failure(dev, xfer, false);
		return;
	}
	/* actual_length <= CTP_MAX_FRAME: libusb never writes past the buffer (OVERFLOW) */
	if (call->phase == CTP_HOST_PHASE_RESYNC)
		handle_resync_frame(dev, (size_t)xfer->actual_length);
	else
		handle_frame(dev, (size_t)xfer->actual_length);
}

static ctp_host_status
submit_out(ctp_host_device *dev, uint8_t *buf, size_t len)
{
	struct libusb_transfer *xfer = dev->out_xfer;
	int r;

	libusb_fill_bulk_transfer(xfer, dev->handle, dev->iface.ep_out, buf, (int)len, on_out_done,
	                          dev, remaining_ms(&dev->call));
	xfer->flags = 0;
	/* 2.2: a frame that fills its last packet needs a zero-length packet to end it */
	if (dev->iface.out_max_packet != 0 && len % dev->iface.out_max_packet == 0)
		xfer->flags |= LIBUSB_TRANSFER_ADD_ZERO_PACKET;
	r = libusb_submit_transfer(xfer);
	if (r != LIBUSB_SUCCESS) {
		if (r == LIBUSB_ERROR_NO_DEVICE)
			dev->gone = true;
		ctp_host_log(dev->ctx, CTP_HOST_LOG_DEBUG, "%s: cannot submit the OUT transfer: %s",
		             dev->port_path, libusb_error_name(r));
		return ctp_host_status_from_libusb(r);
	}
	dev->out_busy = true;
	return CTP_HOST_OK;
}

static void
start_in(ctp_host_device *dev)
{
	ctp_host_call *call = &dev->call;
	struct libusb_transfer *xfer = dev->in_xfer;
	int r;

	if (ctp_host_now_ms() >= call->deadline_ms) {
		finish_timeout(dev, false);
		return;
	}
	libusb_fill_bulk_transfer(xfer, dev->handle, dev->iface.ep_in, dev->in_buf,
	                          (int)CTP_MAX_FRAME, on_in_done, dev, remaining_ms(call));
	xfer->flags = 0;
	r = libusb_submit_transfer(xfer);
	if (r != LIBUSB_SUCCESS) {
		ctp_host_status status = ctp_host_status_from_libusb(r);

		call->reply.usb_error = r;
		if (status == CTP_HOST_NO_DEVICE) {
			dev->gone = true;
			call_finish(dev, status, "the device was unplugged during %s",
			            type_name(call->type));
		} else {
			call_finish(dev, status, "cannot receive the answer to %s: %s",
			            type_name(call->type), libusb_error_name(r));
		}
		return;
	}
	dev->in_busy = true;
}

static bool
encode_ping(ctp_host_device *dev, uint16_t id)
{
	ctp_message ping;

	memset(&ping, 0, sizeof(ping));
	ping.type = CTP_MSG_PING;
	ping.request_id = id;
	ctp_host_random(dev->cookie, sizeof(dev->cookie));
	ping.u.ping.cookie = ctp_bytes_from(dev->cookie, sizeof(dev->cookie));
	return ctp_message_encode(&ping, dev->ping_buf, sizeof(dev->ping_buf), &dev->ping_len) ==
	       CTP_OK;
}

ctp_host_status
ctp_host_device_call(ctp_host_device *dev,
                     const ctp_message *request,
                     unsigned timeout_ms,
                     ctp_host_progress_func progress,
                     ctp_host_done_func done,
                     void *user_data)
{
	ctp_host_call *call;
	ctp_message msg;
	ctp_result r;
	size_t len = 0;
	ctp_host_status status;

	if (dev == NULL || request == NULL || done == NULL || dev->closing)
		return CTP_HOST_INVALID_ARGUMENT;
	call = &dev->call;
	if (call->phase != CTP_HOST_PHASE_IDLE)
		return CTP_HOST_BUSY;
	if (dev->gone)
		return CTP_HOST_NO_DEVICE;
	if (!ctp_message_type_is_request(request->type)) {
		ctp_host_log(dev->ctx, CTP_HOST_LOG_WARNING,
		             "%s: refusing to send message type 0x%02x: not a request",
		             dev->port_path, request->type);
		return CTP_HOST_INVALID_ARGUMENT;
	}
	msg = *request;
	msg.request_id = ctp_host_next_request_id(dev->last_id);
	r = ctp_message_encode(&msg, dev->out_buf, CTP_MAX_FRAME, &len);
	if (r != CTP_OK) {
		ctp_host_log(dev->ctx, CTP_HOST_LOG_WARNING, "%s: cannot encode %s: %s",
		             dev->port_path, type_name(request->type), ctp_result_to_string(r));
		return CTP_HOST_INVALID_ARGUMENT;
	}
	if (len > dev->peer_max_frame) {
		ctp_host_log(dev->ctx, CTP_HOST_LOG_WARNING,
		             "%s: %s frame of %zu bytes exceeds the device's max_frame (%u)",
		             dev->port_path, type_name(request->type), len, dev->peer_max_frame);
		return CTP_HOST_TOO_LARGE;
	}
	dev->out_len = len;
	dev->last_id = msg.request_id;

	memset(call, 0, sizeof(*call));
	call->type = request->type;
	call->id = msg.request_id;
	call->timeout_ms = timeout_ms != 0 ? timeout_ms : ctp_host_default_timeout_ms(call->type);
	call->progress = progress;
	call->done = done;
	call->user_data = user_data;
	call->start_ms = ctp_host_now_ms();
	call->message[0] = '\0';
	call->reply.message = call->message;

	if (dev->needs_resync) {
		/* a short call timeout also bounds the PING; a long one (CREATE_CSR) does not */
		call->resync_timeout_ms = call->timeout_ms < CTP_TIMEOUT_DEFAULT_MS
		                              ? call->timeout_ms
		                              : CTP_TIMEOUT_DEFAULT_MS;
		call->ping_id = ctp_host_next_request_id(dev->last_id);
		dev->last_id = call->ping_id;
		if (!encode_ping(dev, call->ping_id)) {
			memset(call, 0, sizeof(*call));
			return CTP_HOST_INVALID_ARGUMENT; /* cannot happen: our own PING */
		}
		call->phase = CTP_HOST_PHASE_RESYNC;
		call->deadline_ms = call->start_ms + call->resync_timeout_ms;
		ctp_host_log(dev->ctx, CTP_HOST_LOG_DEBUG, "%s: resynchronising with PING id %u",
		             dev->port_path, call->ping_id);
		status = submit_out(dev, dev->ping_buf, dev->ping_len);
	} else {
		call->phase = CTP_HOST_PHASE_REQUEST;
		call->deadline_ms = call->start_ms + call->timeout_ms;
		call->hard_deadline_ms = call->deadline_ms + (uint64_t)call->timeout_ms *
		                                                 (CTP_HOST_MAX_TIMEOUT_FACTOR - 1);
		status = submit_out(dev, dev->out_buf, dev->out_len);
	}
	if (status != CTP_HOST_OK) {
		call->phase = CTP_HOST_PHASE_IDLE;
		call->done = NULL;
		return status;
	}
	ctp_host_fd_sync(dev->ctx);
	return CTP_HOST_OK;
}

void
ctp_host_device_cancel(ctp_host_device *dev)
{
	ctp_host_call *call;

	if (dev == NULL || dev->closing)
		return;
	call = &dev->call;
	if (call->phase != CTP_HOST_PHASE_RESYNC && call->phase != CTP_HOST_PHASE_REQUEST)
		return; /* idle, or already finished: the outcome stands */
	call->cancel_requested = true;
	if (dev->out_busy)
		libusb_cancel_transfer(dev->out_xfer);
	if (dev->in_busy)
		libusb_cancel_transfer(dev->in_xfer);
}

bool
ctp_host_device_is_busy(ctp_host_device *dev)
{
	return dev->call.phase != CTP_HOST_PHASE_IDLE;
}

bool
ctp_host_call_has_pending(const ctp_host_device *dev)
{
	if (dev->closing)
		return false;
	return dev->call.progress_pending || dev->call.phase == CTP_HOST_PHASE_DONE;
}

static void
clear_halt(ctp_host_device *dev)
{
	ctp_host_call *call = &dev->call;
	size_t used = strlen(call->message);
	int r;

	/* once, outside libusb's event handling; the caller decides whether to retry */
	r = libusb_clear_halt(dev->handle, call->clear_halt_ep);
	if (r == LIBUSB_SUCCESS) {
		snprintf(call->message + used, sizeof(call->message) - used, " (halt cleared)");
	} else {
		snprintf(call->message + used, sizeof(call->message) - used,
		         " (clearing the halt failed: %s)", libusb_error_name(r));
	}
	call->clear_halt_ep = 0;
}

bool
ctp_host_call_deliver(ctp_host_device *dev)
{
	ctp_host_call *call = &dev->call;
	ctp_host_done_func done;

	if (dev->closing)
		return false;
	if (call->progress_pending) {
		call->progress_pending = false;
		if (call->progress != NULL) {
			call->progress(dev, call->progress_percent, call->progress_text,
			               call->user_data);
		}
		return true;
	}
	if (call->phase != CTP_HOST_PHASE_DONE)
		return false;
	if (call->clear_halt_ep != 0)
		clear_halt(dev);
	/* idle before the callback, so that it may start the next call */
	call->phase = CTP_HOST_PHASE_IDLE;
	done = call->done;
	call->done = NULL;
	if (done != NULL)
		done(dev, &call->reply, call->user_data);
	return true;
}

/* ---- synchronous wrapper ------------------------------------------------- */

typedef struct {
	bool done;
	ctp_host_reply *reply;
	ctp_host_progress_func progress;
	void *user_data;
} sync_state;

static void
sync_progress(ctp_host_device *dev, unsigned percent, const char *text, void *user_data)
{
	sync_state *st = user_data;

	if (st->progress != NULL)
		st->progress(dev, percent, text, st->user_data);
}

static void
sync_done(ctp_host_device *dev, const ctp_host_reply *reply, void *user_data)
{
	sync_state *st = user_data;

	(void)dev;
	*st->reply = *reply;
	st->done = true;
}

ctp_host_status
ctp_host_device_call_sync(ctp_host_device *dev,
                          const ctp_message *request,
                          unsigned timeout_ms,
                          ctp_host_progress_func progress,
                          void *user_data,
                          ctp_host_reply *reply)
{
	sync_state st = {.reply = reply, .progress = progress, .user_data = user_data};
	ctp_host_status status;

	memset(reply, 0, sizeof(*reply));
	status = ctp_host_device_call(dev, request, timeout_ms, sync_progress, sync_done, &st);
	if (status != CTP_HOST_OK) {
		reply->status = status;
		reply->request_type = request != NULL ? request->type : 0;
		reply->message = ctp_host_status_to_string(status);
		return status;
	}
	/* every libusb transfer has a timeout, so this ends */
	while (!st.done)
		ctp_host_context_iterate(dev->ctx, -1);
	return reply->status;
}
