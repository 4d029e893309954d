/*
 * "usbproto core is libc-only and allocation-free": every undefined symbol of
 * $(BUILDDIR)/usbproto/libctp.a (codec + device session, meant for phone
 * firmware) must be in a short allow-list of libc functions, or belong to the
 * sanitizer / stack-protector runtime of an instrumented build.
 */
#include <glib.h>
#include <string.h>

static const char *const allowed_libc[] = {
    "memcpy", "memset", "memcmp", "memmove", "strlen", NULL,
};

/* instrumentation symbols: the sanitizer build adds them, the firmware build does not */
static const char *const allowed_prefixes[] = {
    "__asan_", "__ubsan_", "__sanitizer_", "__lsan_", "__stack_chk_", NULL,
};

static const char *const allowed_exact[] = {
    "_GLOBAL_OFFSET_TABLE_",
    "__stack_chk_fail",
    "__stack_chk_guard",
    NULL,
};

static gboolean
symbol_allowed(const char *sym)
{
	for (guint i = 0; allowed_libc[i] != NULL; i++) {
		if (g_strcmp0(sym, allowed_libc[i]) == 0)
			return TRUE;
	}
	for (guint i = 0; allowed_exact[i] != NULL; i++) {
		if (g_strcmp0(sym, allowed_exact[i]) == 0)
			return TRUE;
	}
	for (guint i = 0; allowed_prefixes[i] != NULL; i++) {
		if (g_str_has_prefix(sym, allowed_prefixes[i]))
			return TRUE;
	}
	return FALSE;
}

static gchar *builddir;

/* run nm with the given options on the archive; posix format lines "name type [value size]" */
static GPtrArray *
nm_symbols(const gchar *archive, const gchar *option, gboolean want_undefined)
{
	const gchar *argv[] = {"nm", option, "--format=posix", archive, NULL};
	g_autofree gchar *out = NULL;
	g_autofree gchar *err = NULL;
	g_autoptr(GError) error = NULL;
	g_auto(GStrv) lines = NULL;
	gint status = 0;
	GPtrArray *syms = g_ptr_array_new_with_free_func(g_free);

	if (!g_spawn_sync(NULL, (gchar **)argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, &out, &err,
	                  &status, &error))
		g_error("cannot run nm: %s", error->message);
	if (!g_spawn_check_wait_status(status, &error))
		g_error("nm %s %s failed: %s: %s", option, archive, error->message, err);
	lines = g_strsplit(out, "\n", -1);
	for (guint i = 0; lines[i] != NULL; i++) {
		g_auto(GStrv) words = NULL;
		/* skip blank lines and the "archive[member]:" headers */
		if (lines[i][0] == '\0' || g_str_has_suffix(lines[i], ":"))
			continue;
		words = g_strsplit(lines[i], " ", -1);
		if (g_strv_length(words) < 2)
			continue;
		if (want_undefined !=
		    (g_strcmp0(words[1], "U") == 0 || g_strcmp0(words[1], "w") == 0))
			continue;
		g_ptr_array_add(syms, g_strdup(words[0]));
	}
	return syms;
}

/* symbols the archive needs from outside itself: undefined in one member and
 * defined in none (calls between codec files are fine) */
static GPtrArray *
external_symbols(const gchar *archive)
{
	g_autoptr(GPtrArray) undefined = nm_symbols(archive, "-u", TRUE);
	g_autoptr(GPtrArray) defined = nm_symbols(archive, "--defined-only", FALSE);
	g_autoptr(GHashTable) internal = g_hash_table_new(g_str_hash, g_str_equal);
	GPtrArray *ext = g_ptr_array_new_with_free_func(g_free);

	for (guint i = 0; i < defined->len; i++)
		g_hash_table_add(internal, g_ptr_array_index(defined, i));
	for (guint i = 0; i < undefined->len; i++) {
		const gchar *sym = g_ptr_array_index(undefined, i);
		if (!g_hash_table_contains(internal, sym))
			g_ptr_array_add(ext, g_strdup(sym));
	}
	return ext;
}

static void
test_core_symbols(void)
{
	g_autofree gchar *archive = g_build_filename(builddir, "usbproto", "libctp.a", NULL);
	g_autoptr(GPtrArray) syms = NULL;
	g_autoptr(GString) bad = g_string_new(NULL);

	g_assert_true(g_file_test(archive, G_FILE_TEST_IS_REGULAR));
	syms = external_symbols(archive);
	g_test_message("%s needs %u external symbols", archive, syms->len);
	/* the codec needs at least memcpy: an empty list would mean nm read nothing */
	g_assert_cmpuint(syms->len, >, 0);
	for (guint i = 0; i < syms->len; i++) {
		const gchar *sym = g_ptr_array_index(syms, i);
		if (!symbol_allowed(sym))
			g_string_append_printf(bad, " %s", sym);
	}
	if (bad->len > 0)
		g_error("libctp.a (usbproto core) must use only libc's mem*/strlen, "
		        "but references:%s",
		        bad->str);
}

static void
test_allow_list_rejects(void)
{
	/* the check itself must be able to fail */
	g_assert_false(symbol_allowed("malloc"));
	g_assert_false(symbol_allowed("free"));
	g_assert_false(symbol_allowed("printf"));
	g_assert_false(symbol_allowed("g_malloc"));
	g_assert_true(symbol_allowed("memcpy"));
	g_assert_true(symbol_allowed("__asan_report_load8"));
}

int
main(int argc, char **argv)
{
	const gchar *env = g_getenv("CT_BUILDDIR");

	g_test_init(&argc, &argv, NULL);
	if (env != NULL && env[0] != '\0') {
		builddir = g_strdup(env);
	} else {
		/* the program lives in $(BUILDDIR)/tests/ */
		g_autofree gchar *self = g_file_read_link("/proc/self/exe", NULL);
		g_autofree gchar *dir = g_path_get_dirname(self != NULL ? self : argv[0]);
		builddir = g_path_get_dirname(dir);
	}
	g_test_add_func("/ctp/core/allow-list-rejects", test_allow_list_rejects);
	g_test_add_func("/ctp/core/libc-only-allocation-free", test_core_symbols);
	return g_test_run();
}
