/*
 * Bounded exponential backoff with full jitter, as pure functions so that the
 * bounds can be tested without waiting: the wait after failed attempt n is
 * uniform in [0, min(max_delay, initial_delay * 2^(n-1))], raised to a server's
 * Retry-After hint (itself clamped to max_delay, so no wait ever exceeds it).
 */
#pragma once

#include <glib.h>

#include "daemon/engine/ct-config.h"

G_BEGIN_DECLS

typedef struct {
	guint max_attempts;    /* attempts in all, the first one included (>= 1) */
	gdouble initial_delay; /* seconds, > 0 */
	gdouble max_delay;     /* seconds, >= initial_delay */
} CtBackoffPolicy;

/* the [retry] settings of @config (defaults when NULL) */
void ct_backoff_policy_init(CtBackoffPolicy *policy, CtConfig *config);

/* upper bound of the wait after failed attempt @attempt (1-based) */
gdouble ct_backoff_cap(const CtBackoffPolicy *policy, guint attempt);

/*
 * The wait after failed attempt @attempt: @random01 in [0, 1) picks the point in
 * [0, cap]; @retry_after (seconds, < 0 for none) is a minimum. Always within
 * [0, max_delay].
 */
gdouble ct_backoff_delay(const CtBackoffPolicy *policy,
                         guint attempt,
                         gdouble random01,
                         gdouble retry_after);

/* TRUE when @error is transient and attempt @attempt was not the last allowed */
gboolean ct_backoff_should_retry(const CtBackoffPolicy *policy, guint attempt, const GError *error);

G_END_DECLS
