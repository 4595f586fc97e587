// Every security check from the catalogue (src/checks/security.ts).
import { registerSuite } from "../../src/vitest-adapter/register.ts";

registerSuite("security");
