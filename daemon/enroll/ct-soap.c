#include "daemon/enroll/ct-soap.h"

#include <libxml/c14n.h>
#include <libxml/parser.h>
#include <libxml/parserInternals.h>
#include <libxml/xmlIO.h>
#include <libxml/xmlsave.h>
#include <openssl/crypto.h>
#include <string.h>

#include "daemon/engine/ct-x509.h"
#include "daemon/enroll/ct-wstrust-crypto.h"

G_DEFINE_AUTOPTR_CLEANUP_FUNC(xmlParserCtxt, xmlFreeParserCtxt)

/* other spellings a server may use for what the wire facts name */
#define CT_NS_WSP15      "http://www.w3.org/ns/ws-policy"
#define CT_NS_SP12       "http://docs.oasis-open.org/ws-sx/ws-securitypolicy/200702"
#define CT_NS_SP11       "http://schemas.xmlsoap.org/ws/2005/07/securitypolicy"
#define CT_NS_WSA2004    "http://schemas.xmlsoap.org/ws/2004/08/addressing"
#define CT_CK_PSHA1      "http://docs.oasis-open.org/ws-sx/ws-trust/200512/CK/PSHA1"
#define CT_CK_PSHA1_2005 "http://schemas.xmlsoap.org/ws/2005/02/trust/CK/PSHA1"

#define CT_URI_EXC_C14N  "http://www.w3.org/2001/10/xml-exc-c14n#"
#define CT_URI_HMAC_SHA1 "http://www.w3.org/2000/09/xmldsig#hmac-sha1"
#define CT_URI_SHA1      "http://www.w3.org/2000/09/xmldsig#sha1"
#define CT_URI_SAML11    "http://docs.oasis-open.org/wss/oasis-wss-saml-token-profile-1.1#SAMLV1.1"
#define CT_URI_SAML_ID                                                                             \
	"http://docs.oasis-open.org/wss/oasis-wss-saml-token-profile-1.0#SAMLAssertionID"
#define CT_URI_ANONYMOUS "http://www.w3.org/2005/08/addressing/anonymous"
#define CT_URI_X509V3                                                                              \
	"http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-x509-token-profile-1.0#X509v3"
#define CT_URI_ISSUE_13   "http://docs.oasis-open.org/ws-sx/ws-trust/200512/Issue"
#define CT_URI_ISSUE_2005 "http://schemas.xmlsoap.org/ws/2005/02/trust/Issue"
#define CT_URI_SYMMETRIC  "http://docs.oasis-open.org/ws-sx/ws-trust/200512/SymmetricKey"
#define CT_URI_PKCS10     "http://schemas.microsoft.com/OCS/AuthWebServices.xsd#PKCS10"
#define CT_URI_BASE64                                                                              \
	"http://docs.oasis-open.org/wss/2004/01/"                                                  \
	"oasis-200401-wss-wssecurity-secext-1.0.xsd#Base64Binary"
#define CT_URI_CLAIMS_DIALECT "urn:component:Microsoft.Rtc.WebAuthentication.2010:authclaims"
#define CT_URI_CLAIM_URI      "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/uri"

/* the ErrorId the auth service uses for "No valid security token." ([MS-OCAUTHWS]) */
#define CT_MS_ERROR_ID_NO_VALID_TOKEN "28020"

/* longest URL, identifier or diagnostic text taken from a server */
#define CT_SOAP_MAX_URL     2048
#define CT_SOAP_MAX_ID      256
#define CT_SOAP_MAX_MESSAGE 512
#define CT_SOAP_MAX_HEADER  8192

static const gchar *const ct_ns_wst_any[] = {CT_NS_WST, CT_NS_WST_SLASH, NULL};
static const gchar *const ct_ns_wsp_any[] = {CT_NS_WSP, CT_NS_WSP15, NULL};
static const gchar *const ct_ns_sp_any[] = {CT_NS_SP12, CT_NS_SP11, NULL};
static const gchar *const ct_ns_wsa_any[] = {CT_NS_WSA, CT_NS_WSA2004, NULL};
static const gchar *const ct_ns_wsdl_soap_any[] = {CT_NS_WSDL_SOAP, CT_NS_WSDL_SOAP12, NULL};

/*
 * ErrorIds that mean "data store unavailable". The real server's id is
 * unconfirmed, so the reason text and HTTP 5xx classify it too; the ids here
 * are the ones our test fixture documents (tests/servers/README.md).
 */
static const gchar *const ct_soap_store_unavailable_ids[] = {"28032", NULL};

/* libxml2 must be initialised once before threads use it */
static void
ct_soap_init(void)
{
	static gsize once = 0;
	if (g_once_init_enter(&once)) {
		xmlInitParser();
		g_once_init_leave(&once, 1);
	}
}

static void
ct_soap_oom(void)
{
	g_error("libxml2: out of memory");
}

/* server text for a message: valid UTF-8, no control characters, bounded */
static gchar *
ct_soap_printable(const gchar *text)
{
	g_autofree gchar *valid = NULL;
	GString *out;
	const gchar *p;
	guint count = 0;

	if (text == NULL)
		return NULL;
	valid = g_utf8_make_valid(text, -1);
	out = g_string_new(NULL);
	for (p = valid; *p != '\0' && count < CT_SOAP_MAX_MESSAGE;
	     p = g_utf8_next_char(p), count++) {
		gunichar c = g_utf8_get_char(p);
		if (g_unichar_iscntrl(c))
			g_string_append_c(out, ' ');
		else
			g_string_append_unichar(out, c);
	}
	if (*p != '\0')
		g_string_append(out, "...");
	return g_strstrip(g_string_free(out, FALSE));
}

/*
 * Safe parsing
 */

typedef struct {
	gboolean saw_doctype;
} CtSoapParseState;

/*
 * SAX internalSubset is called at "<!DOCTYPE ...", before any entity or
 * external subset is declared or loaded: stopping there refuses XXE and
 * entity-expansion documents without ever reading their DTD.
 */
static void
ct_soap_refuse_doctype(void *ctx,
                       const xmlChar *name G_GNUC_UNUSED,
                       const xmlChar *external_id G_GNUC_UNUSED,
                       const xmlChar *system_id G_GNUC_UNUSED)
{
	xmlParserCtxtPtr ctxt = ctx;
	CtSoapParseState *state = ctxt->_private;
	state->saw_doctype = TRUE;
	xmlStopParser(ctxt);
}

