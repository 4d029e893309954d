/*
 * g_autoptr() for the OpenSSL types phonesim uses, so that error paths stay flat.
 */
#pragma once

#include <glib.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

typedef STACK_OF(X509) PhonesimX509Stack;
typedef STACK_OF(X509_EXTENSION) PhonesimExtStack;

static inline void
phonesim_x509_stack_free(PhonesimX509Stack *stack)
{
	sk_X509_pop_free(stack, X509_free);
}

static inline void
phonesim_ext_stack_free(PhonesimExtStack *stack)
{
	sk_X509_EXTENSION_pop_free(stack, X509_EXTENSION_free);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC(X509, X509_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(X509_REQ, X509_REQ_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(X509_NAME, X509_NAME_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(X509_EXTENSION, X509_EXTENSION_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(X509_STORE, X509_STORE_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(X509_STORE_CTX, X509_STORE_CTX_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(EVP_PKEY, EVP_PKEY_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(EVP_MD_CTX, EVP_MD_CTX_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ASN1_OCTET_STRING, ASN1_OCTET_STRING_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(BIO, BIO_free_all)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(PhonesimX509Stack, phonesim_x509_stack_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(PhonesimExtStack, phonesim_ext_stack_free)
