/*
 * GSource adapter for the CTP host transport (see ctp-host-source.h).
 */
#include "tests/integration/ctp-host-source.h"

#include <poll.h>

typedef struct {
	int fd;
	gpointer tag;
} watched_fd;

typedef struct {
	GSource source;
	ctp_host_context *ctx;
	GArray *fds; /* watched_fd */
} CtpHostSource;

static void
on_fd_added(int fd, short events, void *user_data)
{
	CtpHostSource *self = user_data;
	GIOCondition cond = 0;
	watched_fd w = {.fd = fd};

	if ((events & POLLIN) != 0)
		cond |= G_IO_IN;
	if ((events & POLLOUT) != 0)
		cond |= G_IO_OUT;
	w.tag = g_source_add_unix_fd(&self->source, fd, cond | G_IO_ERR | G_IO_HUP);
	g_array_append_val(self->fds, w);
}

static void
on_fd_removed(int fd, void *user_data)
{
	CtpHostSource *self = user_data;

	for (guint i = 0; i < self->fds->len; i++) {
		watched_fd *w = &g_array_index(self->fds, watched_fd, i);
		if (w->fd != fd)
			continue;
		g_source_remove_unix_fd(&self->source, w->tag);
		g_array_remove_index_fast(self->fds, i);
		return;
	}
}

static gboolean
source_prepare(GSource *source, gint *timeout)
{
	CtpHostSource *self = (CtpHostSource *)source;

	/* 0: queued callbacks to deliver; -1: only fds can wake us (Linux: libusb's timerfd) */
	*timeout = ctp_host_context_get_timeout_ms(self->ctx);
	return *timeout == 0;
}

static gboolean
source_check(GSource *source)
{
	CtpHostSource *self = (CtpHostSource *)source;

	for (guint i = 0; i < self->fds->len; i++) {
		watched_fd *w = &g_array_index(self->fds, watched_fd, i);
		if (g_source_query_unix_fd(source, w->tag) != 0)
			return TRUE;
	}
	return ctp_host_context_get_timeout_ms(self->ctx) == 0;
}

static gboolean
source_dispatch(GSource *source, GSourceFunc callback, gpointer user_data)
{
	CtpHostSource *self = (CtpHostSource *)source;

	(void)callback;
	(void)user_data;
	ctp_host_context_dispatch(self->ctx);
	return G_SOURCE_CONTINUE;
}

static void
source_finalize(GSource *source)
{
	CtpHostSource *self = (CtpHostSource *)source;

	ctp_host_context_watch_fds(self->ctx, NULL, NULL, NULL);
	g_array_unref(self->fds);
}

static GSourceFuncs ctp_host_source_funcs = {
    .prepare = source_prepare,
    .check = source_check,
    .dispatch = source_dispatch,
    .finalize = source_finalize,
};

GSource *
ctp_host_source_new(ctp_host_context *ctx)
{
	GSource *source = g_source_new(&ctp_host_source_funcs, sizeof(CtpHostSource));
	CtpHostSource *self = (CtpHostSource *)source;

	self->ctx = ctx;
	self->fds = g_array_new(FALSE, FALSE, sizeof(watched_fd));
	g_source_set_name(source, "ctp-host");
	ctp_host_context_watch_fds(ctx, on_fd_added, on_fd_removed, self);
	return source;
}
