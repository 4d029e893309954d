/*
 * certtether bench: what the verb (ctcli-bench.c) and its report
 * (ctcli-bench-report.c) share — one record per roster line.
 */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "daemon/engine/ct-device.h"
#include "ui-cli/ctcli-roster.h"
#include "ui-cli/ctcli.h"

G_BEGIN_DECLS

/* one listed phone, as the bench saw it */
typedef struct {
	CtcliRosterEntry *entry;              /* borrowed from the roster */
	gchar *id;                            /* the device's id once seen, else NULL */
	GVariant *snapshot;                   /* its last a{sv} snapshot, or NULL */
	gint64 first_seen_real;               /* µs since the epoch, 0 = never seen */
	gint64 first_seen;                    /* monotonic µs */
	gint64 entered[CT_DEVICE_STATE_LAST]; /* monotonic µs each state was first entered */
	gint64 done_at;                       /* monotonic µs its outcome was final, 0 = not yet */
	gboolean approved;                    /* through the daemon: we approved it */
	gboolean provision_asked;             /* through the daemon: we asked it to provision */
	GError *action_error; /* through the daemon: approving or provisioning it failed */
} CtcliBenchPhone;

void ctcli_bench_phone_free(CtcliBenchPhone *phone);

/* states that end a listed phone's run (provisioned, up to date, failed, rejected) */
gboolean ctcli_bench_state_is_outcome(CtDeviceState state);

/*
 * The outcome word for the report ("provisioned", "up-to-date", "failed",
 * "rejected", "unfinished" (seen, not over), "not-seen") and, unless the
 * phone ended provisioned or up to date, why as an error.
 */
const gchar *ctcli_bench_phone_outcome(CtcliBenchPhone *phone, GError **error);

/* TRUE when @path ends in .csv or .json (case-insensitive); else a usage error */
gboolean ctcli_bench_report_check_path(const gchar *path, GError **error);

/* the report as JSON (the --json output and FILE.json) */
JsonNode *ctcli_bench_report_json(GPtrArray *phones,
                                  const gchar *roster,
                                  const gchar *mode,
                                  gint64 started_real,
                                  gint64 finished_real);

/* write the report to @path, CSV or JSON by its extension */
gboolean ctcli_bench_report_write(const gchar *path,
                                  GPtrArray *phones,
                                  const gchar *roster,
                                  const gchar *mode,
                                  gint64 started_real,
                                  gint64 finished_real,
                                  GError **error);

/* a table of the outcomes on stdout */
void ctcli_bench_report_print(CtcliContext *ctx, GPtrArray *phones);

G_END_DECLS
