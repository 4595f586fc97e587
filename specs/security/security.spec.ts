// Every security check from the catalogue (src/checks/security.ts).
import { registerSuite } from "../../src/spec/register.ts";

registerSuite("security");