xmlDoc *
ct_soap_parse(const guint8 *data, gsize len, const gchar *what, GError **error)
{
	g_autoptr(xmlParserCtxt) ctxt = NULL;
	g_autoptr(xmlDoc) doc = NULL;
	CtSoapParseState state = {FALSE};
	const xmlError *xerr;

	if (what == NULL)
		what = "the server's answer";
	if (data == NULL || len == 0) {
		g_set_error(error, CT_ERROR, CT_ERROR_PROTOCOL, "%s is empty", what);
		return NULL;
	}
	if (len > CT_SOAP_MAX_DOCUMENT) {
		g_set_error(error, CT_ERROR, CT_ERROR_PROTOCOL,
		            "%s is %" G_GSIZE_FORMAT " bytes long, more than the %d allowed", what,
		            len, CT_SOAP_MAX_DOCUMENT);
		return NULL;
	}
	ct_soap_init();
	ctxt = xmlCreateMemoryParserCtxt((const char *)data, (int)len);
	if (ctxt == NULL || ctxt->sax == NULL)
		ct_soap_oom();
	ctxt->_private = &state;
	ctxt->sax->internalSubset = ct_soap_refuse_doctype;
	ctxt->sax->externalSubset = NULL;
	/* no XML_PARSE_NOENT, DTDLOAD, DTDATTR, XINCLUDE or HUGE: nothing is expanded or fetched */
	xmlCtxtUseOptions(ctxt, XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	xmlParseDocument(ctxt);
	doc = g_steal_pointer(&ctxt->myDoc);

	if (state.saw_doctype) {
		g_set_error(error, CT_ERROR, CT_ERROR_PROTOCOL,
		            "%s has a DOCTYPE: documents with a DTD or entities are refused", what);
		return NULL;
	}
	xerr = xmlCtxtGetLastError(ctxt);
	if (!ctxt->wellFormed || doc == NULL) {
		g_autofree gchar *msg = ct_soap_printable(
		    xerr != NULL && xerr->message != NULL ? xerr->message : "malformed");
		g_set_error(error, CT_ERROR, CT_ERROR_PROTOCOL,
		            "%s is not well-formed XML (line %d: %s)", what,
		            xerr != NULL ? xerr->line : 0, msg);
		return NULL;
	}
	if (!ctxt->nsWellFormed) {
		g_autofree gchar *msg = ct_soap_printable(
		    xerr != NULL && xerr->message != NULL ? xerr->message : "namespace error");
		g_set_error(error, CT_ERROR, CT_ERROR_PROTOCOL,
		            "%s has a namespace error (line %d: %s)", what,
		            xerr != NULL ? xerr->line : 0, msg);
		return NULL;
	}
	/* belt and braces: the SAX hook above already refused any DOCTYPE */
	if (doc->intSubset != NULL || doc->extSubset != NULL || xmlDocGetRootElement(doc) == NULL) {
		g_set_error(error, CT_ERROR, CT_ERROR_PROTOCOL, "%s has no usable root element",
		            what);
		return NULL;
	}
	return g_steal_pointer(&doc);
}

/*
 * Lookups by namespace URI and local name
 */

gboolean
ct_soap_node_is(const xmlNode *node, const gchar *ns, const gchar *name)
{
	if (node == NULL || node->type != XML_ELEMENT_NODE)
		return FALSE;
	if (g_strcmp0((const gchar *)node->name, name) != 0)
		return FALSE;
	if (ns == NULL)
		return node->ns == NULL || node->ns->href == NULL;
	return node->ns != NULL && g_strcmp0((const gchar *)node->ns->href, ns) == 0;
}

static gboolean
ct_soap_node_in(const xmlNode *node, const gchar *const *nss, const gchar *name)
{
	for (guint i = 0; nss[i] != NULL; i++) {
		if (ct_soap_node_is(node, nss[i], name))
			return TRUE;
	}
	return FALSE;
}

static xmlNode *
ct_soap_child_in(const xmlNode *parent, const gchar *const *nss, const gchar *name)
{
	if (parent == NULL)
		return NULL;
	for (xmlNode *c = parent->children; c != NULL; c = c->next) {
		if (ct_soap_node_in(c, nss, name))
			return c;
	}
	return NULL;
}

xmlNode *
ct_soap_child(const xmlNode *parent, const gchar *ns, const gchar *name)
{
	for (xmlNode *c = parent != NULL ? parent->children : NULL; c != NULL; c = c->next) {
		if (ct_soap_node_is(c, ns, name))
			return c;
	}
	return NULL;
}

/* the next node after @node in document order, without leaving @root's subtree */
static xmlNode *
ct_soap_walk_next(const xmlNode *node, const xmlNode *root)
{
	if (node->type == XML_ELEMENT_NODE && node->children != NULL)
		return node->children;
	while (node != NULL && node != root) {
		if (node->next != NULL)
			return node->next;
		node = node->parent;
	}
	return NULL;
}

static xmlNode *
ct_soap_descendant_in(const xmlNode *root, const gchar *const *nss, const gchar *name)
{
	if (root == NULL)
		return NULL;
	for (xmlNode *n = ct_soap_walk_next(root, root); n != NULL;
	     n = ct_soap_walk_next(n, root)) {
		if (ct_soap_node_in(n, nss, name))
			return n;
	}
	return NULL;
}

xmlNode *
ct_soap_descendant(const xmlNode *root, const gchar *ns, const gchar *name)
{
	const gchar *nss[] = {ns, NULL};
	return ct_soap_descendant_in(root, nss, name);
}

gchar *
ct_soap_text(const xmlNode *node)
{
	xmlChar *content;
	gchar *text;

	if (node == NULL)
		return NULL;
	content = xmlNodeGetContent(node);
	if (content == NULL)
		return NULL;
	text = g_strstrip(g_strdup((const gchar *)content));
	xmlFree(content);
	if (*text == '\0') {
		g_free(text);
		return NULL;
	}
	return text;
}

/* an attribute without namespace, or NULL */
static gchar *
ct_soap_attr(const xmlNode *node, const gchar *name)
{
	xmlChar *v = xmlGetNoNsProp(node, BAD_CAST name);
	gchar *s;
	if (v == NULL)
		return NULL;
	s = g_strdup((const gchar *)v);
	xmlFree(v);
	return s;
}

static gchar *
ct_soap_ns_attr(const xmlNode *node, const gchar *ns, const gchar *name)
{
	xmlChar *v = xmlGetNsProp(node, BAD_CAST name, BAD_CAST ns);
	gchar *s;
	if (v == NULL)
		return NULL;
	s = g_strdup((const gchar *)v);
	xmlFree(v);
	return s;
}

xmlNode *
ct_soap_body_first(xmlDoc *doc)
{
	xmlNode *root = doc != NULL ? xmlDocGetRootElement(doc) : NULL;
	xmlNode *body;

	if (!ct_soap_node_is(root, CT_NS_SOAP, "Envelope"))
		return NULL;
	body = ct_soap_child(root, CT_NS_SOAP, "Body");
	if (body == NULL)
		return NULL;
	for (xmlNode *c = body->children; c != NULL; c = c->next) {
		if (c->type == XML_ELEMENT_NODE)
			return c;
	}
	return NULL;
}

/*
 * Exclusive C14N of a subtree
 */

/*
 * xmlC14NExecute asks, for every node of the document, whether it belongs to
 * the node set. The set is the subtree at the apex: its elements, their
 * attributes and their namespace nodes (for those two libxml2 passes the
 * owning element as @parent; a namespace node is an xmlNs, so only its type
 * may be read). Exclusive C14N then renders only the namespaces the subtree
 * visibly uses, declared on the apex even when they were declared above it.
 */
static int
ct_soap_c14n_visible(void *user_data, xmlNodePtr node, xmlNodePtr parent)
{
	const xmlNode *apex = user_data;
	const xmlNode *n;

	if (node == NULL)
		return 0;
	if (node->type == XML_NAMESPACE_DECL || node->type == XML_ATTRIBUTE_NODE)
		n = parent;
	else
		n = node;
	for (; n != NULL; n = n->parent) {
		if (n == apex)
			return 1;
	}
	return 0;
}

GBytes *
ct_soap_exc_c14n(xmlNode *node, GError **error)
{
	xmlOutputBufferPtr buf;
	GBytes *out = NULL;
	int rc;

	if (node == NULL || node->doc == NULL || node->type != XML_ELEMENT_NODE) {
		g_set_error_literal(error, CT_ERROR, CT_ERROR_INTERNAL,
		                    "C14N needs an element inside a document");
		return NULL;
	}
	buf = xmlAllocOutputBuffer(NULL);
	if (buf == NULL)
		ct_soap_oom();
	rc = xmlC14NExecute(node->doc, ct_soap_c14n_visible, node, XML_C14N_EXCLUSIVE_1_0, NULL, 0,
	                    buf);
	if (rc < 0) {
		g_set_error(error, CT_ERROR, CT_ERROR_INTERNAL, "exclusive C14N of <%s> failed",
		            (const gchar *)node->name);
	} else {
		const xmlChar *content = xmlOutputBufferGetContent(buf);
		gsize size = xmlOutputBufferGetSize(buf);
		out = g_bytes_new(content, size);
	}
	xmlOutputBufferClose(buf);
	return out;
}

/*
 * Metadata (/mex)
 */

void
ct_soap_mex_clear(CtSoapMex *mex)
{
	if (mex == NULL)
		return;
	g_clear_pointer(&mex->port_address, g_free);
	g_clear_pointer(&mex->issuer_address, g_free);
	mex->issuer_endorsing = FALSE;
}

/* an address taken from a server must be an absolute http(s) URL of sane length */
static gboolean
ct_soap_check_url(const gchar *url, const gchar *what, GError **error)
{
	g_autoptr(GUri) uri = NULL;
	const gchar *scheme;

	if (url == NULL || strlen(url) > CT_SOAP_MAX_URL) {
		g_set_error(error, CT_ERROR, CT_ERROR_PROTOCOL, "%s is missing or too long", what);
		return FALSE;
	}
	uri = g_uri_parse(url, G_URI_FLAGS_NONE, NULL);
	scheme = uri != NULL ? g_uri_get_scheme(uri) : NULL;
	if (uri == NULL || scheme == NULL ||
	    (g_ascii_strcasecmp(scheme, "https") != 0 && g_ascii_strcasecmp(scheme, "http") != 0) ||
	    g_uri_get_host(uri) == NULL || *g_uri_get_host(uri) == '\0') {
		g_autofree gchar *shown = ct_soap_printable(url);
		g_set_error(error, CT_ERROR, CT_ERROR_PROTOCOL,
		            "%s \"%s\" is not an absolute http(s) URL", what, shown);
		return FALSE;
	}
	return TRUE;
}

static gchar *
ct_soap_port_address(const xmlNode *port)
{
	xmlNode *addr = ct_soap_child_in(port, ct_ns_wsdl_soap_any, "address");
	xmlNode *epr;
	gchar *location;

	if (addr != NULL) {
		location = ct_soap_attr(addr, "location");
		if (location != NULL)
			return g_strstrip(location);
	}
	/* WCF also writes the address as a WS-Addressing endpoint reference */
	epr = ct_soap_child_in(port, ct_ns_wsa_any, "EndpointReference");
	return ct_soap_text(ct_soap_child_in(epr, ct_ns_wsa_any, "Address"));
}

/* ExactlyOne/All/{Endorsing,Signed}SupportingTokens/Policy/IssuedToken/Issuer/Address */
static gchar *
ct_soap_policy_issuer(const xmlNode *policy, gboolean *endorsing)
{
	static const gchar *const kinds[] = {"EndorsingSupportingTokens", "SignedSupportingTokens"};
	xmlNode *exactly_one = ct_soap_child_in(policy, ct_ns_wsp_any, "ExactlyOne");

	for (guint k = 0; k < G_N_ELEMENTS(kinds); k++) {
		for (xmlNode *all = exactly_one != NULL ? exactly_one->children : NULL; all != NULL;
		     all = all->next) {
			xmlNode *n;
			gchar *address;
			if (!ct_soap_node_in(all, ct_ns_wsp_any, "All"))
				continue;
			n = ct_soap_child_in(all, ct_ns_sp_any, kinds[k]);
			n = ct_soap_child_in(n, ct_ns_wsp_any, "Policy");
			n = ct_soap_child_in(n, ct_ns_sp_any, "IssuedToken");
			n = ct_soap_child_in(n, ct_ns_sp_any, "Issuer");
			address = ct_soap_text(ct_soap_child_in(n, ct_ns_wsa_any, "Address"));
			if (address != NULL) {
				*endorsing = (k == 0);
				return address;
			}
		}
	}
	return NULL;
}

gboolean
ct_soap_parse_mex(
    const guint8 *data, gsize len, const gchar *port_name, CtSoapMex *mex, GError **error)
{
	g_autoptr(xmlDoc) doc = NULL;
	g_autofree gchar *policy_id = NULL;
	g_autofree gchar *port_address = NULL;
	g_autofree gchar *issuer_address = NULL;
	gboolean endorsing = FALSE;
	gboolean port_found = FALSE;
	xmlNode *root;

	g_return_val_if_fail(port_name != NULL && mex != NULL, FALSE);
	doc = ct_soap_parse(data, len, "the metadata (/mex)", error);
	if (doc == NULL)
		return FALSE;
	root = xmlDocGetRootElement(doc);
	policy_id = g_strdup_printf("%s_policy", port_name);

	/* ports and policies may sit in several wsdl:definitions: look at every element */
	for (xmlNode *n = root; n != NULL; n = ct_soap_walk_next(n, root)) {
		if (!port_found && ct_soap_node_is(n, CT_NS_WSDL, "port")) {
			g_autofree gchar *name = ct_soap_attr(n, "name");
			if (name != NULL && g_ascii_strcasecmp(name, port_name) == 0) {
				port_found = TRUE;
				port_address = ct_soap_port_address(n);
			}
		} else if (issuer_address == NULL && ct_soap_node_in(n, ct_ns_wsp_any, "Policy")) {
			g_autofree gchar *id = ct_soap_ns_attr(n, CT_NS_WSU, "Id");
			if (id == NULL)
				id = ct_soap_attr(n, "Name");
			if (id != NULL && g_ascii_strcasecmp(id, policy_id) == 0)
				issuer_address = ct_soap_policy_issuer(n, &endorsing);
		}
	}
	if (!port_found) {
		g_set_error(error, CT_ERROR, CT_ERROR_PROTOCOL,
		            "the metadata (/mex) has no port named %s", port_name);
		return FALSE;
	}
	if (!ct_soap_check_url(port_address, "the metadata's port address", error))
		return FALSE;
	if (issuer_address != NULL &&
	    !ct_soap_check_url(issuer_address, "the metadata's web ticket issuer address", error))
		return FALSE;
	ct_soap_mex_clear(mex);
	mex->port_address = g_steal_pointer(&port_address);
	mex->issuer_address = g_steal_pointer(&issuer_address);
	mex->issuer_endorsing = mex->issuer_address != NULL && endorsing;
	return TRUE;
}

/*
 * Building documents
 */

static xmlNode *
ct_soap_add(xmlNode *parent, xmlNs *ns, const gchar *name, const gchar *text)
{
	/* xmlNewTextChild escapes the text; xmlNewChild would parse entity references */
	xmlNode *n = xmlNewTextChild(parent, ns, BAD_CAST name, BAD_CAST text);
	if (n == NULL)
		ct_soap_oom();
	return n;
}

static void
ct_soap_set_attr(xmlNode *node, xmlNs *ns, const gchar *name, const gchar *value)
{
	xmlAttr *a = ns != NULL ? xmlNewNsProp(node, ns, BAD_CAST name, BAD_CAST value)
	                        : xmlNewProp(node, BAD_CAST name, BAD_CAST value);
	if (a == NULL)
		ct_soap_oom();
}

static xmlNs *
ct_soap_declare(xmlNode *node, const gchar *href, const gchar *prefix)
{
	xmlNs *ns = xmlNewNs(node, BAD_CAST href, BAD_CAST prefix);
	if (ns == NULL)
		ct_soap_oom();
	return ns;
}

static xmlDoc *
ct_soap_new_envelope(xmlNode **envelope, xmlNs **soap)
{
	xmlDoc *doc = xmlNewDoc(BAD_CAST "1.0");
	xmlNode *root;

	if (doc == NULL)
		ct_soap_oom();
	root = xmlNewDocNode(doc, NULL, BAD_CAST "Envelope", NULL);
	if (root == NULL)
		ct_soap_oom();
	xmlDocSetRootElement(doc, root);
	*soap = ct_soap_declare(root, CT_NS_SOAP, "soap");
	xmlSetNs(root, *soap);
	*envelope = root;
	return doc;
}

static GBytes *
ct_soap_serialize(xmlDoc *doc, GError **error)
{
	xmlChar *mem = NULL;
	int size = 0;
	GBytes *out;

	xmlDocDumpFormatMemoryEnc(doc, &mem, &size, "UTF-8", 0);
	if (mem == NULL || size <= 0) {
		xmlFree(mem);
		g_set_error_literal(error, CT_ERROR, CT_ERROR_INTERNAL,
		                    "could not serialise the SOAP envelope");
		return NULL;
	}
	out = g_bytes_new(mem, (gsize)size);
	xmlFree(mem);
	return out;
}

static gboolean
ct_soap_check_sip_uri(const gchar *sip_uri, GError **error)
{
	if (sip_uri == NULL || g_ascii_strncasecmp(sip_uri, "sip:", 4) != 0 ||
	    strchr(sip_uri + 4, '@') == NULL || strlen(sip_uri) > CT_SOAP_MAX_ID) {
		g_set_error(error, CT_ERROR, CT_ERROR_INVALID_ARGS,
		            "\"%s\" is not a SIP URI of the form sip:user@domain",
		            sip_uri != NULL ? sip_uri : "(none)");
		return FALSE;
	}
	for (const gchar *p = sip_uri; *p != '\0'; p++) {
		if (g_ascii_iscntrl(*p) || *p == ' ') {
			g_set_error_literal(error, CT_ERROR, CT_ERROR_INVALID_ARGS,
			                    "the SIP URI holds blanks or control characters");
			return FALSE;
		}
	}
	return TRUE;
}

GBytes *
ct_soap_build_webticket_request(const gchar *applies_to,
                                const gchar *sip_uri,
                                GBytes *client_entropy,
                                const gchar *context,
                                GError **error)
{
	g_autoptr(xmlDoc) doc = NULL;
	g_autofree gchar *uuid = NULL;
	g_autofree gchar *secret = NULL;
	xmlNode *envelope, *body, *rst, *n, *claim;
	xmlNs *soap, *wst, *wsp, *wsa, *auth;
	gsize entropy_len = 0;
	const guint8 *entropy;

	if (!ct_soap_check_url(applies_to, "the web ticket's AppliesTo address", error))
		return NULL;
	if (!ct_soap_check_sip_uri(sip_uri, error))
		return NULL;
	entropy = client_entropy != NULL ? g_bytes_get_data(client_entropy, &entropy_len) : NULL;
	if (entropy == NULL || entropy_len == 0 || entropy_len > CT_WSTRUST_MAX_KEY_LEN) {
		g_set_error_literal(error, CT_ERROR, CT_ERROR_INVALID_ARGS,
		                    "the web ticket request needs client entropy");
		return NULL;
	}
	uuid = context != NULL ? g_strdup(context) : g_uuid_string_random();
	secret = g_base64_encode(entropy, entropy_len);

	doc = ct_soap_new_envelope(&envelope, &soap);
	wsa = ct_soap_declare(envelope, CT_NS_WSA, "wsa");
	wsp = ct_soap_declare(envelope, CT_NS_WSP, "wsp");
	auth = ct_soap_declare(envelope, CT_NS_AUTH, "auth");
	/* WS-Trust 1.3 without the trailing slash, as the Web Ticket service expects */
	wst = ct_soap_declare(envelope, CT_NS_WST, "wst");
	body = ct_soap_add(envelope, soap, "Body", NULL);

	/* children in exactly this order: WCF deserialises in schema order */
	rst = ct_soap_add(body, wst, "RequestSecurityToken", NULL);
	ct_soap_set_attr(rst, NULL, "Context", uuid);
	ct_soap_add(rst, wst, "TokenType", CT_URI_SAML11);
	ct_soap_add(rst, wst, "RequestType", CT_URI_ISSUE_2005);
	n = ct_soap_add(rst, wsp, "AppliesTo", NULL);
	n = ct_soap_add(n, wsa, "EndpointReference", NULL);
	ct_soap_add(n, wsa, "Address", applies_to);
	n = ct_soap_add(rst, wst, "Claims", NULL);
	ct_soap_set_attr(n, NULL, "Dialect", CT_URI_CLAIMS_DIALECT);
	claim = ct_soap_add(n, auth, "ClaimType", NULL);
	ct_soap_set_attr(claim, NULL, "Uri", CT_URI_CLAIM_URI);
	ct_soap_set_attr(claim, NULL, "Optional", "false");
	ct_soap_add(claim, auth, "Value", sip_uri);
	n = ct_soap_add(rst, wst, "Entropy", NULL);
	ct_soap_add(n, wst, "BinarySecret", secret);
	ct_soap_add(rst, wst, "KeyType", CT_URI_SYMMETRIC);
	return ct_soap_serialize(doc, error);
}

/*
 * The web ticket response
 */

void
ct_web_ticket_free(CtWebTicket *ticket)
{
	if (ticket == NULL)
		return;
	g_free(ticket->created);
	g_free(ticket->expires);
	g_free(ticket->assertion_id);
	if (ticket->server_entropy != NULL)
		g_bytes_unref(ticket->server_entropy);
	if (ticket->assertion != NULL)
		xmlFreeDoc(ticket->assertion);
	g_free(ticket);
}

/* an identifier or timestamp from the server: present, bounded, printable ASCII */
static gboolean
ct_soap_check_token(const gchar *value, const gchar *what, GError **error)
{
	if (value == NULL) {
		g_set_error(error, CT_ERROR, CT_ERROR_PROTOCOL, "the web ticket has no %s", what);
		return FALSE;
	}
	if (strlen(value) > CT_SOAP_MAX_ID) {
		g_set_error(error, CT_ERROR, CT_ERROR_PROTOCOL, "the web ticket's %s is too long",
		            what);
		return FALSE;
	}
	for (const gchar *p = value; *p != '\0'; p++) {
		if (!g_ascii_isgraph(*p)) {
			g_set_error(error, CT_ERROR, CT_ERROR_PROTOCOL,
			            "the web ticket's %s holds blanks or non-ASCII characters",
			            what);
			return FALSE;
		}
	}
	return TRUE;
}

static gboolean
ct_soap_check_datetime(const gchar *value, const gchar *what, GError **error)
{
	g_autoptr(GDateTime) dt = NULL;

	if (!ct_soap_check_token(value, what, error))
		return FALSE;
	dt = g_date_time_new_from_iso8601(value, NULL);
	if (dt == NULL) {
		g_set_error(error, CT_ERROR, CT_ERROR_PROTOCOL,
		            "the web ticket's %s \"%s\" is not an xsd:dateTime with a time zone",
		            what, value);
		return FALSE;
	}
	return TRUE;
}

/*
 * The SAML assertion is signed by the server and must reach it again unchanged.
 * libxml2 serialises an element with the namespace declarations it carries
 * itself; declarations inherited from the response's ancestors (the envelope,
 * the RSTR) would be lost or re-created only for the prefixes that element and
 * attribute names use (xmlDocCopyNode's reconciliation), not for prefixes used
 * in QName-valued content such as xsi:type="saml:..." . So the copy receives an
 * explicit declaration for every namespace that was in scope at the assertion
 * and that it does not declare itself. Its exclusive C14N form, what the server's
 * signature covers, then stays identical to the one received, wherever the copy
 * is inserted (test-certprov-xml checks this). Inclusive C14N of the assertion
 * could still differ, as it would with any client that moves the assertion into
 * a new envelope.
 */
static xmlDoc *
ct_soap_copy_assertion(xmlDoc *doc, xmlNode *assertion)
{
	xmlDoc *copy_doc = xmlNewDoc(BAD_CAST "1.0");
	xmlNode *copy;
	xmlNs **in_scope;

	if (copy_doc == NULL)
		ct_soap_oom();
	copy = xmlDocCopyNode(assertion, copy_doc, 1);
	if (copy == NULL)
		ct_soap_oom();
	xmlDocSetRootElement(copy_doc, copy);
	in_scope = xmlGetNsList(doc, assertion);
	for (guint i = 0; in_scope != NULL && in_scope[i] != NULL; i++) {
		/* the copy is a root now: xmlSearchNs only sees its own declarations */
		if (xmlSearchNs(copy_doc, copy, in_scope[i]->prefix) == NULL)
			ct_soap_declare(copy, (const gchar *)in_scope[i]->href,
			                (const gchar *)in_scope[i]->prefix);
	}
	xmlFree(in_scope);
	return copy_doc;
}

static xmlNode *
ct_soap_find_rstr(xmlNode *first)
{
	if (ct_soap_node_in(first, ct_ns_wst_any, "RequestSecurityTokenResponse"))
		return first;
	if (!ct_soap_node_in(first, ct_ns_wst_any, "RequestSecurityTokenResponseCollection"))
		return NULL;
	for (xmlNode *c = first->children; c != NULL; c = c->next) {
		if (ct_soap_node_in(c, ct_ns_wst_any, "RequestSecurityTokenResponse") &&
		    ct_soap_child_in(c, ct_ns_wst_any, "RequestedSecurityToken") != NULL)
			return c;
	}
	return NULL;
}

CtWebTicket *
ct_soap_parse_webticket_response(const guint8 *data, gsize len, GError **error)
{
	g_autoptr(xmlDoc) doc = NULL;
	g_autoptr(CtWebTicket) ticket = g_new0(CtWebTicket, 1);
	g_autofree gchar *secret = NULL;
	xmlNode *first, *rstr, *assertion, *lifetime, *proof;
	gsize entropy_len = 0;

	doc = ct_soap_parse(data, len, "the web ticket response", error);
	if (doc == NULL)
		return NULL;
	first = ct_soap_body_first(doc);
	if (first == NULL) {
		g_set_error_literal(
		    error, CT_ERROR, CT_ERROR_PROTOCOL,
		    "the web ticket response is not a SOAP 1.1 envelope with a body");
		return NULL;
	}
	if (ct_soap_node_is(first, CT_NS_SOAP, "Fault")) {
		g_set_error_literal(error, CT_ERROR, CT_ERROR_PROTOCOL,
		                    "the web ticket response is a SOAP fault");
		return NULL;
	}
	rstr = ct_soap_find_rstr(first);
	if (rstr == NULL) {
		g_set_error(
		    error, CT_ERROR, CT_ERROR_PROTOCOL,
		    "the web ticket response holds <%s>, not a RequestSecurityTokenResponse",
		    (const gchar *)first->name);
		return NULL;
	}
	assertion = ct_soap_child(ct_soap_child_in(rstr, ct_ns_wst_any, "RequestedSecurityToken"),
	                          CT_NS_SAML, "Assertion");
	if (assertion == NULL) {
		g_set_error_literal(error, CT_ERROR, CT_ERROR_PROTOCOL,
		                    "the web ticket response holds no SAML 1.1 assertion");
		return NULL;
	}
	ticket->assertion_id = ct_soap_attr(assertion, "AssertionID");
	if (!ct_soap_check_token(ticket->assertion_id, "AssertionID", error))
		return NULL;

	lifetime = ct_soap_child_in(rstr, ct_ns_wst_any, "Lifetime");
	ticket->created = ct_soap_text(ct_soap_child(lifetime, CT_NS_WSU, "Created"));
	ticket->expires = ct_soap_text(ct_soap_child(lifetime, CT_NS_WSU, "Expires"));
	if (!ct_soap_check_datetime(ticket->created, "Lifetime/Created", error) ||
	    !ct_soap_check_datetime(ticket->expires, "Lifetime/Expires", error))
		return NULL;

	/* the proof key must be the one computed from both entropies (CK/PSHA1) */
	proof = ct_soap_child_in(rstr, ct_ns_wst_any, "RequestedProofToken");
	if (proof != NULL) {
		g_autofree gchar *ck =
		    ct_soap_text(ct_soap_child_in(proof, ct_ns_wst_any, "ComputedKey"));
		if (g_strcmp0(ck, CT_CK_PSHA1) != 0 && g_strcmp0(ck, CT_CK_PSHA1_2005) != 0) {
			g_autofree gchar *shown = ct_soap_printable(ck);
			g_set_error(error, CT_ERROR, CT_ERROR_PROTOCOL,
			            "the web ticket's proof key is not computed with P_SHA1 (%s)",
			            shown != NULL ? shown : "no ComputedKey");
			return NULL;
		}
	}
	secret = ct_soap_text(ct_soap_child_in(ct_soap_child_in(rstr, ct_ns_wst_any, "Entropy"),
	                                       ct_ns_wst_any, "BinarySecret"));
	if (secret == NULL) {
		g_set_error_literal(
		    error, CT_ERROR, CT_ERROR_PROTOCOL,
		    "the web ticket response holds no server entropy (BinarySecret)");
		return NULL;
	}
	ticket->server_entropy = ct_x509_base64_decode(secret, strlen(secret), error);
	if (ticket->server_entropy == NULL) {
		g_prefix_error(error, "the web ticket's server entropy: ");
		return NULL;
	}
	g_bytes_get_data(ticket->server_entropy, &entropy_len);
	if (entropy_len > CT_WSTRUST_MAX_KEY_LEN) {
		g_set_error(error, CT_ERROR, CT_ERROR_PROTOCOL,
		            "the web ticket's server entropy is %" G_GSIZE_FORMAT " bytes long",
		            entropy_len);
		return NULL;
	}
	ticket->assertion = ct_soap_copy_assertion(doc, assertion);
	return g_steal_pointer(&ticket);
}

/*
 * GetAndPublishCert
 */

/* "{xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx}" */
static gboolean
ct_soap_check_device_id(const gchar *device_id, GError **error)
{
	g_autofree gchar *inner = NULL;
	gsize len = device_id != NULL ? strlen(device_id) : 0;

	if (len == 38 && device_id[0] == '{' && device_id[37] == '}') {
		inner = g_strndup(device_id + 1, 36);
		if (g_uuid_string_is_valid(inner))
			return TRUE;
	}
	g_set_error(error, CT_ERROR, CT_ERROR_INVALID_ARGS, "the device id \"%s\" is not a {GUID}",
	            device_id != NULL ? device_id : "");
	return FALSE;
}

static gboolean
ct_soap_check_entity(const gchar *entity, GError **error)
{
	g_autofree gchar *as_uri = NULL;
	if (entity == NULL || g_ascii_strncasecmp(entity, "sip:", 4) == 0) {
		g_set_error_literal(error, CT_ERROR, CT_ERROR_INVALID_ARGS,
		                    "the entity must be user@domain, without sip:");
		return FALSE;
	}
	as_uri = g_strconcat("sip:", entity, NULL);
	return ct_soap_check_sip_uri(as_uri, error);
}

/* base64 of a digest or signature into an element */
static gboolean
ct_soap_set_b64(xmlNode *node, const guint8 *data, gsize len)
{
	g_autofree gchar *b64 = g_base64_encode(data, len);
	xmlNodeSetContent(node, BAD_CAST b64);
	return TRUE;
}

GBytes *
ct_soap_build_get_and_publish_cert(const CtGetAndPublishCertParams *p, GError **error)
{
	g_autoptr(xmlDoc) doc = NULL;
	g_autoptr(GBytes) ts_c14n = NULL;
	g_autoptr(GBytes) si_c14n = NULL;
	g_autofree gchar *message_id = NULL;
	g_autofree gchar *request_id = NULL;
	g_autofree gchar *csr_b64 = NULL;
	xmlNode *envelope, *header, *security, *ts, *assertion, *sig, *si, *ref, *n;
	xmlNode *digest_value, *signature_value, *str, *body, *gapc, *rst;
	xmlNs *soap, *wsa, *wsse, *wsu_ts, *ds, *tns, *wst, *wstep;
	guint8 digest[CT_WSTRUST_SHA1_LEN];
	guint8 mac[CT_WSTRUST_SHA1_LEN];
	const guint8 *key, *csr;
	gsize key_len = 0, csr_len = 0;

	g_return_val_if_fail(p != NULL, NULL);
	if (!ct_soap_check_url(p->to, "the GetAndPublishCert address", error))
		return NULL;
	if (p->ticket == NULL || p->ticket->assertion == NULL ||
	    xmlDocGetRootElement(p->ticket->assertion) == NULL || p->ticket->created == NULL ||
	    p->ticket->expires == NULL || p->ticket->assertion_id == NULL) {
		g_set_error_literal(error, CT_ERROR, CT_ERROR_INVALID_ARGS,
		                    "GetAndPublishCert needs a complete web ticket");
		return NULL;
	}
	key = p->proof_key != NULL ? g_bytes_get_data(p->proof_key, &key_len) : NULL;
	if (key == NULL || key_len == 0) {
		g_set_error_literal(error, CT_ERROR, CT_ERROR_INVALID_ARGS,
		                    "GetAndPublishCert needs the proof key");
		return NULL;
	}
	if (!ct_soap_check_device_id(p->device_id, error) ||
	    !ct_soap_check_entity(p->entity, error))
		return NULL;
	csr = p->csr_der != NULL ? g_bytes_get_data(p->csr_der, &csr_len) : NULL;
	if (csr == NULL || csr_len == 0 || csr_len > CT_SOAP_MAX_CSR) {
		g_set_error(error, CT_ERROR, CT_ERROR_INVALID_ARGS,
		            "the CSR is %" G_GSIZE_FORMAT " bytes long (1 to %d allowed)", csr_len,
		            CT_SOAP_MAX_CSR);
		return NULL;
	}
	if (p->message_id != NULL) {
		message_id = g_strdup(p->message_id);
	} else {
		g_autofree gchar *uuid = g_uuid_string_random();
		message_id = g_strconcat("uuid:", uuid, NULL);
	}
	request_id = p->request_id != NULL ? g_strdup(p->request_id) : g_uuid_string_random();
	csr_b64 = g_base64_encode(csr, csr_len);

	/* the envelope declares what the Lync client declares; wst is re-declared in the body */
	doc = ct_soap_new_envelope(&envelope, &soap);
	ct_soap_declare(envelope, CT_NS_SAML, "saml");
	ct_soap_declare(envelope, CT_NS_WST, "wst");
	ct_soap_declare(envelope, CT_NS_AUTH, "auth");
	wsa = ct_soap_declare(envelope, CT_NS_WSA, "wsa");
	ct_soap_declare(envelope, CT_NS_WSP, "wsp");
	wsse = ct_soap_declare(envelope, CT_NS_WSSE, "wsse");
	ct_soap_declare(envelope, CT_NS_WSU, "wsu");

	header = ct_soap_add(envelope, soap, "Header", NULL);
	ct_soap_add(header, wsa, "To", p->to);
	n = ct_soap_add(header, wsa, "ReplyTo", NULL);
	ct_soap_add(n, wsa, "Address", CT_URI_ANONYMOUS);
	ct_soap_add(header, wsa, "MessageID", message_id);
	ct_soap_add(header, wsa, "Action", CT_SOAP_ACTION_GET_AND_PUBLISH_CERT);
	security = ct_soap_add(header, wsse, "Security", NULL);

	/* 1. the timestamp, from the ticket's lifetime, declaring wsu itself */
	ts = ct_soap_add(security, NULL, "Timestamp", NULL);
	wsu_ts = ct_soap_declare(ts, CT_NS_WSU, "wsu");
	xmlSetNs(ts, wsu_ts);
	ct_soap_set_attr(ts, wsu_ts, "Id", "timestamp");
	ct_soap_add(ts, wsu_ts, "Created", p->ticket->created);
	ct_soap_add(ts, wsu_ts, "Expires", p->ticket->expires);

	/* 2. the assertion, with the namespaces it was received with */
	assertion = xmlDocCopyNode(xmlDocGetRootElement(p->ticket->assertion), doc, 1);
	if (assertion == NULL)
		ct_soap_oom();
	xmlAddChild(security, assertion);

	/* 3. the signature over the timestamp */
	sig = ct_soap_add(security, NULL, "Signature", NULL);
	ds = ct_soap_declare(sig, CT_NS_DS, "ds");
	xmlSetNs(sig, ds);
	si = ct_soap_add(sig, ds, "SignedInfo", NULL);
	n = ct_soap_add(si, ds, "CanonicalizationMethod", NULL);
	ct_soap_set_attr(n, NULL, "Algorithm", CT_URI_EXC_C14N);
	n = ct_soap_add(si, ds, "SignatureMethod", NULL);
	ct_soap_set_attr(n, NULL, "Algorithm", CT_URI_HMAC_SHA1);
	ref = ct_soap_add(si, ds, "Reference", NULL);
	ct_soap_set_attr(ref, NULL, "URI", "#timestamp");
	n = ct_soap_add(ref, ds, "Transforms", NULL);
	n = ct_soap_add(n, ds, "Transform", NULL);
	ct_soap_set_attr(n, NULL, "Algorithm", CT_URI_EXC_C14N);
	n = ct_soap_add(ref, ds, "DigestMethod", NULL);
	ct_soap_set_attr(n, NULL, "Algorithm", CT_URI_SHA1);
	digest_value = ct_soap_add(ref, ds, "DigestValue", NULL);
	signature_value = ct_soap_add(sig, ds, "SignatureValue", NULL);
	n = ct_soap_add(sig, ds, "KeyInfo", NULL);
	str = ct_soap_add(n, wsse, "SecurityTokenReference", NULL);
	ct_soap_set_attr(str, wsse, "TokenType", CT_URI_SAML11);
	n = ct_soap_add(str, wsse, "KeyIdentifier", p->ticket->assertion_id);
	ct_soap_set_attr(n, NULL, "ValueType", CT_URI_SAML_ID);

	/* body: GetAndPublishCert in the tns default namespace */
	body = ct_soap_add(envelope, soap, "Body", NULL);
	gapc = ct_soap_add(body, NULL, "GetAndPublishCert", NULL);
	tns = ct_soap_declare(gapc, CT_NS_TNS, NULL);
	xmlSetNs(gapc, tns);
	ct_soap_set_attr(gapc, NULL, "DeviceId", p->device_id);
	ct_soap_set_attr(gapc, NULL, "Entity", p->entity);
	/* WS-Trust with the trailing slash, re-declared on the element */
	rst = ct_soap_add(gapc, NULL, "RequestSecurityToken", NULL);
	wst = ct_soap_declare(rst, CT_NS_WST_SLASH, "wst");
	xmlSetNs(rst, wst);
	/* children in exactly this order: WCF deserialises in schema order */
	ct_soap_add(rst, wst, "TokenType", CT_URI_X509V3);
	ct_soap_add(rst, wst, "RequestType", CT_URI_ISSUE_13);
	n = ct_soap_add(rst, wsse, "BinarySecurityToken", csr_b64);
	ct_soap_set_attr(n, NULL, "ValueType", CT_URI_PKCS10);
	ct_soap_set_attr(n, NULL, "EncodingType", CT_URI_BASE64);
	n = ct_soap_add(rst, NULL, "RequestID", request_id);
	wstep = ct_soap_declare(n, CT_NS_WSTEP, "wstep");
	xmlSetNs(n, wstep);

	/* DigestValue = SHA-1 of the exc-c14n timestamp */
	ts_c14n = ct_soap_exc_c14n(ts, error);
	if (ts_c14n == NULL)
		return NULL;
	if (!ct_wstrust_sha1(g_bytes_get_data(ts_c14n, NULL), g_bytes_get_size(ts_c14n), digest,
	                     error))
		return NULL;
	ct_soap_set_b64(digest_value, digest, sizeof(digest));

	/* SignatureValue = HMAC-SHA1(proof key, exc-c14n SignedInfo), after the digest is in */
	si_c14n = ct_soap_exc_c14n(si, error);
	if (si_c14n == NULL)
		return NULL;
	if (!ct_wstrust_hmac_sha1(key, key_len, g_bytes_get_data(si_c14n, NULL),
	                          g_bytes_get_size(si_c14n), mac, error))
		return NULL;
	ct_soap_set_b64(signature_value, mac, sizeof(mac));
	OPENSSL_cleanse(mac, sizeof(mac));
	return ct_soap_serialize(doc, error);
}

GBytes *
ct_soap_parse_get_and_publish_cert_response(const guint8 *data, gsize len, GError **error)
{
	g_autoptr(xmlDoc) doc = NULL;
	g_autofree gchar *b64 = NULL;
	xmlNode *first, *rst_token, *bst;
	GBytes *token;

	doc = ct_soap_parse(data, len, "the GetAndPublishCert response", error);
	if (doc == NULL)
		return NULL;
	first = ct_soap_body_first(doc);
	if (first == NULL) {
		g_set_error_literal(
		    error, CT_ERROR, CT_ERROR_PROTOCOL,
		    "the GetAndPublishCert response is not a SOAP 1.1 envelope with a body");
		return NULL;
	}
	if (!ct_soap_node_is(first, CT_NS_TNS, "GetAndPublishCertResponse")) {
		g_set_error(error, CT_ERROR, CT_ERROR_PROTOCOL,
		            "the GetAndPublishCert response holds <%s>, not "
		            "GetAndPublishCertResponse",
		            (const gchar *)first->name);
		return NULL;
	}
	/* .../RequestSecurityTokenResponse/RequestedSecurityToken/BinarySecurityToken */
	rst_token = ct_soap_descendant_in(first, ct_ns_wst_any, "RequestedSecurityToken");
	bst = ct_soap_child(rst_token, CT_NS_WSSE, "BinarySecurityToken");
	b64 = ct_soap_text(bst);
	if (b64 == NULL) {
		g_set_error_literal(error, CT_ERROR, CT_ERROR_PROTOCOL,
		                    "the GetAndPublishCert response holds no certificate "
		                    "(RequestedSecurityToken/BinarySecurityToken)");
		return NULL;
	}
	token = ct_x509_base64_decode(b64, strlen(b64), error);
	if (token == NULL)
		g_prefix_error(error, "the GetAndPublishCert response's BinarySecurityToken: ");
	return token;
}

/*
 * Faults
 */

void
ct_ms_diagnostics_clear(CtMsDiagnostics *diag)
{
	if (diag == NULL)
		return;
	g_clear_pointer(&diag->error_id, g_free);
	g_clear_pointer(&diag->source, g_free);
	g_clear_pointer(&diag->reason, g_free);
	g_clear_pointer(&diag->fault_code, g_free);
	g_clear_pointer(&diag->fault_code_ns, g_free);
	g_clear_pointer(&diag->fault_string, g_free);
}

gboolean
ct_soap_parse_ms_diagnostics_header(const gchar *value, CtMsDiagnostics *diag)
{
	const gchar *p = value;
	const gchar *start;

	g_return_val_if_fail(diag != NULL, FALSE);
	if (value == NULL || strlen(value) > CT_SOAP_MAX_HEADER)
		return FALSE;
	while (*p == ' ' || *p == '\t')
		p++;
	start = p;
	while (g_ascii_isdigit(*p) && p - start < 10)
		p++;
	if (p == start || (*p != ';' && *p != '\0' && *p != ' ' && *p != '\t'))
		return FALSE;
	ct_ms_diagnostics_clear(diag);
	diag->error_id = g_strndup(start, p - start);

	/* ;name="quoted \"text\"" or ;name=token */
	while (*p != '\0') {
		g_autofree gchar *name = NULL;
		GString *val;
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p != ';')
			break;
		p++;
		while (*p == ' ' || *p == '\t')
			p++;
		start = p;
		while (g_ascii_isalnum(*p) || *p == '-' || *p == '_')
			p++;
		if (p == start || *p != '=')
			break;
		name = g_strndup(start, p - start);
		p++;
		val = g_string_new(NULL);
		if (*p == '"') {
			p++;
			while (*p != '\0' && *p != '"') {
				if (*p == '\\' && p[1] != '\0')
					p++;
				g_string_append_c(val, *p++);
			}
			if (*p == '"')
				p++;
		} else {
			while (*p != '\0' && *p != ';')
				g_string_append_c(val, *p++);
		}
		if (g_ascii_strcasecmp(name, "source") == 0 && diag->source == NULL)
			diag->source = ct_soap_printable(val->str);
		else if (g_ascii_strcasecmp(name, "reason") == 0 && diag->reason == NULL)
			diag->reason = ct_soap_printable(val->str);
		g_string_free(val, TRUE);
	}
	return TRUE;
}

