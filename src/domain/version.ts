// The version switchboard reports (CLI --version, OTEL resource, /metrics build info). Keep in step
// with package.json's "version".
export const VERSION = "0.1.0"
