#include "ui-cli/ctcli-output.h"

#include <stdarg.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "ui-cli/ctcli-devices.h"

/* ---- styles -------------------------------------------------------------------------------- */

static const gchar *
ctcli_style_code(CtcliStyle style)
{
	switch (style) {
	case CTCLI_STYLE_BOLD:
		return "\033[1m";
	case CTCLI_STYLE_DIM:
		return "\033[2m";
	case CTCLI_STYLE_GOOD:
		return "\033[32m";
	case CTCLI_STYLE_BUSY:
		return "\033[36m";
	case CTCLI_STYLE_WARN:
		return "\033[33m";
	case CTCLI_STYLE_BAD:
		return "\033[31m";
	case CTCLI_STYLE_NONE:
		break;
	}
	return NULL;
}

gchar *
ctcli_styled(gboolean color, CtcliStyle style, const gchar *text)
{
	const gchar *code = ctcli_style_code(style);
	if (!color || code == NULL || text[0] == '\0')
		return g_strdup(text);
	return g_strdup_printf("%s%s\033[0m", code, text);
}

CtcliStyle
ctcli_state_style(CtDeviceState state)
{
	switch (state) {
	case CT_DEVICE_STATE_UP_TO_DATE:
	case CT_DEVICE_STATE_PROVISIONED:
		return CTCLI_STYLE_GOOD;
	case CT_DEVICE_STATE_AWAITING_APPROVAL:
	case CT_DEVICE_STATE_WAITING_RETRY:
		return CTCLI_STYLE_WARN;
	case CT_DEVICE_STATE_REJECTED:
	case CT_DEVICE_STATE_FAILED:
		return CTCLI_STYLE_BAD;
	case CT_DEVICE_STATE_DISCONNECTED:
		return CTCLI_STYLE_DIM;
	case CT_DEVICE_STATE_CONNECTED:
	case CT_DEVICE_STATE_IDENTIFYING:
	case CT_DEVICE_STATE_CHECKING:
	case CT_DEVICE_STATE_GENERATING_KEY:
	case CT_DEVICE_STATE_CHECKING_CSR:
	case CT_DEVICE_STATE_ENROLLING:
	case CT_DEVICE_STATE_VERIFYING:
	case CT_DEVICE_STATE_INSTALLING:
	case CT_DEVICE_STATE_COMMITTING:
		return CTCLI_STYLE_BUSY;
	case CT_DEVICE_STATE_LAST:
		break;
	}
	return CTCLI_STYLE_NONE;
}

/* ---- tables -------------------------------------------------------------------------------- */

typedef struct {
	gchar *text;
	CtcliStyle style;
} CtcliCell;

struct _CtcliTable {
	guint columns;
	GPtrArray *headers; /* gchar* */
	GPtrArray *rows;    /* GArray of CtcliCell */
	GArray *row;        /* being filled */
};

static void
ctcli_cells_free(GArray *cells)
{
	for (guint i = 0; i < cells->len; i++)
		g_free(g_array_index(cells, CtcliCell, i).text);
	g_array_unref(cells);
}

CtcliTable *
ctcli_table_new(const gchar *first_header, ...)
{
	CtcliTable *table = g_new0(CtcliTable, 1);
	va_list args;
	table->headers = g_ptr_array_new_with_free_func(g_free);
	table->rows = g_ptr_array_new_with_free_func((GDestroyNotify)ctcli_cells_free);
	va_start(args, first_header);
	for (const gchar *h = first_header; h != NULL; h = va_arg(args, const gchar *))
		g_ptr_array_add(table->headers, g_strdup(h));
	va_end(args);
	table->columns = table->headers->len;
	return table;
}

void
ctcli_table_add(CtcliTable *table, CtcliStyle style, const gchar *text)
{
	CtcliCell cell = {.text = g_strdup(text != NULL ? text : ""), .style = style};
	if (table->row == NULL)
		table->row = g_array_new(FALSE, FALSE, sizeof(CtcliCell));
	g_array_append_val(table->row, cell);
}

void
ctcli_table_end_row(CtcliTable *table)
{
	if (table->row == NULL)
		return;
	g_ptr_array_add(table->rows, table->row);
	table->row = NULL;
}

/* columns a text takes on a terminal (UTF-8 aware, no escape codes inside) */
static guint
ctcli_text_width(const gchar *text)
{
	guint width = 0;
	for (const gchar *p = text; *p != '\0'; p = g_utf8_next_char(p)) {
		gunichar c = g_utf8_get_char(p);
		if (g_unichar_iszerowidth(c))
			continue;
		width += g_unichar_iswide(c) ? 2 : 1;
	}
	return width;
}

