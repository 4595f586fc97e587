// Exit codes of `remediate`, documented in the README; each bad input has one clear line and one of these. The
// validator (`npx vitest run`) stops on the same bad input with the same code: config 78, targets 66.
export const EXIT = {
  ok: 0, // every fix applied and verified (or nothing was left to fix)
  partial: 1, // a fix was rolled back or failed, or manual steps remain
  usage: 64, // unknown option, missing argument, or --yes needed without a terminal
  badReport: 65, // report missing, malformed, from another host, stale, unknown IDs or catalogue version
  targets: 66, // DEPLOY_HOSTS / DEPLOY_INVENTORY / DEPLOY_LIMIT name no usable host (an inventory file missing, say)
  wrongHost: 69, // the deployment is not on this host (its unit is not installed and nothing of it runs): nothing planned
  internal: 70, // a bug: the message says where
  locked: 73, // another remediation holds the host's lock
  notRoot: 77, // remediation changes system files: run it as root
  config: 78, // the validator's config is broken (as for the specs)
  interrupted: 130, // SIGINT/SIGTERM mid-apply: the step under way was rolled back, nothing further started
} as const;

// A refusal with its exit code; the CLI prints the message as one line, never a stack trace.
export class RemediateError extends Error {
  override name = "RemediateError";
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
  }
}
