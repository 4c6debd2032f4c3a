"""The S3 stand-in's own process: moto's S3 API on 127.0.0.1, on a port the kernel chose.

`moto_server` takes a fixed port; this binds port 0 instead and prints the endpoint it got
("S3 endpoint http://127.0.0.1:PORT") as its first line, which `s3.S3Server` waits for. Threaded
(one thread per connection, as `moto_server` runs); werkzeug's line per request is silenced, so
the stand-in's cost is S3's work and not its logging.

    python3 bench/rig/moto_serve.py
"""

import logging
import sys

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import make_server


def main():
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = make_server("127.0.0.1", 0, DomainDispatcherApplication(create_backend_app), threaded=True)
    print(f"S3 endpoint http://127.0.0.1:{server.server_port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
