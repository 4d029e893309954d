/*
 * The CertProv enrollment backend (Lync / Skype for Business
 * CertProvisioningService): the certificate is obtained AND published in the
 * user's store with the desktop user's own credentials.
 *
 * submit():
 *   1. discover: GET <url>/mex for the port CertProvisioningServiceWebTicketProof_SHA1
 *      (where GetAndPublishCert goes) and, in its policy, the Web Ticket service;
 *      then GET <web ticket service>/mex for the port WebTicketServiceWinNegotiate.
 *      Without a usable /mex: the documented paths <url>/WebTicket_Proof and
 *      https://<host>/WebTicket/WebTicketService.svc/WinNegotiate;
 *   2. web-ticket: a WS-Trust RST with 32 bytes of client entropy, authenticated
 *      by HTTP Negotiate (or Basic) with the desktop's credentials;
 *   3. the proof key P_SHA1(client entropy, server entropy);
 *   4. enroll: GetAndPublishCert signed with the proof key (HMAC-SHA1 over the
 *      exc-c14n timestamp), answered with a DER certificate or a PKCS#7 bundle.
 * Each step is reported (CtEnrollStep "discover", "web-ticket", "enroll"). Faults
 * (X-Ms-diagnostics, OCSDiagnosticsFault) become CT_ERROR codes with the server's
 * ErrorId and reason; "data store unavailable" is transient.
 *
 * fetch_ca_certs(): GET <url>/certchain (anonymous PKCS#7 certs-only). That path is
 * our test fixture's assumption, unconfirmed on real servers: a 404 gives an empty
 * list and the verifier finds the issuer through AIA instead.
 */
#pragma once

#include "daemon/enroll/ct-enroll-backend.h"

G_BEGIN_DECLS

#define CT_TYPE_CERTPROV (ct_certprov_get_type())
G_DECLARE_FINAL_TYPE(CtCertprov, ct_certprov, CT, CERTPROV, CtEnrollBackend)

/*
 * @url: the CertProv service, https://POOL/CertProv/CertProvisioningService.svc
 * (a bare https://POOL gets that path); @ca_file: extra trust anchors or NULL;
 * @credentials: the desktop user's.
 */
CtEnrollBackend *
ct_certprov_new(const gchar *url, const gchar *ca_file, CtCredentials *credentials);

/*
 * [service] web-ticket-url: the Web Ticket service to use instead of the one the
 * CertProv /mex names. A service URL (…/WebTicketService.svc) still has its own
 * /mex read for the WinNegotiate port (falling back to …/WinNegotiate); any other
 * URL is taken as the address to post the request to. NULL restores discovery.
 */
void ct_certprov_set_web_ticket_url(CtCertprov *self, const gchar *url);

G_END_DECLS
