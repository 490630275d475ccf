import { isIP } from "node:net";

/**
 * The schemes to try for a registry, in order, the way Kaniko's registry client
 * (go-containerregistry `name.Registry.Scheme` and its ping) does: https first; then plain http
 * when REGISTRY_INSECURE is set or the host is local (localhost, *.localhost, 127.0.0.1, ::1) or a
 * private RFC 1918 address. So our "already built?" check reaches every registry Kaniko pushes to.
 */
export function registrySchemes(host: string, insecure: boolean): readonly ("https" | "http")[] {
  return insecure || isLocalOrPrivate(host) ? ["https", "http"] : ["https"];
}

function isLocalOrPrivate(host: string): boolean {
  const name = host.startsWith("[") ? host.slice(1, host.indexOf("]")) : host.replace(/:\d{1,5}$/, "");
  if (name === "localhost" || name.endsWith(".localhost") || name === "127.0.0.1" || name === "::1") return true;
  if (isIP(name) !== 4) return false;
  const [a = 0, b = 0] = name.split(".").map(Number);
  return a === 10 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168);
}

/**
 * Whether registry credentials (Basic, or a token obtained with them) may be sent to `url`: over TLS
 * to anyone the registry names, in the clear only to the registry host itself on the scheme already
 * agreed with it (REGISTRY_INSECURE, or a local registry). A token realm elsewhere must be https.
 * Redirects need no check here: fetch drops Authorization when one leaves the origin.
 */
export function mayCarryCredentials(url: URL, registry: { host: string; scheme: "https" | "http" }): boolean {
  if (url.protocol === "https:") return true;
  return url.protocol === "http:" && registry.scheme === "http" && url.host === registry.host;
}
