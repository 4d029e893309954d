# udev: rules + hwdb that match CertTether phones, grant access and pull in the user
# service; a sysusers.d file for the bench group. Installed by `make install`.
#   70-certtether.rules    -> $(UDEVDIR)/rules.d/
#   70-certtether.hwdb     -> $(UDEVDIR)/hwdb.d/   (needs `systemd-hwdb update` afterwards)
#   certtether.sysusers    -> $(SYSUSERSDIR)/certtether.conf (needs `systemd-sysusers`)
# Packaging runs the two update commands (Debian: triggers); `make install` does not.

SYSUSERSDIR ?= $(if $(filter /usr,$(PREFIX)),/usr/lib/sysusers.d,$(PREFIX)/lib/sysusers.d)

install-udev:
	install -D -m 0644 udev/70-certtether.rules $(DESTDIR)$(UDEVDIR)/rules.d/70-certtether.rules
	install -D -m 0644 udev/70-certtether.hwdb $(DESTDIR)$(UDEVDIR)/hwdb.d/70-certtether.hwdb
	install -D -m 0644 udev/certtether.sysusers $(DESTDIR)$(SYSUSERSDIR)/certtether.conf

INSTALL_RULES += install-udev
.PHONY: install-udev
