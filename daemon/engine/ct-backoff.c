#include "daemon/engine/ct-backoff.h"

#include <math.h>

void
ct_backoff_policy_init(CtBackoffPolicy *policy, CtConfig *config)
{
	g_return_if_fail(policy != NULL);
	if (config == NULL) {
		policy->max_attempts = CT_CONFIG_DEFAULT_MAX_ATTEMPTS;
		policy->initial_delay = CT_CONFIG_DEFAULT_INITIAL_DELAY;
		policy->max_delay = CT_CONFIG_DEFAULT_MAX_DELAY;
		return;
	}
	policy->max_attempts = ct_config_get_max_attempts(config);
	policy->initial_delay = ct_config_get_initial_delay(config);
	policy->max_delay = ct_config_get_max_delay(config);
}

gdouble
ct_backoff_cap(const CtBackoffPolicy *policy, guint attempt)
{
	gdouble cap;
	g_return_val_if_fail(policy != NULL, 0);
	if (attempt == 0)
		attempt = 1;
	/* 2^62 already dwarfs any max_delay; ldexp keeps it exact and overflow-free */
	cap = ldexp(MAX(policy->initial_delay, 0.0), (int)MIN(attempt - 1, 62u));
	return MIN(cap, MAX(policy->max_delay, 0.0));
}

gdouble
ct_backoff_delay(const CtBackoffPolicy *policy,
                 guint attempt,
                 gdouble random01,
                 gdouble retry_after)
{
	gdouble cap = ct_backoff_cap(policy, attempt);
	gdouble delay;
	if (!(random01 >= 0.0)) /* also catches NaN */
		random01 = 0.0;
	if (random01 > 1.0)
		random01 = 1.0;
	delay = random01 * cap;
	/* the server knows when it will be back: wait at least that, within our bound */
	if (retry_after > 0)
		delay = MAX(delay, MIN(retry_after, policy->max_delay));
	return CLAMP(delay, 0.0, MAX(policy->max_delay, 0.0));
}

gboolean
ct_backoff_should_retry(const CtBackoffPolicy *policy, guint attempt, const GError *error)
{
	g_return_val_if_fail(policy != NULL, FALSE);
	return ct_error_is_transient(error) && attempt < policy->max_attempts;
}
