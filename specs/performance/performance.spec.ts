// Every performance check from the catalogue (src/checks/performance.ts).
import { registerSuite } from "../../src/spec/register.ts";

registerSuite("performance");
