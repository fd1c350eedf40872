/*
 * service_notify.h - tells the service manager where a daemon stands.
 *
 * Under systemd with Type=notify, a daemon says when it is ready to serve
 * (so units ordered after it start only then), when it reloads and when it
 * stops. This module sends those messages with sd_notify(3) when pgfleet
 * is built with libsystemd (pkg-config libsystemd found, option
 * PGFLEET_WITH_SYSTEMD on), and does nothing otherwise. Without
 * $NOTIFY_SOCKET (not started by systemd) every call is a no-op too, so
 * the programs call these unconditionally.
 *
 * Never blocks for long (one datagram on a local socket); failures are
 * logged at debug level and otherwise ignored: a missing notification must
 * never stop a daemon. Thread-safe as far as sd_notify is.
 */
#ifndef PGFLEET_COMMON_SERVICE_NOTIFY_H
#define PGFLEET_COMMON_SERVICE_NOTIFY_H

/* READY=1: start-up finished (sockets listening, store open). Also sent
 * after a reload finished. */
void pgf_service_notify_ready(void);

/* RELOADING=1: a reload (SIGHUP) started; end it with
 * pgf_service_notify_ready. */
void pgf_service_notify_reloading(void);

/* STOPPING=1: a graceful stop started (SIGTERM). */
void pgf_service_notify_stopping(void);

/* STATUS=...: one line shown by `systemctl status` (printf format). */
void pgf_service_notify_status(const char *format, ...)
    __attribute__((format(printf, 1, 2)));

/* What --version shows: "libsystemd 252" or "no libsystemd". */
const char *pgf_service_notify_version(void);

#endif
