/*
 * service_notify.c - sd_notify(3) messages for systemd's Type=notify
 * (see service_notify.h). Built in two ways: with PGFLEET_HAVE_LIBSYSTEMD
 * every function sends its message; without it every function is empty,
 * so neither the programs nor their tests need to know which build this is.
 */
#include "common/service_notify.h"

#include <stdarg.h>
#include <stdio.h>

#include "common/log.h"

#ifdef PGFLEET_HAVE_LIBSYSTEMD
#include <systemd/sd-daemon.h>

/* Sends one notification; 0 from sd_notify means "no $NOTIFY_SOCKET". */
static void
service_notify_send(const char *message)
{
	int rv = sd_notify(0, message);

	if (rv < 0)
		pgf_debug("could not notify the service manager (\"%s\"): error %d",
		    message, -rv);
}
#else
static void
service_notify_send(const char *message)
{
	(void) message;
}
#endif

void
pgf_service_notify_ready(void)
{
	service_notify_send("READY=1");
}

void
pgf_service_notify_reloading(void)
{
	service_notify_send("RELOADING=1");
}

void
pgf_service_notify_stopping(void)
{
	service_notify_send("STOPPING=1");
}

void
pgf_service_notify_status(const char *format, ...)
{
	char message[512];
	va_list args;
	int n;

	n = snprintf(message, sizeof(message), "STATUS=");
	va_start(args, format);
	vsnprintf(message + n, sizeof(message) - (size_t) n, format, args);
	va_end(args);
	service_notify_send(message);
}

const char *
pgf_service_notify_version(void)
{
#ifdef PGFLEET_HAVE_LIBSYSTEMD
	return "libsystemd " PGFLEET_LIBSYSTEMD_VERSION;
#else
	return "no libsystemd";
#endif
}
