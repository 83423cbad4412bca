"""gunicorn settings of the Vaccine Capacity Atlas: ``gunicorn -c gunicorn.conf.py app:server``,
run from the repository root (README, "Deployment").

Workers are gthread workers: the threads of a worker share its caches, and with 8 threads a
short request still finds a free thread while others compute for seconds (a region profile under
new filters computes some 26 disclosure releases; bench/load.py). Each worker builds the app itself
(no ``preload_app``: the master forks no database connections, threads or loaded boundaries).
Before any worker starts, ``on_starting`` runs ``python -m dashboard.serving_check`` once: a bad
or missing setting ends the start with one line and exit status 2; the check also migrates the
store and imports the data file's round, so that the workers only read it.

Signals (to the master): HUP reloads the code and settings with new workers and stops the old
ones gracefully (``graceful_timeout``: requests in flight are finished); TERM stops gracefully;
a worker that dies or hangs longer than ``timeout`` is replaced.
"""

from __future__ import annotations

from typing import Any

from dashboard import serving_config, serving_log

_settings = serving_config.settings_or_exit()

wsgi_app = "app:server"
bind = _settings.bind
workers = _settings.workers
worker_class = "gthread"
threads = _settings.threads
timeout = _settings.timeout
graceful_timeout = _settings.graceful_timeout
keepalive = 5
max_requests = _settings.max_requests
max_requests_jitter = _settings.max_requests // 10
preload_app = False
# behind a TLS proxy on this machine (or ATLAS_FORWARDED_ALLOW_IPS): trust its X-Forwarded-* headers
forwarded_allow_ips = _settings.forwarded_allow_ips
proc_name = "vaccine-atlas"
# managed with signals (below); a control socket at one fixed path per user would also collide
# between two instances on one host
control_socket_disable = True
# one JSON line per request comes from the app (dashboard.serving_log); gunicorn's access log
# would only repeat it without the route and role
accesslog = None
errorlog = "-"
loglevel = _settings.log_level
logconfig_dict = serving_log.logging_config(_settings.log_level)


def on_starting(server: Any) -> None:
    """Check every setting and prepare the store before the first worker starts."""
    serving_config.run_boot_check([str(address) for address in server.cfg.bind])


def worker_abort(worker: Any) -> None:
    """A worker stuck longer than ``timeout``: say so before gunicorn replaces it."""
    worker.log.error("worker %s timed out after %s s and is replaced", worker.pid, timeout)