static void
ctcli_table_print_cell(
    FILE *stream, gboolean color, const gchar *text, CtcliStyle style, guint width, gboolean last)
{
	g_autofree gchar *styled = ctcli_styled(color, style, text);
	fputs(styled, stream);
	if (last)
		return;
	for (guint pad = ctcli_text_width(text); pad < width + 2; pad++)
		fputc(' ', stream);
}

void
ctcli_table_print(CtcliTable *table, FILE *stream, gboolean color)
{
	g_autofree guint *widths = g_new0(guint, table->columns);

	ctcli_table_end_row(table);
	for (guint c = 0; c < table->columns; c++)
		widths[c] = ctcli_text_width(g_ptr_array_index(table->headers, c));
	for (guint r = 0; r < table->rows->len; r++) {
		GArray *cells = g_ptr_array_index(table->rows, r);
		for (guint c = 0; c < cells->len && c < table->columns; c++)
			widths[c] = MAX(widths[c],
			                ctcli_text_width(g_array_index(cells, CtcliCell, c).text));
	}
	for (guint c = 0; c < table->columns; c++)
		ctcli_table_print_cell(stream, color, g_ptr_array_index(table->headers, c),
		                       CTCLI_STYLE_BOLD, widths[c], c + 1 == table->columns);
	fputc('\n', stream);
	for (guint r = 0; r < table->rows->len; r++) {
		GArray *cells = g_ptr_array_index(table->rows, r);
		for (guint c = 0; c < cells->len && c < table->columns; c++) {
			CtcliCell *cell = &g_array_index(cells, CtcliCell, c);
			ctcli_table_print_cell(stream, color, cell->text, cell->style, widths[c],
			                       c + 1 == MIN(cells->len, table->columns));
		}
		fputc('\n', stream);
	}
	fflush(stream);
}

void
ctcli_table_free(CtcliTable *table)
{
	if (table == NULL)
		return;
	if (table->row != NULL)
		ctcli_cells_free(table->row);
	g_ptr_array_unref(table->headers);
	g_ptr_array_unref(table->rows);
	g_free(table);
}

/* ---- progress ------------------------------------------------------------------------------ */

gchar *
ctcli_progress_bar(guint percent, guint width)
{
	GString *bar = g_string_new("[");
	guint filled = MIN(percent, 100) * width / 100;
	for (guint i = 0; i < width; i++)
		g_string_append_c(bar, i < filled ? '#' : '-');
	g_string_append_c(bar, ']');
	return g_string_free(bar, FALSE);
}

/* the first @max columns of @text, with "…" when cut */
static gchar *
ctcli_text_truncate(const gchar *text, guint max)
{
	GString *out = g_string_new(NULL);
	guint width = 0;
	if (ctcli_text_width(text) <= max)
		return g_strdup(text);
	for (const gchar *p = text; *p != '\0' && max > 0; p = g_utf8_next_char(p)) {
		gunichar c = g_utf8_get_char(p);
		guint w = g_unichar_iswide(c) ? 2 : (g_unichar_iszerowidth(c) ? 0 : 1);
		if (width + w > max - 1)
			break;
		g_string_append_unichar(out, c);
		width += w;
	}
	if (max > 0)
		g_string_append(out, "…");
	return g_string_free(out, FALSE);
}

gchar *
ctcli_format_progress_line(
    GVariant *snapshot, gboolean bar, gboolean color, guint name_width, guint max_width)
{
	CtDeviceState state = ctcli_snapshot_get_state(snapshot);
	const gchar *state_name = ctcli_snapshot_get_string(snapshot, "State");
	const gchar *detail = ctcli_snapshot_get_string(snapshot, "StateDetail");
	guint progress = ctcli_snapshot_get_uint(snapshot, "Progress");
	g_autofree gchar *name = g_strdup(ctcli_snapshot_get_name(snapshot));
	g_autofree gchar *styled_state = ctcli_styled(color, ctcli_state_style(state), state_name);
	g_autofree gchar *padded = NULL;
	g_autofree gchar *bar_text = NULL;
	g_autofree gchar *head = NULL;
	g_autofree gchar *tail = NULL;
	guint used;

	padded = g_strdup_printf("%-*s", (int)name_width, name);
	if (!bar) {
		g_autofree gchar *now = ctcli_format_iso8601_us(g_get_real_time());
		return g_strdup_printf("%s %s %s %u%% %s", now, name, styled_state, progress,
		                       detail);
	}
	bar_text = ctcli_progress_bar(progress, 20);
	head = g_strdup_printf("%s %s %3u%% ", padded, bar_text, progress);
	used = ctcli_text_width(head) + ctcli_text_width(state_name);
	if (detail[0] == '\0' || (max_width > 0 && used + 3 >= max_width))
		return g_strdup_printf("%s%s", head, styled_state);
	tail = max_width > 0 ? ctcli_text_truncate(detail, max_width - used - 2) : g_strdup(detail);
	return g_strdup_printf("%s%s: %s", head, styled_state, tail);
}

