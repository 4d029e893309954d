/*
 * phonesim misbehaviours: what a phone does wrong on request (a SPEC like
 * "slow-keygen=5,unplug-at=commit:2"), so that hosts can be tested against
 * slow, broken and hostile devices.
 */
#pragma once

#include <glib.h>

/* how a garbled answer is garbled */
typedef enum {
	PHONESIM_GARBLE_CRC = 0,   /* valid header, checksum wrong */
	PHONESIM_GARBLE_RANDOM,    /* random bytes of the answer's length */
	PHONESIM_GARBLE_TRUNCATED, /* the answer cut in the middle */
} PhonesimGarble;

/* how an oversized answer is oversized */
typedef enum {
	PHONESIM_OVERSIZE_LONG = 0, /* more than CTP_MAX_FRAME bytes, header says so */
	PHONESIM_OVERSIZE_LIE,      /* normal length, header claims a longer payload */
} PhonesimOversize;

typedef struct {
	guint slow_keygen_s;   /* keygen takes this long, with PROGRESS */
	guint silent_keygen_s; /* keygen takes this long, without PROGRESS */
	guint32 malformed;     /* bit (1 << CTP_MSG_*) of the requests answered garbled */
	PhonesimGarble garble;
	guint32 oversized; /* bit (1 << CTP_MSG_*) of the requests answered oversized */
	PhonesimOversize oversize;
	gboolean wrong_subject;    /* CSR for another subject */
	gboolean extra_extension;  /* CSR with basicConstraints CA:TRUE */
	gboolean weak_key;         /* RSA-1024 whatever was asked */
	gboolean bad_pop;          /* pop_sig over the wrong data */
	gboolean bad_identity_sig; /* identity_sig over the wrong data */
	gboolean refuse_install;   /* ERROR REFUSED at COMMIT */
	guint8 unplug_at_type;     /* CTP_MSG_* request that makes the phone unplug, 0 = never */
	guint unplug_at_count;     /* ... when it arrives for the Nth time (1-based) */
} PhonesimMisbehave;

/* the request names of SPECs: hello, status, create-csr, ... -> CTP_MSG_*, 0 if unknown */
guint8 phonesim_msg_from_name(const gchar *name);
const gchar *phonesim_msg_name(guint8 type);

/* apply SPEC on top of mb ("clear" resets); mb is unchanged on error */
gboolean phonesim_misbehave_apply(PhonesimMisbehave *mb, const gchar *spec, GError **error);

/* the canonical SPEC for mb ("" for a well-behaved phone) */
gchar *phonesim_misbehave_to_string(const PhonesimMisbehave *mb);
