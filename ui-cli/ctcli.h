/*
 * certtether, the command line: shared context, exit codes and the verb entry
 * points. ctcli-main.c parses the global options and dispatches; each verb
 * lives in its own file.
 */
#pragma once

#include <gio/gio.h>

#include "daemon/engine/ct-config.h"
#include "daemon/engine/ct-error.h"

G_BEGIN_DECLS

/* documented in certtether(1); distinct per failure class so scripts can branch */
typedef enum {
	CTCLI_EXIT_OK = 0,
	CTCLI_EXIT_FAILURE = 1,	    /* anything not listed below */
	CTCLI_EXIT_USAGE = 2,	    /* unknown verb or option, bad argument */
	CTCLI_EXIT_AUTH = 3,	    /* no credentials, or refused (NoCredentials, AuthFailed) */
	CTCLI_EXIT_UNREACHABLE = 4, /* service or daemon unreachable, timeout, store unavailable */
	CTCLI_EXIT_REJECTED = 5,    /* the service or the policy refused (Rejected, NotApproved, CsrInvalid) */
	CTCLI_EXIT_UNTRUSTED = 6,   /* TLS or certificate chain not trusted (ChainUntrusted, CertificateInvalid) */
	CTCLI_EXIT_DEVICE = 7,	    /* the phone failed, was unplugged or is not there (Device, DeviceGone, NotFound) */
	CTCLI_EXIT_CONFIG = 8,	    /* configuration error */
} CtcliExit;

/* the global options, parsed once */
typedef struct {
	gboolean json;	       /* --json: machine-readable output on stdout */
	gboolean direct;       /* --direct: run the engine in-process, no daemon */
	gboolean quiet;	       /* --quiet: only errors */
	gboolean verbose;      /* --verbose: debug logs on stderr */
	gboolean color;	       /* stdout is a terminal and NO_COLOR is unset (or --color=always) */
	gboolean interactive;  /* stdin and stderr are terminals: progress bars, prompts allowed */
	gchar *ca_file;	       /* --ca-file PEM: extra trust anchor (overrides ca-file in the config) */
	gchar *config_file;    /* --config FILE (else the usual search) */
	CtConfig *config;      /* loaded lazily by ctcli_context_get_config() */
} CtcliContext;

/* the configuration (with --ca-file applied); NULL + error on a bad file */
CtConfig *ctcli_context_get_config(CtcliContext *ctx, GError **error);

/* map an error to the exit code above (CT_ERROR codes, D-Bus remote errors included) */
CtcliExit ctcli_exit_for_error(const GError *error);

/*
 * Print an error the way every verb does: "certtether: MESSAGE" and, when the
 * error has one, "  hint: WHAT TO DO" on stderr (or a JSON object on stdout
 * with --json); returns the exit code for it.
 */
CtcliExit ctcli_print_error(CtcliContext *ctx, const GError *error);

/*
 * Read a secret at the terminal without echo (PINs, passwords): never from
 * argv, never logged. NULL if there is no terminal or the user gave none.
 */
gchar *ctcli_prompt_secret(const gchar *prompt);

/* verbs: argv[0] is the verb itself; return a CtcliExit */
int ctcli_cmd_list(CtcliContext *ctx, int argc, char **argv);
int ctcli_cmd_status(CtcliContext *ctx, int argc, char **argv);
int ctcli_cmd_approve(CtcliContext *ctx, int argc, char **argv);
int ctcli_cmd_reject(CtcliContext *ctx, int argc, char **argv);
int ctcli_cmd_provision(CtcliContext *ctx, int argc, char **argv);
int ctcli_cmd_watch(CtcliContext *ctx, int argc, char **argv);
int ctcli_cmd_history(CtcliContext *ctx, int argc, char **argv);
int ctcli_cmd_test(CtcliContext *ctx, int argc, char **argv);  /* test bootstrap|client-auth|chain */
int ctcli_cmd_bench(CtcliContext *ctx, int argc, char **argv); /* bench --roster FILE */

G_END_DECLS
