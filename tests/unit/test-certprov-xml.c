/*
 * CertProv's XML and crypto (daemon/enroll/ct-soap.c, ct-wstrust-crypto.c):
 * P_SHA1 against independent vectors, the two request documents read back with
 * XPath (element order, namespaces), the signature recomputed independently
 * from the serialised envelope (GLib's SHA-1/HMAC over libxml2's node-set C14N),
 * metadata, web ticket and GetAndPublishCert responses, faults and their
 * classification, and hostile documents (DOCTYPE, XXE, entity expansion,
 * truncation) refused without any network access.
 */
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <libxml/c14n.h>
#include <libxml/xpath.h>
#include <libxml/xpathInternals.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/pkcs7.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <string.h>
#include <unistd.h>

#include "daemon/engine/ct-x509.h"
#include "daemon/enroll/ct-soap.h"
#include "daemon/enroll/ct-wstrust-crypto.h"

G_DEFINE_AUTOPTR_CLEANUP_FUNC(xmlXPathContext, xmlXPathFreeContext)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(xmlXPathObject, xmlXPathFreeObject)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(EVP_KDF, EVP_KDF_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(EVP_KDF_CTX, EVP_KDF_CTX_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(PKCS7, PKCS7_free)

#define TEST_TO        "https://pool01.contoso.com/CertProv/CertProvisioningService.svc/WebTicket_Proof"
#define TEST_DEVICE_ID "{6F9619FF-8B86-D011-B42D-00C04FC964FF}"
#define TEST_ENTITY    "alice@contoso.com"
#define TEST_SIP_URI   "sip:alice@contoso.com"

/*
 * Helpers
 */

static GBytes *
data_file(const gchar *name)
{
	const gchar *srcdir = g_getenv("CT_SRCDIR");
	g_autofree gchar *path =
	    g_build_filename(srcdir != NULL ? srcdir : ".", "tests/unit/data/certprov", name, NULL);
	g_autoptr(GError) error = NULL;
	gchar *contents = NULL;
	gsize len = 0;

	if (!g_file_get_contents(path, &contents, &len, &error))
		g_error("test data %s: %s (run from the repository or set CT_SRCDIR)", path,
		        error->message);
	return g_bytes_new_take(contents, len);
}

static const guint8 *
bytes_data(GBytes *b, gsize *len)
{
	return g_bytes_get_data(b, len);
}

static GBytes *
bytes_from_hex(const gchar *hex)
{
	gsize n = strlen(hex) / 2;
	guint8 *buf = g_malloc(n);
	for (gsize i = 0; i < n; i++) {
		gint hi = g_ascii_xdigit_value(hex[2 * i]);
		gint lo = g_ascii_xdigit_value(hex[2 * i + 1]);
		g_assert_cmpint(hi, >=, 0);
		g_assert_cmpint(lo, >=, 0);
		buf[i] = (guint8)(hi << 4 | lo);
	}
	return g_bytes_new_take(buf, n);
}

static GBytes *
bytes_from_b64(const gchar *b64)
{
	gsize len = 0;
	guchar *buf = g_base64_decode(b64, &len);
	return g_bytes_new_take(buf, len);
}

static xmlDoc *
parse_plain(GBytes *xml)
{
	gsize len = 0;
	const guint8 *data = bytes_data(xml, &len);
	/* the test's own reading of a document we produced (trusted, no DTD in it) */
	xmlDoc *doc = xmlReadMemory((const char *)data, (int)len, NULL, NULL, XML_PARSE_NONET);
	g_assert_nonnull(doc);
	return doc;
}

static xmlXPathContext *
xpath_context(xmlDoc *doc)
{
	static const gchar *ns[][2] = {
	    {"soap", CT_NS_SOAP},
	    {"tns", CT_NS_TNS},
	    {"wst", CT_NS_WST},
	    {"wst_", CT_NS_WST_SLASH},
	    {"wstep", CT_NS_WSTEP},
	    {"auth", CT_NS_AUTH},
	    {"wsse", CT_NS_WSSE},
	    {"wsu", CT_NS_WSU},
	    {"wsa", CT_NS_WSA},
	    {"wsp", CT_NS_WSP},
	    {"saml", CT_NS_SAML},
	    {"ds", CT_NS_DS},
	    {"xs", "http://www.w3.org/2001/XMLSchema"},
	};
	xmlXPathContext *ctx = xmlXPathNewContext(doc);
	g_assert_nonnull(ctx);
	for (guint i = 0; i < G_N_ELEMENTS(ns); i++)
		xmlXPathRegisterNs(ctx, BAD_CAST ns[i][0], BAD_CAST ns[i][1]);
	return ctx;
}

/* the nodes an XPath expression selects (at least @min) */
static xmlXPathObject *
xpath(xmlXPathContext *ctx, const gchar *expr, gint min)
{
	xmlXPathObject *obj = xmlXPathEvalExpression(BAD_CAST expr, ctx);
	g_assert_nonnull(obj);
	g_assert_cmpint(obj->type, ==, XPATH_NODESET);
	if (min > 0) {
		if (obj->nodesetval == NULL || obj->nodesetval->nodeNr < min)
			g_error("XPath %s selected %d nodes, wanted at least %d", expr,
			        obj->nodesetval != NULL ? obj->nodesetval->nodeNr : 0, min);
	}
	return obj;
}

static xmlNode *
xpath_one(xmlXPathContext *ctx, const gchar *expr)
{
	g_autoptr(xmlXPathObject) obj = xpath(ctx, expr, 1);
	if (obj->nodesetval->nodeNr != 1)
		g_error("XPath %s selected %d nodes, wanted 1", expr, obj->nodesetval->nodeNr);
	return obj->nodesetval->nodeTab[0];
}

static gchar *
xpath_string(xmlXPathContext *ctx, const gchar *expr)
{
	g_autoptr(xmlXPathObject) obj = xmlXPathEvalExpression(BAD_CAST expr, ctx);
	xmlChar *s;
	gchar *out;

	g_assert_nonnull(obj);
	if (obj->type == XPATH_NODESET) {
		gint n = obj->nodesetval != NULL ? obj->nodesetval->nodeNr : 0;
		if (n != 1)
			g_error("XPath %s selected %d nodes, wanted 1", expr, n);
	}
	s = xmlXPathCastToString(obj);
	out = g_strdup((const gchar *)s);
	xmlFree(s);
	return out;
}

#define assert_xpath_str(ctx, expr, want)                                                          \
	do {                                                                                       \
		g_autofree gchar *_got = xpath_string(ctx, expr);                                  \
		g_assert_cmpstr(_got, ==, want);                                                   \
	} while (0)

/* "ns-uri local" for every element child of @node, joined by commas */
static gchar *
child_names(const xmlNode *node)
{
	GString *s = g_string_new(NULL);
	for (const xmlNode *c = node->children; c != NULL; c = c->next) {
		if (c->type != XML_ELEMENT_NODE)
			continue;
		if (s->len > 0)
			g_string_append(s, ", ");
		g_string_append_printf(s, "{%s}%s", c->ns != NULL ? (const gchar *)c->ns->href : "",
		                       (const gchar *)c->name);
	}
	return g_string_free(s, FALSE);
}

/*
 * Exclusive C14N as an independent reader computes it: libxml2's node-set
 * interface (xmlC14NDocDumpMemory over an XPath selection of the subtree, its
 * attributes and namespace nodes), not the visibility callback ct-soap uses.
 */
static gchar *
c14n_by_xpath(xmlDoc *doc, const gchar *apex_expr)
{
	g_autoptr(xmlXPathContext) ctx = xpath_context(doc);
	g_autofree gchar *expr =
	    g_strdup_printf("(//. | //@* | //namespace::*)[ancestor-or-self::%s]", apex_expr);
	g_autoptr(xmlXPathObject) set = xpath(ctx, expr, 1);
	xmlChar *out = NULL;
	gchar *copy;
	int n = xmlC14NDocDumpMemory(doc, set->nodesetval, XML_C14N_EXCLUSIVE_1_0, NULL, 0, &out);
	g_assert_cmpint(n, >, 0);
	copy = g_strndup((const gchar *)out, n);
	xmlFree(out);
	return copy;
}

static CtWebTicket *
load_ticket(const gchar *file)
{
	g_autoptr(GBytes) xml = data_file(file);
	g_autoptr(GError) error = NULL;
	gsize len = 0;
	const guint8 *data = bytes_data(xml, &len);
	CtWebTicket *ticket = ct_soap_parse_webticket_response(data, len, &error);
	g_assert_no_error(error);
	g_assert_nonnull(ticket);
	return ticket;
}

static GBytes *
random_bytes(gsize n)
{
	guint8 *buf = g_malloc(n);
	g_assert_cmpint(RAND_bytes(buf, (int)n), ==, 1);
	return g_bytes_new_take(buf, n);
}

/*
 * P_SHA1 and HMAC
 */

static void
test_psha1_published_vector(void)
{
	/* the WS-Trust PSHA1 example published with Digest::PSHA1 (after Leandro Boffi's
	 * node.js implementation): client "grrlU...", server "YLABh...", 32 bytes */
	g_autoptr(GBytes) a = bytes_from_b64("grrlUUfhuNwlvQzQ4bV6TT3wA8ieZPltIf4+H7nIvCE=");
	g_autoptr(GBytes) b = bytes_from_b64("YLABh3ZmZyiO5gvVLZe9J4JPd9w59KGeTFwE85XlzxE=");
	g_autoptr(GBytes) key_ab = NULL;
	g_autoptr(GBytes) key_ba = NULL;
	g_autoptr(GError) error = NULL;
	g_autofree gchar *b64_ab = NULL;
	g_autofree gchar *b64_ba = NULL;

	key_ab = ct_wstrust_proof_key(a, b, &error);
	g_assert_no_error(error);
	key_ba = ct_wstrust_proof_key(b, a, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(g_bytes_get_size(key_ab), ==, 32);
	b64_ab = g_base64_encode(g_bytes_get_data(key_ab, NULL), g_bytes_get_size(key_ab));
	b64_ba = g_base64_encode(g_bytes_get_data(key_ba, NULL), g_bytes_get_size(key_ba));
	g_assert_cmpstr(b64_ab, ==, "Wv3QzY84KfgwSkn1z3QV+LXEoo3nPraZPysJYtA3u4c=");
	g_assert_cmpstr(b64_ba, ==, "g/uYZmYX7rOm/X7UV4usrvjIPCiWMWwNZJL0ejvz6Y4=");
}

static void
test_psha1_python_vectors(void)
{
	/* computed by tests/unit/data/certprov/psha1-vectors.py with Python's hmac */
	g_autoptr(GBytes) file = data_file("psha1-vectors.txt");
	g_autofree gchar *text = g_strndup(g_bytes_get_data(file, NULL), g_bytes_get_size(file));
	g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
	guint checked = 0;

	for (guint i = 0; lines[i] != NULL; i++) {
		g_auto(GStrv) f = NULL;
		g_autoptr(GBytes) secret = NULL;
		g_autoptr(GBytes) seed = NULL;
		g_autoptr(GBytes) want = NULL;
		g_autoptr(GError) error = NULL;
		g_autofree guint8 *out = NULL;
		gsize out_len;

		if (lines[i][0] == '\0')
			continue;
		f = g_strsplit(lines[i], " ", -1);
		g_assert_cmpuint(g_strv_length(f), ==, 4);
		secret = bytes_from_hex(f[0]);
		seed = bytes_from_hex(f[1]);
		out_len = g_ascii_strtoull(f[2], NULL, 10);
		want = bytes_from_hex(f[3]);
		out = g_malloc(out_len);
		g_assert_true(ct_wstrust_p_sha1(
		    g_bytes_get_data(secret, NULL), g_bytes_get_size(secret),
		    g_bytes_get_data(seed, NULL), g_bytes_get_size(seed), out, out_len, &error));
		g_assert_no_error(error);
		g_assert_cmpmem(out, out_len, g_bytes_get_data(want, NULL), g_bytes_get_size(want));
		checked++;
	}
	g_assert_cmpuint(checked, ==, 12);
}

/* P_SHA1 is TLS 1.2's P_hash with SHA-1: OpenSSL's TLS1-PRF KDF computes it too */
static void
test_psha1_openssl_kdf(void)
{
	g_autoptr(EVP_KDF) kdf = EVP_KDF_fetch(NULL, "TLS1-PRF", NULL);
	g_assert_nonnull(kdf);
	for (guint round = 0; round < 200; round++) {
		g_autoptr(EVP_KDF_CTX) kctx = EVP_KDF_CTX_new(kdf);
		g_autoptr(GError) error = NULL;
		guint8 secret[200], seed[200], ours[300], theirs[300];
		gsize secret_len = 1 + g_test_rand_int_range(0, sizeof(secret));
		gsize seed_len = 1 + g_test_rand_int_range(0, sizeof(seed));
		gsize out_len = 1 + g_test_rand_int_range(0, sizeof(ours));
		gchar digest[] = "SHA1";
		OSSL_PARAM params[] = {
		    OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0),
		    OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SECRET, secret, secret_len),
		    OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SEED, seed, seed_len),
		    OSSL_PARAM_construct_end(),
		};

		g_assert_cmpint(RAND_bytes(secret, sizeof(secret)), ==, 1);
		g_assert_cmpint(RAND_bytes(seed, sizeof(seed)), ==, 1);
		g_assert_nonnull(kctx);
		g_assert_cmpint(EVP_KDF_derive(kctx, theirs, out_len, params), ==, 1);
		g_assert_true(
		    ct_wstrust_p_sha1(secret, secret_len, seed, seed_len, ours, out_len, &error));
		g_assert_no_error(error);
		g_assert_cmpmem(ours, out_len, theirs, out_len);
	}
}

