"""A stand-in for the Stripe calls billing_app makes (portal sessions, customers, Checkout sessions),
answering after a set delay (a long one is a Stripe that hangs).

    python bench/stripe_stand_in.py --port 12111 --delay-ms 300
"""

import argparse
import json
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


ANSWERS = {
    "/v1/billing_portal/sessions": {"id": "bps_bench", "object": "billing_portal.session",
                                    "url": "https://billing.stripe.com/p/session/bench"},
    "/v1/customers": {"id": "cus_bench_new", "object": "customer"},
    "/v1/checkout/sessions": {"id": "cs_bench", "object": "checkout.session",
                              "url": "https://checkout.stripe.com/c/pay/cs_bench"},
}


def make_handler(delay: float):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as api.stripe.com
        disable_nagle_algorithm = True  # no 40 ms delayed-ACK stalls between header and body

        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            self.rfile.read(length)
            answer = ANSWERS.get(self.path)
            if answer is None:
                return self._answer(404, {"error": {"type": "invalid_request_error", "message": "not here"}})
            if delay:
                time.sleep(delay)
            self._answer(200, answer)

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
