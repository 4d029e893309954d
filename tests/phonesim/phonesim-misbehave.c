/*
 * phonesim misbehaviour SPECs: parsing and printing.
 */
#include "tests/phonesim/phonesim-misbehave.h"

#include <gio/gio.h>
#include <string.h>

#include "usbproto/codec/ctp-protocol.h"

#define MAX_DELAY_S 3600u

static const struct {
	guint8 type;
	const gchar *name;
} msg_names[] = {
    {CTP_MSG_HELLO, "hello"},           {CTP_MSG_STATUS, "status"},
    {CTP_MSG_CREATE_CSR, "create-csr"}, {CTP_MSG_STAGE_BEGIN, "stage-begin"},
    {CTP_MSG_STAGE_ITEM, "stage-item"}, {CTP_MSG_COMMIT, "commit"},
    {CTP_MSG_ABORT, "abort"},           {CTP_MSG_PING, "ping"},
};

guint8
phonesim_msg_from_name(const gchar *name)
{
	for (guint i = 0; i < G_N_ELEMENTS(msg_names); i++) {
		if (g_strcmp0(name, msg_names[i].name) == 0)
			return msg_names[i].type;
	}
	return 0;
}

const gchar *
phonesim_msg_name(guint8 type)
{
	for (guint i = 0; i < G_N_ELEMENTS(msg_names); i++) {
		if (msg_names[i].type == type)
			return msg_names[i].name;
	}
	return "unknown";
}

static gboolean
parse_seconds(const gchar *key, const gchar *value, guint *out, GError **error)
{
	guint64 v = 0;
	if (value == NULL || !g_ascii_string_to_unsigned(value, 10, 0, MAX_DELAY_S, &v, NULL)) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
		            "%s needs a number of seconds 0..%u, e.g. %s=5", key, MAX_DELAY_S, key);
		return FALSE;
	}
	*out = (guint)v;
	return TRUE;
}

/* "MSG" or "MSG:VARIANT"; returns the message bit and the variant text */
static gboolean
parse_msg(const gchar *key, const gchar *value, guint8 *type, gchar **variant, GError **error)
{
	if (value == NULL || value[0] == '\0') {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
		            "%s needs a request name (hello, status, create-csr, stage-begin, "
		            "stage-item, commit, abort, ping)",
		            key);
		return FALSE;
	}
	g_auto(GStrv) parts = g_strsplit(value, ":", 2);
	*type = phonesim_msg_from_name(parts[0]);
	if (*type == 0) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
		            "%s: unknown request '%s' (hello, status, create-csr, stage-begin, "
		            "stage-item, commit, abort, ping)",
		            key, parts[0]);
		return FALSE;
	}
	*variant = g_strdup(parts[1]);
	return TRUE;
}

static gboolean
apply_one(PhonesimMisbehave *mb, const gchar *item, GError **error)
{
	g_auto(GStrv) kv = g_strsplit(item, "=", 2);
	const gchar *key = kv[0];
	const gchar *value = kv[1];
	g_autofree gchar *variant = NULL;
	guint8 type = 0;

	if (g_strcmp0(key, "clear") == 0) {
		memset(mb, 0, sizeof *mb);
	} else if (g_strcmp0(key, "slow-keygen") == 0) {
		return parse_seconds(key, value, &mb->slow_keygen_s, error);
	} else if (g_strcmp0(key, "silent-keygen") == 0) {
		return parse_seconds(key, value, &mb->silent_keygen_s, error);
	} else if (g_strcmp0(key, "malformed") == 0) {
		if (!parse_msg(key, value, &type, &variant, error))
			return FALSE;
		if (variant == NULL || g_strcmp0(variant, "crc") == 0) {
			mb->garble = PHONESIM_GARBLE_CRC;
		} else if (g_strcmp0(variant, "random") == 0) {
			mb->garble = PHONESIM_GARBLE_RANDOM;
		} else if (g_strcmp0(variant, "truncated") == 0) {
			mb->garble = PHONESIM_GARBLE_TRUNCATED;
		} else {
			g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
			            "malformed=%s: unknown variant '%s' (crc, random, truncated)",
			            value, variant);
			return FALSE;
		}
		mb->malformed |= 1u << (type & 0x1f);
	} else if (g_strcmp0(key, "oversized") == 0) {
		if (!parse_msg(key, value, &type, &variant, error))
			return FALSE;
		if (variant == NULL || g_strcmp0(variant, "long") == 0) {
			mb->oversize = PHONESIM_OVERSIZE_LONG;
		} else if (g_strcmp0(variant, "lie") == 0) {
			mb->oversize = PHONESIM_OVERSIZE_LIE;
		} else {
			g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
			            "oversized=%s: unknown variant '%s' (long, lie)", value,
			            variant);
			return FALSE;
		}
		mb->oversized |= 1u << (type & 0x1f);
	} else if (g_strcmp0(key, "unplug-at") == 0) {
		guint64 n = 1;
		if (!parse_msg(key, value, &type, &variant, error))
			return FALSE;
		if (variant != NULL &&
		    !g_ascii_string_to_unsigned(variant, 10, 1, 1000000, &n, NULL)) {
			g_set_error(
			    error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
			    "unplug-at=%s: N must be a number >= 1, e.g. unplug-at=commit:2",
			    value);
			return FALSE;
		}
		mb->unplug_at_type = type;
		mb->unplug_at_count = (guint)n;
	} else if (value != NULL) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
		            "misbehaviour '%s' takes no value", key);
		return FALSE;
	} else if (g_strcmp0(key, "wrong-subject") == 0) {
		mb->wrong_subject = TRUE;
	} else if (g_strcmp0(key, "extra-extension") == 0) {
		mb->extra_extension = TRUE;
	} else if (g_strcmp0(key, "weak-key") == 0) {
		mb->weak_key = TRUE;
	} else if (g_strcmp0(key, "bad-pop") == 0) {
		mb->bad_pop = TRUE;
	} else if (g_strcmp0(key, "bad-identity-sig") == 0) {
		mb->bad_identity_sig = TRUE;
	} else if (g_strcmp0(key, "refuse-install") == 0) {
		mb->refuse_install = TRUE;
	} else {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
		            "unknown misbehaviour '%s' (slow-keygen=S, silent-keygen=S, "
		            "malformed=MSG, oversized=MSG, wrong-subject, extra-extension, "
		            "weak-key, bad-pop, bad-identity-sig, refuse-install, "
		            "unplug-at=MSG[:N], clear)",
		            key);
		return FALSE;
	}
	return TRUE;
}

gboolean
phonesim_misbehave_apply(PhonesimMisbehave *mb, const gchar *spec, GError **error)
{
	PhonesimMisbehave result = *mb;
	g_auto(GStrv) items = g_strsplit(spec, ",", -1);
	for (guint i = 0; items[i] != NULL; i++) {
		const gchar *item = g_strstrip(items[i]);
		if (item[0] == '\0')
			continue;
		if (!apply_one(&result, item, error))
			return FALSE;
	}
	*mb = result;
	return TRUE;
}

static void
append_msgs(GString *s, const gchar *key, guint32 bits, const gchar *variant)
{
	for (guint i = 0; i < G_N_ELEMENTS(msg_names); i++) {
		if (bits & (1u << msg_names[i].type)) {
			g_string_append_printf(s, "%s%s=%s", s->len > 0 ? "," : "", key,
			                       msg_names[i].name);
			if (variant != NULL)
				g_string_append_printf(s, ":%s", variant);
		}
	}
}

gchar *
phonesim_misbehave_to_string(const PhonesimMisbehave *mb)
{
	static const gchar *const garble_names[] = {NULL, "random", "truncated"};
	static const gchar *const oversize_names[] = {NULL, "lie"};
	GString *s = g_string_new(NULL);
	if (mb->slow_keygen_s > 0)
		g_string_append_printf(s, "%sslow-keygen=%u", s->len > 0 ? "," : "",
		                       mb->slow_keygen_s);
	if (mb->silent_keygen_s > 0)
		g_string_append_printf(s, "%ssilent-keygen=%u", s->len > 0 ? "," : "",
		                       mb->silent_keygen_s);
	append_msgs(s, "malformed", mb->malformed, garble_names[mb->garble]);
	append_msgs(s, "oversized", mb->oversized, oversize_names[mb->oversize]);
	if (mb->wrong_subject)
		g_string_append_printf(s, "%swrong-subject", s->len > 0 ? "," : "");
	if (mb->extra_extension)
		g_string_append_printf(s, "%sextra-extension", s->len > 0 ? "," : "");
	if (mb->weak_key)
		g_string_append_printf(s, "%sweak-key", s->len > 0 ? "," : "");
	if (mb->bad_pop)
		g_string_append_printf(s, "%sbad-pop", s->len > 0 ? "," : "");
	if (mb->bad_identity_sig)
		g_string_append_printf(s, "%sbad-identity-sig", s->len > 0 ? "," : "");
	if (mb->refuse_install)
		g_string_append_printf(s, "%srefuse-install", s->len > 0 ? "," : "");
	if (mb->unplug_at_type != 0)
		g_string_append_printf(s, "%sunplug-at=%s:%u", s->len > 0 ? "," : "",
		                       phonesim_msg_name(mb->unplug_at_type), mb->unplug_at_count);
	return g_string_free(s, FALSE);
}
