import { describe } from "vitest";

// End-to-end files run only as root on a machine with systemd-nspawn (CI and developers' boxes).
export const describeE2E = process.env.DDV_SKIP_E2E === "1" ? describe.skip : describe;
