/**
 * What a failed git command says, read from the fixed messages git prints for each case (http.c,
 * remote-curl.c), each matched as a whole `fatal:` line. Nothing else in stderr counts: a SHA or a
 * path that happens to contain "403" is not an HTTP status.
 */
export type GitFailure =
  | { readonly kind: "refused"; readonly status?: number }
  | { readonly kind: "not-found" }
  | { readonly kind: "certificate" }
  | { readonly kind: "other" };

const URL_ERROR = /^fatal: unable to access '[^']*': The requested URL returned error: (\d{3})$/;
const AUTH_FAILED = /^fatal: Authentication failed for '[^']*'$/;
const NO_CREDENTIALS = /^fatal: could not read (Username|Password) for '[^']*': .+$/;
const REPO_NOT_FOUND = /^fatal: repository '[^']*' not found$/;
/** gnutls (Debian's git) and OpenSSL phrase an untrusted server certificate differently. */
const CERTIFICATE = /^fatal: unable to access '[^']*': (server certificate verification failed\.|SSL certificate problem: )/;

export function classifyGitFailure(stderr: string): GitFailure {
  for (const line of stderr.split("\n").map((l) => l.trim())) {
    const status = URL_ERROR.exec(line)?.[1];
    if (status === "401" || status === "403") return { kind: "refused", status: Number(status) };
    if (status === "404" || REPO_NOT_FOUND.test(line)) return { kind: "not-found" };
    if (AUTH_FAILED.test(line) || NO_CREDENTIALS.test(line)) return { kind: "refused" };
    if (CERTIFICATE.test(line)) return { kind: "certificate" };
  }
  return { kind: "other" };
}
