/*
 * phonesim: emulated CertTether phones on an emulated USB bus, for tests.
 *
 *   umockdev-wrapper phonesim --state-dir DIR [--control PATH] [--quiet] -- COMMAND [ARGS...]
 *
 * Creates the umockdev testbed (root hub on bus 1), serves the control socket, runs
 * COMMAND as its child (which inherits LD_PRELOAD and UMOCKDEV_DIR, so libusb in it
 * sees the emulated bus; PHONESIM_CONTROL and PHONESIM_STATE_DIR tell it where we
 * are), and when COMMAND exits unplugs everything and exits with COMMAND's status.
 * Exit 77 (the "skip" status) when not run under umockdev-wrapper.
 */
#include <glib-unix.h>
#include <glib/gstdio.h>
#include <locale.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/phonesim/phonesim-control.h"
#include "tests/phonesim/phonesim-sim.h"
#include "tests/phonesim/phonesim-usb.h"
#include "tests/phonesim/phonesim.h"

#define EXIT_NOT_UNDER_WRAPPER 77
#define EXIT_SETUP_FAILED      70

#define SHUTDOWN_WATCHDOG_S 60

/* what shutdown is doing, for the watchdog's message */
static const gchar *volatile shutdown_stage = "starting";
static gint shutdown_status;

/*
 * Shutdown must end: a test harness waits for phonesim. If unplugging or freeing the
 * testbed ever blocks, say where and exit with the child's status anyway (SIGALRM;
 * only async-signal-safe calls here).
 */
static void
on_shutdown_alarm(int sig)
{
	static const char msg[] = "phonesim: shutdown stuck, exiting anyway while ";
	(void)sig;
	if (write(STDERR_FILENO, msg, sizeof msg - 1) < 0 ||
	    write(STDERR_FILENO, shutdown_stage, strlen(shutdown_stage)) < 0 ||
	    write(STDERR_FILENO, "\n", 1) < 0)
		_exit(EXIT_SETUP_FAILED);
	_exit(shutdown_status != 0 ? shutdown_status : EXIT_SETUP_FAILED);
}

typedef struct {
	GMainLoop *loop;
	GPid child;
	gint child_status; /* exit code to return */
	gboolean child_done;
} PhonesimRun;

static void
on_child_exit(GPid pid, gint wait_status, gpointer data)
{
	PhonesimRun *run = data;
	if (WIFEXITED(wait_status))
		run->child_status = WEXITSTATUS(wait_status);
	else if (WIFSIGNALED(wait_status))
		run->child_status = 128 + WTERMSIG(wait_status);
	else
		run->child_status = 1;
	run->child_done = TRUE;
	g_spawn_close_pid(pid);
	g_main_loop_quit(run->loop);
}

/* SIGTERM/SIGINT/SIGHUP: pass it on to the child; its exit ends the run */
static gboolean
on_signal(gpointer data)
{
	PhonesimRun *run = data;
	if (!run->child_done)
		kill(run->child, SIGTERM);
	return G_SOURCE_CONTINUE;
}

