"""A stand-in for Stripe's POST /v1/billing_portal/sessions that answers after a set delay.

    python bench/stripe_stand_in.py --port 12111 --delay-ms 300
"""

import argparse
import json
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def make_handler(delay: float):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as api.stripe.com
        disable_nagle_algorithm = True  # no 40 ms delayed-ACK stalls between header and body

        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            self.rfile.read(length)
            if self.path != "/v1/billing_portal/sessions":
                return self._answer(404, {"error": {"type": "invalid_request_error", "message": "not here"}})
            if delay:
                time.sleep(delay)
            self._answer(200, {"id": "bps_bench", "object": "billing_portal.session",
                               "url": "https://billing.stripe.com/p/session/bench"})

        def _answer(self, status, body):
            payload = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.send_header("Request-Id", "req_bench")
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args):
            pass

    return Handler


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--delay-ms", type=float, default=0)
    args = parser.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", args.port), make_handler(args.delay_ms / 1000))
    server.daemon_threads = True
    server.request_queue_size = 256
    server.serve_forever()


if __name__ == "__main__":
    main()