static void
test_psha1_bounds(void)
{
	guint8 buf[64] = {0};
	guint8 big[CT_WSTRUST_MAX_KEY_LEN + 1] = {0};
	g_autoptr(GError) e1 = NULL;
	g_autoptr(GError) e2 = NULL;
	g_autoptr(GError) e3 = NULL;
	g_autoptr(GError) e4 = NULL;
	g_autoptr(GBytes) empty = g_bytes_new(NULL, 0);
	g_autoptr(GBytes) some = g_bytes_new(buf, 8);

	g_assert_false(ct_wstrust_p_sha1(buf, 0, buf, 8, buf, 8, &e1));
	g_assert_error(e1, CT_ERROR, CT_ERROR_INVALID_ARGS);
	g_assert_false(ct_wstrust_p_sha1(buf, 8, buf, 0, buf, 8, &e2));
	g_assert_error(e2, CT_ERROR, CT_ERROR_INVALID_ARGS);
	g_assert_false(ct_wstrust_p_sha1(big, sizeof(big), buf, 8, buf, 8, &e3));
	g_assert_error(e3, CT_ERROR, CT_ERROR_INVALID_ARGS);
	g_assert_null(ct_wstrust_proof_key(empty, some, &e4));
	g_assert_error(e4, CT_ERROR, CT_ERROR_INVALID_ARGS);
}

static void
test_hmac_sha1_rfc2202(void)
{
	guint8 key1[20], out[CT_WSTRUST_SHA1_LEN];
	g_autoptr(GBytes) want1 = bytes_from_hex("b617318655057264e28bc0b6fb378c8ef146be00");
	g_autoptr(GBytes) want2 = bytes_from_hex("effcdf6ae5eb2fa2d27416d5f184df9c259a7c79");
	g_autoptr(GBytes) want_sha1 = bytes_from_hex("a9993e364706816aba3e25717850c26c9cd0d89d");
	const gchar *what = "what do ya want for nothing?";
	g_autoptr(GError) error = NULL;

	memset(key1, 0x0b, sizeof(key1));
	g_assert_true(
	    ct_wstrust_hmac_sha1(key1, sizeof(key1), (const guint8 *)"Hi There", 8, out, &error));
	g_assert_cmpmem(out, sizeof(out), g_bytes_get_data(want1, NULL), 20);
	g_assert_true(ct_wstrust_hmac_sha1((const guint8 *)"Jefe", 4, (const guint8 *)what,
	                                   strlen(what), out, &error));
	g_assert_cmpmem(out, sizeof(out), g_bytes_get_data(want2, NULL), 20);
	g_assert_true(ct_wstrust_sha1((const guint8 *)"abc", 3, out, &error));
	g_assert_cmpmem(out, sizeof(out), g_bytes_get_data(want_sha1, NULL), 20);
	g_assert_no_error(error);
}

/*
 * Hostile and broken documents
 */

typedef struct {
	GSocket *listener;
	guint16 port;
} Trap;

/* a loopback listener: any fetch attempt by the parser would show up as a connection */
static void
trap_open(Trap *trap)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GInetAddress) lo = g_inet_address_new_loopback(G_SOCKET_FAMILY_IPV4);
	g_autoptr(GSocketAddress) addr = g_inet_socket_address_new(lo, 0);
	g_autoptr(GSocketAddress) bound = NULL;

	trap->listener =
	    g_socket_new(G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, &error);
	g_assert_no_error(error);
	g_assert_true(g_socket_bind(trap->listener, addr, TRUE, &error));
	g_assert_true(g_socket_listen(trap->listener, &error));
	bound = g_socket_get_local_address(trap->listener, &error);
	g_assert_no_error(error);
	trap->port = g_inet_socket_address_get_port(G_INET_SOCKET_ADDRESS(bound));
	g_socket_set_blocking(trap->listener, FALSE);
}

static void
trap_assert_untouched(Trap *trap)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GSocket) conn = g_socket_accept(trap->listener, NULL, &error);
	g_assert_null(conn);
	g_assert_error(error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK);
	g_clear_object(&trap->listener);
}

/* every parser refuses @doc with CT_ERROR_PROTOCOL and a message without @secret */
static void
assert_all_parsers_refuse(const gchar *doc, const gchar *secret)
{
	const guint8 *data = (const guint8 *)doc;
	gsize len = strlen(doc);
	g_autoptr(GError) e1 = NULL;
	g_autoptr(GError) e2 = NULL;
	g_autoptr(GError) e3 = NULL;
	g_autoptr(GError) e4 = NULL;
	g_autoptr(GError) e5 = NULL;
	g_autoptr(xmlDoc) parsed = NULL;
	g_autoptr(CtWebTicket) ticket = NULL;
	g_autoptr(GBytes) token = NULL;
	CtSoapMex mex = {0};
	CtMsDiagnostics diag = {0};
	GError *errors[4];

	parsed = ct_soap_parse(data, len, "the test document", &e1);
	g_assert_null(parsed);
	g_assert_error(e1, CT_ERROR, CT_ERROR_PROTOCOL);
	g_assert_false(ct_soap_parse_mex(data, len, CT_CERTPROV_PROOF_PORT, &mex, &e2));
	g_assert_error(e2, CT_ERROR, CT_ERROR_PROTOCOL);
	ticket = ct_soap_parse_webticket_response(data, len, &e3);
	g_assert_null(ticket);
	g_assert_error(e3, CT_ERROR, CT_ERROR_PROTOCOL);
	token = ct_soap_parse_get_and_publish_cert_response(data, len, &e4);
	g_assert_null(token);
	g_assert_error(e4, CT_ERROR, CT_ERROR_PROTOCOL);
	g_assert_false(ct_soap_parse_fault(data, len, &diag));
	/* a 200 answer that is such a document is a protocol error, not a fault */
	ct_soap_set_error(200, NULL, data, len, "the test server", "alice", &e5);
	g_assert_error(e5, CT_ERROR, CT_ERROR_PROTOCOL);
	errors[0] = e1;
	errors[1] = e2;
	errors[2] = e3;
	errors[3] = e4;
	for (guint i = 0; i < G_N_ELEMENTS(errors); i++) {
		if (secret != NULL)
			g_assert_null(strstr(errors[i]->message, secret));
	}
	g_assert_nonnull(strstr(e1->message, "DOCTYPE"));
}