int
main(int argc, char **argv)
{
	g_autofree gchar *state_dir = NULL;
	g_autofree gchar *control_path = NULL;
	gboolean quiet = FALSE;
	gboolean trace = FALSE;
	g_auto(GStrv) command = NULL;
	const GOptionEntry entries[] = {
	    {"state-dir", 0, 0, G_OPTION_ARG_FILENAME, &state_dir,
	     "Where the phones keep their state (created if missing)", "DIR"},
	    {"control", 0, 0, G_OPTION_ARG_FILENAME, &control_path,
	     "Control socket (default DIR/control.sock)", "PATH"},
	    {"quiet", 'q', 0, G_OPTION_ARG_NONE, &quiet, "Do not log plug/unplug events", NULL},
	    {"trace", 0, 0, G_OPTION_ARG_NONE, &trace, "Log every frame in and out", NULL},
	    {G_OPTION_REMAINING, 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &command, NULL,
	     "-- COMMAND [ARGS...]"},
	    {NULL, 0, 0, 0, NULL, NULL, NULL},
	};
	g_autoptr(GOptionContext) ctx = g_option_context_new("-- COMMAND [ARGS...]");
	g_autoptr(GError) error = NULL;

	setlocale(LC_ALL, "");
	g_option_context_set_summary(ctx, "Emulated CertTether phones on an emulated USB bus. "
	                                  "Run under umockdev-wrapper; drive it with "
	                                  "phonesim-ctl.");
	g_option_context_add_main_entries(ctx, entries, NULL);
	if (!g_option_context_parse(ctx, &argc, &argv, &error)) {
		g_printerr("phonesim: %s (see --help)\n", error->message);
		return 2;
	}
	if (state_dir == NULL || state_dir[0] == '\0' || command == NULL || command[0] == NULL) {
		g_printerr("phonesim: usage: umockdev-wrapper phonesim --state-dir DIR "
		           "[--control PATH] -- COMMAND [ARGS...]\n");
		return 2;
	}
	if (!phonesim_usb_under_wrapper()) {
		g_printerr("phonesim: not running under umockdev-wrapper, so no emulated USB bus "
		           "can be created; run: umockdev-wrapper %s --state-dir DIR -- COMMAND\n",
		           argv[0]);
		return EXIT_NOT_UNDER_WRAPPER;
	}
	if (!g_path_is_absolute(state_dir)) {
		g_autofree gchar *cwd = g_get_current_dir();
		gchar *abs = g_build_filename(cwd, state_dir, NULL);
		g_free(state_dir);
		state_dir = abs;
	}
	if (control_path == NULL)
		control_path = g_build_filename(state_dir, "control.sock", NULL);

	phonesim_phone_set_trace(trace || g_getenv("PHONESIM_TRACE") != NULL);
	g_autoptr(PhonesimSim) sim = phonesim_sim_new(state_dir, !quiet, &error);
	if (sim == NULL) {
		g_printerr("phonesim: %s\n", error->message);
		return EXIT_SETUP_FAILED;
	}
	g_autoptr(PhonesimControl) control = phonesim_control_new(sim, control_path, &error);
	if (control == NULL) {
		g_printerr("phonesim: %s\n", error->message);
		return EXIT_SETUP_FAILED;
	}

	/* the child sees the testbed ($UMOCKDEV_DIR is set by now) and our socket */
	g_auto(GStrv) envp = g_get_environ();
	envp = g_environ_setenv(envp, PHONESIM_CONTROL_ENV, control_path, TRUE);
	envp = g_environ_setenv(envp, "PHONESIM_STATE_DIR", state_dir, TRUE);
	PhonesimRun run = {0};
	run.loop = g_main_loop_new(NULL, FALSE);
	if (!g_spawn_async(NULL, command, envp,
	                   G_SPAWN_SEARCH_PATH | G_SPAWN_DO_NOT_REAP_CHILD |
	                       G_SPAWN_CHILD_INHERITS_STDIN,
	                   NULL, NULL, &run.child, &error)) {
		g_printerr("phonesim: cannot run %s: %s\n", command[0], error->message);
		g_main_loop_unref(run.loop);
		return 127;
	}
	g_child_watch_add(run.child, on_child_exit, &run);
	guint sig_term = g_unix_signal_add(SIGTERM, on_signal, &run);
	guint sig_int = g_unix_signal_add(SIGINT, on_signal, &run);
	guint sig_hup = g_unix_signal_add(SIGHUP, on_signal, &run);

	g_main_loop_run(run.loop);

	g_source_remove(sig_term);
	g_source_remove(sig_int);
	g_source_remove(sig_hup);
	/* unplug everything (uevents included), then stop serving and drop the testbed */
	shutdown_status = run.child_status;
	signal(SIGALRM, on_shutdown_alarm);
	alarm(SHUTDOWN_WATCHDOG_S);
	shutdown_stage = "unplugging the phones and removing the testbed";
	g_clear_pointer(&sim, phonesim_sim_free);
	shutdown_stage = "closing the control socket";
	g_clear_pointer(&control, phonesim_control_free);
	g_main_loop_unref(run.loop);
	return run.child_status;
}
