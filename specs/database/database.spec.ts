// Every database check from the catalogue (src/checks/database.ts).
import { registerSuite } from "../../src/vitest-adapter/register.ts";

registerSuite("database");
