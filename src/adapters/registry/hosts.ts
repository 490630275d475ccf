/**
 * The schemes to try for a registry, in order: https, then plain http only when REGISTRY_INSECURE
 * says the registry speaks it. Never a downgrade by itself after a TLS error: whoever answers for
 * the registry over plain HTTP would be handed a request (and, after a challenge, credentials).
 * Kaniko's client talks http to local and private addresses on its own; that is Kaniko's choice
 * for its push, not ours for the registry Secret.
 */
export function registrySchemes(_host: string, insecure: boolean): readonly ("https" | "http")[] {
  return insecure ? ["https", "http"] : ["https"];
}

/**
 * Whether registry credentials (Basic, or a token obtained with them) may be sent to `url`, the
 * token endpoint a challenge named. A challenge that came over TLS may name a realm anywhere over
 * TLS. One that came over plain HTTP may have been written by anyone on the path: its realm must be
 * the registry's own host (on the scheme already agreed with it), or nothing is sent.
 * Redirects need no check here: the HTTP client drops Authorization when one leaves the origin.
 */
export function mayCarryCredentials(url: URL, registry: { host: string; scheme: "https" | "http" }): boolean {
  if (url.protocol !== "https:" && url.protocol !== "http:") return false;
  if (registry.scheme === "https") return url.protocol === "https:";
  return url.host === registry.host && url.protocol === "http:";
}
