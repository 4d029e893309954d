# ui-cli: certtether, the command line. Every ui-cli/*.c is part of it (the
# verbs of several engineers join by file). It is a D-Bus client of certtetherd
# (proxies generated from the introspection XML, $(LIBCTD_DBUS)) and links the
# engine for --direct.
#   certtether                      -> $(BINDIR)
#   certtether.1                    -> $(MANDIR)/man1
#   certtether.bash-completion      -> $(DATADIR)/bash-completion/completions/certtether

CLI_PKGS := json-glib-1.0
CLI_SRCS := $(wildcard ui-cli/*.c)
CLI_OBJS := $(patsubst %.c,$(BUILDDIR)/%.o,$(CLI_SRCS))
CERTTETHER := $(BUILDDIR)/ui-cli/certtether

$(CLI_OBJS): EXTRA_CFLAGS = $(ENGINE_CFLAGS) $(call pkg_cflags,$(CLI_PKGS)) -I$(DBUS_GEN_DIR) \
	-DG_LOG_DOMAIN='"certtether"'
$(CLI_OBJS): $(DBUS_GEN_H)

$(CERTTETHER): $(CLI_OBJS) $(LIBCTD_DBUS) $(ENGINE_LINK)
	$(call link,$(CLI_OBJS) $(LIBCTD_DBUS) $(ENGINE_LINK),$(ENGINE_LIBS) $(call pkg_libs,$(CLI_PKGS)))

ALL_TARGETS += $(CERTTETHER)

install-cli: $(CERTTETHER)
	install -D -m 0755 $(CERTTETHER) $(DESTDIR)$(BINDIR)/certtether
	install -D -m 0644 ui-cli/certtether.1 $(DESTDIR)$(MANDIR)/man1/certtether.1
	install -D -m 0644 ui-cli/certtether.bash-completion \
		$(DESTDIR)$(DATADIR)/bash-completion/completions/certtether

INSTALL_RULES += install-cli
.PHONY: install-cli
