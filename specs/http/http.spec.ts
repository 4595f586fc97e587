// Every http check from the catalogue (src/checks/http.ts).
import { registerSuite } from "../../src/spec/register.ts";

registerSuite("http");
