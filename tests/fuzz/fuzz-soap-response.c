/*
 * libFuzzer target: every CertProv answer parser (daemon/enroll/ct-soap.c) on
 * untrusted bytes — the /mex metadata, the web ticket RSTR, the GetAndPublishCert
 * response and the certificate bundle inside it, SOAP faults, the X-Ms-diagnostics
 * header and the failure classification. A web ticket that parses is also
 * carried into a signed GetAndPublishCert envelope (assertion copy, exclusive
 * C14N), and that envelope must parse back.
 *
 * Input: an optional X-Ms-diagnostics header line ("<digits>...\n") followed by
 * the body; a body starting with '<' has no header line.
 */
#include <openssl/x509.h>
#include <string.h>

#include "daemon/engine/ct-x509.h"
#include "daemon/enroll/ct-soap.h"
#include "daemon/enroll/ct-wstrust-crypto.h"

int LLVMFuzzerTestOneInput(const guint8 *data, size_t size);

static void
fuzz_signed_envelope(const CtWebTicket *ticket)
{
	static const guint8 key_bytes[32] = {1, 2, 3, 4, 5, 6, 7, 8};
	static const guint8 csr_bytes[] = {0x30, 0x03, 0x02, 0x01, 0x00};
	g_autoptr(GBytes) key = g_bytes_new_static(key_bytes, sizeof(key_bytes));
	g_autoptr(GBytes) csr = g_bytes_new_static(csr_bytes, sizeof(csr_bytes));
	g_autoptr(GBytes) envelope = NULL;
	g_autoptr(xmlDoc) doc = NULL;
	CtGetAndPublishCertParams params = {
	    .to = "https://pool.example.com/CertProv/CertProvisioningService.svc/WebTicket_Proof",
	    .ticket = ticket,
	    .proof_key = key,
	    .device_id = "{6F9619FF-8B86-D011-B42D-00C04FC964FF}",
	    .entity = "alice@example.com",
	    .csr_der = csr,
	};

	envelope = ct_soap_build_get_and_publish_cert(&params, NULL);
	if (envelope == NULL)
		return;
	/* what we send must be a document we accept ourselves */
	doc = ct_soap_parse(g_bytes_get_data(envelope, NULL), g_bytes_get_size(envelope),
	                    "our own envelope", NULL);
	if (doc == NULL && g_bytes_get_size(envelope) <= CT_SOAP_MAX_DOCUMENT)
		__builtin_trap();
}

int
LLVMFuzzerTestOneInput(const guint8 *data, size_t size)
{
	g_autofree gchar *header = NULL;
	const guint8 *body = data;
	gsize body_len = size;
	CtSoapMex mex = {0};
	CtMsDiagnostics diag = {0};
	g_autoptr(CtWebTicket) ticket = NULL;
	g_autoptr(GBytes) token = NULL;
	g_autoptr(GError) error = NULL;

	if (size > 0 && data[0] != '<') {
		const guint8 *nl = memchr(data, '\n', MIN(size, (gsize)8192));
		if (nl != NULL) {
			header = g_strndup((const gchar *)data, nl - data);
			body = nl + 1;
			body_len = size - (gsize)(nl + 1 - data);
		}
	}
	if (header != NULL) {
		ct_soap_parse_ms_diagnostics_header(header, &diag);
		ct_ms_diagnostics_clear(&diag);
	}

	if (ct_soap_parse_mex(body, body_len, CT_CERTPROV_PROOF_PORT, &mex, NULL))
		ct_soap_mex_clear(&mex);
	if (ct_soap_parse_mex(body, body_len, CT_WEBTICKET_NEGOTIATE_PORT, &mex, NULL))
		ct_soap_mex_clear(&mex);

	ticket = ct_soap_parse_webticket_response(body, body_len, NULL);
	if (ticket != NULL)
		fuzz_signed_envelope(ticket);

	token = ct_soap_parse_get_and_publish_cert_response(body, body_len, NULL);
	if (token != NULL)
		ct_x509_stack_free(ct_x509_certs_from_der_any(g_bytes_get_data(token, NULL),
		                                              g_bytes_get_size(token), NULL));

	ct_soap_parse_fault(body, body_len, &diag);
	ct_ms_diagnostics_clear(&diag);
	ct_soap_set_error(size > 0 ? 200 + data[size - 1] * 2 : 500, header, body, body_len,
	                  "the fuzzed server", "alice@EXAMPLE.COM", &error);
	if (error == NULL)
		__builtin_trap(); /* a failure always gives an error */
	return 0;
}