static void
test_refuse_billion_laughs(void)
{
	/* the classic: lol9 expands to 10^9 "lol" */
	GString *doc = g_string_new(NULL);

	g_string_append(doc, "<?xml version=\"1.0\"?>\n<!DOCTYPE lolz [\n <!ENTITY lol \"lol\">\n");
	for (guint i = 1; i <= 9; i++) {
		g_string_append_printf(doc, " <!ENTITY lol%u \"", i);
		for (guint j = 0; j < 10; j++) {
			if (i == 1)
				g_string_append(doc, "&lol;");
			else
				g_string_append_printf(doc, "&lol%u;", i - 1);
		}
		g_string_append(doc, "\">\n");
	}
	g_string_append(doc, "]>\n<soap:Envelope xmlns:soap=\"" CT_NS_SOAP "\"><soap:Body>"
	                     "<x>&lol9;</x></soap:Body></soap:Envelope>\n");
	assert_all_parsers_refuse(doc->str, NULL);
	g_string_free(doc, TRUE);
}

static void
test_refuse_xxe_file(void)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *path = NULL;
	g_autofree gchar *doc = NULL;
	const gchar *secret = "TOP-SECRET-7d1e";
	gint fd = g_file_open_tmp("certprov-xxe-XXXXXX", &path, &error);

	g_assert_no_error(error);
	g_assert_true(g_file_set_contents(path, secret, -1, &error));
	close(fd);
	doc = g_strdup_printf("<?xml version=\"1.0\"?>\n"
	                      "<!DOCTYPE r [<!ENTITY xxe SYSTEM \"file://%s\">]>\n"
	                      "<soap:Envelope xmlns:soap=\"" CT_NS_SOAP "\"><soap:Body><s:Fault>"
	                      "<faultcode>&xxe;</faultcode><faultstring>&xxe;</faultstring>"
	                      "</s:Fault></soap:Body></soap:Envelope>",
	                      path);
	assert_all_parsers_refuse(doc, secret);
	g_unlink(path);
}

static void
test_refuse_external_dtd_no_network(void)
{
	Trap trap = {NULL, 0};
	g_autofree gchar *ext = NULL;
	g_autofree gchar *param = NULL;
	g_autofree gchar *entity = NULL;

	trap_open(&trap);
	/* an external DTD, a parameter entity and a general entity, all on the trap */
	ext = g_strdup_printf("<?xml version=\"1.0\"?>\n"
	                      "<!DOCTYPE soap:Envelope SYSTEM \"http://127.0.0.1:%u/evil.dtd\">\n"
	                      "<soap:Envelope xmlns:soap=\"" CT_NS_SOAP "\"><soap:Body/>"
	                      "</soap:Envelope>",
	                      trap.port);
	param = g_strdup_printf("<!-- comment first --><?pi x?><!DOCTYPE r [\n"
	                        " <!ENTITY %% p SYSTEM \"http://127.0.0.1:%u/p.dtd\"> %%p;\n]>\n"
	                        "<r/>",
	                        trap.port);
	entity = g_strdup_printf("<!DOCTYPE r [<!ENTITY e SYSTEM \"http://127.0.0.1:%u/e\">]>"
	                         "<r>&e;</r>",
	                         trap.port);
	assert_all_parsers_refuse(ext, NULL);
	assert_all_parsers_refuse(param, NULL);
	assert_all_parsers_refuse(entity, NULL);
	/* even an innocent internal subset is refused */
	assert_all_parsers_refuse("<!DOCTYPE r []><r/>", NULL);
	trap_assert_untouched(&trap);
}

/* every prefix of a valid document, and assorted garbage: errors, never a crash */
static void
test_garbage_and_truncation(void)
{
	const gchar *files[] = {"webticket-rstr.xml", "certprov-mex.xml", "fault-auth.xml",
	                        "webticket-rstr-inherited-ns.xml"};
	const gchar *garbage[] = {
	    "",
	    "<",
	    "\x00\x01\x02",
	    "<soap:Envelope>",
	    "<a xmlns:p=\"urn:x\"><q:b/></a>", /* undeclared prefix: a namespace error */
	    "<soap:Envelope xmlns:soap=\"" CT_NS_SOAP "\"></soap:Envelope>",
	    "<soap:Envelope xmlns:soap=\"" CT_NS_SOAP "\"><soap:Body>text only</soap:Body>"
	    "</soap:Envelope>",
	    "<?xml version=\"1.0\" encoding=\"UTF-16\"?><a/>",
	    "\xef\xbb\xbf<a>\xff\xfe</a>",
	    "<a>&undefined;</a>",
	    "<a><![CDATA[x]]></b>",
	};
	guint8 *big;

	for (guint f = 0; f < G_N_ELEMENTS(files); f++) {
		g_autoptr(GBytes) xml = data_file(files[f]);
		gsize len = 0;
		const guint8 *data = bytes_data(xml, &len);
		const guint8 *end = (const guint8 *)g_strrstr_len((const gchar *)data, len, ">");
		gsize complete = (gsize)(end - data) + 1;

		for (gsize cut = 0; cut < complete; cut++) {
			g_autoptr(GError) e1 = NULL;
			g_autoptr(GError) e2 = NULL;
			g_autoptr(GError) e3 = NULL;
			g_autoptr(GError) e4 = NULL;
			g_autoptr(CtWebTicket) ticket = NULL;
			g_autoptr(GBytes) token = NULL;
			CtSoapMex mex = {0};
			CtMsDiagnostics diag = {0};

			ticket = ct_soap_parse_webticket_response(data, cut, &e1);
			g_assert_null(ticket);
			g_assert_error(e1, CT_ERROR, CT_ERROR_PROTOCOL);
			g_assert_false(
			    ct_soap_parse_mex(data, cut, CT_CERTPROV_PROOF_PORT, &mex, &e2));
			g_assert_error(e2, CT_ERROR, CT_ERROR_PROTOCOL);
			token = ct_soap_parse_get_and_publish_cert_response(data, cut, &e3);
			g_assert_null(token);
			g_assert_error(e3, CT_ERROR, CT_ERROR_PROTOCOL);
			g_assert_false(ct_soap_parse_fault(data, cut, &diag));
			ct_soap_set_error(500, NULL, data, cut, "the test server", NULL, &e4);
			g_assert_error(e4, CT_ERROR, CT_ERROR_STORE_UNAVAILABLE);
			ct_ms_diagnostics_clear(&diag);
		}
	}
	for (guint g = 0; g < G_N_ELEMENTS(garbage); g++) {
		gsize len = g == 2 ? 3 : strlen(garbage[g]);
		g_autoptr(GError) error = NULL;
		g_autoptr(xmlDoc) doc =
		    ct_soap_parse((const guint8 *)garbage[g], len, "garbage", &error);
		g_autoptr(GError) e2 = NULL;
		g_autoptr(CtWebTicket) ticket = NULL;

		if (g == 5 || g == 6) {
			/* well-formed, but not what a response must be */
			g_assert_no_error(error);
			g_assert_nonnull(doc);
			ticket =
			    ct_soap_parse_webticket_response((const guint8 *)garbage[g], len, &e2);
			g_assert_null(ticket);
			g_assert_error(e2, CT_ERROR, CT_ERROR_PROTOCOL);
			continue;
		}
		g_assert_null(doc);
		g_assert_error(error, CT_ERROR, CT_ERROR_PROTOCOL);
	}

	/* the size limit applies before parsing */
	big = g_malloc(CT_SOAP_MAX_DOCUMENT + 1);
	memset(big, ' ', CT_SOAP_MAX_DOCUMENT + 1);
	memcpy(big, "<a>", 3);
	memcpy(big + CT_SOAP_MAX_DOCUMENT - 3, "</a>", 4);
	{
		g_autoptr(GError) error = NULL;
		g_autoptr(xmlDoc) doc = ct_soap_parse(big, CT_SOAP_MAX_DOCUMENT + 1, "big", &error);
		g_assert_null(doc);
		g_assert_error(error, CT_ERROR, CT_ERROR_PROTOCOL);
		g_assert_nonnull(strstr(error->message, "more than"));
	}
	g_free(big);
}

/*
 * Exclusive C14N
 */

static void
test_exc_c14n(void)
{
	const gchar *xml = "<a:root xmlns:a=\"urn:a\" xmlns:b=\"urn:b\" xmlns:unused=\"urn:u\">"
	                   "<b:el z=\"1\" b:y=\"2\" a=\"&quot;&lt;\"><!-- c --><a:inner/></b:el>"
	                   "</a:root>";
	g_autoptr(GError) error = NULL;
	g_autoptr(xmlDoc) doc = ct_soap_parse((const guint8 *)xml, strlen(xml), "c14n", &error);
	g_autoptr(GBytes) out = NULL;
	g_autofree gchar *independent = NULL;
	xmlNode *el;

	g_assert_no_error(error);
	el = ct_soap_child(xmlDocGetRootElement(doc), "urn:b", "el");
	g_assert_nonnull(el);
	out = ct_soap_exc_c14n(el, &error);
	g_assert_no_error(error);
	/* b is declared on the apex, a where first used, unused dropped, attributes sorted,
	 * comments removed, empty elements as start-end pairs */
	g_assert_cmpmem(g_bytes_get_data(out, NULL), g_bytes_get_size(out),
	                "<b:el xmlns:b=\"urn:b\" a=\"&quot;&lt;\" z=\"1\" b:y=\"2\">"
	                "<a:inner xmlns:a=\"urn:a\"></a:inner></b:el>",
	                strlen("<b:el xmlns:b=\"urn:b\" a=\"&quot;&lt;\" z=\"1\" b:y=\"2\">"
	                       "<a:inner xmlns:a=\"urn:a\"></a:inner></b:el>"));
	independent = c14n_by_xpath(doc, "*[local-name()='el']");
	g_assert_cmpmem(g_bytes_get_data(out, NULL), g_bytes_get_size(out), independent,
	                strlen(independent));
}

