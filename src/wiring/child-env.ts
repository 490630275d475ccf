export type Env = Readonly<Record<string, string | undefined>>;

/**
 * Variables a child process (helm, git) may see. Everything else, GIT_TOKEN first, stays with us.
 * The CA settings let git trust a private CA (GIT_SSL_CAINFO/CAPATH) like helm does (SSL_CERT_*).
 */
const CHILD_ENV = /^(PATH|HOME|TMPDIR|LANG|LC_[A-Z]+|HELM_[A-Z_]+|XDG_[A-Z_]+|KUBERNETES_SERVICE_(HOST|PORT)|(HTTPS?|NO)_PROXY|(https?|no)_proxy|SSL_CERT_(FILE|DIR)|GIT_SSL_CA(INFO|PATH))$/;

export function childEnv(env: Env): Record<string, string> {
  return Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined && CHILD_ENV.test(e[0])));
}
