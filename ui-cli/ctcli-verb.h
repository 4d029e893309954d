/*
 * What the verbs share beyond ctcli.h: parsing a verb's own options, opening
 * the device-access layer the same way, and following provisionings to their
 * outcome (provision, and approve when it waits).
 */
#pragma once

#include "ui-cli/ctcli-devices.h"
#include "ui-cli/ctcli.h"

G_BEGIN_DECLS

/*
 * Parse the options of a verb (argv[0] is the verb). @parameters is shown in
 * the usage line after the verb ("[DEVICE]"), @summary under it. Handles
 * --help (prints and exits 0). FALSE after printing the error and the usage.
 */
gboolean ctcli_verb_parse(int *argc,
                          char ***argv,
                          const gchar *parameters,
                          const gchar *summary,
                          const gchar *description,
                          const GOptionEntry *entries);

/* "certtether: VERB: MESSAGE" and where to read more; returns CTCLI_EXIT_USAGE */
int ctcli_verb_usage_error(const gchar *verb, const gchar *message);

/*
 * The device-access layer, started; with --direct and @settle, after the phones
 * on the bus have identified themselves. NULL after printing the error, with
 * the exit code in @exit_code.
 */
CtcliDevices *ctcli_verb_open_devices(CtcliContext *ctx, gboolean settle, int *exit_code);

/*
 * Wait until each device in @ids (of the device-access layer) has reached a
 * final state, showing progress (a redrawn block with bars on a terminal,
 * plain lines otherwise, nothing with --quiet or --json), then report each
 * outcome. @not_approved lists ids that are not provisioned because they wait
 * for approval (reported, not waited for). Without @wait, only report where
 * each one is (--no-wait). Returns 0 when every device is provisioned or up to
 * date (or under way, without @wait), else the exit code of the last failure.
 */
int ctcli_provision_follow(CtcliContext *ctx,
                           CtcliDevices *devices,
                           GPtrArray *ids,
                           GPtrArray *not_approved,
                           gboolean wait);

G_END_DECLS