guint
ctcli_terminal_width(FILE *stream)
{
	struct winsize ws;
	if (ioctl(fileno(stream), TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
		return ws.ws_col;
	return 80;
}

struct _CtcliLive {
	FILE *stream;
	GPtrArray *keys;  /* gchar* */
	GPtrArray *lines; /* gchar*, same index */
	guint drawn;      /* lines on screen */
};

CtcliLive *
ctcli_live_new(FILE *stream)
{
	CtcliLive *live = g_new0(CtcliLive, 1);
	live->stream = stream;
	live->keys = g_ptr_array_new_with_free_func(g_free);
	live->lines = g_ptr_array_new_with_free_func(g_free);
	return live;
}

void
ctcli_live_set(CtcliLive *live, const gchar *key, const gchar *line)
{
	guint index;
	for (index = 0; index < live->keys->len; index++) {
		if (g_strcmp0(g_ptr_array_index(live->keys, index), key) == 0)
			break;
	}
	if (index == live->keys->len) {
		g_ptr_array_add(live->keys, g_strdup(key));
		g_ptr_array_add(live->lines, g_strdup(line));
	} else {
		g_free(live->lines->pdata[index]);
		live->lines->pdata[index] = g_strdup(line);
	}
	/* back to the block's first line, then rewrite every line of it */
	if (live->drawn > 0)
		fprintf(live->stream, "\033[%uA", live->drawn);
	for (guint i = 0; i < live->lines->len; i++)
		fprintf(live->stream, "\r\033[2K%s\n",
		        (const gchar *)g_ptr_array_index(live->lines, i));
	live->drawn = live->lines->len;
	fflush(live->stream);
}

void
ctcli_live_free(CtcliLive *live)
{
	if (live == NULL)
		return;
	g_ptr_array_unref(live->keys);
	g_ptr_array_unref(live->lines);
	g_free(live);
}

/* ---- times --------------------------------------------------------------------------------- */

/* GLib 2.74 has no *_usec constructors: whole seconds, then the rest */
static GDateTime *
ctcli_date_time_from_usec(gint64 usec, gboolean local)
{
	gint64 seconds = usec / G_USEC_PER_SEC;
	gint64 rest = usec % G_USEC_PER_SEC;
	g_autoptr(GDateTime) whole = NULL;
	if (rest < 0) {
		seconds--;
		rest += G_USEC_PER_SEC;
	}
	whole = local ? g_date_time_new_from_unix_local(seconds)
	              : g_date_time_new_from_unix_utc(seconds);
	return whole != NULL ? g_date_time_add(whole, rest) : NULL;
}

gchar *
ctcli_format_time_us(gint64 usec)
{
	g_autoptr(GDateTime) dt = ctcli_date_time_from_usec(usec, TRUE);
	return dt != NULL ? g_date_time_format(dt, "%Y-%m-%d %H:%M:%S") : g_strdup("?");
}

gchar *
ctcli_format_date(gint64 seconds)
{
	g_autoptr(GDateTime) dt = NULL;
	if (seconds == 0)
		return g_strdup("");
	dt = g_date_time_new_from_unix_local(seconds);
	return dt != NULL ? g_date_time_format(dt, "%Y-%m-%d") : g_strdup("?");
}

gchar *
ctcli_format_iso8601_us(gint64 usec)
{
	g_autoptr(GDateTime) dt = ctcli_date_time_from_usec(usec, FALSE);
	return dt != NULL ? g_date_time_format(dt, "%Y-%m-%dT%H:%M:%S.%fZ") : g_strdup("?");
}

/* ---- JSON ---------------------------------------------------------------------------------- */

JsonNode *
ctcli_json_from_variant(GVariant *value)
{
	return json_gvariant_serialize(value);
}

JsonNode *
ctcli_json_device(GVariant *snapshot)
{
	return json_gvariant_serialize(snapshot);
}

void
ctcli_json_print(JsonNode *node, gboolean one_line)
{
	g_autoptr(JsonGenerator) generator = json_generator_new();
	g_autofree gchar *text = NULL;
	json_generator_set_root(generator, node);
	json_generator_set_pretty(generator, !one_line && isatty(STDOUT_FILENO));
	text = json_generator_to_data(generator, NULL);
	fputs(text, stdout);
	fputc('\n', stdout);
	fflush(stdout);
}