/*
 * Metadata
 */

static void
test_mex_certprov(void)
{
	const gchar *files[] = {"certprov-mex.xml", "fixture-certprov-mex.xml"};
	const gchar *want_port[] = {
	    "https://pool01.contoso.com/CertProv/CertProvisioningService.svc/WebTicket_Proof",
	    "https://localhost:18443/CertProv/CertProvisioningService.svc/WebTicket_Proof"};
	const gchar *want_issuer[] = {"https://pool01.contoso.com/WebTicket/WebTicketService.svc",
	                              "https://localhost:18443/WebTicket/WebTicketService.svc"};

	for (guint i = 0; i < G_N_ELEMENTS(files); i++) {
		g_autoptr(GBytes) xml = data_file(files[i]);
		g_autoptr(GError) error = NULL;
		CtSoapMex mex = {0};
		gsize len = 0;
		const guint8 *data = bytes_data(xml, &len);

		g_assert_true(ct_soap_parse_mex(data, len, CT_CERTPROV_PROOF_PORT, &mex, &error));
		g_assert_no_error(error);
		g_assert_cmpstr(mex.port_address, ==, want_port[i]);
		g_assert_cmpstr(mex.issuer_address, ==, want_issuer[i]);
		g_assert_true(mex.issuer_endorsing);
		ct_soap_mex_clear(&mex);

		/* the decoy bearer port is found by its own name, with its own policy */
		g_assert_true(ct_soap_parse_mex(data, len, "CertProvisioningServiceWebTicketBearer",
		                                &mex, &error));
		g_assert_no_error(error);
		g_assert_true(g_str_has_suffix(mex.port_address, "/WebTicket_Bearer"));
		g_assert_false(mex.issuer_endorsing);
		ct_soap_mex_clear(&mex);
	}
}

static void
test_mex_webticket(void)
{
	const gchar *files[] = {"webticket-mex.xml", "fixture-webticket-mex.xml"};
	const gchar *want[] = {
	    "https://pool01.contoso.com/WebTicket/WebTicketService.svc/WinNegotiate",
	    "https://localhost:18443/WebTicket/WebTicketService.svc/WinNegotiate"};

	for (guint i = 0; i < G_N_ELEMENTS(files); i++) {
		g_autoptr(GBytes) xml = data_file(files[i]);
		g_autoptr(GError) error = NULL;
		CtSoapMex mex = {0};
		gsize len = 0;
		const guint8 *data = bytes_data(xml, &len);

		g_assert_true(
		    ct_soap_parse_mex(data, len, CT_WEBTICKET_NEGOTIATE_PORT, &mex, &error));
		g_assert_no_error(error);
		g_assert_cmpstr(mex.port_address, ==, want[i]);
		g_assert_null(mex.issuer_address);
		ct_soap_mex_clear(&mex);
	}
	/* SOAP 1.2 address and an endpoint reference alone are read too */
	{
		g_autoptr(GBytes) xml = data_file("webticket-mex.xml");
		g_autoptr(GError) error = NULL;
		CtSoapMex mex = {0};
		gsize len = 0;
		const guint8 *data = bytes_data(xml, &len);
		g_assert_true(ct_soap_parse_mex(data, len, "WebTicketServiceCert", &mex, &error));
		g_assert_cmpstr(mex.port_address, ==,
		                "https://pool01.contoso.com/WebTicket/WebTicketService.svc/Cert");
		ct_soap_mex_clear(&mex);
		g_assert_true(
		    ct_soap_parse_mex(data, len, "WebTicketServicePinAuth", &mex, &error));
		g_assert_cmpstr(
		    mex.port_address, ==,
		    "https://pool01.contoso.com/WebTicket/WebTicketService.svc/PinAuth");
		ct_soap_mex_clear(&mex);
		g_assert_no_error(error);
	}
}

static void
test_mex_errors(void)
{
	g_autoptr(GBytes) xml = data_file("webticket-mex.xml");
	gsize len = 0;
	const guint8 *data = bytes_data(xml, &len);
	const gchar *bad_scheme =
	    "<wsdl:definitions xmlns:wsdl=\"" CT_NS_WSDL "\" xmlns:soap=\"" CT_NS_WSDL_SOAP "\">"
	    "<wsdl:service><wsdl:port name=\"WebTicketServiceWinNegotiate\">"
	    "<soap:address location=\"file:///etc/passwd\"/></wsdl:port></wsdl:service>"
	    "</wsdl:definitions>";
	const gchar *wrong_ns =
	    "<definitions xmlns=\"urn:not-wsdl\" xmlns:soap=\"" CT_NS_WSDL_SOAP "\">"
	    "<service><port name=\"WebTicketServiceWinNegotiate\">"
	    "<soap:address location=\"https://x/y\"/></port></service></definitions>";
	g_autoptr(GError) e1 = NULL;
	g_autoptr(GError) e2 = NULL;
	g_autoptr(GError) e3 = NULL;
	CtSoapMex mex = {0};

	g_assert_false(ct_soap_parse_mex(data, len, CT_CERTPROV_PROOF_PORT, &mex, &e1));
	g_assert_error(e1, CT_ERROR, CT_ERROR_PROTOCOL);
	g_assert_nonnull(strstr(e1->message, CT_CERTPROV_PROOF_PORT));
	g_assert_false(ct_soap_parse_mex((const guint8 *)bad_scheme, strlen(bad_scheme),
	                                 CT_WEBTICKET_NEGOTIATE_PORT, &mex, &e2));
	g_assert_error(e2, CT_ERROR, CT_ERROR_PROTOCOL);
	g_assert_nonnull(strstr(e2->message, "http(s)"));
	/* found by namespace, not by the look of the names */
	g_assert_false(ct_soap_parse_mex((const guint8 *)wrong_ns, strlen(wrong_ns),
	                                 CT_WEBTICKET_NEGOTIATE_PORT, &mex, &e3));
	g_assert_error(e3, CT_ERROR, CT_ERROR_PROTOCOL);
	g_assert_null(mex.port_address);
}

/*
 * The web ticket request
 */

static void
test_webticket_request(void)
{
	g_autoptr(GBytes) entropy = random_bytes(CT_WSTRUST_ENTROPY_LEN);
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) xml = NULL;
	g_autoptr(xmlDoc) doc = NULL;
	g_autoptr(xmlXPathContext) ctx = NULL;
	g_autofree gchar *order = NULL;
	g_autofree gchar *context = NULL;
	g_autofree gchar *secret = NULL;
	g_autoptr(GBytes) secret_bytes = NULL;
	g_autoptr(xmlXPathObject) slash = NULL;
	xmlNode *rst;

	xml = ct_soap_build_webticket_request(TEST_TO, TEST_SIP_URI, entropy, NULL, &error);
	g_assert_no_error(error);
	g_assert_nonnull(xml);
	doc = parse_plain(xml);
	ctx = xpath_context(doc);

	/* WS-Trust 1.3 WITHOUT the trailing slash, children in the wire order */
	rst = xpath_one(ctx, "/soap:Envelope/soap:Body/wst:RequestSecurityToken");
	order = child_names(rst);
	g_assert_cmpstr(order, ==,
	                "{" CT_NS_WST "}TokenType, {" CT_NS_WST "}RequestType, "
	                "{" CT_NS_WSP "}AppliesTo, {" CT_NS_WST "}Claims, {" CT_NS_WST "}Entropy, "
	                "{" CT_NS_WST "}KeyType");
	slash = xpath(ctx, "//wst_:*", 0);
	g_assert_true(slash->nodesetval == NULL || slash->nodesetval->nodeNr == 0);
	g_assert_null(ct_soap_child(xmlDocGetRootElement(doc), CT_NS_SOAP, "Header"));

	context =
	    xpath_string(ctx, "string(/soap:Envelope/soap:Body/wst:RequestSecurityToken/@Context)");
	g_assert_true(g_uuid_string_is_valid(context));
	assert_xpath_str(
	    ctx, "//wst:TokenType",
	    "http://docs.oasis-open.org/wss/oasis-wss-saml-token-profile-1.1#SAMLV1.1");
	assert_xpath_str(ctx, "//wst:RequestType",
	                 "http://schemas.xmlsoap.org/ws/2005/02/trust/Issue");
	assert_xpath_str(ctx, "//wsp:AppliesTo/wsa:EndpointReference/wsa:Address", TEST_TO);
	xpath_one(ctx, "//wst:Claims[@Dialect='urn:component:Microsoft.Rtc.WebAuthentication.2010:"
	               "authclaims']/auth:ClaimType[@Uri='http://schemas.xmlsoap.org/ws/2005/05/"
	               "identity/claims/uri'][@Optional='false']");
	assert_xpath_str(ctx, "//wst:Claims/auth:ClaimType/auth:Value", TEST_SIP_URI);
	secret = xpath_string(ctx, "//wst:Entropy/wst:BinarySecret");
	secret_bytes = bytes_from_b64(secret);
	g_assert_true(g_bytes_equal(secret_bytes, entropy));
	assert_xpath_str(ctx, "//wst:KeyType",
	                 "http://docs.oasis-open.org/ws-sx/ws-trust/200512/SymmetricKey");

	/* the Context given is used */
	{
		g_autoptr(GBytes) xml2 = ct_soap_build_webticket_request(
		    TEST_TO, TEST_SIP_URI, entropy, "11111111-2222-3333-4444-555555555555", &error);
		g_autoptr(xmlDoc) doc2 = parse_plain(xml2);
		g_autoptr(xmlXPathContext) ctx2 = xpath_context(doc2);
		g_autofree gchar *c2 =
		    xpath_string(ctx2, "string(//wst:RequestSecurityToken/@Context)");
		g_assert_cmpstr(c2, ==, "11111111-2222-3333-4444-555555555555");
	}
	/* bad arguments */
	{
		g_autoptr(GError) e1 = NULL;
		g_autoptr(GError) e2 = NULL;
		g_autoptr(GError) e3 = NULL;
		g_autoptr(GBytes) empty = g_bytes_new(NULL, 0);
		g_autoptr(GBytes) x1 = ct_soap_build_webticket_request(TEST_TO, "alice@contoso.com",
		                                                       entropy, NULL, &e1);
		g_autoptr(GBytes) x2 =
		    ct_soap_build_webticket_request("ftp://x/y", TEST_SIP_URI, entropy, NULL, &e2);
		g_autoptr(GBytes) x3 =
		    ct_soap_build_webticket_request(TEST_TO, TEST_SIP_URI, empty, NULL, &e3);
		g_assert_null(x1);
		g_assert_error(e1, CT_ERROR, CT_ERROR_INVALID_ARGS);
		g_assert_null(x2);
		g_assert_error(e2, CT_ERROR, CT_ERROR_PROTOCOL);
		g_assert_null(x3);
		g_assert_error(e3, CT_ERROR, CT_ERROR_INVALID_ARGS);
	}
}

