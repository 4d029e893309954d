/*
 * How the CLI shows things: aligned tables, colour (only when the context
 * says so), progress lines — a redrawn block with bars on a terminal, one
 * plain line per change otherwise — and JSON through json-glib.
 */
#pragma once

#include <json-glib/json-glib.h>
#include <stdio.h>

#include "daemon/engine/ct-device.h"
#include "ui-cli/ctcli.h"

G_BEGIN_DECLS

typedef enum {
	CTCLI_STYLE_NONE,
	CTCLI_STYLE_BOLD,
	CTCLI_STYLE_DIM,
	CTCLI_STYLE_GOOD, /* green: provisioned, up to date */
	CTCLI_STYLE_BUSY, /* cyan: work in progress */
	CTCLI_STYLE_WARN, /* yellow: waits for someone */
	CTCLI_STYLE_BAD,  /* red: failed, rejected */
} CtcliStyle;

/* @text wrapped in the style's escape codes when @color, else a copy */
gchar *ctcli_styled(gboolean color, CtcliStyle style, const gchar *text);
CtcliStyle ctcli_state_style(CtDeviceState state);

/* ---- tables ---------------------------------------------------------------------------------- */

typedef struct _CtcliTable CtcliTable;

/* columns named by the NULL-terminated header list */
CtcliTable *ctcli_table_new(const gchar *first_header, ...) G_GNUC_NULL_TERMINATED;
/* append a cell to the current row (rows end with ctcli_table_end_row()) */
void ctcli_table_add(CtcliTable *table, CtcliStyle style, const gchar *text);
void ctcli_table_end_row(CtcliTable *table);
/* headers in bold, columns padded to their widest cell, the last one not padded */
void ctcli_table_print(CtcliTable *table, FILE *stream, gboolean color);
void ctcli_table_free(CtcliTable *table);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(CtcliTable, ctcli_table_free)

/* ---- progress -------------------------------------------------------------------------------- */

/* "[########------------]" for 0..100 over @width characters inside the brackets */
gchar *ctcli_progress_bar(guint percent, guint width);

/*
 * One device's progress as a line: on a terminal (@bar) "NAME [####----] 45%
 * enrolling: detail", cut to @max_width columns (0: no limit); otherwise
 * "TIME NAME STATE PERCENT% detail" for logs and pipes.
 */
gchar *ctcli_format_progress_line(
    GVariant *snapshot, gboolean bar, gboolean color, guint name_width, guint max_width);

/* the columns of @stream's terminal (80 when it is none) */
guint ctcli_terminal_width(FILE *stream);

/* a block of lines redrawn in place on a terminal, one per key, in order of first set */
typedef struct _CtcliLive CtcliLive;

CtcliLive *ctcli_live_new(FILE *stream);
void ctcli_live_set(CtcliLive *live, const gchar *key, const gchar *line);
void ctcli_live_free(CtcliLive *live);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(CtcliLive, ctcli_live_free)

/* ---- times ----------------------------------------------------------------------------------- */

/* local "2026-05-22 13:15:49" from µs since the epoch */
gchar *ctcli_format_time_us(gint64 usec);
/* local "2026-05-22" from seconds since the epoch; "" for 0 */
gchar *ctcli_format_date(gint64 seconds);
/* UTC "2026-05-22T11:15:49.123Z" from µs since the epoch */
gchar *ctcli_format_iso8601_us(gint64 usec);

/* ---- JSON ------------------------------------------------------------------------------------ */

/* a GVariant (a{sv}, aa{sv}, ...) as JSON: dictionaries become objects, "v" is unwrapped */
JsonNode *ctcli_json_from_variant(GVariant *value);
/* a device snapshot as the object --json shows (the Device1 property names as keys) */
JsonNode *ctcli_json_device(GVariant *snapshot);
/* write @node to stdout and flush: one line, or indented when stdout is a terminal */
void ctcli_json_print(JsonNode *node, gboolean one_line);

G_END_DECLS
