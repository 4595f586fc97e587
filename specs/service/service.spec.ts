// Every service check from the catalogue (src/checks/service.ts).
import { registerSuite } from "../../src/vitest-adapter/register.ts";

registerSuite("service");
