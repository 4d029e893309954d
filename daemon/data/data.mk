# daemon/data: what certtetherd needs installed around it. Included by daemon/daemon.mk.
#   certtetherd.service            systemd user unit  -> $(SYSTEMDUSERUNITDIR)
#   org.certtether.Daemon1.service D-Bus activation   -> $(DATADIR)/dbus-1/services
#   org.certtether.Daemon1.xml     introspection      -> $(DATADIR)/dbus-1/interfaces
#   certtether.conf                commented example  -> $(SYSCONFDIR)/certtether (kept if present)
# The two .in files get their paths substituted into $(BUILDDIR)/daemon/data/ by `make`.

DATA_SUBST_FILES := certtetherd.service org.certtether.Daemon1.service
DATA_BUILT := $(addprefix $(BUILDDIR)/daemon/data/,$(DATA_SUBST_FILES))
DBUSSERVICEDIR ?= $(DATADIR)/dbus-1/services
DBUSINTERFACEDIR ?= $(DATADIR)/dbus-1/interfaces

# the paths are part of the output: rebuild when they change
$(BUILDDIR)/daemon/data/paths.stamp: FORCE
	@mkdir -p $(@D)
	@echo '$(LIBEXECDIR) $(DATADIR)' | cmp -s - $@ || echo '$(LIBEXECDIR) $(DATADIR)' > $@

$(BUILDDIR)/daemon/data/%: daemon/data/%.in $(BUILDDIR)/daemon/data/paths.stamp
	@mkdir -p $(@D)
	sed -e 's|@LIBEXECDIR@|$(LIBEXECDIR)|g' -e 's|@DATADIR@|$(DATADIR)|g' $< > $@.tmp
	@if grep -n '@[A-Z]*@' $@.tmp; then echo "$@: unsubstituted variable" >&2; rm -f $@.tmp; exit 1; fi
	mv $@.tmp $@

ALL_TARGETS += $(DATA_BUILT)

install-daemon-data: $(DATA_BUILT)
	install -D -m 0644 $(BUILDDIR)/daemon/data/certtetherd.service \
		$(DESTDIR)$(SYSTEMDUSERUNITDIR)/certtetherd.service
	install -D -m 0644 $(BUILDDIR)/daemon/data/org.certtether.Daemon1.service \
		$(DESTDIR)$(DBUSSERVICEDIR)/org.certtether.Daemon1.service
	install -D -m 0644 daemon/data/org.certtether.Daemon1.xml \
		$(DESTDIR)$(DBUSINTERFACEDIR)/org.certtether.Daemon1.xml
	@# an administrator's configuration is never overwritten
	if [ ! -e $(DESTDIR)$(SYSCONFDIR)/certtether/certtether.conf ]; then \
		install -D -m 0644 daemon/data/certtether.conf \
			$(DESTDIR)$(SYSCONFDIR)/certtether/certtether.conf; \
	fi

INSTALL_RULES += install-daemon-data
.PHONY: install-daemon-data FORCE
FORCE:
