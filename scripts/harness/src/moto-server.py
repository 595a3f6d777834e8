"""moto's S3 server with one request handled at a time.

moto checks a PutObject's If-Match / If-None-Match and then stores the object as two separate steps,
and its server is threaded, so two conditional writes racing on one key can both pass the check: a
lost update that real S3 (whose conditional writes are atomic) never produces. moto runs Python code
under the GIL, one request at a time in effect anyway, so a lock around each request costs little and
makes the server behave like S3.

Usage: python3 moto-server.py HOST PORT
"""

import os
import sys
import threading

from moto import backends
from moto.server import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import run_simple


def main() -> None:
    host, port = sys.argv[1], int(sys.argv[2])
    os.environ.setdefault("MOTO_PORT", str(port))
    # moto lists the directories of its own installed package (one stat per service, about 180) on
    # every request to route it; the package does not change while the server runs, so list it once.
    modules = tuple(backends.list_of_moto_modules())
    backends.list_of_moto_modules = lambda: modules
    app = DomainDispatcherApplication(create_backend_app)
    lock = threading.Lock()

    def one_at_a_time(environ, start_response):
        with lock:
            # The whole answer is produced under the lock: moto builds it in memory anyway.
            body = app(environ, start_response)
            try:
                return [b"".join(body)]
            finally:
                close = getattr(body, "close", None)
                if close is not None:
                    close()

    run_simple(host, port, one_at_a_time, threaded=True)


if __name__ == "__main__":
    main()