/*
 * The web ticket response
 */

static void
test_webticket_response(void)
{
	g_autoptr(CtWebTicket) ticket = load_ticket("webticket-rstr.xml");
	g_autoptr(GBytes) want_entropy =
	    bytes_from_b64("YLABh3ZmZyiO5gvVLZe9J4JPd9w59KGeTFwE85XlzxE=");
	g_autoptr(GBytes) xml = data_file("webticket-rstr.xml");
	g_autoptr(xmlDoc) original = parse_plain(xml);
	g_autofree gchar *original_c14n = c14n_by_xpath(original, "saml:Assertion");
	g_autofree gchar *copy_c14n = c14n_by_xpath(ticket->assertion, "saml:Assertion");

	g_assert_cmpstr(ticket->created, ==, "2024-03-01T10:00:00.000Z");
	g_assert_cmpstr(ticket->expires, ==, "2024-03-01T18:00:00.000Z");
	g_assert_cmpstr(ticket->assertion_id, ==,
	                "SamlSecurityToken-0b6e2a55-6a43-4bd5-9a0c-35f0c7e2a3d1");
	g_assert_true(g_bytes_equal(ticket->server_entropy, want_entropy));
	g_assert_cmpstr(copy_c14n, ==, original_c14n);
}

static void
test_webticket_response_errors(void)
{
	g_autoptr(GBytes) xml = data_file("webticket-rstr.xml");
	g_autofree gchar *text = g_strndup(g_bytes_get_data(xml, NULL), g_bytes_get_size(xml));
	struct {
		const gchar *from;
		const gchar *to;
		const gchar *message;
	} cases[] = {
	    /* found by namespace: the same prefix bound to SAML 2.0 is not a SAML 1.1 assertion */
	    {"xmlns:saml=\"urn:oasis:names:tc:SAML:1.0:assertion\"",
	     "xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\"", "no SAML 1.1 assertion"},
	    {"AssertionID=\"SamlSecurityToken", "AssertionId=\"SamlSecurityToken", "AssertionID"},
	    {"<Entropy><BinarySecret>YLABh3ZmZyiO5gvVLZe9J4JPd9w59KGeTFwE85XlzxE=</BinarySecret>",
	     "<Entropy>", "server entropy"},
	    {"YLABh3ZmZyiO5gvVLZe9J4JPd9w59KGeTFwE85XlzxE=",
	     "YLABh3Zm!yiO5gvVLZe9J4JPd9w59KGeTFwE85XlzxE=", "server entropy"},
	    {"<wsu:Created>2024-03-01T10:00:00.000Z", "<wsu:Created>yesterday", "Created"},
	    {"<wsu:Expires>2024-03-01T18:00:00.000Z", "<wsu:Expires>2024-03-01T18:00:00.000",
	     "Expires"},
	    {"CK/PSHA1", "CK/HMAC", "P_SHA1"},
	    {"<RequestSecurityTokenResponseCollection "
	     "xmlns=\"http://docs.oasis-open.org/ws-sx/ws-trust/200512\"",
	     "<RequestSecurityTokenResponseCollection xmlns=\"urn:other\"",
	     "not a RequestSecurityTokenResponse"},
	};

	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_auto(GStrv) parts = g_strsplit(text, cases[i].from, 2);
		g_autofree gchar *changed = NULL;
		g_autoptr(GError) error = NULL;
		g_autoptr(CtWebTicket) ticket = NULL;

		g_assert_cmpuint(g_strv_length(parts), ==, 2);
		changed = g_strjoin(cases[i].to, parts[0], parts[1], NULL);
		ticket = ct_soap_parse_webticket_response((const guint8 *)changed, strlen(changed),
		                                          &error);
		g_assert_null(ticket);
		g_assert_error(error, CT_ERROR, CT_ERROR_PROTOCOL);
		if (strstr(error->message, cases[i].message) == NULL)
			g_error("case %u: \"%s\" does not mention \"%s\"", i, error->message,
			        cases[i].message);
	}
	/* a fault is not a ticket */
	{
		g_autoptr(GBytes) fault = data_file("fault-auth.xml");
		g_autoptr(GError) error = NULL;
		g_autoptr(CtWebTicket) ticket = ct_soap_parse_webticket_response(
		    g_bytes_get_data(fault, NULL), g_bytes_get_size(fault), &error);
		g_assert_null(ticket);
		g_assert_error(error, CT_ERROR, CT_ERROR_PROTOCOL);
	}
}

/*
 * GetAndPublishCert
 */

static GBytes *
build_gapc(const CtWebTicket *ticket, GBytes *proof_key, GBytes *csr)
{
	g_autoptr(GError) error = NULL;
	CtGetAndPublishCertParams p = {
	    .to = TEST_TO,
	    .ticket = ticket,
	    .proof_key = proof_key,
	    .device_id = TEST_DEVICE_ID,
	    .entity = TEST_ENTITY,
	    .csr_der = csr,
	};
	GBytes *xml = ct_soap_build_get_and_publish_cert(&p, &error);
	g_assert_no_error(error);
	g_assert_nonnull(xml);
	return xml;
}

