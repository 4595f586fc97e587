// Every http check from the catalogue (src/checks/http.ts).
import { registerSuite } from "../../src/vitest-adapter/register.ts";

registerSuite("http");
