/*
 * Backoff: the cap doubles up to max-delay, every delay lies in [0, cap] (or at
 * the Retry-After minimum, never above max-delay), and only transient errors
 * within the attempt budget are retried.
 */
#include <math.h>

#include "daemon/engine/ct-backoff.h"

static const CtBackoffPolicy policy = {.max_attempts = 6, .initial_delay = 2.0, .max_delay = 300.0};

static void
test_cap(void)
{
	g_assert_cmpfloat(ct_backoff_cap(&policy, 1), ==, 2.0);
	g_assert_cmpfloat(ct_backoff_cap(&policy, 2), ==, 4.0);
	g_assert_cmpfloat(ct_backoff_cap(&policy, 3), ==, 8.0);
	g_assert_cmpfloat(ct_backoff_cap(&policy, 8), ==, 256.0);
	g_assert_cmpfloat(ct_backoff_cap(&policy, 9), ==, 300.0);
	/* no overflow however long it goes on */
	g_assert_cmpfloat(ct_backoff_cap(&policy, 1000), ==, 300.0);
	g_assert_cmpfloat(ct_backoff_cap(&policy, G_MAXUINT), ==, 300.0);
	/* attempt 0 is treated as the first */
	g_assert_cmpfloat(ct_backoff_cap(&policy, 0), ==, 2.0);
}

static void
test_jitter_range(void)
{
	GRand *rand = g_rand_new_with_seed(42);
	gdouble lo = G_MAXDOUBLE, hi = 0;
	/* the extremes of the random input map to the ends of [0, cap] */
	g_assert_cmpfloat(ct_backoff_delay(&policy, 3, 0.0, -1), ==, 0.0);
	g_assert_cmpfloat(ct_backoff_delay(&policy, 3, 1.0, -1), ==, 8.0);
	g_assert_cmpfloat(ct_backoff_delay(&policy, 3, 0.5, -1), ==, 4.0);
	/* out-of-range or NaN randomness is clamped, never escapes the bounds */
	g_assert_cmpfloat(ct_backoff_delay(&policy, 3, -5.0, -1), ==, 0.0);
	g_assert_cmpfloat(ct_backoff_delay(&policy, 3, 7.0, -1), ==, 8.0);
	g_assert_cmpfloat(ct_backoff_delay(&policy, 3, NAN, -1), ==, 0.0);
	for (guint attempt = 1; attempt <= 12; attempt++) {
		gdouble cap = ct_backoff_cap(&policy, attempt);
		for (guint i = 0; i < 1000; i++) {
			gdouble d = ct_backoff_delay(&policy, attempt, g_rand_double(rand), -1);
			g_assert_cmpfloat(d, >=, 0.0);
			g_assert_cmpfloat(d, <=, cap);
			if (attempt == 4) {
				lo = MIN(lo, d);
				hi = MAX(hi, d);
			}
		}
	}
	/* full jitter: the samples spread over the whole range, not a point */
	g_assert_cmpfloat(lo, <, 0.1 * 16.0);
	g_assert_cmpfloat(hi, >, 0.9 * 16.0);
	g_rand_free(rand);
}

static void
test_retry_after(void)
{
	/* the server's hint is a minimum */
	g_assert_cmpfloat(ct_backoff_delay(&policy, 1, 0.0, 30.0), ==, 30.0);
	g_assert_cmpfloat(ct_backoff_delay(&policy, 1, 1.0, 1.0), ==, 2.0);
	/* but never beyond max-delay */
	g_assert_cmpfloat(ct_backoff_delay(&policy, 1, 0.0, 3600.0), ==, 300.0);
	/* zero or negative means no hint */
	g_assert_cmpfloat(ct_backoff_delay(&policy, 2, 0.25, 0.0), ==, 1.0);
}

static void
test_should_retry(void)
{
	g_autoptr(GError) transient =
	    g_error_new_literal(CT_ERROR, CT_ERROR_STORE_UNAVAILABLE, "store unavailable");
	g_autoptr(GError) timeout = g_error_new_literal(CT_ERROR, CT_ERROR_TIMEOUT, "slow");
	g_autoptr(GError) auth = g_error_new_literal(CT_ERROR, CT_ERROR_AUTH_FAILED, "refused");
	g_autoptr(GError) nocred = g_error_new_literal(CT_ERROR, CT_ERROR_NO_CREDENTIALS, "kinit");
	g_autoptr(GError) foreign = g_error_new_literal(G_IO_ERROR, G_IO_ERROR_TIMED_OUT, "x");
	g_assert_true(ct_backoff_should_retry(&policy, 1, transient));
	g_assert_true(ct_backoff_should_retry(&policy, 5, timeout));
	/* the sixth attempt was the last */
	g_assert_false(ct_backoff_should_retry(&policy, 6, transient));
	g_assert_false(ct_backoff_should_retry(&policy, 1, auth));
	g_assert_false(ct_backoff_should_retry(&policy, 1, nocred));
	g_assert_false(ct_backoff_should_retry(&policy, 1, foreign));
	g_assert_false(ct_backoff_should_retry(&policy, 1, NULL));
}

static void
test_policy_from_config(void)
{
	g_autoptr(GError) error = NULL;
	const gchar *text = "[retry]\nmax-attempts=3\ninitial-delay=0.05\nmax-delay=0.2\n";
	g_autoptr(CtConfig) config =
	    ct_config_load_data(text, strlen(text), "t.conf", NULL, &error);
	CtBackoffPolicy p;
	g_assert_no_error(error);
	ct_backoff_policy_init(&p, config);
	g_assert_cmpuint(p.max_attempts, ==, 3);
	g_assert_cmpfloat(p.initial_delay, ==, 0.05);
	g_assert_cmpfloat(p.max_delay, ==, 0.2);
	ct_backoff_policy_init(&p, NULL);
	g_assert_cmpuint(p.max_attempts, ==, CT_CONFIG_DEFAULT_MAX_ATTEMPTS);
	g_assert_cmpfloat(p.max_delay, ==, CT_CONFIG_DEFAULT_MAX_DELAY);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/backoff/cap", test_cap);
	g_test_add_func("/backoff/jitter-range", test_jitter_range);
	g_test_add_func("/backoff/retry-after", test_retry_after);
	g_test_add_func("/backoff/should-retry", test_should_retry);
	g_test_add_func("/backoff/policy-from-config", test_policy_from_config);
	return g_test_run();
}