static void
test_gapc_structure(void)
{
	g_autoptr(CtWebTicket) ticket = load_ticket("webticket-rstr.xml");
	g_autoptr(GBytes) key = random_bytes(32);
	g_autoptr(GBytes) csr = random_bytes(700);
	g_autoptr(GBytes) xml = build_gapc(ticket, key, csr);
	g_autoptr(xmlDoc) doc = parse_plain(xml);
	g_autoptr(xmlXPathContext) ctx = xpath_context(doc);
	g_autofree gchar *header = NULL;
	g_autofree gchar *security = NULL;
	g_autofree gchar *rst_children = NULL;
	g_autofree gchar *message_id = NULL;
	g_autofree gchar *request_id = NULL;
	g_autofree gchar *bst = NULL;
	g_autoptr(GBytes) bst_bytes = NULL;
	xmlNode *ts, *gapc, *rst, *n;

	header = child_names(xpath_one(ctx, "/soap:Envelope/soap:Header"));
	g_assert_cmpstr(header, ==,
	                "{" CT_NS_WSA "}To, {" CT_NS_WSA "}ReplyTo, {" CT_NS_WSA "}MessageID, "
	                "{" CT_NS_WSA "}Action, {" CT_NS_WSSE "}Security");
	assert_xpath_str(ctx, "/soap:Envelope/soap:Header/wsa:To", TEST_TO);
	assert_xpath_str(ctx, "/soap:Envelope/soap:Header/wsa:ReplyTo/wsa:Address",
	                 "http://www.w3.org/2005/08/addressing/anonymous");
	message_id = xpath_string(ctx, "/soap:Envelope/soap:Header/wsa:MessageID");
	g_assert_true(g_str_has_prefix(message_id, "uuid:"));
	g_assert_true(g_uuid_string_is_valid(message_id + 5));
	assert_xpath_str(ctx, "/soap:Envelope/soap:Header/wsa:Action",
	                 CT_SOAP_ACTION_GET_AND_PUBLISH_CERT);

	/* Security: exactly Timestamp, Assertion, Signature */
	security = child_names(xpath_one(ctx, "/soap:Envelope/soap:Header/wsse:Security"));
	g_assert_cmpstr(security, ==,
	                "{" CT_NS_WSU "}Timestamp, {" CT_NS_SAML "}Assertion, {" CT_NS_DS
	                "}Signature");
	ts = xpath_one(ctx, "//wsse:Security/wsu:Timestamp[@wsu:Id='timestamp']");
	/* the timestamp declares wsu itself and carries the ticket's lifetime */
	g_assert_nonnull(ts->nsDef);
	g_assert_cmpstr((const gchar *)ts->nsDef->href, ==, CT_NS_WSU);
	assert_xpath_str(ctx, "//wsu:Timestamp/wsu:Created", ticket->created);
	assert_xpath_str(ctx, "//wsu:Timestamp/wsu:Expires", ticket->expires);
	{
		g_autofree gchar *names = child_names(ts);
		g_assert_cmpstr(names, ==, "{" CT_NS_WSU "}Created, {" CT_NS_WSU "}Expires");
	}

	/* the signature's shape */
	{
		g_autofree gchar *names =
		    child_names(xpath_one(ctx, "//wsse:Security/ds:Signature"));
		g_assert_cmpstr(names, ==,
		                "{" CT_NS_DS "}SignedInfo, {" CT_NS_DS "}SignatureValue, {" CT_NS_DS
		                "}KeyInfo");
	}
	xpath_one(ctx, "//wsse:Security/ds:Signature/ds:SignedInfo/"
	               "ds:CanonicalizationMethod[@Algorithm='http://www.w3.org/"
	               "2001/10/xml-exc-c14n#']");
	xpath_one(ctx, "//wsse:Security/ds:Signature/ds:SignedInfo/"
	               "ds:SignatureMethod[@Algorithm='http://www.w3.org/2000/09/"
	               "xmldsig#hmac-sha1']");
	xpath_one(ctx, "//wsse:Security/ds:Signature/ds:SignedInfo/ds:Reference[@URI='#timestamp']/"
	               "ds:Transforms/"
	               "ds:Transform[@Algorithm='http://www.w3.org/2001/10/xml-exc-c14n#']");
	xpath_one(ctx, "//wsse:Security/ds:Signature/ds:SignedInfo/ds:Reference/"
	               "ds:DigestMethod[@Algorithm='http://www.w3.org/2000/09/"
	               "xmldsig#sha1']");
	{
		g_autofree gchar *names = child_names(
		    xpath_one(ctx, "//wsse:Security/ds:Signature/ds:SignedInfo/ds:Reference"));
		g_assert_cmpstr(names, ==,
		                "{" CT_NS_DS "}Transforms, {" CT_NS_DS "}DigestMethod, {" CT_NS_DS
		                "}DigestValue");
	}
	n = xpath_one(ctx, "//wsse:Security/ds:Signature/ds:KeyInfo/"
	                   "wsse:SecurityTokenReference[@wsse:TokenType='http://docs."
	                   "oasis-open.org/wss/oasis-wss-saml-token-profile-1.1#SAMLV1.1']/"
	                   "wsse:KeyIdentifier[@ValueType='http://docs.oasis-open.org/wss/"
	                   "oasis-wss-saml-token-profile-1.0#SAMLAssertionID']");
	{
		xmlChar *id = xmlNodeGetContent(n);
		g_assert_cmpstr((const gchar *)id, ==, ticket->assertion_id);
		xmlFree(id);
	}

	/* the body: GetAndPublishCert in tns, wst WITH the slash re-declared on the RST */
	gapc = xpath_one(ctx, "/soap:Envelope/soap:Body/tns:GetAndPublishCert");
	assert_xpath_str(ctx, "string(//tns:GetAndPublishCert/@DeviceId)", TEST_DEVICE_ID);
	assert_xpath_str(ctx, "string(//tns:GetAndPublishCert/@Entity)", TEST_ENTITY);
	{
		g_autofree gchar *names = child_names(gapc);
		g_assert_cmpstr(names, ==, "{" CT_NS_WST_SLASH "}RequestSecurityToken");
	}
	rst = xpath_one(ctx, "//tns:GetAndPublishCert/wst_:RequestSecurityToken");
	g_assert_nonnull(rst->nsDef);
	g_assert_cmpstr((const gchar *)rst->nsDef->href, ==, CT_NS_WST_SLASH);
	rst_children = child_names(rst);
	g_assert_cmpstr(rst_children, ==,
	                "{" CT_NS_WST_SLASH "}TokenType, {" CT_NS_WST_SLASH "}RequestType, "
	                "{" CT_NS_WSSE "}BinarySecurityToken, {" CT_NS_WSTEP "}RequestID");
	assert_xpath_str(ctx, "//wst_:RequestSecurityToken/wst_:TokenType",
	                 "http://docs.oasis-open.org/wss/2004/01/"
	                 "oasis-200401-wss-x509-token-profile-1.0#X509v3");
	assert_xpath_str(ctx, "//wst_:RequestSecurityToken/wst_:RequestType",
	                 "http://docs.oasis-open.org/ws-sx/ws-trust/200512/Issue");
	xpath_one(ctx, "//wst_:RequestSecurityToken/wsse:BinarySecurityToken[@ValueType='http://"
	               "schemas.microsoft.com/OCS/AuthWebServices.xsd#PKCS10'][@EncodingType='http:"
	               "//docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0."
	               "xsd#Base64Binary']");
	bst = xpath_string(ctx, "//wst_:RequestSecurityToken/wsse:BinarySecurityToken");
	bst_bytes = bytes_from_b64(bst);
	g_assert_true(g_bytes_equal(bst_bytes, csr));
	request_id = xpath_string(ctx, "//wst_:RequestSecurityToken/wstep:RequestID");
	g_assert_true(g_uuid_string_is_valid(request_id));
	/* no wst element without the slash anywhere in the body */
	{
		g_autoptr(xmlXPathObject) none = xpath(ctx, "/soap:Envelope/soap:Body//wst:*", 0);
		g_assert_true(none->nodesetval == NULL || none->nodesetval->nodeNr == 0);
	}
}

/* recompute the digest and the signature from the serialised envelope, independently */
static void
test_gapc_signature(void)
{
	g_autoptr(CtWebTicket) ticket = load_ticket("webticket-rstr.xml");
	g_autoptr(GBytes) client = bytes_from_b64("grrlUUfhuNwlvQzQ4bV6TT3wA8ieZPltIf4+H7nIvCE=");
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) key = ct_wstrust_proof_key(client, ticket->server_entropy, &error);
	g_autoptr(GBytes) csr = random_bytes(300);
	g_autoptr(GBytes) xml = NULL;
	g_autoptr(xmlDoc) doc = NULL;
	g_autoptr(xmlXPathContext) ctx = NULL;
	g_autofree gchar *ts_c14n = NULL;
	g_autofree gchar *si_c14n = NULL;
	g_autofree gchar *digest_hex = NULL;
	g_autofree gchar *mac_hex = NULL;
	g_autofree gchar *digest_b64 = NULL;
	g_autofree gchar *mac_b64 = NULL;
	g_autofree gchar *wrong_hex = NULL;
	g_autoptr(GBytes) digest = NULL;
	g_autoptr(GBytes) mac = NULL;
	g_autoptr(GBytes) wrong_key = random_bytes(32);

	g_assert_no_error(error);
	xml = build_gapc(ticket, key, csr);
	doc = parse_plain(xml);
	ctx = xpath_context(doc);

	/* the canonical timestamp, as the spec defines it */
	ts_c14n = c14n_by_xpath(doc, "wsu:Timestamp");
	g_assert_cmpstr(ts_c14n, ==,
	                "<wsu:Timestamp xmlns:wsu=\"" CT_NS_WSU "\" wsu:Id=\"timestamp\">"
	                "<wsu:Created>2024-03-01T10:00:00.000Z</wsu:Created>"
	                "<wsu:Expires>2024-03-01T18:00:00.000Z</wsu:Expires></wsu:Timestamp>");
	/* DigestValue = base64 SHA-1 (GLib's, not OpenSSL's) */
	digest_hex = g_compute_checksum_for_string(G_CHECKSUM_SHA1, ts_c14n, -1);
	digest = bytes_from_hex(digest_hex);
	digest_b64 = g_base64_encode(g_bytes_get_data(digest, NULL), g_bytes_get_size(digest));
	assert_xpath_str(ctx,
	                 "//wsse:Security/ds:Signature/ds:SignedInfo/ds:Reference/ds:DigestValue",
	                 digest_b64);

	/* SignatureValue = base64 HMAC-SHA1(proof key, exc-c14n SignedInfo) (GLib's HMAC) */
	si_c14n = c14n_by_xpath(doc, "ds:SignedInfo[parent::ds:Signature/parent::wsse:Security]");
	g_assert_true(g_str_has_prefix(si_c14n, "<ds:SignedInfo xmlns:ds=\"" CT_NS_DS "\">"));
	mac_hex = g_compute_hmac_for_data(G_CHECKSUM_SHA1, g_bytes_get_data(key, NULL),
	                                  g_bytes_get_size(key), (const guchar *)si_c14n,
	                                  strlen(si_c14n));
	mac = bytes_from_hex(mac_hex);
	mac_b64 = g_base64_encode(g_bytes_get_data(mac, NULL), g_bytes_get_size(mac));
	assert_xpath_str(ctx, "//wsse:Security/ds:Signature/ds:SignatureValue", mac_b64);

	/* and another key would not have produced it */
	wrong_hex = g_compute_hmac_for_data(G_CHECKSUM_SHA1, g_bytes_get_data(wrong_key, NULL),
	                                    g_bytes_get_size(wrong_key), (const guchar *)si_c14n,
	                                    strlen(si_c14n));
	g_assert_cmpstr(wrong_hex, !=, mac_hex);
}

/* the assertion reaches the server with the exclusive C14N form it was issued with */
static void
test_gapc_assertion_unchanged(void)
{
	const gchar *files[] = {"webticket-rstr.xml", "webticket-rstr-inherited-ns.xml"};

	for (guint i = 0; i < G_N_ELEMENTS(files); i++) {
		g_autoptr(CtWebTicket) ticket = load_ticket(files[i]);
		g_autoptr(GBytes) rstr = data_file(files[i]);
		g_autoptr(xmlDoc) original = parse_plain(rstr);
		g_autoptr(GBytes) key = random_bytes(32);
		g_autoptr(GBytes) csr = random_bytes(100);
		g_autoptr(GBytes) xml = build_gapc(ticket, key, csr);
		g_autoptr(xmlDoc) sent = parse_plain(xml);
		g_autofree gchar *before = c14n_by_xpath(original, "saml:Assertion");
		g_autofree gchar *after = c14n_by_xpath(sent, "saml:Assertion");

		g_assert_cmpstr(after, ==, before);
		if (i == 1) {
			/* the QName value's prefixes are still bound inside the assertion */
			g_autoptr(xmlXPathContext) ctx = xpath_context(sent);
			xmlNode *value = xpath_one(ctx, "//saml:AttributeValue");
			xmlNs *xs = xmlSearchNs(sent, value, BAD_CAST "xs");
			xmlNs *xsi = xmlSearchNs(sent, value, BAD_CAST "xsi");
			g_assert_nonnull(xs);
			g_assert_cmpstr((const gchar *)xs->href, ==,
			                "http://www.w3.org/2001/XMLSchema");
			g_assert_nonnull(xsi);
			g_assert_true(g_str_has_prefix(before, "<saml:Assertion xmlns:saml="));
			g_assert_nonnull(strstr(after, "&amp; co"));
		}
	}
}