gboolean
ct_soap_parse_fault(const guint8 *data, gsize len, CtMsDiagnostics *diag)
{
	g_autoptr(xmlDoc) doc = NULL;
	g_autofree gchar *code = NULL;
	g_autofree gchar *fault_string = NULL;
	xmlNode *fault, *code_node, *detail, *ms;

	if (data == NULL || len == 0)
		return FALSE;
	doc = ct_soap_parse(data, len, "the fault", NULL);
	fault = ct_soap_body_first(doc);
	if (!ct_soap_node_is(fault, CT_NS_SOAP, "Fault"))
		return FALSE;
	if (diag == NULL)
		return TRUE;
	ct_ms_diagnostics_clear(diag);

	/* faultcode is a QName: resolve its prefix where it is written */
	code_node = ct_soap_child(fault, NULL, "faultcode");
	code = ct_soap_text(code_node);
	if (code != NULL) {
		const gchar *colon = strchr(code, ':');
		g_autofree gchar *prefix = colon != NULL ? g_strndup(code, colon - code) : NULL;
		xmlNs *ns = xmlSearchNs(doc, code_node, BAD_CAST prefix);
		diag->fault_code = ct_soap_printable(colon != NULL ? colon + 1 : code);
		if (ns != NULL && ns->href != NULL)
			diag->fault_code_ns = g_strdup((const gchar *)ns->href);
	}
	fault_string = ct_soap_text(ct_soap_child(fault, NULL, "faultstring"));
	diag->fault_string = ct_soap_printable(fault_string);

	/* detail/af:OCSDiagnosticsFault/af:Ms-Diagnostics-Fault/{ErrorId,Reason} */
	detail = ct_soap_child(fault, NULL, "detail");
	if (detail == NULL)
		detail = ct_soap_child(fault, CT_NS_SOAP, "detail");
	ms = ct_soap_child(ct_soap_descendant(detail, CT_NS_AF, "OCSDiagnosticsFault"), CT_NS_AF,
	                   "Ms-Diagnostics-Fault");
	if (ms != NULL) {
		g_autofree gchar *id = ct_soap_text(ct_soap_child(ms, CT_NS_AF, "ErrorId"));
		g_autofree gchar *reason = ct_soap_text(ct_soap_child(ms, CT_NS_AF, "Reason"));
		diag->error_id = ct_soap_printable(id);
		diag->reason = ct_soap_printable(reason);
	}
	return TRUE;
}

