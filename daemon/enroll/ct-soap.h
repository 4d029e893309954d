/*
 * The XML side of CertProv (Lync / Skype for Business certificate provisioning),
 * kept apart from the HTTP flow so that it can be unit-tested and fuzzed:
 * safe parsing, the /mex metadata, the web ticket request and response
 * (WS-Trust), the signed GetAndPublishCert envelope (WS-Security, exclusive
 * C14N, HMAC-SHA1 with the proof key), its response, and the server's faults
 * (X-Ms-diagnostics header, OCSDiagnosticsFault) turned into CT_ERROR codes.
 *
 * Wire facts: ../shared/docs/certprov-wire.md. Every lookup is by namespace URI
 * and local name, never by prefix. Documents with a DOCTYPE are refused, the
 * network is never used while parsing and sizes are bounded.
 */
#pragma once

#include <gio/gio.h>
#include <libxml/tree.h>

#include "daemon/engine/ct-error.h"

G_BEGIN_DECLS

G_DEFINE_AUTOPTR_CLEANUP_FUNC(xmlDoc, xmlFreeDoc)

#define CT_NS_SOAP "http://schemas.xmlsoap.org/soap/envelope/"
#define CT_NS_TNS  "http://schemas.microsoft.com/OCS/AuthWebServices/"
/* WS-Trust 1.3, two spellings: the web ticket request has no trailing slash... */
#define CT_NS_WST "http://docs.oasis-open.org/ws-sx/ws-trust/200512"
/* ...the RequestSecurityToken inside GetAndPublishCert has one */
#define CT_NS_WST_SLASH "http://docs.oasis-open.org/ws-sx/ws-trust/200512/"
#define CT_NS_WSTEP     "http://schemas.microsoft.com/windows/pki/2009/01/enrollment"
#define CT_NS_AUTH      "http://schemas.xmlsoap.org/ws/2006/12/authorization"
#define CT_NS_WSSE                                                                                 \
	"http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
#define CT_NS_WSU                                                                                  \
	"http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
#define CT_NS_WSA  "http://www.w3.org/2005/08/addressing"
#define CT_NS_WSP  "http://schemas.xmlsoap.org/ws/2004/09/policy"
#define CT_NS_SAML "urn:oasis:names:tc:SAML:1.0:assertion"
#define CT_NS_AF   "urn:component:Microsoft.Rtc.WebAuthentication.2010"
#define CT_NS_DS   "http://www.w3.org/2000/09/xmldsig#"
/* metadata (WSDL inside WS-MetadataExchange) */
#define CT_NS_WSDL        "http://schemas.xmlsoap.org/wsdl/"
#define CT_NS_WSDL_SOAP   "http://schemas.xmlsoap.org/wsdl/soap/"
#define CT_NS_WSDL_SOAP12 "http://schemas.xmlsoap.org/wsdl/soap12/"

#define CT_SOAP_ACTION_RST_ISSUE "http://docs.oasis-open.org/ws-sx/ws-trust/200512/RST/Issue"
#define CT_SOAP_ACTION_GET_AND_PUBLISH_CERT                                                        \
	"http://schemas.microsoft.com/OCS/AuthWebServices/GetAndPublishCert"
#define CT_SOAP_CONTENT_TYPE "text/xml; charset=utf-8"

/* the port of the CertProv /mex to post GetAndPublishCert to; its policy is "<port>_policy" */
#define CT_CERTPROV_PROOF_PORT "CertProvisioningServiceWebTicketProof_SHA1"
/* the port of the Web Ticket service's /mex that takes Negotiate (Kerberos) */
#define CT_WEBTICKET_NEGOTIATE_PORT "WebTicketServiceWinNegotiate"

/* documents larger than this are refused before parsing */
#define CT_SOAP_MAX_DOCUMENT (256 * 1024)
/* a CSR larger than this is refused before it is sent */
#define CT_SOAP_MAX_CSR (64 * 1024)

/*
 * Parse an untrusted document: no network, no entity substitution, no DTD
 * loading, any DOCTYPE refused, namespace errors refused, at most
 * CT_SOAP_MAX_DOCUMENT bytes. @what names the document in errors
 * ("the web ticket response"). Errors are CT_ERROR_PROTOCOL.
 */
xmlDoc *ct_soap_parse(const guint8 *data, gsize len, const gchar *what, GError **error);

/* lookups by namespace URI and local name */
gboolean ct_soap_node_is(const xmlNode *node, const gchar *ns, const gchar *name);
xmlNode *ct_soap_child(const xmlNode *parent, const gchar *ns, const gchar *name);
xmlNode *ct_soap_descendant(const xmlNode *root, const gchar *ns, const gchar *name);
/* the text of an element, blanks trimmed, or NULL when empty */
gchar *ct_soap_text(const xmlNode *node);
/* the first element child of soap:Body, or NULL */
xmlNode *ct_soap_body_first(xmlDoc *doc);

/* exclusive C14N 1.0 (no comments) of the subtree at @node, in its document */
GBytes *ct_soap_exc_c14n(xmlNode *node, GError **error);

