/*
 * phonesim-ctl: one command to a running phonesim (see tests/phonesim/README.md).
 *
 *   phonesim-ctl [--control PATH] COMMAND [ARGS...]
 *
 * The socket comes from --control or $PHONESIM_CONTROL. Exit code: the command's
 * (0 success, 1 failed, 2 usage), 3 when phonesim cannot be reached.
 */
#include <locale.h>
#include <stdio.h>
#include <string.h>

#include "tests/phonesim/phonesim.h"

static const gchar usage[] =
    "usage: phonesim-ctl [--control PATH] COMMAND [ARGS...]\n"
    "commands:\n"
    "  add ID [--serial S] [--vendor V] [--model M] [--firmware F]\n"
    "         [--key-algs rsa2048,rsa3072,ec-p256,ec-p384] [--max-chain N]\n"
    "         [--max-anchors N] [--max-frame N] [--misbehave SPEC]\n"
    "  plug ID | unplug ID | misbehave ID SPEC | list [--json]\n"
    "  status ID [--json]\n"
    "  wait ID EVENT [--count N] [--timeout SECONDS]\n"
    "     EVENT: plugged unplugged hello status csr staged committed aborted error "
    "self-unplug\n";

int
main(int argc, char **argv)
{
	const gchar *control = NULL;
	int first = 1;

	setlocale(LC_ALL, "");
	if (argc > 2 && strcmp(argv[1], "--control") == 0) {
		control = argv[2];
		first = 3;
	} else if (argc > 1 && g_str_has_prefix(argv[1], "--control=")) {
		control = argv[1] + strlen("--control=");
		first = 2;
	}
	if (first >= argc || strcmp(argv[first], "--help") == 0 || strcmp(argv[first], "-h") == 0) {
		fputs(usage, first >= argc ? stderr : stdout);
		return first >= argc ? 2 : 0;
	}

	g_autoptr(GError) error = NULL;
	g_autofree gchar *output = NULL;
	gint code =
	    phonesim_client_run(control, (const gchar *const *)argv + first, &output, &error);
	if (code < 0) {
		g_printerr("phonesim-ctl: %s\n", error->message);
		return 3;
	}
	if (code == 0) {
		fputs(output, stdout);
	} else {
		g_printerr("phonesim-ctl %s: %s%s", argv[first], output,
		           g_str_has_suffix(output, "\n") ? "" : "\n");
	}
	return code;
}
