"""A sample marble: an HTTPS service that requires client certificates, using only Python's standard library.

It is started through cloister-premain, unmodified: its TLS certificate, key and the CA that client certificates must
chain to are files the Coordinator provisioned (see samples/quickstart/manifest.json), and API_TOKEN is a secret from
its environment. It answers every GET with who called it and a digest of the token (never the token itself).
"""

import hashlib
import http.server
import json
import os
import ssl

PORT = int(os.environ.get("API_PORT", "8443"))


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        peer = self.connection.getpeercert() or {}
        subject = dict(pair[0] for pair in peer.get("subject", ()))
        body = json.dumps({
            "marble": "api",
            "client_certificate_common_name": subject.get("commonName"),
            "api_token_sha256": hashlib.sha256(bytes.fromhex(os.environ["API_TOKEN"])).hexdigest(),
        }).encode() + b"\n"
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):
        print("api marble: " + format % args, flush=True)


context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain("tls/chain.pem", "tls/key.pem")
context.verify_mode = ssl.CERT_REQUIRED
context.load_verify_locations("tls/marble-root.pem")

server = http.server.ThreadingHTTPServer(("127.0.0.1", PORT), Handler)
server.socket = context.wrap_socket(server.socket, server_side=True)
print(f"api marble: serving HTTPS with mutual TLS on 127.0.0.1:{PORT}", flush=True)
server.serve_forever()
