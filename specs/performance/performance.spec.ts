// Every performance check from the catalogue (src/checks/performance.ts).
import { registerSuite } from "../../src/vitest-adapter/register.ts";

registerSuite("performance");