/* "Data store unavailable", "The user's data store is unavailable." */
static gboolean
ct_soap_says_store_unavailable(const gchar *text)
{
	g_autofree gchar *lower = NULL;
	const gchar *store;
	if (text == NULL)
		return FALSE;
	lower = g_utf8_strdown(text, -1);
	store = strstr(lower, "data store");
	return store != NULL && strstr(store, "unavailable") != NULL;
}

static gboolean
ct_soap_id_in(const gchar *id, const gchar *const *ids)
{
	return id != NULL && g_strv_contains(ids, id);
}

/* "ErrorId 28020 "No valid security token." (HTTP 401, fault FailedAuthentication, source fe01)" */
static gchar *
ct_soap_describe(guint status, const CtMsDiagnostics *d)
{
	GString *s = g_string_new(NULL);
	g_autoptr(GPtrArray) extra = g_ptr_array_new_with_free_func(g_free);
	const gchar *reason = d->reason != NULL ? d->reason : d->fault_string;

	if (d->error_id != NULL)
		g_string_append_printf(s, "ErrorId %s", d->error_id);
	if (reason != NULL)
		g_string_append_printf(s, "%s\"%s\"", s->len > 0 ? " " : "", reason);
	if (status != 0)
		g_ptr_array_add(extra, g_strdup_printf("HTTP %u", status));
	if (d->fault_code != NULL)
		g_ptr_array_add(extra, g_strdup_printf("fault %s", d->fault_code));
	if (d->reason != NULL && d->fault_string != NULL &&
	    g_strcmp0(d->reason, d->fault_string) != 0)
		g_ptr_array_add(extra, g_strdup_printf("\"%s\"", d->fault_string));
	if (d->source != NULL)
		g_ptr_array_add(extra, g_strdup_printf("source %s", d->source));
	if (extra->len > 0) {
		g_autofree gchar *joined = NULL;
		g_ptr_array_add(extra, NULL);
		joined = g_strjoinv(", ", (gchar **)extra->pdata);
		if (s->len > 0)
			g_string_append_printf(s, " (%s)", joined);
		else
			g_string_append(s, joined);
	}
	return g_string_free(s, FALSE);
}