static void
test_gapc_invalid_args(void)
{
	g_autoptr(CtWebTicket) ticket = load_ticket("webticket-rstr.xml");
	g_autoptr(GBytes) key = random_bytes(32);
	g_autoptr(GBytes) csr = random_bytes(100);
	g_autoptr(GBytes) huge =
	    g_bytes_new_take(g_malloc0(CT_SOAP_MAX_CSR + 1), CT_SOAP_MAX_CSR + 1);
	const gchar *bad_ids[] = {"6F9619FF-8B86-D011-B42D-00C04FC964FF", "{not-a-guid}", "", NULL};
	const gchar *bad_entities[] = {"sip:alice@contoso.com", "alice", "al ice@contoso.com"};

	for (guint i = 0; i < G_N_ELEMENTS(bad_ids); i++) {
		g_autoptr(GError) error = NULL;
		CtGetAndPublishCertParams p = {TEST_TO,     ticket, key,  bad_ids[i],
		                               TEST_ENTITY, csr,    NULL, NULL};
		g_autoptr(GBytes) xml = ct_soap_build_get_and_publish_cert(&p, &error);
		g_assert_null(xml);
		g_assert_error(error, CT_ERROR, CT_ERROR_INVALID_ARGS);
	}
	for (guint i = 0; i < G_N_ELEMENTS(bad_entities); i++) {
		g_autoptr(GError) error = NULL;
		CtGetAndPublishCertParams p = {TEST_TO,         ticket, key,  TEST_DEVICE_ID,
		                               bad_entities[i], csr,    NULL, NULL};
		g_autoptr(GBytes) xml = ct_soap_build_get_and_publish_cert(&p, &error);
		g_assert_null(xml);
		g_assert_error(error, CT_ERROR, CT_ERROR_INVALID_ARGS);
	}
	{
		g_autoptr(GError) error = NULL;
		CtGetAndPublishCertParams p = {TEST_TO,     ticket, key,  TEST_DEVICE_ID,
		                               TEST_ENTITY, huge,   NULL, NULL};
		g_autoptr(GBytes) xml = ct_soap_build_get_and_publish_cert(&p, &error);
		g_assert_null(xml);
		g_assert_error(error, CT_ERROR, CT_ERROR_INVALID_ARGS);
	}
	{
		g_autoptr(GError) error = NULL;
		CtGetAndPublishCertParams p = {TEST_TO,     ticket, NULL, TEST_DEVICE_ID,
		                               TEST_ENTITY, csr,    NULL, NULL};
		g_autoptr(GBytes) xml = ct_soap_build_get_and_publish_cert(&p, &error);
		g_assert_null(xml);
		g_assert_error(error, CT_ERROR, CT_ERROR_INVALID_ARGS);
	}
}

/*
 * The GetAndPublishCert response
 */

static X509 *
make_cert(const gchar *cn, EVP_PKEY *key, X509 *issuer, EVP_PKEY *issuer_key)
{
	X509 *cert = X509_new();
	X509_NAME *name = X509_NAME_new();

	X509_set_version(cert, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(cert), g_test_rand_int_range(1, 1 << 30));
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const guchar *)cn, -1, -1, 0);
	X509_set_subject_name(cert, name);
	X509_set_issuer_name(cert, issuer != NULL ? X509_get_subject_name(issuer) : name);
	X509_gmtime_adj(X509_getm_notBefore(cert), 0);
	X509_gmtime_adj(X509_getm_notAfter(cert), 3600);
	X509_set_pubkey(cert, key);
	g_assert_cmpint(X509_sign(cert, issuer_key != NULL ? issuer_key : key, EVP_sha256()), >, 0);
	X509_NAME_free(name);
	return cert;
}

/* the fixture's answer shape around a base64 token */
static gchar *
gapc_response(const gchar *token_b64)
{
	return g_strdup_printf(
	    "<?xml version=\"1.0\" encoding=\"utf-8\"?>"
	    "<s:Envelope xmlns:s=\"" CT_NS_SOAP "\"><s:Header><a:Action s:mustUnderstand=\"1\" "
	    "xmlns:a=\"" CT_NS_WSA "\">" CT_SOAP_ACTION_GET_AND_PUBLISH_CERT "Response</a:Action>"
	    "</s:Header><s:Body><GetAndPublishCertResponse xmlns=\"" CT_NS_TNS "\">"
	    "<RequestSecurityTokenResponse xmlns=\"" CT_NS_WST_SLASH "\">"
	    "<TokenType>http://docs.oasis-open.org/wss/2004/01/"
	    "oasis-200401-wss-x509-token-profile-1.0#X509v3</TokenType>"
	    "<DispositionMessage xmlns=\"" CT_NS_WSTEP "\">Issued</DispositionMessage>"
	    "<RequestedSecurityToken><BinarySecurityToken ValueType=\"x\" EncodingType=\"y\" "
	    "xmlns=\"" CT_NS_WSSE "\">%s</BinarySecurityToken></RequestedSecurityToken>"
	    "<RequestID xmlns=\"" CT_NS_WSTEP "\">r</RequestID></RequestSecurityTokenResponse>"
	    "</GetAndPublishCertResponse></s:Body></s:Envelope>",
	    token_b64);
}

static void
test_gapc_response(void)
{
	g_autoptr(EVP_PKEY) ca_key = EVP_EC_gen("P-256");
	g_autoptr(EVP_PKEY) leaf_key = EVP_EC_gen("P-256");
	g_autoptr(X509) ca = make_cert("Test CA", ca_key, NULL, NULL);
	g_autoptr(X509) leaf = make_cert("alice@contoso.com", leaf_key, ca, ca_key);
	g_autoptr(GBytes) leaf_der = ct_x509_to_der(leaf);
	g_autoptr(PKCS7) p7 = PKCS7_new();
	guint8 *p7_der = NULL;
	gint p7_len;

	/* a DER certificate, in base64 with 76-character lines */
	{
		g_autofree gchar *b64 =
		    g_base64_encode(g_bytes_get_data(leaf_der, NULL), g_bytes_get_size(leaf_der));
		GString *wrapped = g_string_new(NULL);
		g_autofree gchar *resp = NULL;
		g_autoptr(GError) error = NULL;
		g_autoptr(GBytes) token = NULL;
		g_autoptr(CtX509Stack) certs = NULL;

		for (gsize i = 0; i < strlen(b64); i += 76)
			g_string_append_printf(wrapped, "%.76s\r\n", b64 + i);
		resp = gapc_response(wrapped->str);
		g_string_free(wrapped, TRUE);
		token = ct_soap_parse_get_and_publish_cert_response((const guint8 *)resp,
		                                                    strlen(resp), &error);
		g_assert_no_error(error);
		g_assert_true(g_bytes_equal(token, leaf_der));
		certs = ct_x509_certs_from_der_any(g_bytes_get_data(token, NULL),
		                                   g_bytes_get_size(token), &error);
		g_assert_no_error(error);
		g_assert_cmpint(sk_X509_num(certs), ==, 1);
		g_assert_cmpint(X509_cmp(sk_X509_value(certs, 0), leaf), ==, 0);
	}
	/* a PKCS#7 certs-only bundle with the chain */
	PKCS7_set_type(p7, NID_pkcs7_signed);
	PKCS7_content_new(p7, NID_pkcs7_data);
	PKCS7_add_certificate(p7, leaf);
	PKCS7_add_certificate(p7, ca);
	p7_len = i2d_PKCS7(p7, &p7_der);
	g_assert_cmpint(p7_len, >, 0);
	{
		g_autofree gchar *b64 = g_base64_encode(p7_der, p7_len);
		g_autofree gchar *resp = gapc_response(b64);
		g_autoptr(GError) error = NULL;
		g_autoptr(GBytes) token = ct_soap_parse_get_and_publish_cert_response(
		    (const guint8 *)resp, strlen(resp), &error);
		g_autoptr(CtX509Stack) certs = NULL;
		g_assert_no_error(error);
		certs = ct_x509_certs_from_der_any(g_bytes_get_data(token, NULL),
		                                   g_bytes_get_size(token), &error);
		g_assert_no_error(error);
		g_assert_cmpint(sk_X509_num(certs), ==, 2);
	}
	OPENSSL_free(p7_der);

	/* errors */
	{
		const gchar *bad[] = {"", "!!!!", "QUJD=QUJD"};
		for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
			g_autofree gchar *resp = gapc_response(bad[i]);
			g_autoptr(GError) error = NULL;
			g_autoptr(GBytes) token = ct_soap_parse_get_and_publish_cert_response(
			    (const guint8 *)resp, strlen(resp), &error);
			g_assert_null(token);
			g_assert_error(error, CT_ERROR, CT_ERROR_PROTOCOL);
		}
	}
	{
		g_autoptr(GBytes) rstr = data_file("webticket-rstr.xml");
		g_autoptr(GError) error = NULL;
		g_autoptr(GBytes) token = ct_soap_parse_get_and_publish_cert_response(
		    g_bytes_get_data(rstr, NULL), g_bytes_get_size(rstr), &error);
		g_assert_null(token);
		g_assert_error(error, CT_ERROR, CT_ERROR_PROTOCOL);
		g_assert_nonnull(strstr(error->message, "GetAndPublishCertResponse"));
	}
}

/*
 * Faults
 */

