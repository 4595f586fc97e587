// Every service check from the catalogue (src/checks/service.ts).
import { registerSuite } from "../../src/spec/register.ts";

registerSuite("service");
