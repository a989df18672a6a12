"""The web plumbing around the Dash pages: sign-in and the gate, kiosk tokens, server-side sessions, security
measures, compression, the response cache, CSV exports, the CLI, RQ monitoring, plain routes and the runtime."""