/* what a /mex document says about one port */
typedef struct {
	gchar *port_address;       /* soap:address location of the named port */
	gchar *issuer_address;     /* policy "<port>_policy": IssuedToken/Issuer/Address, or NULL */
	gboolean issuer_endorsing; /* the issued token is under EndorsingSupportingTokens */
} CtSoapMex;

void ct_soap_mex_clear(CtSoapMex *mex);

/*
 * Find @port_name in a WS-MetadataExchange (or bare WSDL) document. Fails with
 * CT_ERROR_PROTOCOL when the port is absent; issuer_address may stay NULL. Only
 * absolute http(s) addresses are accepted.
 */
gboolean ct_soap_parse_mex(
    const guint8 *data, gsize len, const gchar *port_name, CtSoapMex *mex, GError **error);

/*
 * The web ticket request (WS-Trust RST, SOAP 1.1): a SAML 1.1 token for
 * @applies_to (the WebTicket_Proof address), claiming @sip_uri ("sip:user@domain"),
 * with @client_entropy and a symmetric proof key. @context is the RST's Context
 * attribute (a uuid; NULL makes one).
 */
GBytes *ct_soap_build_webticket_request(const gchar *applies_to,
                                        const gchar *sip_uri,
                                        GBytes *client_entropy,
                                        const gchar *context,
                                        GError **error);

/* what the Web Ticket service issued */
typedef struct {
	gchar *created;         /* wst:Lifetime/wsu:Created, as received */
	gchar *expires;         /* wst:Lifetime/wsu:Expires, as received */
	gchar *assertion_id;    /* the SAML assertion's AssertionID */
	GBytes *server_entropy; /* wst:Entropy/wst:BinarySecret, decoded */
	/* the assertion as the root element of its own document, with every namespace
	 * that was in scope where it was received (see ct_soap_parse_webticket_response) */
	xmlDoc *assertion;
} CtWebTicket;

void ct_web_ticket_free(CtWebTicket *ticket);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(CtWebTicket, ct_web_ticket_free)

/* parse an RSTR (or RSTRC/IssueFinal) carrying a SAML 1.1 web ticket */
CtWebTicket *ct_soap_parse_webticket_response(const guint8 *data, gsize len, GError **error);

/* what goes into one GetAndPublishCert request */
typedef struct {
	const gchar *to;           /* the WebTicket_Proof address the envelope is posted to */
	const CtWebTicket *ticket; /* the web ticket for that address */
	GBytes *proof_key;         /* P_SHA1(client entropy, server entropy) */
	const gchar *device_id;    /* "{GUID}" */
	const gchar *entity;       /* "user@domain" (the SIP URI without "sip:") */
	GBytes *csr_der;           /* DER PKCS#10 */
	const gchar *message_id;   /* wsa:MessageID ("uuid:..."); NULL makes one */
	const gchar *request_id;   /* wstep:RequestID (a uuid); NULL makes one */
} CtGetAndPublishCertParams;

/*
 * The signed GetAndPublishCert envelope: wsse:Security holds the timestamp built
 * from the ticket's lifetime, the assertion, and an XML-DSig signature over the
 * timestamp (exc-c14n, SHA-1 digest, HMAC-SHA1 with the proof key).
 */
GBytes *ct_soap_build_get_and_publish_cert(const CtGetAndPublishCertParams *params, GError **error);

/*
 * The decoded BinarySecurityToken of a GetAndPublishCertResponse: a DER
 * certificate or a DER PKCS#7 bundle (see ct_x509_certs_from_der_any()).
 */
GBytes *ct_soap_parse_get_and_publish_cert_response(const guint8 *data, gsize len, GError **error);

/* the server's own account of a failure */
typedef struct {
	gchar *error_id;      /* "28020" */
	gchar *source;        /* the server that reported it */
	gchar *reason;        /* "No valid security token." */
	gchar *fault_code;    /* local part of faultcode: "FailedAuthentication", "Client" */
	gchar *fault_code_ns; /* namespace of faultcode, or NULL */
	gchar *fault_string;  /* faultstring */
} CtMsDiagnostics;

void ct_ms_diagnostics_clear(CtMsDiagnostics *diag);

/* parse `<errorId>;source="<server>";reason="<text>"[;...]`; FALSE if not that form */
gboolean ct_soap_parse_ms_diagnostics_header(const gchar *value, CtMsDiagnostics *diag);

/* TRUE if the document is a SOAP fault; fills @diag (may be NULL) from it */
gboolean ct_soap_parse_fault(const guint8 *data, gsize len, CtMsDiagnostics *diag);

/*
 * Turn a failed exchange (a non-2xx status or a SOAP fault) into a CT_ERROR:
 * 401/403, FailedAuthentication or ErrorId 28020: CT_ERROR_AUTH_FAILED ("the
 * server refused the credentials of <principal>: ...");
 * "data store unavailable", other server faults and 5xx:
 * CT_ERROR_STORE_UNAVAILABLE (transient); client faults and other 4xx:
 * CT_ERROR_REJECTED; a 2xx without a fault: CT_ERROR_PROTOCOL. The message
 * names @what and carries the server's ErrorId and reason.
 */
void ct_soap_set_error(guint http_status,
                       const gchar *ms_diagnostics,
                       const guint8 *body,
                       gsize body_len,
                       const gchar *what,
                       const gchar *principal,
                       GError **error);

G_END_DECLS