static void
test_ms_diagnostics_header(void)
{
	CtMsDiagnostics d = {0};

	g_assert_true(ct_soap_parse_ms_diagnostics_header(
	    "28020;source=\"pool01.contoso.com\";reason=\"No valid security token.\"", &d));
	g_assert_cmpstr(d.error_id, ==, "28020");
	g_assert_cmpstr(d.source, ==, "pool01.contoso.com");
	g_assert_cmpstr(d.reason, ==, "No valid security token.");
	ct_ms_diagnostics_clear(&d);

	/* escaped quotes, a semicolon inside quotes, unknown fields, a token value */
	g_assert_true(ct_soap_parse_ms_diagnostics_header(
	    " 28032 ; reason=\"say \\\"no\\\"; really\";fault=x;source=fe01", &d));
	g_assert_cmpstr(d.error_id, ==, "28032");
	g_assert_cmpstr(d.reason, ==, "say \"no\"; really");
	g_assert_cmpstr(d.source, ==, "fe01");
	ct_ms_diagnostics_clear(&d);

	/* control characters do not reach a message */
	g_assert_true(ct_soap_parse_ms_diagnostics_header("1;reason=\"a\x1b[31mb\"", &d));
	g_assert_null(strchr(d.reason, '\x1b'));
	ct_ms_diagnostics_clear(&d);

	g_assert_true(ct_soap_parse_ms_diagnostics_header("52001", &d));
	g_assert_cmpstr(d.error_id, ==, "52001");
	g_assert_null(d.reason);
	ct_ms_diagnostics_clear(&d);

	g_assert_false(ct_soap_parse_ms_diagnostics_header("", &d));
	g_assert_false(ct_soap_parse_ms_diagnostics_header("reason=\"x\"", &d));
	g_assert_false(ct_soap_parse_ms_diagnostics_header("12345678901;x", &d));
	g_assert_false(ct_soap_parse_ms_diagnostics_header("12a", &d));
	g_assert_false(ct_soap_parse_ms_diagnostics_header(NULL, &d));
	g_assert_null(d.error_id);
}

static void
test_fault_parse(void)
{
	g_autoptr(GBytes) auth = data_file("fault-auth.xml");
	g_autoptr(GBytes) store = data_file("fault-store.xml");
	CtMsDiagnostics d = {0};

	g_assert_true(
	    ct_soap_parse_fault(g_bytes_get_data(auth, NULL), g_bytes_get_size(auth), &d));
	g_assert_cmpstr(d.error_id, ==, "28020");
	g_assert_cmpstr(d.reason, ==, "No valid security token.");
	g_assert_cmpstr(d.fault_code, ==, "FailedAuthentication");
	g_assert_cmpstr(d.fault_code_ns, ==, CT_NS_WSSE);
	g_assert_cmpstr(d.fault_string, ==, "No valid security token.");
	ct_ms_diagnostics_clear(&d);

	g_assert_true(
	    ct_soap_parse_fault(g_bytes_get_data(store, NULL), g_bytes_get_size(store), &d));
	g_assert_cmpstr(d.error_id, ==, "28032");
	g_assert_cmpstr(d.fault_code, ==, "Server");
	g_assert_cmpstr(d.fault_code_ns, ==, CT_NS_SOAP);
	ct_ms_diagnostics_clear(&d);
}

typedef struct {
	guint status;
	const gchar *header;
	const gchar *body_file;
	CtError code;
	const gchar *const expect[4]; /* substrings of the message */
} ClassifyCase;

static void
test_fault_classify(void)
{
	const ClassifyCase cases[] = {
	    /* the fixture's and the real server's auth fault */
	    {500,
	     "28020;source=\"localhost\";reason=\"No valid security token.\"",
	     "fault-auth.xml",
	     CT_ERROR_AUTH_FAILED,
	     {"the server refused the credentials of alice@TEST.LOCAL", "28020",
	      "No valid security token.", "localhost"}},
	    /* the body alone says enough */
	    {500, NULL, "fault-auth.xml", CT_ERROR_AUTH_FAILED, {"28020", "FailedAuthentication"}},
	    {401, NULL, NULL, CT_ERROR_AUTH_FAILED, {"alice@TEST.LOCAL", "HTTP 401"}},
	    {403, NULL, NULL, CT_ERROR_AUTH_FAILED, {"HTTP 403"}},
	    /* store unavailable: the fixture's id and text */
	    {500,
	     "28032;source=\"localhost\";reason=\"The user's data store is unavailable.\"",
	     "fault-store.xml",
	     CT_ERROR_STORE_UNAVAILABLE,
	     {"28032", "The user's data store is unavailable.", "data store"}},
	    /* by the reason text alone, with an id we do not know */
	    {500,
	     "32001;source=\"fe\";reason=\"Data store unavailable\"",
	     NULL,
	     CT_ERROR_STORE_UNAVAILABLE,
	     {"32001", "Data store unavailable"}},
	    /* by the header's id alone */
	    {500, "28032", NULL, CT_ERROR_STORE_UNAVAILABLE, {"28032"}},
	    /* the CSR refused: a Client fault, although sent with HTTP 500 */
	    {500,
	     "28040;source=\"localhost\";reason=\"The certificate request was rejected\"",
	     "fault-csr.xml",
	     CT_ERROR_REJECTED,
	     {"28040", "The certificate request was rejected"}},
	    {500, NULL, "fault-csr.xml", CT_ERROR_REJECTED, {"28040", "MinCSRKeySize"}},
	    /* HTTP without SOAP */
	    {503, NULL, NULL, CT_ERROR_STORE_UNAVAILABLE, {"HTTP 503"}},
	    {500, NULL, NULL, CT_ERROR_STORE_UNAVAILABLE, {"HTTP 500"}},
	    {502, NULL, NULL, CT_ERROR_UNREACHABLE, {"HTTP 502"}},
	    {408, NULL, NULL, CT_ERROR_TIMEOUT, {"HTTP 408"}},
	    {404, NULL, NULL, CT_ERROR_REJECTED, {"HTTP 404", "check the URL"}},
	    {400, NULL, NULL, CT_ERROR_REJECTED, {"HTTP 400"}},
	    /* a 200 that is not understood */
	    {200, NULL, "webticket-mex.xml", CT_ERROR_PROTOCOL, {"HTTP 200"}},
	    {200, "28020", NULL, CT_ERROR_PROTOCOL, {"HTTP 200"}},
	};

	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		const ClassifyCase *c = &cases[i];
		g_autoptr(GBytes) body = c->body_file != NULL ? data_file(c->body_file) : NULL;
		g_autoptr(GError) error = NULL;
		gsize len = 0;
		const guint8 *data = body != NULL ? g_bytes_get_data(body, &len) : NULL;

		ct_soap_set_error(c->status, c->header, data, len, "the test service",
		                  "alice@TEST.LOCAL", &error);
		g_assert_nonnull(error);
		if (error->domain != CT_ERROR || error->code != (gint)c->code)
			g_error("case %u: got %s (%s), wanted %s", i,
			        ct_error_code_to_string(error->code), error->message,
			        ct_error_code_to_string(c->code));
		g_assert_nonnull(strstr(error->message, "the test service"));
		for (guint k = 0; k < G_N_ELEMENTS(c->expect) && c->expect[k] != NULL; k++) {
			if (strstr(error->message, c->expect[k]) == NULL)
				g_error("case %u: \"%s\" does not mention \"%s\"", i,
				        error->message, c->expect[k]);
		}
	}
	/* store unavailable is transient, the others above are what they say */
	{
		g_autoptr(GBytes) store = data_file("fault-store.xml");
		g_autoptr(GError) error = NULL;
		ct_soap_set_error(500, NULL, g_bytes_get_data(store, NULL), g_bytes_get_size(store),
		                  "x", NULL, &error);
		g_assert_true(ct_error_is_transient(error));
	}
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/certprov/psha1/published-vector", test_psha1_published_vector);
	g_test_add_func("/certprov/psha1/python-vectors", test_psha1_python_vectors);
	g_test_add_func("/certprov/psha1/openssl-tls1-prf", test_psha1_openssl_kdf);
	g_test_add_func("/certprov/psha1/bounds", test_psha1_bounds);
	g_test_add_func("/certprov/hmac-sha1/rfc2202", test_hmac_sha1_rfc2202);
	g_test_add_func("/certprov/parse/billion-laughs", test_refuse_billion_laughs);
	g_test_add_func("/certprov/parse/xxe-file", test_refuse_xxe_file);
	g_test_add_func("/certprov/parse/external-dtd-no-network",
	                test_refuse_external_dtd_no_network);
	g_test_add_func("/certprov/parse/garbage-and-truncation", test_garbage_and_truncation);
	g_test_add_func("/certprov/c14n/exclusive", test_exc_c14n);
	g_test_add_func("/certprov/mex/certprov", test_mex_certprov);
	g_test_add_func("/certprov/mex/webticket", test_mex_webticket);
	g_test_add_func("/certprov/mex/errors", test_mex_errors);
	g_test_add_func("/certprov/webticket/request", test_webticket_request);
	g_test_add_func("/certprov/webticket/response", test_webticket_response);
	g_test_add_func("/certprov/webticket/response-errors", test_webticket_response_errors);
	g_test_add_func("/certprov/gapc/structure", test_gapc_structure);
	g_test_add_func("/certprov/gapc/signature", test_gapc_signature);
	g_test_add_func("/certprov/gapc/assertion-unchanged", test_gapc_assertion_unchanged);
	g_test_add_func("/certprov/gapc/invalid-args", test_gapc_invalid_args);
	g_test_add_func("/certprov/gapc/response", test_gapc_response);
	g_test_add_func("/certprov/fault/ms-diagnostics-header", test_ms_diagnostics_header);
	g_test_add_func("/certprov/fault/parse", test_fault_parse);
	g_test_add_func("/certprov/fault/classify", test_fault_classify);
	return g_test_run();
}
