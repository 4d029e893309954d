/*
 * CtEnrollJob: one CSR's enrollment, run in a worker thread, reporting back on
 * the main loop that created it. Jobs belong to the engine, not to a phone's
 * session, so that an unplug does not abandon a request the service may
 * already be answering: one CSR, one request, one certificate.
 */
#pragma once

#include "daemon/engine/ct-device.h"
#include "daemon/engine/ct-enrollment.h"

G_BEGIN_DECLS

typedef struct _CtEnrollJob CtEnrollJob;

/* main loop: the state to show (enrolling, waiting-retry, verifying) with a sentence */
typedef void (*CtEnrollJobProgressFunc)(CtEnrollJob *job,
                                        CtDeviceState state,
                                        const gchar *detail,
                                        guint attempts,
                                        gint64 next_retry_realtime,
                                        gpointer user_data);
/* main loop: exactly once; result NULL and error set on failure */
typedef void (*CtEnrollJobDoneFunc)(CtEnrollJob *job,
                                    CtEnrollResult *result,
                                    const GError *error,
                                    gpointer user_data);

CtEnrollJob *ct_enroll_job_new(CtConfig *config,
                               CtCredentials *credentials,
                               GBytes *csr_der,
                               const gchar *csr_sha256,
                               const gchar *sip_uri,
                               const gchar *device_id,
                               gboolean renewal);
CtEnrollJob *ct_enroll_job_ref(CtEnrollJob *job);
void ct_enroll_job_unref(CtEnrollJob *job);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(CtEnrollJob, ct_enroll_job_unref)

/* start in a worker thread; callbacks run in the thread-default main context of the caller */
void ct_enroll_job_start(CtEnrollJob *job,
                         CtEnrollJobProgressFunc progress,
                         CtEnrollJobDoneFunc done,
                         gpointer user_data);
void ct_enroll_job_cancel(CtEnrollJob *job);

const gchar *ct_enroll_job_get_csr_sha256(CtEnrollJob *job);
const gchar *ct_enroll_job_get_sip_uri(CtEnrollJob *job);
guint ct_enroll_job_get_attempts(CtEnrollJob *job);

G_END_DECLS