void
ct_soap_set_error(guint status,
                  const gchar *ms_diagnostics,
                  const guint8 *body,
                  gsize body_len,
                  const gchar *what,
                  const gchar *principal,
                  GError **error)
{
	CtMsDiagnostics hdr = {0};
	CtMsDiagnostics flt = {0};
	CtMsDiagnostics d = {0};
	g_autofree gchar *answer = NULL;
	gboolean is_fault;
	gboolean soap_server, auth, store;

	if (what == NULL)
		what = "the server";
	if (principal == NULL)
		principal = "the desktop user";
	/* the header only speaks for failures: a 2xx answer is judged by its body */
	if (status < 200 || status >= 300)
		ct_soap_parse_ms_diagnostics_header(ms_diagnostics, &hdr);
	is_fault = ct_soap_parse_fault(body, body_len, &flt);

	/* the header first, the fault's detail for what it lacks */
	d.error_id = g_strdup(hdr.error_id != NULL ? hdr.error_id : flt.error_id);
	d.reason = g_strdup(hdr.reason != NULL ? hdr.reason : flt.reason);
	d.source = g_strdup(hdr.source);
	d.fault_code = g_strdup(flt.fault_code);
	d.fault_code_ns = g_strdup(flt.fault_code_ns);
	d.fault_string = g_strdup(flt.fault_string);
	ct_ms_diagnostics_clear(&hdr);
	ct_ms_diagnostics_clear(&flt);
	answer = ct_soap_describe(status, &d);

	soap_server = is_fault && g_strcmp0(d.fault_code, "Server") == 0 &&
	              g_strcmp0(d.fault_code_ns, CT_NS_SOAP) == 0;
	auth = status == 401 || status == 403 ||
	       g_strcmp0(d.error_id, CT_MS_ERROR_ID_NO_VALID_TOKEN) == 0 ||
	       (is_fault &&
	        (g_strcmp0(d.fault_code, "FailedAuthentication") == 0 ||
	         g_strcmp0(d.fault_code, "InvalidSecurityToken") == 0) &&
	        (d.fault_code_ns == NULL || g_strcmp0(d.fault_code_ns, CT_NS_WSSE) == 0));
	store = ct_soap_says_store_unavailable(d.reason) ||
	        ct_soap_says_store_unavailable(d.fault_string) ||
	        ct_soap_id_in(d.error_id, ct_soap_store_unavailable_ids);

	/*
	 * SOAP 1.1 sends every fault with HTTP 500: a fault is judged by its code
	 * (Client = the request is wrong, Server = the server failed), plain HTTP
	 * answers by their status.
	 */
	if (auth) {
		g_set_error(error, CT_ERROR, CT_ERROR_AUTH_FAILED,
		            "the server refused the credentials of %s: %s answered %s", principal,
		            what, answer);
	} else if (store) {
		g_set_error(error, CT_ERROR, CT_ERROR_STORE_UNAVAILABLE,
		            "%s could not publish the certificate, the user's data store is "
		            "unavailable: %s",
		            what, answer);
	} else if (status == 408) {
		g_set_error(error, CT_ERROR, CT_ERROR_TIMEOUT, "%s timed out: %s", what, answer);
	} else if (soap_server) {
		g_set_error(error, CT_ERROR, CT_ERROR_STORE_UNAVAILABLE,
		            "%s failed on the server side: %s", what, answer);
	} else if (is_fault) {
		/* soap:Client, or a code we do not know: retrying the same request is useless */
		g_set_error(error, CT_ERROR, CT_ERROR_REJECTED, "%s refused the request: %s", what,
		            answer);
	} else if (status == 502 || status == 504) {
		g_set_error(error, CT_ERROR, CT_ERROR_UNREACHABLE,
		            "%s: a gateway could not reach the service: %s", what, answer);
	} else if (status == 501) {
		g_set_error(error, CT_ERROR, CT_ERROR_NOT_SUPPORTED,
		            "%s does not implement this: %s", what, answer);
	} else if (status == 429 || (status >= 500 && status < 600)) {
		g_set_error(error, CT_ERROR, CT_ERROR_STORE_UNAVAILABLE,
		            "%s failed on the server side: %s", what, answer);
	} else if (status == 404) {
		g_set_error(error, CT_ERROR, CT_ERROR_REJECTED,
		            "%s does not exist (%s): check the URL", what, answer);
	} else if (status >= 300 && status < 500) {
		g_set_error(error, CT_ERROR, CT_ERROR_REJECTED, "%s refused the request: %s", what,
		            answer);
	} else {
		g_set_error(error, CT_ERROR, CT_ERROR_PROTOCOL,
		            "%s answered HTTP %u without a usable SOAP response", what, status);
	}
	ct_ms_diagnostics_clear(&d);
}
