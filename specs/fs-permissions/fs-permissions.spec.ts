// Every fs-permissions check from the catalogue (src/checks/fs-permissions.ts).
import { registerSuite } from "../../src/vitest-adapter/register.ts";

registerSuite("fs-permissions");
